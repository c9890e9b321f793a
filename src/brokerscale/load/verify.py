"""`--verify`: read back what this run wrote and prove every acknowledged record is there.

Only the offset range this run produced is read (start offsets are captured before the first
send), from a fresh consumer with no group commits, and each record is checked by (partition,
offset) and a CRC of its value. Records other producers interleaved are skipped unread.
"""

from __future__ import annotations

import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from brokerscale.connect import ConnectionProfile
from brokerscale.load.cluster import quiet_logger


@dataclass(frozen=True)
class VerifyResult:
    read_back: int
    lost: int
    corrupted: int
    complete: bool = True  # False: stopped (Ctrl-C) before every acknowledged record was read back


def _consumer(profile: ConnectionProfile) -> Any:
    from confluent_kafka import Consumer

    return Consumer({**profile.confluent(), "group.id": f"brokerscale-verify-{uuid.uuid4().hex[:8]}",
                     "enable.auto.commit": False, "enable.partition.eof": False,
                     "auto.offset.reset": "earliest", "isolation.level": "read_uncommitted",
                     "logger": quiet_logger()})


def end_offsets(profile: ConnectionProfile, topic: str, timeout_s: float = 30.0) -> dict[int, int]:
    """Current high watermark of every partition of `topic` (a live cluster that is busy may answer late).

    A leader that moved since the client's metadata (a broker added, a rebalance, an election) answers
    "not leader": asked again once the client has refreshed its metadata, the new leader answers."""
    from confluent_kafka import TopicPartition
    from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_fixed

    consumer = _consumer(profile)
    deadline = time.monotonic() + timeout_s
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s)
        parts = sorted(meta.topics[topic].partitions) if topic in meta.topics else []
        out: dict[int, int] = {}
        for p in parts:
            for attempt in Retrying(retry=retry_if_exception(_leader_moved), wait=wait_fixed(0.5), reraise=True,
                                    stop=stop_after_delay(max(1.0, deadline - time.monotonic()))):
                with attempt:
                    out[p] = consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                            timeout=max(1.0, deadline - time.monotonic()))[1]
        return out
    finally:
        consumer.close()


def _leader_moved(exc: BaseException) -> bool:
    """An error that asking again (after librdkafka refreshes its metadata) can cure."""
    from confluent_kafka import KafkaError, KafkaException

    if not isinstance(exc, KafkaException) or not isinstance(exc.args[0], KafkaError):
        return False
    err: KafkaError = exc.args[0]
    return err.retriable() or err.code() in (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                                             KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._TRANSPORT,
                                             KafkaError.NOT_ENOUGH_REPLICAS)


def verify(profile: ConnectionProfile, topic: str, start: dict[int, int], acked: dict[tuple[int, int], int],
           timeout_s: float = 120.0, stop: Callable[[], bool] | None = None) -> VerifyResult:
    """Consume [start, end) of every partition that received acks; compare with the acks.

    If `stop()` becomes true the read ends early and the result says it is incomplete (nothing is
    counted as lost that was simply not read yet).
    """
    from confluent_kafka import TopicPartition

    want_end: dict[int, int] = {}
    for p, off in acked:
        want_end[p] = max(want_end.get(p, 0), off + 1)
    consumer = _consumer(profile)
    read: set[tuple[int, int]] = set()
    corrupted = 0
    try:
        consumer.assign([TopicPartition(topic, p, start.get(p, 0)) for p in want_end])
        done: set[int] = set()
        deadline = time.monotonic() + timeout_s
        while len(done) < len(want_end) and time.monotonic() < deadline:
            if stop is not None and stop():
                return VerifyResult(read_back=len(read), lost=0, corrupted=corrupted, complete=False)
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                if msg.error() is not None:
                    continue
                key = (msg.partition(), msg.offset())
                crc = acked.get(key)
                if crc is not None:
                    read.add(key)
                    if zlib.crc32(msg.value()) != crc:
                        corrupted += 1
                if msg.offset() + 1 >= want_end[msg.partition()]:
                    done.add(msg.partition())
    finally:
        consumer.close()
    return VerifyResult(read_back=len(read), lost=len(acked) - len(read), corrupted=corrupted)
