"""The position watcher of one flow (`python -m brokerscale.dr.watch FLOW_DIR`), started by `dr up`.

Every `INTERVAL_S` it reads the log-end offsets of the flow's source partitions and of their mirrors
on the target (ListOffsets: metadata only) and appends them to `positions.json` (the last hour).
That history is what replication lag in seconds is interpolated from. Between samples it reads the
source's log-end offsets alone every `PROBE_S` into `source_last.json`: what failover falls back on
when the source has died — the last source positions seen, when the request for them went out, and
when the source first failed to answer.
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
#: Between full samples the source's log-end offsets alone are read this often (one ListOffsets
#: request, metadata only) into `source_last.json`: when the source dies, failover knows what it held
#: at most this long (plus one request) before it stopped answering — the window of records
#: acknowledged there that nobody saw, which bounds the unplanned failover's RPO.
PROBE_S = 0.25
LAST_SEEN_FILE = "source_last.json"


class LastSeen:
    """Per direction: the newest source log-end offsets read, when the request went out and came back,
    and when the source first failed to answer after that."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.doc: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.doc = {}

    def seen(self, direction: str, sent: float, ends: dict[str, int]) -> None:
        self.doc[direction] = {"sent": sent, "at": time.time(), "ends": ends, "lost_at": None, "error": None}
        self._write()

    def lost(self, direction: str, error: str) -> None:
        entry = self.doc.get(direction)
        if entry is not None and entry.get("lost_at") is None:
            entry.update(lost_at=time.time(), error=error)
            self._write()

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.doc))
        tmp.replace(self.path)


def _forget(admins: dict[str, Any], name: str) -> None:
    """Drop the client of a cluster whose request failed, so the next sample connects afresh: closed, since
    a kafka-python client left to the garbage collector keeps its I/O thread and sockets running (the
    thread holds the client), and the watcher drops one on every failed sample and every 0.25 s probe
    for as long as an outage or a failing request lasts."""
    admin = admins.pop(name, None)
    if admin is not None:
        admin.close()


def probe_source(topo: Any, source: str, direction: str, tps: list[Any], admins: dict[str, Any],
                 last: LastSeen) -> None:
    """One ListOffsets of the source partitions the last full sample found."""
    from brokerscale.dr.clusters import profile
    from brokerscale.dr.positions import as_json, end_offsets

    sent = time.time()
    try:
        if source not in admins:
            admins[source] = profile(topo, source).admin(timeout_s=5)
        ends = as_json(end_offsets(admins[source], tps))
    except BrokerscaleError as exc:
        _forget(admins, source)
        last.lost(direction, exc.message)
        return
    last.seen(direction, sent, ends)


def sample_direction(topo: Any, flow: Any, source: str, target: str, excludes: list[str],
                     admins: dict[str, Any], last: LastSeen | None = None,
                     partitions: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    """One sample of one direction; a side that does not answer is recorded as such."""
    from brokerscale.dr.clusters import profile
    from brokerscale.dr.positions import as_json, end_offsets, remote_partitions, selected_partitions

    out: dict[str, Any] = {"source": None, "target": None}
    direction = f"{source}->{target}"
    sent = time.time()
    try:
        if source not in admins:
            admins[source] = profile(topo, source).admin(timeout_s=5)
        tps = selected_partitions(admins[source], flow, excludes)
        sent = time.time()
        out["source"] = as_json(end_offsets(admins[source], tps))
    except BrokerscaleError as exc:
        _forget(admins, source)
        out["source_error"] = exc.message
        if last is not None:
            last.lost(direction, exc.message)
        return out
    if last is not None:
        last.seen(direction, sent, out["source"])
    if partitions is not None:
        partitions[direction] = tps
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
        _forget(admins, target)
        out["target_error"] = exc.message
    return out


def sample_link(topo: Any, name: str, cl: Any) -> dict[str, Any]:
    """One sample of a cluster-link flow, from the link's own report on the target (REST v3): per mirror
    partition, the source offset it last fetched (the mirrored position) and its lag; the source's
    log-end offset is their sum. Cluster links keep offsets and topic names, so both sides share keys."""
    from brokerscale.dr.links import evaluate as link_status
    from brokerscale.dr.links import positions
    from brokerscale.dr.positions import as_json

    flow = topo.flows[name]
    out: dict[str, Any] = {"source": None, "target": None}
    try:
        rest = cl.rest(flow.target)
        found = any(ln["link_name"] == name for ln in rest.list_links())
        mirrors = rest.list_mirrors(name) if found else []
    except BrokerscaleError as exc:
        out["target_error"] = exc.message
        return out
    src, tgt = positions(mirrors)
    out.update(source=as_json(src), target=as_json(tgt),
               state=link_status(name, flow.source, flow.target, found, mirrors).state)
    return out


def run_link(flow_dir: Path, topo: Any, name: str) -> None:
    """The watcher of a cluster-link flow: the link's positions every `INTERVAL_S` into `positions.json`."""
    from brokerscale.dr.links import clients

    path = flow_dir / "positions.json"
    try:
        history: list[dict[str, Any]] = json.loads(path.read_text()).get("samples", [])
    except (OSError, ValueError):
        history = []
    flow = topo.flows[name]
    stop = False

    def _stop(*_a: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    with clients(topo) as cl:
        while not stop:
            started = time.time()
            direction = sample_link(topo, name, cl)
            sample: dict[str, Any] = {"ts": time.time(), "directions": {f"{flow.source}->{flow.target}": direction}}
            history = [s for s in history if s["ts"] >= sample["ts"] - KEEP_S] + [sample]
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"flow": name, "samples": history}))
            tmp.replace(path)
            while not stop and time.time() - started < INTERVAL_S:
                time.sleep(0.2)


def run(flow_dir: Path) -> None:
    from brokerscale.dr.topology import parse_topology

    doc = json.loads((flow_dir / "flow.json").read_text())
    topo = parse_topology(doc["topology"], "flow.json")
    name = doc["flow"]
    if topo.is_link(name):
        run_link(flow_dir, topo, name)
        return
    flow = topo.flows[name]
    excludes: dict[str, list[str]] = doc.get("excludes", {})
    path = flow_dir / "positions.json"
    try:
        history: list[dict[str, Any]] = json.loads(path.read_text()).get("samples", [])
    except (OSError, ValueError):
        history = []
    admins: dict[str, Any] = {}
    probe_admins: dict[str, Any] = {}  # its own connections: a slow full sample must not delay a probe
    last = LastSeen(flow_dir / LAST_SEEN_FILE)
    partitions: dict[str, list[Any]] = {}
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
                topo, flow, source, target, excludes.get(f"{source}->{target}", []), admins, last, partitions)
        sample["ts"] = time.time()
        history = [s for s in history if s["ts"] >= sample["ts"] - KEEP_S] + [sample]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"flow": name, "samples": history}))
        tmp.replace(path)
        while not stop and time.time() - started < INTERVAL_S:
            probed = time.time()
            for source, target in flow.directions():
                direction = f"{source}->{target}"
                if partitions.get(direction) and (last.doc.get(direction) or {}).get("lost_at") is None:
                    probe_source(topo, source, direction, partitions[direction], probe_admins, last)
            time.sleep(max(0.0, min(PROBE_S - (time.time() - probed), INTERVAL_S - (time.time() - started))))


if __name__ == "__main__":
    run(Path(sys.argv[1]))
