"""Starting, stopping and restarting the MirrorMaker flows of a topology (the `dr up/down/restart` work).

`prepare` does every check before anything starts: the topology and policy are valid, each cluster
answers, the flow's replication factor fits both clusters, and no selected PHI topic would be copied
into a jurisdiction the data-sovereignty rule does not allow (refused, exit 2, naming topic, class and
jurisdiction). Only then does `start` write files and launch processes, each flow audited.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from brokerscale.connect import ConnectionProfile
from brokerscale.dr.clusters import profile
from brokerscale.dr.mm2 import mm2_properties, render
from brokerscale.dr.process import FlowProcess
from brokerscale.dr.sovereignty import Refusal, check_classes, exclusion_patterns, refusals
from brokerscale.dr.topology import Topology, load_topology, parse_topology
from brokerscale.errors import BadInput, OperationFailed
from brokerscale.paths import data_dir
from brokerscale.topics.policy import TopicPolicy

STARTUP_S = 240.0
"""How long a MirrorMaker process may take to start its connectors on a busy machine."""


@dataclass
class PreparedFlow:
    name: str
    targets: list[str]
    properties: dict[str, str]
    excludes: dict[str, list[str]]
    clusters: dict[str, str] = field(default_factory=dict)  # name -> bootstrap (no secrets)


def saved_topology_path() -> Path:
    return data_dir() / "dr" / "topology.json"


def save_topology(topo: Topology, source: str) -> None:
    path = saved_topology_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"source": source, "topology": topo.model_dump(mode="json")}, indent=2))


def current_topology(path: Path | None) -> tuple[Topology, str]:
    """The topology from `path`, else the one the last `dr up --apply` started."""
    if path is not None:
        return load_topology(path), str(path)
    saved = saved_topology_path()
    if not saved.exists():
        raise BadInput("--topology: no topology given and none started yet (run `brokerscale dr up --topology FILE "
                       "--apply` first)")
    doc = json.loads(saved.read_text())
    return parse_topology(doc["topology"], str(doc.get("source", saved))), str(doc.get("source", saved))


def prepare(topo: Topology, policy: TopicPolicy, source: str, names: list[str] | None = None,
            profiles: dict[str, ConnectionProfile] | None = None) -> tuple[list[PreparedFlow], list[Refusal]]:
    """Check everything and build each flow's configuration. Raises BadInput / Unreachable; returns
    the prepared flows and the sovereignty refusals (the caller refuses when there are any)."""
    problem = check_classes(topo, policy, source)
    if problem:
        raise BadInput(problem)
    names = names or list(topo.flows)
    profiles = profiles if profiles is not None else {}
    used = sorted({c for n in names for c in (topo.flows[n].source, topo.flows[n].target)})
    for c in used:
        if c not in profiles:
            profiles[c] = profile(topo, c, source)
    topics: dict[str, list[str]] = {}
    brokers: dict[str, int] = {}
    for c in used:
        with profiles[c].admin() as admin:
            topics[c] = admin.topic_names()
            brokers[c] = len(admin.cluster().live())
    prepared: list[PreparedFlow] = []
    found: list[Refusal] = []
    for name in names:
        flow = topo.flows[name]
        for c in (flow.source, flow.target):
            if flow.replication_factor > brokers[c]:
                raise BadInput(f"{source}: flows.{name}.replication_factor: {flow.replication_factor} is more than "
                               f"the {brokers[c]} live broker(s) of cluster {c}; lower it to fit")
        found += refusals(topo, policy, name, flow, topics)
        excludes = {f"{s}->{t}": exclusion_patterns(topo, policy, s, t) for s, t in flow.directions()}
        props = mm2_properties(name, flow, {c: profiles[c].properties for c in (flow.source, flow.target)},
                               {c: profiles[c].bootstrap for c in (flow.source, flow.target)},
                               {(k.split("->")[0], k.split("->")[1]): v for k, v in excludes.items()})
        prepared.append(PreparedFlow(name, sorted({t for _s, t in flow.directions()}), props, excludes,
                                     {c: profiles[c].bootstrap for c in (flow.source, flow.target)}))
    return prepared, found


def refuse(found: list[Refusal]) -> None:
    if found:
        raise BadInput(f"data sovereignty: {'; '.join(r.message for r in found)}; nothing was started")


def start(topo: Topology, source: str, prepared: list[PreparedFlow], store: Any,
          say: Callable[[str], None], wait: bool = True) -> list[dict[str, Any]]:
    """Start each prepared flow (audited) and wait until its MirrorMaker has started its connectors."""
    from brokerscale.dev.jars import fetch

    runtime = fetch()
    save_topology(topo, source)
    results = []
    for p in prepared:
        proc = FlowProcess(p.name)
        flow = topo.flows[p.name]
        intent = {"flow": p.name, "source": flow.source, "target": flow.target, "mode": flow.mode,
                  "topics": flow.topics, "sovereignty_excludes": p.excludes, "clusters": p.clusters}
        with store.audited(actor="brokerscale dr up", action="dr.flow.start", target=p.name, intent=intent,
                           before={"running": proc.mm2_alive()}, cluster=flow.target) as change:
            say(f"starting MirrorMaker 2 for flow {p.name} ({flow.source} -> {flow.target})")
            header = (f"MirrorMaker 2 configuration of flow {p.name}, generated by brokerscale dr up from {source}.\n"
                      "Regenerated on every `dr up` / `dr restart`: change the topology file, not this file.")
            doc = {"flow": p.name, "topology": topo.model_dump(mode="json"), "excludes": p.excludes,
                   "source": source}
            change.stage = "starting"
            text = render(p.properties, header)
            if wait:
                start_supervised(proc, partial(proc.start, runtime, text, doc, p.targets), say)
            else:
                proc.start(runtime, text, doc, p.targets)
            change.after = {"running": proc.mm2_alive(), "pid": proc.state().get("mm2_pid"),
                            "directory": str(proc.root)}
            results.append({"flow": p.name, **change.after})
    return results


class ExitedDuringStart(OperationFailed):
    """MirrorMaker's process ended before it had started its connectors."""


def wait_started(proc: FlowProcess, say: Callable[[str], None], timeout: float = STARTUP_S) -> None:
    """Until MirrorMaker's log says its source connector runs; fail with the log's error if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Written once the worker has joined its group and started the flow's connectors and tasks.
        if any("Finished starting connectors and tasks" in line for line in proc.log_tail(None)):
            say(f"flow {proc.name}: MirrorMaker running (pid {proc.state().get('mm2_pid')})")
            return
        if not proc.mm2_alive():
            errors = [line for line in proc.log_tail(400) if " ERROR " in line]
            if not errors:  # the JVM can end before its logger is set up: then stdout has the reason
                errors = [line for line in _tail(proc.logs / "mm2-stdout.log") if line.strip()]
            raise ExitedDuringStart(f"flow {proc.name}: MirrorMaker exited during start: "
                                    f"{(errors or ['no error in ' + str(proc.logs / 'mm2.log')])[-1][:300]}")
        time.sleep(1.0)
    raise OperationFailed(f"flow {proc.name}: MirrorMaker did not start within {timeout:.0f}s "
                          f"(see {proc.logs / 'mm2.log'})")


def _tail(path: Path, lines: int = 20) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def start_supervised(proc: FlowProcess, launch: Callable[[], None], say: Callable[[str], None],
                     timeout: float = STARTUP_S, attempts: int = 3) -> None:
    """Launch MirrorMaker and wait for it; if it exits during start, launch it again (up to `attempts`).

    MirrorMaker can end while a cluster it needs is still settling (a broker that has just restarted,
    leaders not yet elected); a supervisor restarts a managed process then, and so does brokerscale,
    saying so each time.
    """
    for attempt in range(1, attempts + 1):
        launch()
        try:
            wait_started(proc, say, timeout)
            return
        except ExitedDuringStart as exc:
            if attempt == attempts:
                raise
            say(f"{exc}; starting it again (attempt {attempt + 1} of {attempts})")
            time.sleep(2.0)


def stop(names: list[str], store: Any, say: Callable[[str], None], actor: str = "brokerscale dr down",
         *, watcher: bool = True) -> list[dict[str, Any]]:
    out = []
    for name in names:
        proc = FlowProcess(name)
        running = proc.mm2_alive()
        with store.audited(actor=actor, action="dr.flow.stop", target=name, intent={"flow": name},
                           before={"running": running, "pid": proc.state().get("mm2_pid")}) as change:
            say(f"stopping flow {name}" if running else f"flow {name} was not running")
            proc.stop(watcher=watcher)
            change.after = {"running": proc.mm2_alive()}
            out.append({"flow": name, "was_running": running, "running": proc.mm2_alive()})
    return out
