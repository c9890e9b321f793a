"""THE Snapshot: one picture of a cluster's load, whatever the source.

Every metric source (Kafka admin API + JMX exporter, a Prometheus server, Confluent's Metrics API)
maps what it can see into this one model, so triggers, lag rules, the exporter and the scaler never
care where a number came from. A source that cannot see a metric leaves it `None` ("unknown"), never 0.

Units are fixed and carried in the field names: `*_per_s` are per second, `*_bytes` are bytes,
`*_ms` are milliseconds, `*_ratio` is 0..1, plain counts are integers, times are Unix seconds.
Cluster-wide figures live on the Snapshot itself; a per-broker source can fill them with
`Snapshot.with_totals()`, a cluster-level source (Confluent Cloud) sets them directly.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BrokerLoad(_Model):
    """One broker: identity plus the load it reports (rates over the snapshot's window)."""

    id: int
    rack: str | None = None
    host: str | None = None
    port: int | None = None
    alive: bool = True
    bytes_in_per_s: float | None = None
    bytes_out_per_s: float | None = None
    messages_in_per_s: float | None = None
    connections: int | None = None
    requests_per_s: float | None = None
    produce_p99_ms: float | None = None
    fetch_p99_ms: float | None = None
    request_queue_time_avg_ms: float | None = None
    request_handler_idle_ratio: float | None = None
    network_processor_idle_ratio: float | None = None
    under_replicated_partitions: int | None = None
    under_min_isr_partitions: int | None = None
    partition_replicas: int | None = None
    leaders: int | None = None
    disk_used_bytes: int | None = None


class PartitionState(_Model):
    """One partition as the controller and the leader see it."""

    partition: int
    leader: int | None = None
    replicas: list[int] = Field(default_factory=list)
    isr: list[int] = Field(default_factory=list)
    size_bytes: int | None = None
    log_start_offset: int | None = None
    log_end_offset: int | None = None

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)

    @property
    def offline(self) -> bool:
        return self.leader is None


class TopicLoad(_Model):
    """One topic: its partitions and the traffic it carries. `size_bytes` sums all replicas on disk."""

    name: str
    internal: bool = False
    min_insync_replicas: int | None = None
    retention_ms: int | None = None  # None: unlimited (-1) or not read
    retention_bytes: int | None = None  # per partition; None: unlimited (-1) or not read
    partitions: list[PartitionState] = Field(default_factory=list)
    bytes_in_per_s: float | None = None
    bytes_out_per_s: float | None = None
    messages_in_per_s: float | None = None
    size_bytes: int | None = None

    @property
    def replication_factor(self) -> int:
        return max((len(p.replicas) for p in self.partitions), default=0)

    def under_min_isr(self, p: PartitionState) -> bool:
        """As the leader judges it: Kafka caps min.insync.replicas at the replication factor
        (Partition.effectiveMinIsr), so an RF-1 topic under a cluster-wide min ISR of 2 still takes
        acks=all writes and is not below it."""
        if self.min_insync_replicas is None:
            return False
        return len(p.isr) < min(self.min_insync_replicas, len(p.replicas) or self.min_insync_replicas)


class LagStatus(StrEnum):
    """Burrow's partition/group states, plus the two cases that are not lag at all.

    NO_OFFSET: the group never committed for this partition (not lag — KEDA #7936).
    UNKNOWN: too little history in the window to judge.
    """

    OK = "OK"
    WARNING = "WARNING"
    STALL = "STALL"
    STOP = "STOP"
    REWIND = "REWIND"
    NO_OFFSET = "NO_OFFSET"
    UNKNOWN = "UNKNOWN"


class PartitionLag(_Model):
    """A group's position on one partition. `lag_offsets` is None when there is no committed offset;
    records already deleted by retention are counted in `expired_offsets`, not in lag."""

    topic: str
    partition: int
    committed_offset: int | None = None
    log_end_offset: int | None = None
    log_start_offset: int | None = None
    lag_offsets: int | None = None
    lag_seconds: float | None = None
    lag_seconds_lower_bound: bool = False
    expired_offsets: int = 0
    status: LagStatus = LagStatus.UNKNOWN
    reason: str = ""


class GroupLag(_Model):
    """A consumer group: totals over its partitions and the worst partition status."""

    group: str
    state: str | None = None
    coordinator: int | None = None
    members: int | None = None
    partitions: list[PartitionLag] = Field(default_factory=list)
    lag_offsets: int = 0
    max_lag_seconds: float | None = None
    max_lag_seconds_lower_bound: bool = False  # the largest lag is only known to be at least this
    status: LagStatus = LagStatus.UNKNOWN
    reason: str = ""


class Snapshot(_Model):
    """The whole cluster at `taken_at`; rates are averages over the `window_s` seconds before it."""

    cluster: str
    source: str
    taken_at: float
    window_s: float | None = None
    brokers: list[BrokerLoad] = Field(default_factory=list)
    topics: list[TopicLoad] = Field(default_factory=list)
    groups: list[GroupLag] = Field(default_factory=list)
    # Cluster-wide figures.
    bytes_in_per_s: float | None = None
    bytes_out_per_s: float | None = None
    messages_in_per_s: float | None = None
    connections: int | None = None
    requests_per_s: float | None = None
    produce_p99_ms: float | None = None
    fetch_p99_ms: float | None = None
    request_queue_time_avg_ms: float | None = None
    request_handler_idle_ratio: float | None = None
    network_processor_idle_ratio: float | None = None
    partition_count: int | None = None  # partitions (not replicas), internal topics included
    under_replicated_partitions: int | None = None
    under_min_isr_partitions: int | None = None
    offline_partitions: int | None = None
    retained_bytes: int | None = None
    cku_count: int | None = None
    cluster_load_percent: float | None = None
    notes: list[str] = Field(default_factory=list)  # what could not be measured, and why

    @property
    def throughput_bytes_per_s(self) -> float | None:
        """In + out, as the scaling guide's CKU capacity counts it."""
        if self.bytes_in_per_s is None and self.bytes_out_per_s is None:
            return None
        return (self.bytes_in_per_s or 0.0) + (self.bytes_out_per_s or 0.0)

    def topic(self, name: str) -> TopicLoad | None:
        return next((t for t in self.topics if t.name == name), None)

    def with_totals(self) -> Snapshot:
        """Fill unknown cluster-wide figures from brokers and topics (sums, worst latency, mean idle)."""
        alive = [b for b in self.brokers if b.alive]
        upd: dict[str, float | int | None] = {}

        def _sum(attr: str) -> float | None:
            vals = [getattr(b, attr) for b in alive if getattr(b, attr) is not None]
            return sum(vals) if vals else None

        def _max(attr: str) -> float | None:
            vals = [getattr(b, attr) for b in alive if getattr(b, attr) is not None]
            return max(vals) if vals else None

        def _mean(attr: str) -> float | None:
            vals = [getattr(b, attr) for b in alive if getattr(b, attr) is not None]
            return sum(vals) / len(vals) if vals else None

        for attr in ("bytes_in_per_s", "bytes_out_per_s", "messages_in_per_s", "requests_per_s"):
            upd[attr] = _sum(attr)
        conns = _sum("connections")
        upd["connections"] = int(conns) if conns is not None else None
        for attr in ("produce_p99_ms", "fetch_p99_ms", "request_queue_time_avg_ms"):
            upd[attr] = _max(attr)
        for attr in ("request_handler_idle_ratio", "network_processor_idle_ratio"):
            upd[attr] = _mean(attr)
        if self.topics:
            min_isr_known = any(t.min_insync_replicas is not None for t in self.topics)
            # Only where unknown: a snapshot that has these already (evaluate() asks again) skips the walk
            # over every partition (20,000 of them at the scaling guide's size).
            if (self.partition_count is None or self.under_replicated_partitions is None
                    or self.offline_partitions is None or (min_isr_known and self.under_min_isr_partitions is None)):
                upd["partition_count"] = sum(len(t.partitions) for t in self.topics)
                all_parts = [(t, p) for t in self.topics for p in t.partitions]
                upd["under_replicated_partitions"] = sum(1 for _, p in all_parts if p.under_replicated)
                upd["offline_partitions"] = sum(1 for _, p in all_parts if p.offline)
                if min_isr_known:
                    upd["under_min_isr_partitions"] = sum(1 for t, p in all_parts if t.under_min_isr(p))
            sizes = [t.size_bytes for t in self.topics if t.size_bytes is not None]
            if sizes:
                upd["retained_bytes"] = sum(sizes)
        else:
            for attr in ("under_replicated_partitions", "under_min_isr_partitions"):
                s = _sum(attr)
                upd[attr] = int(s) if s is not None else None
        disk = _sum("disk_used_bytes")
        if "retained_bytes" not in upd and disk is not None:
            upd["retained_bytes"] = int(disk)
        fill = {k: v for k, v in upd.items() if getattr(self, k) is None and v is not None}
        return self.model_copy(update=fill)


Severity = Literal["warning", "critical"]
Scope = Literal["cluster", "broker", "topic", "group", "partition"]


class Finding(_Model):
    """A trigger that fired: what, where, how far past which threshold, and what to do about it."""

    rule: str
    severity: Severity
    metric: str
    value: float
    threshold: float | None = None  # None: the rule fired on a status, not past a number
    direction: Literal["above", "below"] = "above"  # which side of the threshold fires
    unit: str = ""
    scope: Scope = "cluster"
    target: str = ""
    action: str = ""
    message: str = ""
