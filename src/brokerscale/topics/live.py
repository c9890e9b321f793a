"""The Kafka adapter of the topics verb: read topics, configs and offsets; add partitions; set configs.

It talks to the cluster only through the Kafka adapter (`brokerscale.kafka`) and reads metadata only —
names, offsets, sizes, configs — never a record of a real topic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from brokerscale.connect import ConnectionProfile
from brokerscale.errors import BadInput, OperationFailed, Unreachable
from brokerscale.kafka import KafkaAdmin, TopicInfo
from brokerscale.topics.metrics import MetricsSource
from brokerscale.topics.model import TopicRate, TopicState
from brokerscale.topics.rates import (
    TP,
    OffsetSample,
    partition_bytes_in_series,
    record_sizes,
    topic_bytes_out_series,
    topic_rates,
)
from brokerscale.topics.review import POLICY_CONFIG_KEYS


@dataclass(frozen=True)
class Measurement:
    """What two offset samples tell: bytes in/out per topic and bytes in per partition."""

    rates: dict[str, TopicRate]
    partition_bytes_in: dict[TP, float]
    window_s: float
    leaders: dict[TP, int] = field(default_factory=dict)
    note: str = ""  # why the preferred source was not used, if it was not


class TopicsAdmin:
    """The handful of admin calls the topics verb needs, over the Kafka adapter (connected lazily)."""

    def __init__(self, profile: ConnectionProfile) -> None:
        self.profile = profile
        self._admin: KafkaAdmin | None = None
        self.notes: list[str] = []  # what a measurement had to do without (permissions, managed clusters)

    @property
    def admin(self) -> KafkaAdmin:
        if self._admin is None:
            self._admin = self.profile.admin()
        return self._admin

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def __enter__(self) -> TopicsAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads -------------------------------------------------------------------------------
    def _describe(self, names: list[str], attempts: int = 10) -> list[TopicInfo]:
        """Topic metadata; a topic without partitions or leaders yet (just created) is retried briefly, and
        so is one a broker calls unknown (it may not have the creation yet: brokers learn it moments apart)."""
        pending: list[str] = []
        for i in range(attempts):
            found = {t.name: t for t in self.admin.topics(names)}
            absent = [n for n in names if n not in found]
            if absent and i >= 3 and (missing := self.admin.missing_topics(absent)):
                raise BadInput(f"--topic: {missing[0]!r} does not exist on {self.profile.bootstrap}")
            # a broker that has not caught up with a new topic answers without partitions: transient
            pending = absent + [n for n, t in found.items() if not t.partitions]
            if not pending:
                return [found[n] for n in sorted(found)]
            if i < attempts - 1:
                time.sleep(0.2 * (i + 1))
        raise Unreachable(f"describe topics failed on {self.profile.bootstrap}: {pending[0]}: "
                          "LeaderNotAvailableError")

    def topic_names(self, include_internal: bool = False) -> list[str]:
        return self.admin.topic_names(include_internal=include_internal)

    def layout(self, names: list[str]) -> tuple[dict[str, list[int]], dict[TP, int]]:
        """Partition ids per topic, and the leader broker of each partition (-1: none)."""
        parts: dict[str, list[int]] = {}
        leaders: dict[TP, int] = {}
        for t in self._describe(names):
            parts[t.name] = [p.partition for p in t.partitions]
            for p in t.partitions:
                leaders[(t.name, p.partition)] = p.leader if p.leader is not None else -1
        return parts, leaders

    def partitions(self, names: list[str]) -> dict[str, list[int]]:
        return self.layout(names)[0]

    def configs(self, names: list[str]) -> dict[str, dict[str, str]]:
        """Effective values (defaults included) of the configs the policy speaks about."""
        return self.admin.topic_configs(names, POLICY_CONFIG_KEYS)

    def states(self, names: list[str] | None = None, include_internal: bool = False) -> list[TopicState]:
        """Topics as they are now: partitions, smallest replica count and policy-relevant configs."""
        wanted = names if names is not None else self.topic_names(include_internal)
        described = self._describe(wanted) if wanted else []
        configs = self.configs([t.name for t in described])
        out = []
        for t in described:
            rf = min((len(p.replicas) for p in t.partitions), default=0)
            out.append(TopicState(t.name, len(t.partitions), rf, configs.get(t.name, {})))
        return sorted(out, key=lambda s: s.name)

    def offsets(self, tps: Iterable[TP], spec: str = "LATEST") -> dict[TP, int]:
        return self.admin.offsets(tps, spec)

    def _degraded(self, what: str, reason: str, instead: str) -> None:
        note = f"{what} not readable ({reason}): {instead}"
        if note not in self.notes:
            self.notes.append(note)

    def group_offsets(self, topics: set[str]) -> dict[tuple[str, str, int], int]:
        """Committed offsets of every consumer group on `topics` — the egress side of traffic.

        Without permission to describe groups (common on managed clusters) egress counts as 0, noted.
        """
        try:
            groups = self.admin.consumer_groups()
            res, _errors = self.admin.group_offsets(groups)
        except (Unreachable, OperationFailed) as exc:
            self._degraded("consumer-group offsets", str(exc).split(": ", 1)[-1], "egress counted as 0")
            return {}
        return {(group, t, p): off for group, offsets in res.items() for (t, p), off in offsets.items()
                if t in topics and off is not None}

    def sizes(self, names: list[str]) -> dict[TP, int]:
        """Bytes on disk per partition (largest replica: a lagging follower undercounts)."""
        if not names:
            return {}
        dirs = self.admin.log_dirs(sorted(self.admin.cluster().live()), names)
        failed = dirs.failed
        if failed and len(failed) == len(dirs.brokers):  # Confluent Cloud does not allow DescribeLogDirs
            self._degraded("log-dir sizes", next(iter(failed.values())), "records assumed 1 KB each")
            return {}
        for b, why in sorted(failed.items()):
            self._degraded(f"log-dir sizes of broker {b}", why, "its replicas not counted")
        return dirs.largest_copy()

    def sample(self, tps: list[TP], topics: set[str], clock: Callable[[], float]) -> OffsetSample:
        ends = self.offsets(tps)
        groups = self.group_offsets(topics)
        return OffsetSample(clock(), ends, groups)

    def measure(self, names: list[str], window_s: float, *, clock: Callable[[], float] = time.monotonic,
                sleep: Callable[[float], None] = time.sleep,
                tick: Callable[[float], None] | None = None, samples: int = 9,
                metrics: MetricsSource | None = None) -> Measurement:
        """Offsets sampled `samples` times over `window_s` -> bytes in/out per topic and in per partition.

        Log-end offsets are sampled evenly across the window and fitted (least squares) per partition;
        consumer-group offsets are sampled alike and timed between the commits actually observed. With
        `metrics`, topic totals come from the brokers' own byte counters scraped at both ends.
        """
        parts, leaders = self.layout(names)
        tps = [(t, p) for t, ps in parts.items() for p in ps]
        if metrics is not None:
            metrics.start()
        first = self.sample(tps, set(names), clock)
        series = [first]
        step = window_s / max(1, samples - 1)
        deadline = first.taken_at + window_s
        next_at = first.taken_at + step
        while (left := deadline - clock()) > 0:
            sleep(max(0.0, min(0.25, left, next_at - clock())))
            now = clock()
            if now >= next_at and deadline - now > step / 2:
                series.append(self.sample(tps, set(names), clock))
                next_at += step
            if tick is not None:
                tick(min(1.0, 1 - max(0.0, deadline - clock()) / window_s))
        second = self.sample(tps, set(names), clock)
        series.append(second)
        from_metrics = metrics.finish(names) if metrics is not None else None
        starts = self.offsets(tps, "EARLIEST")
        avg = record_sizes(self.sizes(names), starts, second.end_offsets)
        per_partition = partition_bytes_in_series(series, avg)
        rates = topic_rates(first, second, avg, per_partition, topic_bytes_out_series(series, avg))
        window = second.taken_at - first.taken_at
        for n in names:  # an idle topic measured 0, which is different from "not measured"
            rates.setdefault(n, TopicRate(0.0, 0.0, f"offset deltas over {window:.1f} s"))
        notes = []
        if from_metrics is not None:
            rates = from_metrics
        else:
            if metrics is not None:
                notes.append(f"broker metrics unavailable ({metrics.failed}); traffic estimated from offsets")
            notes.extend(self.notes)
        return Measurement(rates, per_partition, window, leaders, "; ".join(notes))

    # -- writes ------------------------------------------------------------------------------
    def create_partitions(self, topic: str, count: int) -> None:
        self.admin.create_partitions(topic, count)

    def check_permitted(self, configs: dict[str, dict[str, str]], partitions: dict[str, int]) -> None:
        """Raise NotAuthorized, changing nothing, if this principal may not make every one of these changes."""
        from brokerscale.kafka.permissions import check_writes

        check_writes(self.admin, topic_configs={t: dict(v) for t, v in configs.items()}, partitions=partitions,
                     what="topics --apply")

    def alter_configs(self, topic: str, values: dict[str, str]) -> None:
        try:
            self.admin.alter_configs(topics={topic: dict(values)}, check_keys=True)
        except OperationFailed as exc:
            raise OperationFailed(f"{topic}: {exc}") from None
