"""Reading the positions a flow is judged by: log-end offsets on both sides (metadata only), and
MirrorMaker's own records of its progress — offset syncs (upstream -> downstream offsets; on the
target, see `mm2.py`) and checkpoints (translated consumer-group offsets, on the target).

The two MirrorMaker topics are internal bookkeeping of the replication, not clinical payloads: their
records are pairs of offsets, decoded here from Kafka's struct serialization.
"""

from __future__ import annotations

import re
import struct
import time
from dataclasses import dataclass
from typing import Any

from brokerscale.connect import ConnectionProfile
from brokerscale.dr.mm2 import remote_topic
from brokerscale.dr.topology import Flow
from brokerscale.kafka.admin import KafkaAdmin
from brokerscale.kafka.types import TP


@dataclass(frozen=True)
class OffsetSync:
    upstream: int
    downstream: int


@dataclass(frozen=True)
class Checkpoint:
    group: str
    topic: str
    partition: int
    upstream: int
    downstream: int


def _string(buf: bytes, at: int) -> tuple[str, int]:
    (n,) = struct.unpack_from(">h", buf, at)
    at += 2
    return buf[at:at + n].decode(), at + n


def decode_offset_sync(key: bytes, value: bytes) -> tuple[TP, OffsetSync]:
    """MirrorMaker's OffsetSync: key {topic string, partition int32}, value {upstream int64, downstream int64}."""
    topic, at = _string(key, 0)
    (partition,) = struct.unpack_from(">i", key, at)
    up, down = struct.unpack_from(">qq", value, 0)
    return (topic, partition), OffsetSync(up, down)


def decode_checkpoint(key: bytes, value: bytes) -> Checkpoint:
    """MirrorMaker's Checkpoint: key {group, topic, partition}; value {version int16, upstream,
    downstream, metadata}."""
    group, at = _string(key, 0)
    topic, at = _string(key, at)
    (partition,) = struct.unpack_from(">i", key, at)
    up, down = struct.unpack_from(">qq", value, 2)
    return Checkpoint(group, topic, partition, up, down)


def read_compacted(profile: ConnectionProfile, topic: str, timeout_s: float = 20.0) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of a MirrorMaker bookkeeping topic, from the beginning to its current end."""
    from confluent_kafka import Consumer, TopicPartition

    conf = {**profile.confluent(), "group.id": "brokerscale-dr-reader", "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "enable.partition.eof": True, "log_level": 0}
    consumer = Consumer(conf)
    out: list[tuple[bytes, bytes]] = []
    try:
        md = consumer.list_topics(topic, timeout=timeout_s)
        tm = md.topics.get(topic)
        if tm is None or tm.error is not None or not tm.partitions:
            return []
        tps = [TopicPartition(topic, p, 0) for p in tm.partitions]
        ends = {}
        for tp in tps:
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s)
            if high > low:
                ends[tp.partition] = high
                tp.offset = low
        todo = {tp.partition for tp in tps if tp.partition in ends}
        if not todo:
            return []
        consumer.assign([tp for tp in tps if tp.partition in todo])
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            error, part, offset = msg.error(), msg.partition(), msg.offset()
            if error is not None:
                if error.code() == -191 and part is not None:  # _PARTITION_EOF
                    todo.discard(part)
                continue
            key, value = msg.key(), msg.value()
            if isinstance(key, bytes) and isinstance(value, bytes):
                out.append((key, value))
            if part is not None and offset is not None and offset + 1 >= ends[part]:
                todo.discard(part)
    finally:
        consumer.close()
    return out


def offset_sync_history(profile: ConnectionProfile, topic: str) -> dict[TP, list[OffsetSync]]:
    """Every offset sync still in the topic, per partition, in the order MirrorMaker wrote them."""
    out: dict[TP, list[OffsetSync]] = {}
    for key, value in read_compacted(profile, topic):
        try:
            tp, sync = decode_offset_sync(key, value)
        except (struct.error, UnicodeDecodeError):
            continue
        out.setdefault(tp, []).append(sync)
    return out


def offset_syncs(profile: ConnectionProfile, topic: str) -> dict[TP, OffsetSync]:
    """The newest offset sync per partition."""
    return {tp: syncs[-1] for tp, syncs in offset_sync_history(profile, topic).items()}


def checkpoints(profile: ConnectionProfile, topic: str) -> dict[tuple[str, TP], Checkpoint]:
    """The newest checkpoint per (group, partition)."""
    latest: dict[tuple[str, TP], Checkpoint] = {}
    for key, value in read_compacted(profile, topic):
        try:
            cp = decode_checkpoint(key, value)
        except (struct.error, UnicodeDecodeError):
            continue
        latest[(cp.group, (cp.topic, cp.partition))] = cp
    return latest


def connect_offsets_topic(source: str) -> str:
    """Where a flow's MirrorMaker keeps how far it has copied each source partition (on the target)."""
    return f"mm2-offsets.{source}.internal"


def seed_positions(target: ConnectionProfile, source: str, next_offsets: dict[TP, int], replication: int) -> None:
    """Make a (stopped) flow from `source` resume each partition at `next_offsets`.

    MirrorMaker keeps, per source partition, the last offset it copied as a Kafka Connect source
    offset: key `["MirrorSourceConnector",{"cluster":…,"partition":…,"topic":…}]`, value `{"offset":…}`
    (JSON), in a compacted topic partitioned by Java's murmur2 of the key — librdkafka's `murmur2`
    partitioner is the same function, so a new value lands on the old value's partition and wins.
    """
    import json as _json

    from confluent_kafka import Producer

    topic = connect_offsets_topic(source)
    with target.admin() as admin:
        admin.create_topic(topic, 25, replication, configs={"cleanup.policy": "compact"})
        admin.wait_for_topics([topic])
    producer = Producer({**target.confluent(), "partitioner": "murmur2", "acks": "all", "log_level": 0})
    for (t, p), nxt in sorted(next_offsets.items()):
        if nxt <= 0:
            continue
        k = _json.dumps(["MirrorSourceConnector", {"cluster": source, "partition": p, "topic": t}],
                        separators=(",", ":"))
        producer.produce(topic, key=k.encode(), value=_json.dumps({"offset": nxt - 1}, separators=(",", ":")).encode())
    if producer.flush(60) != 0:
        from brokerscale.errors import OperationFailed

        raise OperationFailed(f"could not write MirrorMaker's start positions to {topic} on {target.label}")


def selected_partitions(admin: KafkaAdmin, flow: Flow, excludes: list[str]) -> list[TP]:
    """The source partitions the flow mirrors: selected, not excluded (by the flow or the sovereignty rule)."""
    out: list[TP] = []
    for t in admin.topics(include_internal=False):
        if flow.selects(t.name) and not any(re.fullmatch(p, t.name) for p in excludes):
            out += [(t.name, p.partition) for p in t.partitions]
    return out


def end_offsets(admin: KafkaAdmin, tps: list[TP]) -> dict[TP, int]:
    return admin.offsets(tps, "LATEST") if tps else {}


def remote_partitions(tps: list[TP], source: str, policy: str) -> dict[TP, TP]:
    """Source partition -> the partition it is mirrored into on the target."""
    return {tp: (remote_topic(tp[0], source, policy), tp[1]) for tp in tps}


def key(tp: TP) -> str:
    return f"{tp[0]}:{tp[1]}"


def unkey(text: str) -> TP:
    topic, _, part = text.rpartition(":")
    return topic, int(part)


def as_json(offsets: dict[TP, int]) -> dict[str, Any]:
    return {key(tp): v for tp, v in offsets.items()}
