"""The result of planning: every figure carries the rule that produced it, so people can check it.

Plain frozen dataclasses (no I/O); `plan_to_dict` is the JSON contract scripts rely on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from brokerscale.plan.partitions import PartitionTarget

Severity = Literal["info", "warning"]


@dataclass(frozen=True)
class PlanFinding:
    """Something the planner wants a person to look at (not an error: the plan is still valid)."""

    severity: Severity
    rule: str
    target: str
    message: str


@dataclass(frozen=True)
class Dimension:
    """One sizing dimension: demand ÷ capacity per unit, rounded up."""

    name: str
    demand: float
    unit: str
    per_unit: float
    count: int
    rule: str


@dataclass(frozen=True)
class TopicPlan:
    name: str
    topic_class: str
    key: str | None
    messages_per_second: float
    message_bytes: int
    ingress_bytes_s: float
    egress_bytes_s: float | None  # None: consumer_groups not given, egress not modelled
    retention_days: float
    storage_bytes: float
    partitions: PartitionTarget

    @property
    def throughput_bytes_s(self) -> float:
        return self.ingress_bytes_s + (self.egress_bytes_s or 0.0)


@dataclass(frozen=True)
class ConfluentPlan:
    tier: str
    tier_reason: str
    tiers_considered: list[tuple[str, str]]  # (tier, why it does or does not fit)
    ckus: int
    dimensions: list[Dimension]
    binding_dimension: str
    ckus_rule: str


@dataclass(frozen=True)
class SelfManagedPlan:
    brokers: int
    dimensions: list[Dimension]
    binding_dimension: str
    replication_factor: int
    min_insync_replicas: int
    storage_bytes_replicated: float
    size_class: str
    scaling_increment: int
    disk_per_broker_bytes: int
    broker_throughput_mb_s: float  # the broker profile's in + out capacity (Cruise Control capacity)
    rule: str


@dataclass(frozen=True)
class Plan:
    workload: str
    limits: str
    availability: str
    requirements: list[str]
    connections: int
    extra_partitions: int
    topics: list[TopicPlan]
    ingress_bytes_s: float
    egress_bytes_s: float
    storage_bytes: float
    total_partitions: int
    confluent: ConfluentPlan
    self_managed: SelfManagedPlan
    findings: list[PlanFinding] = field(default_factory=list)

    @property
    def throughput_bytes_s(self) -> float:
        return self.ingress_bytes_s + self.egress_bytes_s


def _mb(v: float) -> float:
    return round(v / 1e6, 6)


def _dims(dims: list[Dimension]) -> dict[str, int]:
    return {d.name: d.count for d in dims}


def _dim_detail(d: Dimension) -> dict[str, Any]:
    return {"name": d.name, "demand": d.demand, "unit": d.unit, "per_unit": d.per_unit,
            "count": d.count, "rule": d.rule}


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The JSON shape of a plan (documented keys; extra keys may be added, never renamed)."""
    c, s = plan.confluent, plan.self_managed
    return {
        "workload": plan.workload,
        "limits": plan.limits,
        "availability": plan.availability,
        "requirements": list(plan.requirements),
        "throughput": {
            "ingress_mb_s": _mb(plan.ingress_bytes_s),
            "egress_mb_s": _mb(plan.egress_bytes_s),
            "total_mb_s": _mb(plan.throughput_bytes_s),
            "rule": "ingress = messages/s × message bytes; egress = ingress × consumer_groups; summed",
        },
        "storage": {
            "bytes": plan.storage_bytes,
            "tb": round(plan.storage_bytes / 1e12, 6),
            "replicated_bytes": s.storage_bytes_replicated,
            "replication_factor": s.replication_factor,
            "rule": "storage = ingress × retention (days × 86,400 s); self-managed × replication factor",
        },
        "partitions": {
            "total": plan.total_partitions,
            "topics": plan.total_partitions - plan.extra_partitions,
            "extra": plan.extra_partitions,
        },
        "connections": plan.connections,
        "confluent": {
            "tier": c.tier,
            "tier_reason": c.tier_reason,
            "tiers_considered": [{"tier": t, "verdict": v} for t, v in c.tiers_considered],
            "ckus": c.ckus,
            "ckus_by_dimension": _dims(c.dimensions),
            "binding_dimension": c.binding_dimension,
            "rule": c.ckus_rule,
            "dimensions": [_dim_detail(d) for d in c.dimensions],
        },
        "self_managed": {
            "brokers": s.brokers,
            "brokers_by_dimension": _dims(s.dimensions),
            "binding_dimension": s.binding_dimension,
            "replication_factor": s.replication_factor,
            "min_insync_replicas": s.min_insync_replicas,
            "size_class": s.size_class,
            "scaling_increment": s.scaling_increment,
            "disk_per_broker_bytes": s.disk_per_broker_bytes,
            "rule": s.rule,
            "dimensions": [_dim_detail(d) for d in s.dimensions],
        },
        "topics": [
            {
                "name": t.name,
                "class": t.topic_class,
                "key": t.key,
                "messages_per_second": t.messages_per_second,
                "message_bytes": t.message_bytes,
                "ingress_mb_s": _mb(t.ingress_bytes_s),
                "egress_mb_s": None if t.egress_bytes_s is None else _mb(t.egress_bytes_s),
                "retention_days": t.retention_days,
                "storage_bytes": t.storage_bytes,
                "partitions": t.partitions.partitions,
                "partitions_formula": t.partitions.formula,
                "partitions_capped": t.partitions.capped,
                "partitions_rule": t.partitions.rule,
            }
            for t in plan.topics
        ],
        "findings": [
            {"severity": f.severity, "rule": f.rule, "target": f.target, "message": f.message}
            for f in plan.findings
        ],
    }
