"""The Kafka admin API as a metric source: metadata, log sizes, offsets and consumer groups.

Every call is batched the way Kafka allows: one Metadata request, one DescribeLogDirs per broker, one
ListOffsets per partition leader (per spec: latest, earliest), one DescribeGroups and one OffsetFetch
per group coordinator. Never one request per partition or per group — that is what makes a lag snapshot
of thousands of partitions cheap. Reads metadata and offsets only, never message payloads.
"""

from __future__ import annotations

import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass, field

from brokerscale.gcpause import paused_gc as gc_paused
from brokerscale.kafka import TP, GroupInfo, KafkaAdmin, LogDirs, TopicInfo
from brokerscale.model.snapshot import BrokerLoad, PartitionState, TopicLoad
from brokerscale.model.trusted import trusted_builder

__all__ = ["TP", "AdminView", "GroupInfo", "admin_rates", "collect", "gc_paused"]


@dataclass
class AdminView:
    """What the admin API showed at `ts`: cluster layout, offsets and groups."""

    ts: float
    cluster_id: str | None
    brokers: list[BrokerLoad]
    topics: list[TopicLoad]
    groups: dict[str, GroupInfo] = field(default_factory=dict)
    committed: dict[str, dict[TP, int | None]] = field(default_factory=dict)
    group_errors: dict[str, str] = field(default_factory=dict)
    size_ts: dict[int, float] = field(default_factory=dict)  # broker -> when its log sizes were read
    unreachable: dict[int, str] = field(default_factory=dict)  # broker -> why it did not answer
    # The offsets as `collect` read them (None: derive them from `topics`). A lag snapshot asks for them
    # five times; on 20,000 partitions each walk of the topics costs ~20 ms. Read-only for callers.
    leo: dict[TP, int] | None = None
    starts: dict[TP, int] | None = None
    # Each partition's leader as Metadata listed it (None: derive it from `topics`); set by `collect`
    # with `models=False`, whose view has no topic models. Read-only for callers.
    leaders: dict[TP, int | None] | None = None

    def partition_leaders(self, topics: set[str]) -> dict[TP, int]:
        """The leader of every partition of `topics` that has one."""
        if self.leaders is not None:
            return {tp: b for tp, b in self.leaders.items() if b is not None and tp[0] in topics}
        return {(t.name, p.partition): p.leader for t in self.topics if t.name in topics
                for p in t.partitions if p.leader is not None}

    def log_end_offsets(self) -> dict[TP, int]:
        if self.leo is not None:
            return self.leo
        out: dict[TP, int] = {}
        for t in self.topics:
            for p in t.partitions:
                if p.log_end_offset is not None:
                    out[(t.name, p.partition)] = p.log_end_offset
        return out

    def log_start_offsets(self) -> dict[TP, int]:
        if self.starts is not None:
            return self.starts
        out: dict[TP, int] = {}
        for t in self.topics:
            for p in t.partitions:
                if p.log_start_offset is not None:
                    out[(t.name, p.partition)] = p.log_start_offset
        return out


def admin_rates(prev: AdminView, cur: AdminView) -> tuple[dict[str, dict[str, float]], dict[int, dict[str, float]]]:
    """Bytes and messages in per second per topic and per leader broker, from two admin views.

    Leader log sizes (DescribeLogDirs) and log-end offsets are exact and carry the request's own time,
    unlike exporter counters read at some moment inside a multi-second scrape. A log that shrank
    (retention deleted a segment) contributes 0 for that window rather than negative load.
    """
    dt = cur.ts - prev.ts
    topics: dict[str, dict[str, float]] = {}
    brokers: dict[int, dict[str, float]] = defaultdict(lambda: {"bytes_in_per_s": 0.0, "messages_in_per_s": 0.0})
    if dt <= 0:
        return topics, dict(brokers)
    old = {(t.name, p.partition): p for t in prev.topics for p in t.partitions}
    for t in cur.topics:
        b_sum = m_sum = 0.0
        known = False
        for p in t.partitions:
            o = old.get((t.name, p.partition))
            if o is None:
                continue
            b = m = 0.0
            if p.size_bytes is not None and o.size_bytes is not None:
                dt_b = dt
                if p.leader is not None and p.leader == o.leader and p.leader in cur.size_ts \
                        and p.leader in prev.size_ts:
                    dt_b = cur.size_ts[p.leader] - prev.size_ts[p.leader] or dt
                b = max(0, p.size_bytes - o.size_bytes) / dt_b
                known = True
            if p.log_end_offset is not None and o.log_end_offset is not None:
                m = max(0, p.log_end_offset - o.log_end_offset) / dt
                known = True
            b_sum += b
            m_sum += m
            if p.leader is not None:
                brokers[p.leader]["bytes_in_per_s"] += b
                brokers[p.leader]["messages_in_per_s"] += m
        if known:
            topics[t.name] = {"bytes_in_per_s": b_sum, "messages_in_per_s": m_sum}
    return topics, dict(brokers)


def collect(admin: KafkaAdmin, *, sizes: bool = True, configs: bool = True, groups: bool = True,
            include_internal: bool = True, topics: list[str] | None = None, models: bool = True) -> AdminView:
    """One admin view of the cluster. A broker that does not answer is marked down and the view is
    built from the others; only a cluster where nothing answers raises `Unreachable`.

    `models=False` (a lag snapshot nothing else reads) leaves `topics` empty and keeps only what lag
    needs of them: offsets and leaders. Building 20,000 partition models it would never show cost
    about a twentieth of a `brokerscale lag` process."""
    if not models and (sizes or configs):
        raise ValueError("collect: sizes and configs are kept only in topic models")
    with gc_paused():
        return _collect(admin, sizes=sizes, configs=configs, groups=groups, include_internal=include_internal,
                        only=topics, models=models)


def _collect(admin: KafkaAdmin, *, sizes: bool, configs: bool, groups: bool, include_internal: bool,
             only: list[str] | None, models: bool) -> AdminView:
    # The groups' requests (ListGroups, DescribeGroups, OffsetFetch per coordinator) run beside the
    # topic chain; within it, requests are sequential: on a busy machine, more concurrency only queues
    # behind kafka-python's in-flight limit. Every ListOffsets covers all of a leader's partitions.
    # Each request runs in the caller's context (copy_context): the round's `fastpath.quick_outage`.
    with ThreadPoolExecutor(max_workers=2) as pool:
        f_groups = pool.submit(copy_context().run, _read_groups, admin) if groups else None
        f_cluster = pool.submit(copy_context().run, admin.cluster)
        infos = admin.topics(only, include_internal=include_internal)
        cluster = f_cluster.result()
        brokers = {b.id: BrokerLoad(id=b.id, host=b.host, port=b.port, rack=b.rack, alive=not b.fenced)
                   for b in cluster.brokers}
        # one pass over every partition: ListOffsets routing and each broker's replica and leader counts
        by_leader: dict[int, list[TP]] = defaultdict(list)
        hosted: dict[int, int] = defaultdict(int)
        led: dict[int, int] = defaultdict(int)
        for info in infos:
            name = info.name
            for pi in info.partitions:
                for r in pi.replicas:
                    hosted[r] += 1
                if pi.leader is not None:
                    by_leader[pi.leader].append((name, pi.partition))
                    led[pi.leader] += 1
        for r in hosted:  # brokers that host replicas but are not registered are down
            if r not in brokers:
                brokers[r] = BrokerLoad(id=r, alive=False)
        t0 = time.time()
        if sizes:
            (leo,), silent = admin.leader_offsets(by_leader, ("LATEST",))
        else:  # lag only: both specs in one pipelined round
            (leo, start), silent = admin.leader_offsets(by_leader, ("LATEST", "EARLIEST"))
        alive = [b for b, info in brokers.items() if info.alive and b not in silent]
        log_dirs = admin.log_dirs(alive) if sizes else None
        # The view's time is when offsets and sizes were read (rates divide by differences of it).
        ts = (t0 + time.time()) / 2
        if sizes:
            (start,), silent_start = admin.leader_offsets(by_leader, ("EARLIEST",))
            silent.update(silent_start)
        topic_cfg = _topic_configs(admin, [t.name for t in infos]) if configs else {}
        # the offsets go in as the models are built (setting them afterwards costs as much again)
        leo_seen: dict[TP, int] = {}
        start_seen: dict[TP, int] = {}
        leaders: dict[TP, int | None] | None = None
        if models:
            topic_list = [_topic_load(t, leo, start, leo_seen, start_seen) for t in infos]
        else:
            topic_list, leaders = [], _offsets_only(infos, leo, start, leo_seen, start_seen)
        by_name = {t.name: t for t in topic_list}
        unreachable = dict(silent)
        if log_dirs is not None:
            _apply_sizes(log_dirs, by_name, brokers)
            unreachable.update(log_dirs.failed)
        for bid in unreachable:
            if bid in brokers:
                brokers[bid].alive = False
        for name, cfg in topic_cfg.items():
            by_name[name].min_insync_replicas = cfg.get("min.insync.replicas")
            retention_ms, retention_bytes = cfg.get("retention.ms", -1), cfg.get("retention.bytes", -1)
            by_name[name].retention_ms = retention_ms if retention_ms >= 0 else None
            by_name[name].retention_bytes = retention_bytes if retention_bytes >= 0 else None
        view = AdminView(ts=ts, cluster_id=cluster.cluster_id, topics=topic_list,
                         brokers=[brokers[k] for k in sorted(brokers)],
                         size_ts={bid: d.read_at for bid, d in (log_dirs.brokers.items() if log_dirs else [])
                                  if d.read_at is not None and not d.error},
                         unreachable=unreachable, leo=leo_seen, starts=start_seen, leaders=leaders)
        for load in view.brokers:
            load.partition_replicas = hosted.get(load.id, 0)
            load.leaders = led.get(load.id, 0)
        if f_groups is not None:
            _apply_groups(view, *f_groups.result())
    return view


_partition_state = trusted_builder(PartitionState)  # 20,000 per snapshot of the scaling guide's cluster


def _topic_load(t: TopicInfo, leo: dict[TP, int], start: dict[TP, int], leo_seen: dict[TP, int],
                start_seen: dict[TP, int]) -> TopicLoad:
    """The topic's model with its offsets; the offsets also go into `*_seen`, in topic order."""
    name, build = t.name, _partition_state
    leo_get, start_get = leo.get, start.get
    parts: list[PartitionState] = []
    append = parts.append
    for p in t.partitions:  # 20,000 per snapshot: lookups hoisted
        index = p.partition
        tp = (name, index)
        end, first = leo_get(tp), start_get(tp)
        if end is not None:
            leo_seen[tp] = end
        if first is not None:
            start_seen[tp] = first
        append(build(partition=index, leader=p.leader, replicas=p.replicas, isr=p.isr, size_bytes=None,
                     log_start_offset=first, log_end_offset=end))
    return TopicLoad(name=name, internal=t.internal, partitions=parts)


def _offsets_only(infos: list[TopicInfo], leo: dict[TP, int], start: dict[TP, int], leo_seen: dict[TP, int],
                  start_seen: dict[TP, int]) -> dict[TP, int | None]:
    """What `_topic_load` puts in `*_seen`, in the same order, without the models; returns the leaders."""
    leaders: dict[TP, int | None] = {}
    leo_get, start_get = leo.get, start.get
    for t in infos:
        name = t.name
        for p in t.partitions:
            tp = (name, p.partition)
            leaders[tp] = p.leader
            end, first = leo_get(tp), start_get(tp)
            if end is not None:
                leo_seen[tp] = end
            if first is not None:
                start_seen[tp] = first
    return leaders


_TOPIC_CONFIGS = ["min.insync.replicas", "retention.ms", "retention.bytes"]


def _topic_configs(admin: KafkaAdmin, topics: list[str]) -> dict[str, dict[str, int]]:
    """min.insync.replicas (health) and retention.ms / retention.bytes (the storage forecast's ceiling)."""
    found = admin.topic_configs(topics, _TOPIC_CONFIGS)
    return {name: {k: int(cfg[k]) for k in _TOPIC_CONFIGS if cfg.get(k) is not None} for name, cfg in found.items()}


def _apply_sizes(log_dirs: LogDirs, by_name: dict[str, TopicLoad], brokers: dict[int, BrokerLoad]) -> None:
    """DescribeLogDirs (one request per live broker): replica sizes -> partition, topic and broker totals.
    A broker whose log dirs could not be read keeps `disk_used_bytes` unknown, never 0."""
    largest = log_dirs.largest_copy()
    per_topic: dict[str, int] = defaultdict(int)
    leader_size: dict[TP, int] = {}
    leaders = {(name, p.partition): p.leader for name, t in by_name.items() for p in t.partitions}
    for b, d in log_dirs.brokers.items():
        for r in d.replicas:
            per_topic[r.topic] += r.size
            if leaders.get((r.topic, r.partition)) == b:
                leader_size[(r.topic, r.partition)] = r.size  # the leader's log is the complete one
        if b in brokers and d.error is None:
            brokers[b].disk_used_bytes = d.used_bytes
    complete = not log_dirs.failed
    for name, topic in by_name.items():
        topic.size_bytes = per_topic.get(name, 0) if complete else None
        for p in topic.partitions:
            p.size_bytes = leader_size.get((name, p.partition), largest.get((name, p.partition)))


def _read_groups(admin: KafkaAdmin) -> tuple[list[str], dict[str, GroupInfo], dict[str, dict[TP, int | None]],
                                              dict[str, str]]:
    """ListGroups (per broker), then DescribeGroups and OffsetFetch batched per coordinator."""
    ids = admin.consumer_groups()
    if not ids:
        return [], {}, {}, {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        f_described = pool.submit(copy_context().run, admin.describe_groups, ids)
        f_offsets = pool.submit(copy_context().run, admin.group_offsets, ids)
        described = f_described.result()
        offsets, errors = f_offsets.result()
    return ids, described, offsets, errors


def _apply_groups(view: AdminView, ids: list[str], described: dict[str, GroupInfo],
                  offsets: dict[str, dict[TP, int | None]], errors: dict[str, str]) -> None:
    for gid in ids:
        view.groups[gid] = described.get(gid) or GroupInfo(group=gid, state=None, members=None)
    view.group_errors.update(errors)
    view.committed.update(offsets)
