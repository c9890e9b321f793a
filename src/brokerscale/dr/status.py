"""Replication lag of each flow: records and seconds per topic, bytes/s, checkpoint lag, process state.

The mirrored position of a source partition is where MirrorMaker has got to, in source offsets: the
newest offset sync (upstream U was written at downstream D) plus whatever the target has appended
since (target log-end − D); without a sync yet, the target's log-end offset (identity offsets).
Lag in records is the source's log-end offset minus that. Lag in seconds is read off the watcher's
history of source log-end offsets with the same interpolation as consumer lag (`time_lag`): the
age of the oldest record not yet mirrored. `evaluate` is pure; `collect` does the reading.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from brokerscale.dr.positions import OffsetSync, key, unkey
from brokerscale.kafka.types import TP
from brokerscale.observe.lag_eval import time_lag

# Connecting gives up after 5 s (a dead region must not stall status), but a request to a live, busy cluster
# (a coordinator loading, a GC pause) may take longer than that without the cluster being unreachable.
STATUS_REQUEST_TIMEOUT_S = 15.0

RATE_WINDOW_S = 20.0


@dataclass
class PartitionLag:
    topic: str
    partition: int
    source_end: int
    mirrored: int
    lag_records: int
    lag_seconds: float | None
    lower_bound: bool = False


@dataclass
class TopicLag:
    topic: str
    remote_topic: str
    partitions: int
    lag_records: int
    lag_seconds: float | None
    lower_bound: bool
    records_per_s: float | None
    bytes_per_s: float | None


@dataclass
class GroupCheckpoint:
    group: str
    committed_source: int
    checkpointed: int
    lag_records: int
    partitions: int


@dataclass
class DirectionStatus:
    flow: str
    source: str
    target: str
    state: str  # running | stopped | failed | failed-over | source-unreachable | target-unreachable
    mm2_pid: int | None
    watcher: bool
    lag_records: int
    lag_seconds: float | None
    bytes_per_s: float | None
    records_per_s: float | None
    topics: list[TopicLag] = field(default_factory=list)
    groups: list[GroupCheckpoint] = field(default_factory=list)
    refused_topics: list[dict[str, str]] = field(default_factory=list)
    source_seen_at: float | None = None
    notes: list[str] = field(default_factory=list)
    measured_at: float | None = None  # the `now` lag_seconds is reckoned at
    partitions: list[PartitionLag] = field(default_factory=list)  # what `topics` sums, per partition

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def mirrored_position(target_end: int | None, sync: OffsetSync | None) -> int:
    """Where replication has got to in source offsets (see the module doc)."""
    if target_end is None:
        return 0
    if sync is None:
        return target_end
    return sync.upstream + max(0, target_end - sync.downstream)


def history_of(samples: list[dict[str, Any]], direction: str,
               side: str = "source") -> dict[TP, list[tuple[float, int]]]:
    out: dict[TP, list[tuple[float, int]]] = {}
    for s in samples:
        offsets = (s.get("directions", {}).get(direction) or {}).get(side) or {}
        for k, v in offsets.items():
            out.setdefault(unkey(k), []).append((float(s["ts"]), int(v)))
    return out


def _rate(samples: list[dict[str, Any]], direction: str, side: str, now: float) -> float | None:
    """Per-second growth of the summed values of one side over the last RATE_WINDOW_S of samples."""
    recent = [s for s in samples if s["ts"] >= now - RATE_WINDOW_S
              and ((s.get("directions", {}).get(direction) or {}).get(side))]
    if len(recent) < 2:
        return None
    first, last = recent[0], recent[-1]
    a = (first["directions"][direction][side])
    b = (last["directions"][direction][side])
    common = set(a) & set(b)
    dt = last["ts"] - first["ts"]
    if dt <= 0 or not common:
        return None
    return max(0.0, sum(b[k] - a[k] for k in common) / dt)


def source_rate(samples: list[dict[str, Any]], direction: str, at: float) -> float | None:
    """Records per second the source took over the `RATE_WINDOW_S` before `at` (the watcher's samples)."""
    return _rate([s for s in samples if s["ts"] <= at], direction, "source", at)


def evaluate(flow: str, source: str, target: str, *, now: float, source_end: dict[TP, int],
             target_end: dict[TP, int], remote: dict[TP, TP], syncs: dict[TP, OffsetSync],
             samples: list[dict[str, Any]], state: str, mm2_pid: int | None, watcher: bool,
             source_seen_at: float | None) -> DirectionStatus:
    """Lag of one direction of a flow from positions read at `now` (pure)."""
    direction = f"{source}->{target}"
    history = history_of(samples, direction)
    parts: list[PartitionLag] = []
    for tp, end in sorted(source_end.items()):
        mirrored = min(end, mirrored_position(target_end.get(remote[tp]), syncs.get(tp)))
        hist = [*history.get(tp, []), (source_seen_at or now, end)]
        tl = time_lag(mirrored, now, hist)
        parts.append(PartitionLag(tp[0], tp[1], end, mirrored, max(0, end - mirrored),
                                  None if tl is None else round(tl.seconds, 3), bool(tl and tl.lower_bound)))
    rec_rate = _rate(samples, direction, "target", now)
    byte_rate = _rate(samples, direction, "target_bytes", now)
    per_topic_rec: dict[str, float] = {}
    per_topic_bytes: dict[str, float] = {}
    for topic in {p.topic for p in parts}:
        rtopic = remote[(topic, 0)][0] if (topic, 0) in remote else topic
        for side, store in (("target", per_topic_rec), ("target_bytes", per_topic_bytes)):
            sub = [{"ts": s["ts"], "directions": {direction: {side: {
                k: v for k, v in ((s.get("directions", {}).get(direction) or {}).get(side) or {}).items()
                if unkey(k)[0] == rtopic}}}} for s in samples]
            r = _rate(sub, direction, side, now)
            if r is not None:
                store[topic] = r
    topics = []
    for topic in sorted({p.topic for p in parts}):
        mine = [p for p in parts if p.topic == topic]
        secs = [p.lag_seconds for p in mine if p.lag_seconds is not None]
        topics.append(TopicLag(topic, remote[(topic, mine[0].partition)][0], len(mine),
                               sum(p.lag_records for p in mine), max(secs) if secs else None,
                               any(p.lower_bound for p in mine if p.lag_records),
                               None if topic not in per_topic_rec else round(per_topic_rec[topic], 1),
                               None if topic not in per_topic_bytes else round(per_topic_bytes[topic], 1)))
    secs_all = [t.lag_seconds for t in topics if t.lag_seconds is not None]
    return DirectionStatus(flow, source, target, state, mm2_pid, watcher,
                           sum(t.lag_records for t in topics), max(secs_all) if secs_all else None,
                           None if byte_rate is None else round(byte_rate, 1),
                           None if rec_rate is None else round(rec_rate, 1), topics,
                           source_seen_at=source_seen_at, measured_at=now, partitions=parts)


def checkpoint_lag(committed: dict[str, dict[TP, int | None]],
                   cps: dict[tuple[str, TP], Any]) -> list[GroupCheckpoint]:
    """Per group: how far MirrorMaker's newest checkpoints trail the group's commits on the source."""
    out = []
    for group, offsets in sorted(committed.items()):
        have = {tp: o for tp, o in offsets.items() if o is not None}
        if not have:
            continue
        cp = {tp: cps[(group, tp)].upstream for tp in have if (group, tp) in cps}
        out.append(GroupCheckpoint(group, sum(have.values()), sum(cp.values()),
                                   sum(max(0, o - cp.get(tp, 0)) for tp, o in have.items()), len(have)))
    return out


def last_source_sample(samples: list[dict[str, Any]], direction: str,
                       probe: dict[str, Any] | None = None) -> tuple[float | None, dict[TP, int]]:
    """The newest moment the source answered with its log-end offsets: when, and the offsets — from the
    watcher's full samples, or its probe between them (`source_last.json`'s entry) when that is newer."""
    found: tuple[float | None, dict[TP, int]] = (None, {})
    for s in reversed(samples):
        src = (s.get("directions", {}).get(direction) or {}).get("source")
        if src:
            found = float(s["ts"]), {unkey(k): int(v) for k, v in src.items()}
            break
    if probe and probe.get("ends") and (found[0] is None or float(probe["at"]) > found[0]):
        return float(probe["at"]), {unkey(k): int(v) for k, v in probe["ends"].items()}
    return found


def read_probe(root: Any, direction: str) -> dict[str, Any] | None:
    """The watcher's newest probe of one direction's source (None: no probe yet)."""
    import json

    from brokerscale.dr.watch import LAST_SEEN_FILE

    try:
        entry = json.loads((root / LAST_SEEN_FILE).read_text()).get(direction)
    except (OSError, ValueError, AttributeError):
        return None
    return entry if isinstance(entry, dict) else None


def collect(topo: Any, name: str, policy: Any, *, read_bookkeeping: bool = True,
            dead: frozenset[str] = frozenset(),
            dead_source_ends: tuple[float | None, dict[TP, int]] | None = None) -> list[DirectionStatus]:
    """Read everything one flow's status needs, both sides, and evaluate each direction. Clusters in
    `dead` (failover found them not answering) are not asked again: each attempt costs its timeout.
    `dead_source_ends` (when, offsets): a dead source's log-end offsets known better than from the
    watcher's last look (read from its log directories by failover)."""
    import json

    from brokerscale.dr.clusters import profile
    from brokerscale.dr.mm2 import checkpoints_topic, offset_syncs_topic
    from brokerscale.dr.positions import checkpoints, end_offsets, offset_syncs, remote_partitions, selected_partitions
    from brokerscale.dr.process import FlowProcess
    from brokerscale.dr.sovereignty import exclusion_patterns, refusals
    from brokerscale.errors import BrokerscaleError, Unreachable

    flow = topo.flows[name]
    proc = FlowProcess(name)
    try:
        samples = json.loads((proc.root / "positions.json").read_text()).get("samples", [])
    except (OSError, ValueError):
        samples = []
    running = proc.mm2_alive()
    out = []
    for source, target in flow.directions():
        direction = f"{source}->{target}"
        excludes = exclusion_patterns(topo, policy, source, target)
        notes: list[str] = []
        from brokerscale.dr.failover import state_path

        state = ("running" if running else "failed-over" if state_path(name).exists()
                 else "stopped" if proc.state().get("stopped") or not proc.state() else "failed")
        now = time.time()
        seen_at: float | None = now
        names: list[str] = []  # read first and kept: the refused PHI topics must not vanish on a later error
        try:
            if source in dead:
                raise Unreachable(f"{source} did not answer failover's probe")
            src_profile = profile(topo, source)
            with src_profile.admin(timeout_s=5, request_timeout_s=STATUS_REQUEST_TIMEOUT_S) as admin:
                names = admin.topic_names()
                tps = selected_partitions(admin, flow, excludes)
                src_end = end_offsets(admin, tps)
                now = time.time()
                seen_at = now
                groups = [g for g in admin.consumer_groups() if any(re.fullmatch(p, g) for p in flow.groups)]
                committed, _ = admin.group_offsets(groups)
        except BrokerscaleError as exc:
            if dead_source_ends is not None:
                seen_at, src_end = dead_source_ends
                where = "its log directories"
            else:
                seen_at, src_end = last_source_sample(samples, direction, read_probe(proc.root, direction))
                where = "the watcher's last sample" if seen_at else "nowhere: no sample yet"
            tps = sorted(src_end)
            committed = {}
            state = "source-unreachable" if running or state == "failed" else state
            notes.append(f"source {source} unreachable ({exc.message}); source positions from {where}")
        remote = remote_partitions(tps, source, flow.replication_policy)
        tgt_end: dict[TP, int] = {}
        syncs: dict[TP, OffsetSync] = {}
        cps: dict[tuple[str, TP], Any] = {}
        try:
            tgt_profile = profile(topo, target)
            with tgt_profile.admin(timeout_s=5, request_timeout_s=STATUS_REQUEST_TIMEOUT_S) as admin:
                existing = {t.name for t in admin.topics(sorted({r[0] for r in remote.values()}))}
                tgt_end = end_offsets(admin, [r for r in remote.values() if r[0] in existing])
            if read_bookkeeping:
                syncs = offset_syncs(tgt_profile, offset_syncs_topic(source))
                cps = checkpoints(tgt_profile, checkpoints_topic(source, flow.replication_policy))
        except BrokerscaleError as exc:
            state = "target-unreachable"
            notes.append(f"target {target} unreachable ({exc.message})")
        pid = proc.state().get("mm2_pid") if running else None
        st = evaluate(name, source, target, now=now, source_end=src_end, target_end=tgt_end, remote=remote,
                      syncs=syncs, samples=samples, state=state, mm2_pid=pid,
                      watcher=proc.watcher_alive(), source_seen_at=seen_at)
        st.groups = checkpoint_lag(committed, cps)
        st.refused_topics = [{"topic": r.topic, "class": r.topic_class, "jurisdiction": r.jurisdiction,
                              "reason": r.message + "; it is excluded from replication"}
                             for r in refusals(topo, policy, name, flow, {source: names}) if r.source == source]
        st.notes = notes
        out.append(st)
    return out


def as_key(tp: TP) -> str:
    return key(tp)
