"""The position watcher of one flow (`python -m brokerscale.dr.watch FLOW_DIR`), started by `dr up`.

Every `INTERVAL_S` it reads the log-end offsets of the flow's source partitions and of their mirrors
on the target (ListOffsets: metadata only) and appends them to `positions.json` (the last hour).
That history is what replication lag in seconds is interpolated from, and what failover falls back
on when the source has died: the last source positions seen, and when they were seen.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from brokerscale.errors import BrokerscaleError

INTERVAL_S = 2.0
KEEP_S = 3600.0


def sample_direction(topo: Any, flow: Any, source: str, target: str, excludes: list[str],
                     admins: dict[str, Any]) -> dict[str, Any]:
    """One sample of one direction; a side that does not answer is recorded as such."""
    from brokerscale.dr.clusters import profile
    from brokerscale.dr.positions import as_json, end_offsets, remote_partitions, selected_partitions

    out: dict[str, Any] = {"source": None, "target": None}
    try:
        if source not in admins:
            admins[source] = profile(topo, source).admin(timeout_s=5)
        tps = selected_partitions(admins[source], flow, excludes)
        out["source"] = as_json(end_offsets(admins[source], tps))
    except BrokerscaleError as exc:
        admins.pop(source, None)
        out["source_error"] = exc.message
        return out
    try:
        if target not in admins:
            admins[target] = profile(topo, target).admin(timeout_s=5)
        remote = remote_partitions(tps, source, flow.replication_policy)
        existing = {t.name for t in admins[target].topics(sorted({r[0] for r in remote.values()}))}
        wanted = [r for r in remote.values() if r[0] in existing]
        out["target"] = as_json(end_offsets(admins[target], wanted))
        live = sorted(admins[target].cluster().live())
        sizes = admins[target].log_dirs(live, sorted({r[0] for r in wanted})).largest_copy()
        out["target_bytes"] = as_json({tp: sizes[tp] for tp in wanted if tp in sizes})
    except BrokerscaleError as exc:
        admins.pop(target, None)
        out["target_error"] = exc.message
    return out


def run(flow_dir: Path) -> None:
    from brokerscale.dr.topology import parse_topology

    doc = json.loads((flow_dir / "flow.json").read_text())
    topo = parse_topology(doc["topology"], "flow.json")
    name = doc["flow"]
    flow = topo.flows[name]
    excludes: dict[str, list[str]] = doc.get("excludes", {})
    path = flow_dir / "positions.json"
    try:
        history: list[dict[str, Any]] = json.loads(path.read_text()).get("samples", [])
    except (OSError, ValueError):
        history = []
    admins: dict[str, Any] = {}
    stop = False

    def _stop(*_a: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    while not stop:
        started = time.time()
        sample: dict[str, Any] = {"ts": started, "directions": {}}
        for source, target in flow.directions():
            sample["directions"][f"{source}->{target}"] = sample_direction(
                topo, flow, source, target, excludes.get(f"{source}->{target}", []), admins)
        sample["ts"] = time.time()
        history = [s for s in history if s["ts"] >= sample["ts"] - KEEP_S] + [sample]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"flow": name, "samples": history}))
        tmp.replace(path)
        delay = INTERVAL_S - (time.time() - started)
        while delay > 0 and not stop:
            time.sleep(min(delay, 0.2))
            delay -= 0.2


if __name__ == "__main__":
    run(Path(sys.argv[1]))
