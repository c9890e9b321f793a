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


def endpoints(bootstrap: str) -> frozenset[str]:
    """A bootstrap list as a set of `host:port`, so one cluster written two ways matches: order and
    spaces ignored, host names lower-cased, a `SCHEME://` prefix dropped, `localhost` taken as
    127.0.0.1, a missing port as Kafka's 9092, IPv6 brackets removed."""
    out = set()
    for part in bootstrap.split(","):
        text = part.strip().lower()
        if "://" in text:
            text = text.split("://", 1)[1]
        if not text:
            continue
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        elif text.count(":") > 1:  # a bare IPv6 address
            host, port = text, ""
        else:
            host, _, port = text.partition(":")
        if host in ("localhost", "localhost.localdomain"):
            host = "127.0.0.1"
        out.add(f"{host}:{int(port) if port.isdigit() else 9092}")
    return frozenset(out)


def unjudged(where: str, why: str, rules: RuleSet) -> list[Finding]:
    """A flow whose replication cannot be judged: said as a warning, never left out as if healthy."""
    if not rules.replication_stopped.enabled:
        return []
    return [Finding(rule="replication_stopped", severity="warning", metric="replication_flow_judged", value=0,
                    threshold=None, scope="cluster", target=where,
                    action="bring the cluster back, or fix the topology and run `brokerscale dr up` again "
                           "(`brokerscale dr down` if the flow is gone)",
                    message=f"replication flow {where}: {why}; its replication is not judged")]


def replication_findings(bootstrap: str, rules: RuleSet) -> list[Finding]:
    """Findings of every started flow that has the cluster at `bootstrap` at one of its ends (a cluster
    link's ends are Confluent clusters: matched by the bootstraps its watcher recorded). Bootstraps
    match as `endpoints` (one cluster written two ways is one cluster).

    A flow with an end that cannot be resolved (a dev cluster removed, a cluster gone from
    brokerscale.yaml) may have this cluster at that end: it gets a warning naming the cluster and
    why, not silence; so does a started topology that cannot be read."""
    from brokerscale.dr.clusters import profile
    from brokerscale.dr.flows import current_topology, saved_topology_path
    from brokerscale.errors import BrokerscaleError

    if not saved_topology_path().exists():
        return []
    try:
        topo, _ = current_topology(None)
    except (BrokerscaleError, OSError, ValueError, KeyError) as exc:
        return unjudged(f"started topology {saved_topology_path()}", f"cannot be read ({exc})", rules)
    mine = endpoints(bootstrap)
    names = []
    out: list[Finding] = []
    for name, flow in topo.flows.items():
        matched = False
        unresolved: list[tuple[str, str]] = []
        for c in (flow.source, flow.target):
            try:
                ends = link_bootstraps(name).get(c, "") if topo.is_link(name) else profile(topo, c).bootstrap
            except BrokerscaleError as exc:
                unresolved.append((c, exc.message))
                continue
            matched = matched or bool(mine & endpoints(ends))
        if matched:
            names.append(name)
        if unresolved:  # this cluster may be the end that cannot be found: say so
            where = f"{name} ({flow.source} -> {flow.target})"
            out += [f for c, why in unresolved for f in unjudged(where, f"cluster {c} cannot be resolved ({why})",
                                                                  rules)]
    now = time.time()
    return out + findings([st for n in names for st in watched(topo, n, now=now)], rules, now=now)


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
