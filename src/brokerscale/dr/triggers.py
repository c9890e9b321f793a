"""Replication triggers: lag in seconds past the rules' lines, and a flow that is not replicating (its
MirrorMaker not running, or its cluster link's mirrors not active).

They join the cluster's own findings wherever the observer judges a cluster (`check`, `observe`, the
exporter) when that cluster is a source or target of a flow that `dr up --apply` started, and
`brokerscale cloud check` for a Confluent cluster at an end of a cluster-link flow, and the
autoscaler's "replication healthy" pre-check (`dr/guard.py`). They are read
from each flow's watcher file only — no extra requests to either cluster per observation round — so
they cost nothing when a cluster is observed every few seconds. `findings` is pure.
"""

from __future__ import annotations

import json
import time
from typing import Any

from brokerscale.dr.status import DirectionStatus, evaluate, last_source_sample
from brokerscale.model.snapshot import Finding
from brokerscale.observe.rules import RuleSet

STALE_S = 30.0
"""A watcher sample older than this means nobody is watching the flow: its lag is unknown."""


def findings(statuses: list[DirectionStatus], rules: RuleSet, *, now: float) -> list[Finding]:
    out: list[Finding] = []
    stopped = rules.replication_stopped
    lag = rules.replication_lag_seconds
    for st in statuses:
        where = f"{st.flow} ({st.source} -> {st.target})"
        if stopped.enabled and st.state not in ("running", "failed-over", "unwatched"):
            sev = "critical" if stopped.critical is not None else "warning" if stopped.warning is not None else None
            if sev is not None:
                out.append(Finding(rule="replication_stopped", severity=sev, metric="replication_flow_running",
                                   value=0, threshold=None, scope="cluster", target=where,
                                   action=f"start it again: brokerscale dr restart --flow {st.flow}",
                                   message=f"replication flow {where} is {st.state}: the target falls behind"))
        stale = st.source_seen_at is None or now - st.source_seen_at > STALE_S
        if lag.enabled and st.lag_seconds is not None and not stale:
            for sev, line in (("critical", lag.critical), ("warning", lag.warning)):
                if line is not None and st.lag_seconds > line:
                    out.append(Finding(rule="replication_lag_seconds", severity=sev, metric="replication_lag_seconds",
                                       value=round(st.lag_seconds, 1), threshold=line, unit="s", scope="cluster",
                                       target=where, action="check MirrorMaker's log and the link between the "
                                       "regions; failover now would lose this much",
                                       message=f"replication flow {where} is {st.lag_seconds:.0f} s "
                                               f"({st.lag_records:,} records) behind"))
                    break
    return out


def watched(topo: Any, name: str, *, now: float) -> list[DirectionStatus]:
    """Each direction's status from the flow's watcher file alone (identity offsets assumed)."""
    from brokerscale.dr.positions import unkey
    from brokerscale.dr.process import FlowProcess

    proc = FlowProcess(name)
    try:
        samples = json.loads((proc.root / "positions.json").read_text()).get("samples", [])
    except (OSError, ValueError):
        samples = []
    flow = topo.flows[name]
    out = []
    for source, target in flow.directions():
        direction = f"{source}->{target}"
        seen, src = last_source_sample(samples, direction)
        tgt: dict[Any, int] = {}
        for s in reversed(samples):
            side = (s.get("directions", {}).get(direction) or {}).get("target")
            if side:
                tgt = {unkey(k): int(v) for k, v in side.items()}
                break
        remote = {tp: ((tp[0] if flow.replication_policy == "identity" else f"{source}.{tp[0]}"), tp[1]) for tp in src}
        from brokerscale.dr.failover import state_path

        if topo.is_link(name):  # the link's own state, as the watcher last read it from the target
            newest: dict[str, Any] = next((s["directions"][direction] for s in reversed(samples)
                           if (s.get("directions") or {}).get(direction)), {})
            state = str(newest.get("state") or "target-unreachable") if proc.watcher_alive() else "unwatched"
        else:
            state = "running" if proc.mm2_alive() else "failed-over" if state_path(name).exists() else "stopped"
        out.append(evaluate(name, source, target, now=now, source_end=src, target_end=tgt, remote=remote, syncs={},
                            samples=samples, state=state, mm2_pid=None, watcher=proc.watcher_alive(),
                            source_seen_at=seen))
    return out


def replication_findings(bootstrap: str, rules: RuleSet) -> list[Finding]:
    """Findings of every started flow that has the cluster at `bootstrap` at one of its ends (a cluster
    link's ends are Confluent clusters: matched by the bootstraps its watcher recorded)."""
    from brokerscale.dr.clusters import profile
    from brokerscale.dr.flows import current_topology, saved_topology_path
    from brokerscale.errors import BrokerscaleError

    if not saved_topology_path().exists():
        return []
    try:
        topo, _ = current_topology(None)
        mine = {b.strip() for b in bootstrap.split(",")}
        names = []
        for name, flow in topo.flows.items():
            if topo.is_link(name):
                ends = {c: set(link_bootstraps(name).get(c, "").split(",")) for c in (flow.source, flow.target)}
            else:
                ends = {c: set(profile(topo, c).bootstrap.split(",")) for c in (flow.source, flow.target)}
            if any(mine & b for b in ends.values()):
                names.append(name)
    except BrokerscaleError:
        return []
    now = time.time()
    return findings([st for n in names for st in watched(topo, n, now=now)], rules, now=now)


def link_bootstraps(name: str) -> dict[str, str]:
    from brokerscale.dr.process import FlowProcess

    found = FlowProcess(name).flow_doc().get("bootstraps") or {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def link_findings(cluster_id: str, rules: RuleSet) -> list[Finding]:
    """Findings of every started cluster-link flow with the Confluent cluster `cluster_id` at one of its
    ends (`brokerscale cloud check`): the same rules and names as MirrorMaker flows', from the link
    watcher's samples alone."""
    from brokerscale.dr.flows import current_topology, saved_topology_path
    from brokerscale.errors import BrokerscaleError

    if not saved_topology_path().exists():
        return []
    try:
        topo, _ = current_topology(None)
    except BrokerscaleError:
        return []
    names = [n for n, f in topo.flows.items() if topo.is_link(n)
             and cluster_id in (topo.clusters[f.source].confluent, topo.clusters[f.target].confluent)]
    now = time.time()
    return findings([st for n in names for st in watched(topo, n, now=now)], rules, now=now)
