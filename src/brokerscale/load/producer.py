"""The producing side of `brokerscale load`: send the pool at a paced rate and account for every ack.

This is the hot loop, so it is written for speed: the pool is pre-built, pacing is checked once per
chunk, and the per-record work happens in librdkafka plus one small delivery callback that reads
the latency librdkafka measured itself (`Message.latency()`).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from brokerscale.connect import ConnectionProfile
from brokerscale.load.cluster import quiet_logger
from brokerscale.load.interrupt import StopRequest, sigint_requests_stop
from brokerscale.load.pacing import Pacer
from brokerscale.load.pool import Pool
from brokerscale.load.stats import LatencyHistogram

CHUNK = 500
DRAIN_AFTER_INTERRUPT_S = 10.0
PROGRESS_EVERY_S = 0.5

PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 5,
    "batch.size": 1_000_000,
    "compression.type": "none",
    "queue.buffering.max.kbytes": 65536,
    "queue.buffering.max.messages": 200_000,
    "message.timeout.ms": 60_000,
}


@dataclass
class Deliveries:
    """Delivery-report accounting, filled in by librdkafka's callback on the producing thread."""

    verify: bool = False
    acked: int = 0
    errors: int = 0
    bytes_acked: int = 0
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)
    error_samples: list[str] = field(default_factory=list)
    # (partition, offset) -> crc32 of the value; only kept with --verify
    offsets: dict[tuple[int, int], int] = field(default_factory=dict)

    def __call__(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(str(err.str() if hasattr(err, "str") else err))
            return
        self.acked += 1
        value = msg.value()
        self.bytes_acked += len(value)
        latency = msg.latency()
        if latency is not None:
            self.histogram.add(latency)
        if self.verify:
            self.offsets[(msg.partition(), msg.offset())] = zlib.crc32(value)


def wait_for_leaders(client: Any, topic: str, timeout_s: float = 15.0) -> None:
    """Start the clock only once every partition has a leader (a just-created topic takes a moment)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            meta = client.list_topics(topic, timeout=min(5.0, timeout_s))
        except Exception:  # transient metadata errors: retry until the deadline
            time.sleep(0.2)
            continue
        t = meta.topics.get(topic)
        if t is not None and t.error is None and t.partitions and all(p.leader >= 0 for p in t.partitions.values()):
            return
        time.sleep(0.2)


@dataclass(frozen=True)
class Progress:
    elapsed: float
    sent: int
    acked: int
    errors: int
    bytes_acked: int


@dataclass(frozen=True)
class ProduceResult:
    sent: int
    elapsed: float  # first send to last acknowledgement
    deliveries: Deliveries
    interrupted: bool = False  # Ctrl-C: sending stopped early, in-flight records drained briefly


def produce(profile: ConnectionProfile, topic: str, pool: Pool, pacer: Pacer, duration_s: float | None,
            *, verify: bool = False, overrides: dict[str, Any] | None = None,
            on_progress: Callable[[Progress], None] | None = None,
            clock: Callable[[], float] = time.monotonic, stop: StopRequest | None = None) -> ProduceResult:
    """Send for `duration_s` (see `Pacer.run_bounds`) or until `pacer.limit` messages, then wait for all acks.

    Ctrl-C (or `stop()` becoming true) ends sending; in-flight records are still accounted for.
    """
    with (sigint_requests_stop() if stop is None else nullcontext(stop)) as stop_now:
        return _produce(profile, topic, pool, pacer, duration_s, verify=verify, overrides=overrides,
                        on_progress=on_progress, clock=clock, stop=stop_now)


def _produce(profile: ConnectionProfile, topic: str, pool: Pool, pacer: Pacer, duration_s: float | None, *,
             verify: bool, overrides: dict[str, Any] | None, on_progress: Callable[[Progress], None] | None,
             clock: Callable[[], float], stop: Callable[[], bool]) -> ProduceResult:
    from confluent_kafka import Producer

    deliveries = Deliveries(verify=verify)
    producer = Producer({**profile.confluent(), **PRODUCER_DEFAULTS, "logger": quiet_logger(),
                         **(overrides or {})})
    wait_for_leaders(producer, topic)
    schedule = pool.schedule
    n = len(schedule)
    produce_one = producer.produce
    poll = producer.poll
    sent = 0
    idx = 0
    start = clock()
    next_progress = start + PROGRESS_EVERY_S
    limit, cutoff = pacer.run_bounds(duration_s)
    pacer = Pacer(pacer.rate, limit)  # budget() must never exceed the run's total
    interrupted = False
    try:
        while True:
            if stop():
                interrupted = True
                break
            now = clock()
            elapsed = now - start
            if (cutoff is not None and elapsed >= cutoff) or (limit is not None and sent >= limit):
                break
            if on_progress is not None and now >= next_progress:
                next_progress = now + PROGRESS_EVERY_S
                on_progress(Progress(elapsed, sent, deliveries.acked, deliveries.errors, deliveries.bytes_acked))
            todo = min(pacer.budget(elapsed) - sent, CHUNK)
            if todo <= 0:
                wait = pacer.wait(sent, elapsed)
                if cutoff is not None:
                    wait = min(wait, max(0.0, cutoff - elapsed))
                poll(min(wait, 0.05))  # serves delivery callbacks while we wait
                continue
            for _ in range(todo):
                key, value = schedule[idx]
                produced = False
                while not produced:
                    try:
                        produce_one(topic, value, key, on_delivery=deliveries)
                        produced = True
                    except BufferError:  # local queue full: let librdkafka drain it
                        if stop():
                            break
                        poll(0.01)
                if not produced:
                    break
                idx += 1
                if idx == n:
                    idx = 0
                sent += 1
            poll(0)
    except KeyboardInterrupt:  # stop sending, but still account for what is in flight
        interrupted = True
    drain_until = clock() + (DRAIN_AFTER_INTERRUPT_S if interrupted else float("inf"))
    while len(producer) > 0 and clock() < drain_until:
        producer.flush(0.5)
        if on_progress is not None:
            on_progress(Progress(clock() - start, sent, deliveries.acked, deliveries.errors,
                                 deliveries.bytes_acked))
    return ProduceResult(sent=sent, elapsed=clock() - start, deliveries=deliveries, interrupted=interrupted)
