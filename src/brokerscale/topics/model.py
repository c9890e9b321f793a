"""Plain data for the topics verb: what a topic is now, what it carries, and what should change.

These are frozen dataclasses with no behaviour beyond serialisation, so the pure review code and the
Kafka adapter can exchange them freely and tests can build them by hand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["critical", "warning", "info"]


@dataclass(frozen=True)
class TopicState:
    """A live topic as the admin API describes it. `configs` holds effective values (defaults included)."""

    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicRate:
    """Traffic a topic carries, in bytes per second, and where the figure came from."""

    bytes_in_per_s: float
    bytes_out_per_s: float
    source: str

    @property
    def throughput_mb_s(self) -> float:
        """In + out in decimal MB/s: the quantity the planner's partition rule is written for."""
        return (self.bytes_in_per_s + self.bytes_out_per_s) / 1e6


@dataclass(frozen=True)
class Finding:
    """Something wrong with a topic, worth saying even when nothing is applied."""

    severity: Severity
    code: str
    message: str


@dataclass(frozen=True)
class ConfigChange:
    """One IncrementalAlterConfigs SET, with the policy reason for it."""

    key: str
    current: str | None
    target: str
    reason: str


@dataclass(frozen=True)
class PartitionPlan:
    """Current vs target partitions. `action` says what brokerscale may do about the difference.

    increase: CreatePartitions can do it. decrease: Kafka cannot reduce partitions, so it is only
    reported. none: already at target.
    """

    current: int
    target: int
    formula: int
    floor: int
    cap: int
    capped: bool
    rule: str
    action: Literal["increase", "decrease", "none"]
    partition_key: str | None

    @property
    def needs_key_remap(self) -> bool:
        """Adding partitions to a keyed topic changes hash(key) % partitions for most keys."""
        return self.action == "increase" and self.partition_key is not None


@dataclass(frozen=True)
class TopicReview:
    """One topic measured against its class: the findings and the changes that would fix them."""

    topic: str
    topic_class: str | None
    state: TopicState
    rate: TopicRate | None
    partitions: PartitionPlan | None
    config_changes: list[ConfigChange] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def managed(self) -> bool:
        return self.topic_class is not None

    @property
    def has_changes(self) -> bool:
        return bool(self.config_changes) or (self.partitions is not None and self.partitions.action == "increase")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.rate is not None:
            d["rate"]["throughput_mb_s"] = self.rate.throughput_mb_s
        if self.partitions is not None:
            from brokerscale.topics.review import moved_key_fraction

            p = self.partitions
            d["partitions"]["needs_key_remap"] = p.needs_key_remap
            d["partitions"]["moved_key_fraction"] = (moved_key_fraction(p.current, p.target)
                                                     if p.action == "increase" else 0.0)
        return d


@dataclass(frozen=True)
class HotPartition:
    """A partition carrying far more than its siblings: usually one very busy key."""

    topic: str
    partition: int
    bytes_in_per_s: float
    topic_median_bytes_per_s: float
    ratio: float | None  # None when the median partition is idle (ratio unbounded)
    share: float  # of the topic's bytes in, 0..1
    suggestion: str
    cause: str = "key"  # key | leader (see topics.hot)
    leader: int | None = None
