"""The failover runbook (the scaling guide's dashed "Failover" arrows), executed step by step and audited.

1. probe the source; 2. if it answers, fence writes to it (every mirrored topic's max.message.bytes
   is set below the size of a record batch header, so every write is refused: nothing new can be
   acknowledged there that the target would miss); 3. wait for the replication lag to drain (or proceed
   at once if the source is dead); 4. measure the RPO; 5. stop replication; 6. commit each synced
   consumer group's offsets on the target from MirrorMaker's newest checkpoints; 7. check the target
   serves every mirrored topic, print its bootstrap, and measure the RTO.

RPO is what was not replicated at the moment of failure, in records and seconds. With the source
answering it is measured exactly after the fence. With the source dead, the source's last log-end
offsets are the flow watcher's newest sample: records acknowledged after that sample are unknown
until the old primary is back, so the figure is reported as a lower bound (`rpo_exact: false`);
`dr failback` measures the exact figure from the old primary and records it.
RTO runs from the fence (planned failover) or from the last moment the source was seen alive
(unplanned) to the target ready to serve.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from brokerscale.dr.clusters import profile
from brokerscale.dr.mm2 import checkpoints_topic
from brokerscale.dr.positions import checkpoints, end_offsets, key
from brokerscale.dr.process import FlowProcess
from brokerscale.dr.status import DirectionStatus, collect
from brokerscale.dr.topology import Flow, Topology
from brokerscale.errors import BadInput, BrokerscaleError, OperationFailed
from brokerscale.kafka.types import TP
from brokerscale.paths import data_dir

STEPS = ("probe source", "fence writes on source", "drain replication lag", "measure RPO", "stop replication",
         "translate consumer-group offsets", "target ready")


def state_path(flow: str) -> Path:
    return data_dir() / "dr" / "failovers" / f"{flow}.json"


def _direction(topo: Topology, name: str, policy: Any) -> DirectionStatus:
    flow = topo.flows[name]
    found = [d for d in collect(topo, name, policy) if d.source == flow.source]
    return found[0]


def _source_admin(topo: Topology, source: str) -> Any | None:
    try:
        admin = profile(topo, source).admin(timeout_s=5)
        admin.cluster()
        return admin
    except BrokerscaleError:
        return None


FENCE_KEY = "max.message.bytes"
#: Smaller than any record batch's header (61 bytes): the broker refuses every produce to the topic.
#: (Raising min.insync.replicas above the replication factor would not: Kafka caps it at the replica count.)
FENCE_VALUE = "1"


def fence(admin: Any, topics: list[str]) -> dict[str, str | None]:
    """Refuse every write to `topics` (max.message.bytes below a batch header); returns the values set
    before (None: not set on the topic) so failback can put them back."""
    before_all = admin.topic_configs(topics, [FENCE_KEY], only_set=True)
    before = {t: before_all.get(t, {}).get(FENCE_KEY) for t in topics}
    admin.alter_configs(topics={t: {FENCE_KEY: FENCE_VALUE} for t in topics})
    return before


def translate_groups(topo: Topology, name: str, say: Callable[[str], None],
                     flow: Flow | None = None) -> list[dict[str, Any]]:
    """Commit each synced group's newest checkpointed (downstream) offsets on the target (of flow
    `name`, or of `flow` when given: failback's reverse flow)."""
    flow = flow or topo.flows[name]
    tgt = profile(topo, flow.target)
    cps = checkpoints(tgt, checkpoints_topic(flow.source, flow.replication_policy))
    by_group: dict[str, dict[TP, int]] = {}
    for (group, _tp), cp in cps.items():
        if any(re.fullmatch(p, group) for p in flow.groups):
            remote = cp.topic if flow.replication_policy == "identity" else f"{flow.source}.{cp.topic}"
            by_group.setdefault(group, {})[(remote, cp.partition)] = cp.downstream
    out = []
    with tgt.admin() as admin:
        info = admin.describe_groups(sorted(by_group)) if by_group else {}
        for group, offsets in sorted(by_group.items()):
            members = info[group].members if group in info else None
            if members:
                say(f"  group {group}: {members} member(s) already active on {flow.target}; offsets left as they are")
                out.append({"group": group, "committed": False, "reason": "active on target"})
                continue
            failed = admin.alter_group_offsets(group, offsets)
            say(f"  group {group}: {len(offsets) - len(failed)} partition offset(s) committed on {flow.target}")
            out.append({"group": group, "committed": not failed, "offsets": {key(tp): o for tp, o in offsets.items()},
                        "errors": {key(tp): e for tp, e in failed.items()}})
    return out


def failover(topo: Topology, name: str, policy: Any, store: Any, *, drain_timeout: float,
             say: Callable[[str], None]) -> dict[str, Any]:
    """Run the runbook for flow `name` (audited); returns the report (RPO, RTO, bootstrap, steps)."""
    flow = topo.flows[name]
    if flow.mode == "active-active":
        raise BadInput(f"--flow: {name} is active-active: both clusters already take writes; there is nothing "
                       "to fail over (point applications at the other cluster)")
    proc = FlowProcess(name)
    steps: list[dict[str, Any]] = []
    report: dict[str, Any] = {"flow": name, "source": flow.source, "target": flow.target, "steps": steps}
    started = time.time()

    def step(what: str, detail: str, **extra: Any) -> None:
        steps.append({"step": what, "detail": detail, "at": round(time.time() - started, 3), **extra})
        say(f"[{len(steps)}/{len(STEPS)}] {what}: {detail}")

    intent = {"flow": name, "source": flow.source, "target": flow.target, "drain_timeout_s": drain_timeout,
              "steps": list(STEPS)}
    with store.audited(actor="brokerscale dr failover", action="dr.failover", target=name, intent=intent,
                       before={"replicating": proc.mm2_alive()}, cluster=flow.target) as change:
        change.stage = STEPS[0]
        admin = _source_admin(topo, flow.source)
        reachable = admin is not None
        step(STEPS[0], f"{flow.source} {'answers' if reachable else 'does not answer: unplanned failover'}")
        fenced: dict[str, str | None] = {}
        fence_at: float | None = None
        change.stage = STEPS[1]
        if admin is not None:
            try:
                first = _direction(topo, name, policy)
                topics = [t.topic for t in first.topics]
                fenced = fence(admin, topics)
                fence_at = time.time()
                step(STEPS[1], f"{FENCE_KEY}={FENCE_VALUE} on {len(topics)} topic(s): every write is refused",
                     topics=topics)
            finally:
                admin.close()
        else:
            step(STEPS[1], "skipped: the source does not answer")
        change.stage = STEPS[2]
        status = _direction(topo, name, policy)
        if reachable and proc.mm2_alive():
            deadline = time.monotonic() + drain_timeout
            while status.lag_records > 0 and time.monotonic() < deadline:
                time.sleep(1.0)
                status = _direction(topo, name, policy)
            step(STEPS[2], f"{'drained' if status.lag_records == 0 else 'not drained within the timeout'}: "
                           f"{status.lag_records:,} record(s) behind")
        else:
            step(STEPS[2], "skipped: " + ("the source does not answer" if not reachable else "MirrorMaker not running"))
        change.stage = STEPS[3]
        now = time.time()
        seen = status.source_seen_at or now
        failure_at = fence_at if reachable else seen
        rpo_seconds = status.lag_seconds
        if rpo_seconds is not None and not reachable:
            rpo_seconds = max(0.0, rpo_seconds - (now - seen))  # age at the moment of failure, not now
        report.update(
            rpo_records=status.lag_records, rpo_seconds=None if rpo_seconds is None else round(rpo_seconds, 3),
            rpo_exact=reachable, source_last_seen=seen,
            rpo_by_topic={t.topic: t.lag_records for t in status.topics})
        step(STEPS[3], f"{status.lag_records:,} record(s), {rpo_seconds or 0:.1f} s not replicated"
             + ("" if reachable else f" (at least: source last seen {now - seen:.1f} s ago)"))
        change.stage = STEPS[4]
        was = proc.mm2_alive()
        proc.stop()
        step(STEPS[4], "MirrorMaker stopped" if was else "MirrorMaker was not running")
        change.stage = STEPS[5]
        groups = translate_groups(topo, name, say)
        step(STEPS[5], f"{sum(1 for g in groups if g['committed'])} of {len(groups)} group(s) committed on "
                       f"{flow.target}", groups=groups)
        change.stage = STEPS[6]
        tgt = profile(topo, flow.target)
        remote = [t.remote_topic for t in status.topics]
        with tgt.admin() as tadmin:
            tadmin.wait_for_topics(remote, timeout_s=60)
            infos = tadmin.topics(remote)
            target_end = end_offsets(tadmin, [(t.name, p.partition) for t in infos for p in t.partitions])
        ready = time.time()
        rto = ready - (failure_at or started)
        report.update(bootstrap=tgt.bootstrap, rto_seconds=round(rto, 3), runbook_seconds=round(ready - started, 3),
                      target_end_at_failover={key(tp): o for tp, o in target_end.items()},
                      fenced=fenced, failed_over_at=ready)
        step(STEPS[6], f"{len(remote)} topic(s) served by {flow.target}; applications switch to {tgt.bootstrap}")
        change.after = {k: v for k, v in report.items() if k != "steps"}
    path = state_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    return report


def read_state(flow: str) -> dict[str, Any]:
    path = state_path(flow)
    if not path.exists():
        raise OperationFailed(f"flow {flow}: no failover recorded (run `brokerscale dr failover --flow {flow} "
                              "--apply` first)")
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc
