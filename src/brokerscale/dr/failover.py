"""The failover runbook (the scaling guide's dashed "Failover" arrows), executed step by step and audited.

1. probe the source; 2. if it answers, fence writes to it (every mirrored topic's max.message.bytes
   is set below the size of a record batch header, so every write is refused: nothing new can be
   acknowledged there that the target would miss); 3. wait for the replication lag to drain (or proceed
   at once if the source is dead); 4. measure the RPO; 5. stop replication; 6. commit each synced
   consumer group's offsets on the target, translated from its commit on the source against every
   offset sync MirrorMaker wrote (translate.py); 7. check the target
   serves every mirrored topic, print its bootstrap, and measure the RTO.

RPO is what was not replicated at the moment of failure, in records and seconds. With the source
answering it is measured exactly after the fence. With the source dead but its brokers' log
directories readable (a dev cluster's own, or `--source-log-dirs` for volumes an operator mounted),
what it had committed is read from its log segments (`segments.py`, batch headers only) and the
figure is exact again (`rpo_exact: true`, `rpo_source` names the directories). Otherwise the source's
last log-end offsets are the flow watcher's newest sample: records acknowledged after that sample are
unknown until the old primary is back, so the figure is reported as a lower bound (`rpo_exact:
false`, with an estimate of the rest and why the disks could not be read); `dr failback` measures the
exact figure from the old primary and records it.
RTO runs from the fence (planned failover) or from the last moment the source was seen alive
(unplanned) to the target ready to serve.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from brokerscale.dr.clusters import profile
from brokerscale.dr.mm2 import checkpoints_topic, offset_syncs_topic, remote_topic
from brokerscale.dr.positions import checkpoints, end_offsets, key, offset_sync_history
from brokerscale.dr.process import FlowProcess
from brokerscale.dr.status import DirectionStatus, collect, read_probe, source_rate
from brokerscale.dr.topology import Flow, Topology
from brokerscale.dr.translate import translate
from brokerscale.errors import BadInput, BrokerscaleError, OperationFailed, Unreachable
from brokerscale.kafka.types import TP
from brokerscale.paths import data_dir

STEPS = ("probe source", "fence writes on source", "drain replication lag", "stop replication", "measure RPO",
         "translate consumer-group offsets", "target ready")


def state_path(flow: str) -> Path:
    return data_dir() / "dr" / "failovers" / f"{flow}.json"


def _direction(topo: Topology, name: str, policy: Any, *, source_dead: bool = False) -> DirectionStatus:
    flow = topo.flows[name]
    dead = frozenset({flow.source}) if source_dead else frozenset()
    found = [d for d in collect(topo, name, policy, dead=dead) if d.source == flow.source]
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
                     flow: Flow | None = None, *, source_dead: bool = False) -> list[dict[str, Any]]:
    """Commit each synced group's offsets on the target (of flow `name`, or of `flow` when given:
    failback's reverse flow), translated from its commit on the source.

    The commits are read from the source when it answers, else from MirrorMaker's newest checkpoints
    (on the target: their upstream offset is the group's commit). Each is translated against every
    offset sync in the offset-syncs topic on the target (`translate`: exact where the syncs show a
    one-to-one copy), never past what was replicated. MirrorMaker's checkpointed downstream offsets
    are only a floor: for a group idle far behind they trail its commit by thousands of records."""
    flow = flow or topo.flows[name]
    tgt = profile(topo, flow.target)
    cps = checkpoints(tgt, checkpoints_topic(flow.source, flow.replication_policy))

    def synced(group: str) -> bool:
        return any(re.fullmatch(p, group) for p in flow.groups)

    committed: dict[str, dict[TP, int]] = {}
    for (group, tp), cp in cps.items():
        if synced(group):
            committed.setdefault(group, {})[tp] = cp.upstream
    read_from = "MirrorMaker's checkpoints"
    try:
        if source_dead:
            raise Unreachable(f"{flow.source} did not answer")
        with profile(topo, flow.source).admin(timeout_s=5) as sadmin:
            live, _ = sadmin.group_offsets([g for g in sadmin.consumer_groups() if synced(g)])
        for group, read in live.items():
            for tp, at in read.items():
                if at is not None:
                    committed.setdefault(group, {})[tp] = at
        read_from = f"the groups' commits on {flow.source}"
    except BrokerscaleError:
        pass
    history = offset_sync_history(tgt, offset_syncs_topic(flow.source))
    remote = {tp: (remote_topic(tp[0], flow.source, flow.replication_policy), tp[1])
              for offsets in committed.values() for tp in offsets}
    out = []
    with tgt.admin() as admin:
        existing = {t.name for t in admin.topics(sorted({r[0] for r in remote.values()}))} if remote else set()
        ends = end_offsets(admin, sorted(r for r in remote.values() if r[0] in existing))
        info = admin.describe_groups(sorted(committed)) if committed else {}
        for group, source_offsets in sorted(committed.items()):
            members = info[group].members if group in info else None
            if members:
                say(f"  group {group}: {members} member(s) already active on {flow.target}; offsets left as they are")
                out.append({"group": group, "committed": False, "reason": "active on target"})
                continue
            offsets: dict[TP, int] = {}
            how: dict[str, str] = {}
            for tp, off in sorted(source_offsets.items()):
                if remote[tp] not in ends:
                    continue  # not mirrored (not selected, or refused by the sovereignty rule)
                mm2 = cps.get((group, tp))
                t = translate(off, history.get(tp, []), ends[remote[tp]],
                              None if mm2 is None else (mm2.upstream, mm2.downstream))
                how[key(tp)] = t.how
                if t.how != "none":
                    offsets[remote[tp]] = t.offset
            failed = admin.alter_group_offsets(group, offsets) if offsets else {}
            exact = sum(1 for h in how.values() if h == "exact")
            say(f"  group {group}: {len(offsets) - len(failed)} partition offset(s) committed on {flow.target} "
                f"({exact} translated exactly), from {read_from}")
            out.append({"group": group, "committed": bool(offsets) and not failed,
                        "source_offsets": {key(tp): o for tp, o in source_offsets.items() if key(tp) in how},
                        "offsets": {key(tp): o for tp, o in offsets.items()}, "translation": how,
                        "errors": {key(tp): e for tp, e in failed.items()}})
    return out


def failover(topo: Topology, name: str, policy: Any, store: Any, *, drain_timeout: float,
             say: Callable[[str], None], source_log_dirs: list[Path] | None = None) -> dict[str, Any]:
    """Run the runbook for flow `name` (audited); returns the report (RPO, RTO, bootstrap, steps).
    `source_log_dirs`: the dead source's brokers' log directories (a dev cluster's are known)."""
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
        probed_at = time.time()
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
        status = _direction(topo, name, policy, source_dead=not reachable)
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
        was = proc.mm2_alive()
        proc.stop()  # first: what MirrorMaker had fetched is on the target when the RPO is measured
        step(STEPS[3], "MirrorMaker stopped" if was else "MirrorMaker was not running")
        change.stage = STEPS[4]
        if was:
            status = _direction(topo, name, policy, source_dead=not reachable)
        rpo = measure_rpo(status, reachable, read_probe(proc.root, f"{flow.source}->{flow.target}"),
                          _samples(proc), probed_at=probed_at)
        if not reachable:
            exact, why = _rpo_from_disks(topo, name, policy, status, source_log_dirs)
            if exact is not None:
                status = exact.pop("_status")
                rpo = {**exact, "source_last_seen": rpo["source_last_seen"],
                       "rpo_watcher_floor": rpo["rpo_records"]}
            else:
                rpo.update(rpo_source=f"the flow watcher's last look at {flow.source}",
                           rpo_note=f"{rpo['rpo_note']}; not exact: {why}")
        report.update(rpo)
        step(STEPS[4], report["rpo_note"])
        change.stage = STEPS[5]
        groups = translate_groups(topo, name, say, source_dead=not reachable)
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
        failure_at = fence_at if reachable else report["source_last_seen"]
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


def _rpo_from_disks(topo: Topology, name: str, policy: Any, status: DirectionStatus,
                    given: list[Path] | None) -> tuple[dict[str, Any] | None, str]:
    """The exact RPO read from the dead source's log directories, or None and why it cannot be."""
    from brokerscale.dr import dead_source as ds
    from brokerscale.dr.sovereignty import exclusion_patterns

    flow = topo.flows[name]
    dirs, why = ds.known_log_dirs(topo, flow.source, given)
    if dirs is None:
        return None, why
    disk, error = ds.try_read(dirs, flow, exclusion_patterns(topo, policy, flow.source, flow.target))
    if disk is None:
        return None, f"{flow.source}'s log directories could not be read ({error})"
    expected = {(p.topic, p.partition) for p in status.partitions}
    missing = ds.missing_partitions(disk, expected)
    if missing:
        shown = ", ".join(key(tp) for tp in missing[:5]) + (" ..." if len(missing) > 5 else "")
        return None, (f"{len(missing)} mirrored partition(s) are in none of the log directories read ({shown}): "
                      f"{', '.join(str(d) for d in dirs)}")
    ends = {tp: e.end for tp, e in disk.ends.items()}
    found = [d for d in collect(topo, name, policy, dead=frozenset({flow.source}),
                                dead_source_ends=(status.source_seen_at, ends)) if d.source == flow.source]
    st = found[0]
    out = ds.exact_rpo(st, disk, expected, ds.oldest_unreplicated_ms(disk, st), why)
    out["_status"] = st
    return out, why


def _samples(proc: FlowProcess) -> list[dict[str, Any]]:
    try:
        samples: list[dict[str, Any]] = json.loads((proc.root / "positions.json").read_text()).get("samples", [])
    except (OSError, ValueError):
        samples = []
    return samples


def measure_rpo(status: DirectionStatus, reachable: bool, probe: dict[str, Any] | None,
                samples: list[dict[str, Any]], *, probed_at: float) -> dict[str, Any]:
    """The RPO fields of the report (pure: everything read is passed in).

    Source answering (fenced, drained): exact — the fence stopped every write, so what the target lacks
    now is exactly what is lost. Source dead: the loss is what it had acknowledged when it died minus
    what the target holds. The watcher's newest probe (`probe`) saw its log-end offsets at `sent` (the
    request left then; the answer is no older), so `rpo_records`, the part of those the target lacks, is
    measured and lost for certain. Records acknowledged after that probe and before the death are seen by
    no one until the old primary is back: the death came before the source first failed to answer
    (`lost_at`, or failover's own probe at `probed_at`), so they were written within `rpo_window_s`, and
    at the source's recent rate they number about `rpo_unseen_records_estimate` (an estimate: the rate
    is the last 20 s's; writes may have burst). Hence
        rpo_records <= lost <= rpo_records + records acknowledged in the window ~ rpo_records_max_estimate,
    and the data lost is at most `rpo_seconds_max` old. This assumes the source stopped taking writes
    when it stopped answering (a dead region; a partition that hides a live source is not this case).
    `dr failback` measures the exact figure from the old primary and records it."""
    by_topic = {t.topic: t.lag_records for t in status.topics}
    if reachable:
        secs = status.lag_seconds
        return {"rpo_records": status.lag_records, "rpo_seconds": None if secs is None else round(secs, 3),
                "rpo_exact": True, "rpo_source": f"the fenced source {status.source}",
                "source_last_seen": status.source_seen_at, "rpo_by_topic": by_topic,
                "rpo_note": f"{status.lag_records:,} record(s), {secs or 0:.1f} s not replicated (exact: the "
                            "source is fenced)"}
    seen = status.source_seen_at
    sent = float(probe["sent"]) if probe and probe.get("sent") is not None else seen
    lost_at = float(probe["lost_at"]) if probe and probe.get("lost_at") is not None else probed_at
    window = None if sent is None else max(0.0, lost_at - sent)
    secs = status.lag_seconds
    if secs is not None and seen is not None and status.measured_at is not None:
        secs = max(0.0, secs - (status.measured_at - seen))  # its age when the source was last seen, not now
    direction = f"{status.source}->{status.target}"
    rate = source_rate(samples, direction, seen) if seen is not None else None
    unseen = None if rate is None or window is None else math.ceil(rate * window)
    floor = status.lag_records
    most = None if unseen is None else floor + unseen
    secs_max = None if window is None else round((secs or 0.0) + window, 3)
    note = (f"at least {floor:,} record(s) ({secs or 0:.1f} s) the source held when last seen never reached "
            f"{status.target}" + ("" if window is None else
                                  f"; it died within {window:.2f} s after that look") +
            ("" if unseen is None else f", when ~{unseen:,} more were written at {rate:.0f}/s: RPO between "
             f"{floor:,} and ~{most:,} record(s), data at most {secs_max:.1f} s old")
            + " (exact figure: dr failback)")
    return {"rpo_records": floor, "rpo_seconds": None if secs is None else round(secs, 3), "rpo_exact": False,
            "source_last_seen": seen, "source_lost_at": lost_at, "rpo_window_s": None if window is None
            else round(window, 3), "source_rate_per_s": None if rate is None else round(rate, 1),
            "rpo_unseen_records_estimate": unseen, "rpo_records_max_estimate": most, "rpo_seconds_max": secs_max,
            "rpo_by_topic": by_topic, "rpo_note": note}


def read_state(flow: str) -> dict[str, Any]:
    path = state_path(flow)
    if not path.exists():
        raise OperationFailed(f"flow {flow}: no failover recorded (run `brokerscale dr failover --flow {flow} "
                              "--apply` first)")
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc
