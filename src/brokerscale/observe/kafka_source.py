"""The Kafka admin API as a metric source: metadata, log sizes, offsets and consumer groups.

Every call is batched the way Kafka allows: one Metadata request, one DescribeLogDirs per broker, one
ListOffsets per partition leader (per spec: latest, earliest), one DescribeGroups and one OffsetFetch
per group coordinator. Never one request per partition or per group — that is what makes a lag snapshot
of thousands of partitions cheap. Reads metadata and offsets only, never message payloads.
"""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from brokerscale.errors import Unreachable
from brokerscale.model.snapshot import BrokerLoad, PartitionState, TopicLoad

TP = tuple[str, int]


@dataclass
class GroupInfo:
    group: str
    state: str | None
    members: int | None
    coordinator: int | None
    protocol_type: str | None = None
    assigned: dict[str, int] = field(default_factory=dict)  # topic -> members assigned to it


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

    def log_end_offsets(self) -> dict[TP, int]:
        out: dict[TP, int] = {}
        for t in self.topics:
            for p in t.partitions:
                if p.log_end_offset is not None:
                    out[(t.name, p.partition)] = p.log_end_offset
        return out

    def log_start_offsets(self) -> dict[TP, int]:
        out: dict[TP, int] = {}
        for t in self.topics:
            for p in t.partitions:
                if p.log_start_offset is not None:
                    out[(t.name, p.partition)] = p.log_start_offset
        return out


def _kafka_errors() -> tuple[type[BaseException], ...]:
    from kafka.errors import KafkaError

    return (KafkaError, OSError)


def _paced(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call an admin method; when a connection has its 5 requests in flight, wait a moment and retry
    (kafka-python refuses a 6th rather than queueing it)."""
    from kafka.errors import NodeNotReadyError

    for attempt in range(200):
        try:
            return fn(*args, **kwargs)
        except NodeNotReadyError:
            if attempt == 199:
                raise
            time.sleep(0.02)
    return None


def _offsets(admin: Any, tps: list[TP], spec_name: str) -> dict[TP, int]:
    """ListOffsets for many partitions: kafka-python routes them, one request per leader."""
    from kafka import TopicPartition
    from kafka.admin import OffsetSpec

    if not tps:
        return {}
    spec = getattr(OffsetSpec, spec_name)
    res = admin.list_partition_offsets({TopicPartition(t, p): spec for t, p in tps})
    return {(tp.topic, tp.partition): int(v.offset) for tp, v in res.items()}


def _leader_offsets(admin: Any, by_leader: dict[int, list[TP]], specs: tuple[str, ...]) -> list[dict[TP, int]]:
    """ListOffsets for every partition, one request per leader and spec, all pipelined at once.

    kafka-python's `list_partition_offsets` re-reads the whole cluster metadata on every call to find
    the leaders; we already have them, so the requests are built and sent directly (same protocol
    classes, same connection manager). Any partition-level error falls back to the library's call.
    """
    from kafka.admin import OffsetSpec
    from kafka.errors import for_code
    from kafka.protocol.consumer.offsets import ListOffsetsRequest

    topic_cls = ListOffsetsRequest.ListOffsetsTopic
    part_cls = topic_cls.ListOffsetsPartition
    plan: list[tuple[int, int, Any]] = []
    for i, spec_name in enumerate(specs):
        ts = int(getattr(OffsetSpec, spec_name))
        for leader, tps in by_leader.items():
            per_topic: dict[str, list[Any]] = defaultdict(list)
            for t, p in tps:
                per_topic[t].append(part_cls(partition_index=p, timestamp=ts))
            req = ListOffsetsRequest(isolation_level=0, min_version=1,
                                     topics=[topic_cls(name=t, partitions=ps) for t, ps in per_topic.items()])
            plan.append((i, leader, req))

    async def run() -> list[Any]:
        futures = [admin._manager.send(req, node_id=leader) for _, leader, req in plan]
        return [await f for f in futures]

    out: list[dict[TP, int]] = [{} for _ in specs]
    failed: dict[int, list[TP]] = defaultdict(list)
    for (i, _leader, _req), resp in zip(plan, admin._manager.run(run), strict=True):
        for topic in resp.topics:
            for part in topic.partitions:
                if part.error_code:
                    if for_code(part.error_code).retriable:
                        failed[i].append((topic.name, part.partition_index))
                        continue
                    raise for_code(part.error_code)(f"ListOffsets {topic.name}[{part.partition_index}]")
                out[i][(topic.name, part.partition_index)] = int(part.offset)
    for i, tps in failed.items():  # leadership moved: let the library find the new leaders
        out[i].update(_offsets(admin, tps, specs[i]))
    return out


_TOPIC_CONFIGS = ("min.insync.replicas", "retention.ms", "retention.bytes")


def _topic_configs(admin: Any, topics: list[str]) -> dict[str, dict[str, int]]:
    """min.insync.replicas (health) and retention.ms / retention.bytes (the storage forecast's ceiling)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    if not topics:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, t, configs=dict.fromkeys(_TOPIC_CONFIGS)) for t in topics]
    res = admin.describe_configs(resources, config_filter="all").get("topic", {})
    out: dict[str, dict[str, int]] = {}
    for name, cfg in res.items():
        for key in _TOPIC_CONFIGS:
            v = (cfg.get(key) or {}).get("value")
            if v is not None:
                out.setdefault(name, {})[key] = int(v)
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


@contextmanager
def gc_paused() -> Iterator[None]:
    """A snapshot allocates ~100,000 short-lived, acyclic objects (partitions, offsets); letting the
    cyclic garbage collector walk them again and again costs about a third of the time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def collect(admin: Any, *, sizes: bool = True, configs: bool = True, groups: bool = True,
            include_internal: bool = True, topics: list[str] | None = None) -> AdminView:
    """One admin view of the cluster. Kafka errors become one `Unreachable` line."""
    try:
        with gc_paused():
            return _collect(admin, sizes=sizes, configs=configs, groups=groups,
                            include_internal=include_internal, only=topics)
    except _kafka_errors() as exc:
        raise Unreachable(f"Kafka admin request failed: {type(exc).__name__}: {exc}") from None


def _collect(admin: Any, *, sizes: bool, configs: bool, groups: bool, include_internal: bool,
             only: list[str] | None) -> AdminView:
    # The groups' requests (ListGroups, DescribeGroups, OffsetFetch per coordinator) run beside the
    # topic chain; within it, requests are sequential: on a busy machine, more concurrency only queues
    # behind kafka-python's in-flight limit. Every ListOffsets covers all of a leader's partitions.
    with ThreadPoolExecutor(max_workers=2) as pool:
        f_groups = pool.submit(_paced, _read_groups, admin) if groups else None
        f_cluster = pool.submit(_paced, admin.describe_cluster)
        topic_list = _paced(_metadata, admin, only, include_internal)
        cluster = f_cluster.result()
        brokers = {b["broker_id"]: BrokerLoad(id=b["broker_id"], host=b.get("host"), port=b.get("port"),
                                              rack=b.get("rack"), alive=not b.get("is_fenced", False))
                   for b in cluster.get("brokers", [])}
        by_leader: dict[int, list[TP]] = defaultdict(list)
        for t in topic_list:
            for p in t.partitions:
                for r in p.replicas:  # brokers that host replicas but are not registered are down
                    if r not in brokers:
                        brokers[r] = BrokerLoad(id=r, alive=False)
                if p.leader is not None:
                    by_leader[p.leader].append((t.name, p.partition))
        by_name = {t.name: t for t in topic_list}
        t0 = time.time()
        if sizes:
            leo = _paced(_leader_offsets, admin, by_leader, ("LATEST",))[0]
        else:  # lag only: both specs in one pipelined round
            leo, start = _paced(_leader_offsets, admin, by_leader, ("LATEST", "EARLIEST"))
        alive = [b for b, info in brokers.items() if info.alive]
        log_dirs: list[dict[str, Any]] | None = None
        size_ts: dict[int, float] = {}
        if sizes:  # one DescribeLogDirs per broker, each timed: byte rates divide by its own interval
            log_dirs = []
            for b in alive:
                t_b = time.time()
                log_dirs.extend(_paced(admin.describe_log_dirs, brokers=[b]))
                size_ts[b] = (t_b + time.time()) / 2
        # The view's time is when offsets and sizes were read (rates divide by differences of it).
        ts = (t0 + time.time()) / 2
        if sizes:
            start = _paced(_leader_offsets, admin, by_leader, ("EARLIEST",))[0]
        topic_cfg = _paced(_topic_configs, admin, [t.name for t in topic_list]) if configs else {}
        for (name, part), off in leo.items():
            by_name[name].partitions[part].log_end_offset = off
        for (name, part), off in start.items():
            by_name[name].partitions[part].log_start_offset = off
        if log_dirs is not None:
            _apply_sizes(log_dirs, by_name, brokers)
        for name, cfg in topic_cfg.items():
            by_name[name].min_insync_replicas = cfg.get("min.insync.replicas")
            retention_ms, retention_bytes = cfg.get("retention.ms", -1), cfg.get("retention.bytes", -1)
            by_name[name].retention_ms = retention_ms if retention_ms >= 0 else None
            by_name[name].retention_bytes = retention_bytes if retention_bytes >= 0 else None
        view = AdminView(ts=ts, cluster_id=cluster.get("cluster_id"), topics=topic_list,
                         brokers=[brokers[k] for k in sorted(brokers)], size_ts=size_ts)
        hosted: dict[int, int] = defaultdict(int)
        led: dict[int, int] = defaultdict(int)
        for t in topic_list:
            for p in t.partitions:
                for r in p.replicas:
                    hosted[r] += 1
                if p.leader is not None:
                    led[p.leader] += 1
        for b in view.brokers:
            b.partition_replicas = hosted.get(b.id, 0)
            b.leaders = led.get(b.id, 0)
        if f_groups is not None:
            _apply_groups(view, *f_groups.result())
    return view


def _metadata(admin: Any, only: list[str] | None, include_internal: bool) -> list[TopicLoad]:
    """One Metadata request, read straight from the response (the library's `describe_topics` turns
    every partition into a dict first, a third of the cost on thousands of partitions)."""
    from kafka.protocol.metadata import MetadataRequest

    req_topics = None if only is None else [MetadataRequest.MetadataRequestTopic(name=t) for t in only]
    request = MetadataRequest(topics=req_topics, allow_auto_topic_creation=False)

    async def run() -> Any:
        return await admin._manager.send(request)

    response = admin._manager.run(run)
    out: list[TopicLoad] = []
    for t in response.topics:
        if t.error_code:
            continue
        internal = bool(t.is_internal) or t.name.startswith("__")
        if internal and not include_internal:
            continue
        parts = [PartitionState(partition=p.partition_index, leader=p.leader_id if p.leader_id >= 0 else None,
                                replicas=list(p.replica_nodes), isr=list(p.isr_nodes))
                 for p in sorted(t.partitions, key=lambda p: p.partition_index)]
        out.append(TopicLoad(name=t.name, internal=internal, partitions=parts))
    return out


def _apply_sizes(log_dirs: list[dict[str, Any]], by_name: dict[str, TopicLoad],
                 brokers: dict[int, BrokerLoad]) -> None:
    """DescribeLogDirs (one request per live broker): replica sizes -> partition, topic and broker totals."""
    per_part: dict[TP, int] = defaultdict(int)
    leader_size: dict[TP, int] = {}
    per_topic: dict[str, int] = defaultdict(int)
    leaders = {(name, p.partition): p.leader for name, t in by_name.items() for p in t.partitions}
    for entry in log_dirs:
        used = 0
        for d in entry.get("log_dirs", []):
            if d.get("error_code"):
                continue
            for t in d.get("topics", []):
                for p in t.get("partitions", []):
                    if p.get("is_future_key"):
                        continue
                    size = int(p.get("partition_size", 0))
                    used += size
                    key = (t["name"], p["partition_index"])
                    per_part[key] = max(per_part[key], size)
                    if leaders.get(key) == entry["broker"]:
                        leader_size[key] = size  # the leader's log is the complete one
                    per_topic[t["name"]] += size
        if entry["broker"] in brokers:
            brokers[entry["broker"]].disk_used_bytes = used
    for name, topic in by_name.items():
        topic.size_bytes = per_topic.get(name, 0)
        for p in topic.partitions:
            p.size_bytes = leader_size.get((name, p.partition), per_part.get((name, p.partition)))


def _read_groups(admin: Any) -> tuple[list[str], dict[str, Any], dict[str, Any], dict[str, str]]:
    """ListGroups (per broker), then DescribeGroups and OffsetFetch batched per coordinator."""
    from kafka.errors import KafkaError

    listed = admin.list_groups()
    ids = sorted({g["group_id"] for g in listed if g.get("protocol_type", "consumer") in ("consumer", "")})
    if not ids:
        return [], {}, {}, {}
    errors: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        f_described = pool.submit(_paced, admin.describe_groups, ids)
        f_offsets = pool.submit(_paced, admin.list_group_offsets, ids)
        described = f_described.result()
        try:
            offsets = f_offsets.result()
        except KafkaError:
            offsets = None
    if offsets is None:
        offsets = {}
        for gid in ids:  # one bad group must not hide the others
            try:
                offsets.update(admin.list_group_offsets([gid]))
            except KafkaError as exc:
                errors[gid] = type(exc).__name__
    return ids, described, offsets, errors


def _apply_groups(view: AdminView, ids: list[str], described: dict[str, Any], offsets: dict[str, Any],
                  errors: dict[str, str]) -> None:
    for gid in ids:
        d = described.get(gid) or {}
        members = d.get("members")
        assigned: dict[str, int] = defaultdict(int)
        for m in members or []:
            for topic in _assigned_topics(m.get("member_assignment")):
                assigned[topic] += 1
        view.groups[gid] = GroupInfo(group=gid, state=d.get("group_state") or d.get("state"),
                                     members=len(members) if members is not None else None,
                                     coordinator=None, protocol_type=d.get("protocol_type"),
                                     assigned=dict(assigned))
    view.group_errors.update(errors)
    for gid, tps in offsets.items():
        view.committed[gid] = {(tp.topic, tp.partition): (om.offset if om.offset is not None and om.offset >= 0
                                                          else None) for tp, om in tps.items()}


def _assigned_topics(assignment: Any) -> list[str]:
    if assignment is None:
        return []
    parts = getattr(assignment, "assigned_partitions", None) or getattr(assignment, "partitions", None)
    if parts is None and isinstance(assignment, dict):
        parts = assignment.get("assigned_partitions") or assignment.get("partitions")
    topics: list[str] = []
    for item in parts or []:
        name = getattr(item, "topic", None) or (item.get("topic") if isinstance(item, dict) else None)
        if name is None and isinstance(item, (tuple, list)) and item:
            name = item[0]
        if isinstance(name, str):
            topics.append(name)
    return topics
