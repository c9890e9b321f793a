"""The Kafka adapter of the topics verb: read topics, configs and offsets; add partitions; set configs.

Only this module talks to the cluster (through kafka-python's admin client, built by the connection
profile). It reads metadata only — names, offsets, sizes, configs — never a record of a real topic.
Errors from the client become one-line `Unreachable` / `OperationFailed` errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from brokerscale.connect import ConnectionProfile
from brokerscale.errors import BadInput, OperationFailed, Unreachable
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


@contextmanager
def _kafka_call(what: str, bootstrap: str) -> Iterator[None]:
    from kafka.errors import KafkaError

    try:
        yield
    except KafkaError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise Unreachable(f"{what} failed on {bootstrap}: {type(exc).__name__}: {detail}"[:400]) from None
    except OSError as exc:
        raise Unreachable(f"{what} failed on {bootstrap}: {exc}") from None


UNKNOWN_TOPIC_OR_PARTITION = 3
LEADER_NOT_AVAILABLE = 5


def is_internal(name: str) -> bool:
    return name.startswith("__") or name.startswith("_confluent") or name == "_schemas"


@dataclass(frozen=True)
class Measurement:
    """What two offset samples tell: bytes in/out per topic and bytes in per partition."""

    rates: dict[str, TopicRate]
    partition_bytes_in: dict[TP, float]
    window_s: float
    leaders: dict[TP, int] = field(default_factory=dict)
    note: str = ""  # why the preferred source was not used, if it was not


class TopicsAdmin:
    """A thin wrapper over KafkaAdminClient with the handful of calls the topics verb needs."""

    def __init__(self, profile: ConnectionProfile) -> None:
        self.profile = profile
        self._admin: Any = None
        self.notes: list[str] = []  # what a measurement had to do without (permissions, managed clusters)

    @property
    def admin(self) -> Any:
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
    def _describe(self, names: list[str] | None, attempts: int = 10) -> list[dict[str, Any]]:
        """Topic metadata; a topic that errors (leader election after a create) is retried briefly."""
        from kafka.errors import for_code

        for i in range(attempts):
            with _kafka_call("describe topics", self.profile.bootstrap):
                described = list(self.admin.describe_topics(names))
            errors = {t["name"]: t["error_code"] for t in described if t.get("error_code")}
            # a broker that has not caught up with a new topic answers without partitions: also transient
            errors.update({t["name"]: LEADER_NOT_AVAILABLE for t in described
                           if not t.get("error_code") and not t["partitions"]})
            missing = [n for n, code in errors.items() if code == UNKNOWN_TOPIC_OR_PARTITION]
            if missing:
                raise BadInput(f"--topic: {missing[0]!r} does not exist on {self.profile.bootstrap}")
            if not errors:
                return described
            if i < attempts - 1:
                time.sleep(0.2 * (i + 1))
        name, code = next(iter(errors.items()))
        raise Unreachable(f"describe topics failed on {self.profile.bootstrap}: {name}: {for_code(code).__name__}")

    def topic_names(self, include_internal: bool = False) -> list[str]:
        with _kafka_call("list topics", self.profile.bootstrap):
            names = list(self.admin.list_topics())
        return sorted(n for n in names if include_internal or not is_internal(n))

    def layout(self, names: list[str]) -> tuple[dict[str, list[int]], dict[TP, int]]:
        """Partition ids per topic, and the leader broker of each partition (-1: none)."""
        parts: dict[str, list[int]] = {}
        leaders: dict[TP, int] = {}
        for t in self._describe(names):
            parts[t["name"]] = sorted(p["partition_index"] for p in t["partitions"])
            for p in t["partitions"]:
                leaders[(t["name"], p["partition_index"])] = int(p["leader_id"])
        return parts, leaders

    def partitions(self, names: list[str]) -> dict[str, list[int]]:
        return self.layout(names)[0]

    def configs(self, names: list[str]) -> dict[str, dict[str, str]]:
        """Effective values (defaults included) of the configs the policy speaks about."""
        from kafka.admin import ConfigResource, ConfigResourceType

        if not names:
            return {}
        resources = [ConfigResource(ConfigResourceType.TOPIC, n, list(POLICY_CONFIG_KEYS)) for n in names]
        with _kafka_call("describe configs", self.profile.bootstrap):
            raw = self.admin.describe_configs(resources, config_filter="all")
        topics = raw.get("topic", {})
        return {n: {k: str(v["value"]) for k, v in topics.get(n, {}).items() if v.get("value") is not None}
                for n in names}

    def states(self, names: list[str] | None = None, include_internal: bool = False) -> list[TopicState]:
        """Topics as they are now: partitions, smallest replica count and policy-relevant configs."""
        wanted = names if names is not None else self.topic_names(include_internal)
        described = self._describe(wanted) if wanted else []
        configs = self.configs([t["name"] for t in described])
        out = []
        for t in described:
            parts = t["partitions"]
            rf = min((len(p["replica_nodes"]) for p in parts), default=0)
            out.append(TopicState(t["name"], len(parts), rf, configs.get(t["name"], {})))
        return sorted(out, key=lambda s: s.name)

    def offsets(self, tps: Iterable[TP], spec: str = "LATEST") -> dict[TP, int]:
        from kafka import TopicPartition
        from kafka.admin import OffsetSpec
        from kafka.errors import LeaderNotAvailableError, NotLeaderForPartitionError, UnknownTopicOrPartitionError

        req = {TopicPartition(t, p): OffsetSpec[spec] for t, p in tps}
        if not req:
            return {}
        # A leader that has not yet applied the metadata of a just-created topic (or a just-moved leader)
        # answers UNKNOWN_TOPIC_OR_PARTITION / NOT_LEADER for a moment: ask again before giving up.
        transient = (UnknownTopicOrPartitionError, LeaderNotAvailableError, NotLeaderForPartitionError)
        with _kafka_call("list offsets", self.profile.bootstrap):
            for attempt in range(6):
                try:
                    res = self.admin.list_partition_offsets(req)
                    break
                except transient:
                    if attempt == 5:
                        raise
                    time.sleep(0.25 * (attempt + 1))
        return {(tp.topic, tp.partition): int(v.offset) for tp, v in res.items()}

    def _degraded(self, what: str, exc: Exception, instead: str) -> None:
        note = f"{what} not readable ({type(exc).__name__}): {instead}"
        if note not in self.notes:
            self.notes.append(note)

    def group_offsets(self, topics: set[str]) -> dict[tuple[str, str, int], int]:
        """Committed offsets of every consumer group on `topics` — the egress side of traffic.

        Without permission to describe groups (common on managed clusters) egress counts as 0, noted.
        """
        from kafka.errors import KafkaError

        try:
            groups = [g["group_id"] for g in self.admin.list_groups()]
            if not groups:
                return {}
            res = self.admin.list_group_offsets(groups)
        except KafkaError as exc:
            self._degraded("consumer-group offsets", exc, "egress counted as 0")
            return {}
        out: dict[tuple[str, str, int], int] = {}
        for group, offsets in res.items():
            for tp, om in offsets.items():
                if tp.topic in topics and om.offset is not None and om.offset >= 0:
                    out[(group, tp.topic, tp.partition)] = int(om.offset)
        return out

    def sizes(self, names: list[str]) -> dict[TP, int]:
        """Bytes on disk per partition (largest replica: a lagging follower undercounts)."""
        from kafka.errors import KafkaError

        if not names:
            return {}
        try:
            raw = self.admin.describe_log_dirs(names)
        except KafkaError as exc:  # Confluent Cloud does not allow DescribeLogDirs
            self._degraded("log-dir sizes", exc, "records assumed 1 KB each")
            return {}
        out: dict[TP, int] = {}
        for broker in raw:
            for log_dir in broker.get("log_dirs", []):
                for topic in log_dir.get("topics", []):
                    for p in topic.get("partitions", []):
                        tp = (topic["name"], p["partition_index"])
                        out[tp] = max(out.get(tp, 0), int(p["partition_size"]))
        return out

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
        from kafka.errors import KafkaError

        try:
            self.admin.create_partitions({topic: count})
        except KafkaError as exc:
            raise OperationFailed(f"{topic}: CreatePartitions to {count} failed: {type(exc).__name__}: {exc}") \
                from None

    def alter_configs(self, topic: str, values: dict[str, str]) -> None:
        from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType
        from kafka.errors import KafkaError

        resource = ConfigResource(ConfigResourceType.TOPIC, topic,
                                  {k: (AlterConfigOp.SET, v) for k, v in values.items()})
        try:
            res = self.admin.alter_configs([resource], incremental=True)
        except (KafkaError, ValueError) as exc:
            raise OperationFailed(f"{topic}: IncrementalAlterConfigs failed: {type(exc).__name__}: {exc}") \
                from None
        result = res.get("topic", {}).get(topic, "OK")
        if result != "OK":
            raise OperationFailed(f"{topic}: IncrementalAlterConfigs failed: {result}")
