"""The failback runbook: the old primary takes over again without losing what the DR cluster took
meanwhile, and the exact RPO of the failover is measured now that the old primary can be read.

1. probe the old primary (it must answer);
2. measure the failover's exact RPO: the old primary's log-end offsets against what the DR cluster
   had when it took over — those records were acknowledged on the old primary and never reached DR;
   they stay on the old primary and are listed, never silently copied or dropped;
3. copy back: a reverse MirrorMaker flow (DR -> old primary), started exactly at the failover point,
   so DR's records from after the failover, and only those, are appended on the old primary;
4. fence writes on DR; 5. wait for the reverse lag to drain; 6. stop the reverse flow;
7. commit the consumer groups' translated offsets on the old primary (reverse checkpoints);
8. lift both fences and restart the forward flow from the old primary's current end (so nothing
   it already holds is copied to DR twice);
9. the old primary serves every topic: its bootstrap, and the failback's RTO (from DR's fence).
Only flows with the identity replication policy fail back (topic names are the same on both sides).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from brokerscale.dr.clusters import profile
from brokerscale.dr.failover import FENCE_KEY, fence, read_state, state_path, translate_groups
from brokerscale.dr.flows import PreparedFlow, start_supervised
from brokerscale.dr.mm2 import mm2_properties, render
from brokerscale.dr.positions import end_offsets, key, seed_positions, unkey
from brokerscale.dr.process import FlowProcess
from brokerscale.dr.sovereignty import exclusion_patterns
from brokerscale.dr.status import collect
from brokerscale.dr.topology import Flow, Topology
from brokerscale.errors import BadInput, OperationFailed, Unreachable

STEPS = ("probe old primary", "measure the failover's exact RPO", "copy back from DR", "fence writes on DR",
         "drain reverse lag", "stop reverse replication", "translate consumer-group offsets",
         "restart forward replication", "old primary ready")


def reverse_flow(flow: Flow, topics: list[str]) -> Flow:
    return Flow(source=flow.target, target=flow.source, mode="active-passive",
                topics=[re.escape(t) for t in topics] or ["(?!)"], groups=flow.groups,
                replication_policy="identity", replication_factor=flow.replication_factor)


def _unfence(admin: Any, before: dict[str, str | None]) -> None:
    admin.alter_configs(topics={t: {FENCE_KEY: v} for t, v in before.items()})


def failback(topo: Topology, name: str, policy: Any, store: Any, *, drain_timeout: float,
             say: Callable[[str], None]) -> dict[str, Any]:
    from brokerscale.dev.jars import fetch

    flow = topo.flows[name]
    if flow.replication_policy != "identity":
        raise BadInput(f"--flow: {name} uses replication_policy default (topics renamed on the target): "
                       "failback needs identity (same topic names on both clusters)")
    state = read_state(name)
    fwd_end = {unkey(k): int(v) for k, v in state.get("target_end_at_failover", {}).items()}
    topics = sorted({t for t, _ in fwd_end})
    rev = reverse_flow(flow, topics)
    rev_name = f"{name}-failback"
    steps: list[dict[str, Any]] = []
    report: dict[str, Any] = {"flow": name, "primary": flow.source, "dr": flow.target, "steps": steps}
    started = time.time()

    def step(what: str, detail: str, **extra: Any) -> None:
        steps.append({"step": what, "detail": detail, "at": round(time.time() - started, 3), **extra})
        say(f"[{len(steps)}/{len(STEPS)}] {what}: {detail}")

    primary, dr = profile(topo, flow.source), profile(topo, flow.target)
    intent = {"flow": name, "primary": flow.source, "dr": flow.target, "topics": topics, "steps": list(STEPS)}
    with store.audited(actor="brokerscale dr failback", action="dr.failback", target=name, intent=intent,
                       before={"failover": {k: state.get(k) for k in ("rpo_records", "rpo_exact", "failed_over_at")}},
                       cluster=flow.source) as change:
        change.stage = STEPS[0]
        try:
            padmin = primary.admin(timeout_s=10)
        except Unreachable as exc:
            raise Unreachable(f"failback of {name}: the old primary {flow.source} does not answer ({exc.message})") \
                from None
        with padmin:
            step(STEPS[0], f"{flow.source} answers")
            change.stage = STEPS[1]
            old_end = end_offsets(padmin, sorted(fwd_end))
            only_old = {tp: old_end.get(tp, 0) - n for tp, n in fwd_end.items() if old_end.get(tp, 0) > n}
            exact = sum(only_old.values())
            report.update(failover_rpo_records_exact=exact, failover_rpo_reported=state.get("rpo_records"),
                          records_only_on_old_primary={key(tp): n for tp, n in only_old.items()})
            bound = "" if state.get("rpo_exact") else " at least"
            step(STEPS[1], f"{exact:,} record(s) acknowledged on {flow.source} never reached {flow.target} "
                           f"(failover reported {state.get('rpo_records')}{bound}); they stay on {flow.source}")
            change.stage = STEPS[2]
            _unfence(padmin, state.get("fenced") or {})  # the reverse flow must be able to write
            seed_positions(primary, flow.target, fwd_end, flow.replication_factor)
            excludes = {f"{flow.target}->{flow.source}": exclusion_patterns(topo, policy, flow.target, flow.source)}
            props = mm2_properties(rev_name, rev, {flow.source: primary.properties, flow.target: dr.properties},
                                   {flow.source: primary.bootstrap, flow.target: dr.bootstrap},
                                   {(flow.target, flow.source): excludes[f"{flow.target}->{flow.source}"]})
            prepared = PreparedFlow(rev_name, [flow.source], props, excludes)
            proc = FlowProcess(rev_name)
            rev_doc = {"flow": rev_name, "topology": _with_flow(topo, rev_name, rev), "excludes": excludes}
            rev_text = render(props, f"Reverse flow of {name} for failback (generated).")
            start_supervised(proc, lambda: proc.start(fetch(), rev_text, rev_doc, prepared.targets), say)
            step(STEPS[2], f"reverse MirrorMaker {flow.target} -> {flow.source} from the failover point")
            change.stage = STEPS[3]
            with dr.admin() as dadmin:
                dr_fenced = fence(dadmin, topics)
            fence_at = time.time()
            step(STEPS[3], f"{FENCE_KEY} on {len(topics)} topic(s) of {flow.target}: applications must switch back")
            change.stage = STEPS[4]
            rev_topo = Topology.model_validate(_with_flow(topo, rev_name, rev))
            deadline = time.monotonic() + drain_timeout
            status = collect(rev_topo, rev_name, policy)[0]
            while status.lag_records > 0 and time.monotonic() < deadline:
                time.sleep(1.0)
                status = collect(rev_topo, rev_name, policy)[0]
            if status.lag_records > 0:
                raise OperationFailed(f"failback of {name}: {status.lag_records:,} record(s) of {flow.target} not "
                                      f"copied back within {drain_timeout:.0f}s; {flow.target} stays fenced, the "
                                      f"reverse flow {rev_name} keeps running: run failback again")
            copied = {key(tp): n for tp, n in end_offsets(padmin, sorted(fwd_end)).items()}
            step(STEPS[4], f"drained: every record {flow.target} took since the failover is on {flow.source}")
            change.stage = STEPS[5]
            time.sleep(6)  # one more checkpoint interval: the groups' last commits on DR get translated
            proc.stop()
            step(STEPS[5], "reverse MirrorMaker stopped")
            change.stage = STEPS[6]
            groups = translate_groups(rev_topo, rev_name, say)
            step(STEPS[6], f"{sum(1 for g in groups if g['committed'])} of {len(groups)} group(s) committed on "
                           f"{flow.source}", groups=groups)
            change.stage = STEPS[7]
            now_end = end_offsets(padmin, sorted(fwd_end))
            seed_positions(dr, flow.source, now_end, flow.replication_factor)
            with dr.admin() as dadmin:
                _unfence(dadmin, dr_fenced)
            fwd = FlowProcess(name)
            doc = json.loads((fwd.root / "flow.json").read_text())
            fwd_text = (fwd.root / "mm2.properties").read_text()
            start_supervised(fwd, lambda: fwd.start(fetch(), fwd_text, doc, sorted({flow.target})), say)
            step(STEPS[7], f"forward MirrorMaker {flow.source} -> {flow.target} from {flow.source}'s current end")
            change.stage = STEPS[8]
            padmin.wait_for_topics(topics, timeout_s=60)
            ready = time.time()
            report.update(bootstrap=primary.bootstrap, rto_seconds=round(ready - fence_at, 3),
                          runbook_seconds=round(ready - started, 3), primary_end_after_copy_back=copied)
            step(STEPS[8], f"{len(topics)} topic(s) served by {flow.source}; "
                           f"applications switch to {primary.bootstrap}")
        change.after = {k: v for k, v in report.items() if k != "steps"}
    done = state_path(name).with_suffix(".failback.json")
    done.write_text(json.dumps(report, indent=2))
    state_path(name).rename(state_path(name).with_suffix(f".{int(started)}.done.json"))
    return report


def _with_flow(topo: Topology, name: str, flow: Flow) -> dict[str, Any]:
    doc = topo.model_dump(mode="json")
    doc["flows"] = {name: flow.model_dump(mode="json")}
    return doc
