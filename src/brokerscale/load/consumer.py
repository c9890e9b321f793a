"""`--consume GROUP`: a consumer group that reads at a chosen rate, to create (or drain) lag.

Offsets are committed as records are handed to us, so the group's lag as seen by the broker (and
by `brokerscale lag`) is exactly what this consumer has not processed yet. Payloads are counted,
never inspected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from brokerscale.connect import ConnectionProfile
from brokerscale.load.cluster import quiet_logger
from brokerscale.load.pacing import Pacer


@dataclass(frozen=True)
class ConsumeProgress:
    elapsed: float
    consumed: int
    bytes: int


@dataclass(frozen=True)
class ConsumeReport:
    topic: str
    group: str
    target_rate: float
    duration_s: float
    consumed: int
    bytes: int
    lag: int | None  # records behind the high watermark at the end, over assigned partitions

    @property
    def msgs_per_s(self) -> float:
        return self.consumed / self.duration_s if self.duration_s > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        return {"topic": self.topic, "group": self.group, "target_msgs_per_s": self.target_rate or None,
                "duration_s": round(self.duration_s, 3), "consumed": self.consumed,
                "msgs_per_s": round(self.msgs_per_s, 1), "mb_per_s": round(self.bytes / 1e6 / self.duration_s, 3)
                if self.duration_s > 0 else 0.0, "lag_at_end": self.lag}


def _lag(consumer: Any) -> int | None:
    """Records left behind at the end of the run. The cluster has just been serving this consumer, so a
    slow answer is a busy broker, not an outage: wait for it rather than report no figure."""
    try:
        parts = consumer.assignment()
        if not parts:
            return None
        total = 0
        for tp in consumer.position(parts):
            _low, high = consumer.get_watermark_offsets(tp, timeout=30.0, cached=False)
            total += max(0, high - tp.offset) if tp.offset >= 0 else high
        return total
    except Exception:  # lag is a courtesy figure; never fail the run over it
        return None


def consume(profile: ConnectionProfile, topic: str, group: str, pacer: Pacer, duration_s: float,
            *, on_progress: Callable[[ConsumeProgress], None] | None = None,
            clock: Callable[[], float] = time.monotonic) -> ConsumeReport:
    from confluent_kafka import Consumer, KafkaException

    consumer = Consumer({**profile.confluent(), "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": True, "auto.commit.interval.ms": 1000,
                         "queued.max.messages.kbytes": 8192,
                         "logger": quiet_logger()})
    consumer.subscribe([topic])
    consumed = nbytes = 0
    start = clock()
    next_progress = start + 0.5
    try:
        while True:
            now = clock()
            elapsed = now - start
            if elapsed >= duration_s or (pacer.limit is not None and consumed >= pacer.limit):
                break
            if on_progress is not None and now >= next_progress:
                next_progress = now + 0.5
                on_progress(ConsumeProgress(elapsed, consumed, nbytes))
            todo = min(pacer.budget(elapsed) - consumed, 500)
            if todo <= 0:
                time.sleep(min(pacer.wait(consumed, elapsed), 0.05, max(0.0, duration_s - elapsed)))
                continue
            for msg in consumer.consume(num_messages=todo, timeout=min(0.2, max(0.01, duration_s - elapsed))):
                if msg.error() is None:
                    consumed += 1
                    nbytes += len(msg)
        elapsed = clock() - start
        lag = _lag(consumer)
        if consumed:
            with suppress(KafkaException):  # nothing new since the last auto-commit
                consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return ConsumeReport(topic=topic, group=group, target_rate=pacer.rate, duration_s=elapsed,
                         consumed=consumed, bytes=nbytes, lag=lag)
