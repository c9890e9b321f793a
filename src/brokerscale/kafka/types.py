"""What the Kafka admin API tells, as plain typed values (no kafka-python type leaves this package).

Partitions are keyed `(topic, partition)` everywhere; broker ids are ints; a missing leader is None.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TP = tuple[str, int]


@dataclass(frozen=True)
class BrokerInfo:
    id: int
    host: str | None = None
    port: int | None = None
    rack: str | None = None
    fenced: bool = False


@dataclass(frozen=True)
class ClusterInfo:
    """DescribeCluster: the id Kafka gives the cluster (stable whatever name a user types), brokers."""

    cluster_id: str | None
    controller_id: int | None
    brokers: list[BrokerInfo]

    def live(self) -> set[int]:
        return {b.id for b in self.brokers if not b.fenced}


@dataclass(slots=True)  # 20,000 per Metadata of the scaling guide's cluster: a third cheaper to build with slots
class PartitionInfo:
    partition: int
    leader: int | None
    replicas: list[int]  # assignment order: the first is the preferred leader
    isr: list[int]
    offline: list[int] = field(default_factory=list)


@dataclass
class TopicInfo:
    name: str
    internal: bool
    partitions: list[PartitionInfo]  # sorted by partition id


@dataclass(frozen=True)
class ReplicaLog:
    """One copy of a partition in one log dir of one broker (DescribeLogDirs)."""

    topic: str
    partition: int
    broker: int
    size: int
    offset_lag: int
    future: bool  # an intra-broker move in progress (kafka-reassign-partitions --reassignment-json with log dirs)
    log_dir: str


@dataclass
class BrokerLogDirs:
    """One broker's answer to DescribeLogDirs. `error` says why it could not be read (never sized 0)."""

    broker: int
    replicas: list[ReplicaLog] = field(default_factory=list)
    future: list[ReplicaLog] = field(default_factory=list)
    total_bytes: int | None = None
    usable_bytes: int | None = None
    error: str | None = None
    failed_dirs: list[str] = field(default_factory=list)
    read_at: float | None = None  # mid-request time (byte rates divide by each broker's own interval)

    @property
    def used_bytes(self) -> int | None:
        return None if self.error else sum(r.size for r in self.replicas)


@dataclass
class LogDirs:
    """DescribeLogDirs of several brokers; brokers that failed are in `failed`, not missing silently."""

    brokers: dict[int, BrokerLogDirs] = field(default_factory=dict)

    @property
    def failed(self) -> dict[int, str]:
        return {b: d.error for b, d in self.brokers.items() if d.error}

    def largest_copy(self) -> dict[TP, int]:
        """The largest current copy of each partition: a lagging follower must not make it look small."""
        out: dict[TP, int] = {}
        for d in self.brokers.values():
            for r in d.replicas:
                key = (r.topic, r.partition)
                if r.size > out.get(key, -1):
                    out[key] = r.size
        return out

    def size_on(self, broker: int) -> dict[TP, int]:
        d = self.brokers.get(broker)
        return {} if d is None else {(r.topic, r.partition): r.size for r in d.replicas}


@dataclass(frozen=True)
class GroupInfo:
    """DescribeGroups: state, members and the topics assigned to them (member count per topic)."""

    group: str
    state: str | None
    members: int | None
    coordinator: int | None = None
    protocol_type: str | None = None
    assigned: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Reassignment:
    """A partition reassignment in flight (ListPartitionReassignments)."""

    replicas: list[int]
    adding: list[int]
    removing: list[int]
