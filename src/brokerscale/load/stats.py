"""Delivery statistics: counts, bytes and a latency histogram with fixed memory.

A load run can deliver millions of records; keeping every latency would cost hundreds of MB, so
latencies go into 0.1 ms buckets (up to 60 s), which is precise enough for p50/p99 and O(1) per record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

BUCKET_S = 0.0001
MAX_BUCKET = 600_000  # 60 s


@dataclass
class LatencyHistogram:
    counts: list[int] = field(default_factory=lambda: [0] * (MAX_BUCKET + 1))
    total: int = 0

    def add(self, seconds: float) -> None:
        i = int(seconds / BUCKET_S)
        self.counts[i if i < MAX_BUCKET else MAX_BUCKET] += 1
        self.total += 1

    def percentile(self, q: float) -> float | None:
        """Upper edge of the bucket holding the q-th percentile (0 < q <= 100), in seconds."""
        if self.total == 0:
            return None
        rank = max(1, math.ceil(q / 100.0 * self.total))
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= rank:
                return (i + 1) * BUCKET_S
        return (MAX_BUCKET + 1) * BUCKET_S


@dataclass(frozen=True)
class LoadReport:
    """What a run achieved.

    Two rates, because a short paced run against a slow cluster would otherwise mostly measure the
    drain at the end: `msgs_per_s` is over the whole run, first send to last acknowledgement
    (kafka-producer-perf-test's definition, used to compare with it); `sustained_msgs_per_s` takes the
    base delivery latency (the 1st percentile) off that time — the pipeline delay every run pays once,
    however long it is. Queueing is not taken off: a cluster that falls behind makes the last acks
    late, and the sustained rate drops with it. `target_fraction` compares the sustained rate with the
    target.
    """

    topic: str
    target_rate: float  # msgs/s; 0 = unthrottled
    duration_s: float
    sent: int
    acked: int
    errors: int
    bytes_acked: int
    p50_ms: float | None
    p99_ms: float | None
    p1_ms: float | None = None
    error_samples: tuple[str, ...] = ()
    interrupted: bool = False
    verified: bool = False
    verify_complete: bool = True
    read_back: int = 0
    lost: int = 0
    corrupted: int = 0

    @property
    def msgs_per_s(self) -> float:
        return self.acked / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes_acked / 1e6 / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def sustained_msgs_per_s(self) -> float:
        window = self.duration_s - (self.p1_ms or 0.0) / 1000
        return self.acked / window if window > 0 else self.msgs_per_s

    @property
    def target_fraction(self) -> float | None:
        return self.sustained_msgs_per_s / self.target_rate if self.target_rate > 0 else None

    def to_json(self) -> dict[str, object]:
        return {
            "topic": self.topic, "target_msgs_per_s": self.target_rate or None,
            "duration_s": round(self.duration_s, 3), "sent": self.sent, "acked": self.acked,
            "errors": self.errors, "bytes_acked": self.bytes_acked,
            "msgs_per_s": round(self.msgs_per_s, 1), "mb_per_s": round(self.mb_per_s, 3),
            "sustained_msgs_per_s": round(self.sustained_msgs_per_s, 1),
            "target_fraction": None if self.target_fraction is None else round(self.target_fraction, 4),
            "interrupted": self.interrupted, "p1_ms": self.p1_ms, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms,
            "error_samples": list(self.error_samples),
            "verify": {"read_back": self.read_back, "lost": self.lost, "corrupted": self.corrupted,
                       "complete": self.verify_complete}
            if self.verified else None,
        }
