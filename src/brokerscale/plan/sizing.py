"""Sizing: workload + limits profile -> Plan. Pure arithmetic; every result names its rule.

The rules are the scaling guide's ("Capacity Planning", "CKU Planning", "Tier Comparison", "Partition Scaling
Guidelines", "Broker Scaling Guidelines"); the figures come from the limits profile so a change in
Confluent's published limits is a data change, not a code change. Each count is a ceiling of
demand ÷ capacity, so more load can never produce a smaller cluster.
"""

from __future__ import annotations

import math

from brokerscale.model.limits import LimitsProfile, TierLimits
from brokerscale.model.workload import SECONDS_PER_DAY, Workload
from brokerscale.plan.model import (
    ConfluentPlan,
    Dimension,
    Plan,
    PlanFinding,
    SelfManagedPlan,
    TopicPlan,
)
from brokerscale.plan.partitions import partition_target
from brokerscale.units import format_bytes

MB = 1e6
KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
CLINICAL_RETENTION_DAYS = 30
ZONES = 3
MIN_BROKERS = 3
MIN_PVC_BYTES = 100 * 10**9


def units_needed(demand: float, per_unit: float) -> int:
    """ceil(demand / per_unit), immune to binary noise (250 / 50 is 5, never 6)."""
    return math.ceil(round(demand / per_unit, 9))


def _n(v: float) -> str:
    """Readable number: 20,090 / 102.55 / 0.0042."""
    if float(v).is_integer():
        return f"{v:,.0f}"
    if abs(v) < 0.01:
        return f"{v:.2g}"
    return f"{v:,.2f}".rstrip("0").rstrip(".")


def plan_topics(workload: Workload) -> list[TopicPlan]:
    out = []
    for t in workload.topics:
        ingress = t.messages_per_second * t.message_bytes
        egress = None if t.consumer_groups is None else ingress * t.consumer_groups
        retention = workload.retention_of(t)
        target = partition_target((ingress + (egress or 0.0)) / MB, t.topic_class)
        out.append(TopicPlan(
            name=t.name, topic_class=t.topic_class, key=t.key,
            messages_per_second=t.messages_per_second, message_bytes=t.message_bytes,
            ingress_bytes_s=ingress, egress_bytes_s=egress, retention_days=retention,
            storage_bytes=ingress * retention * SECONDS_PER_DAY, partitions=target,
        ))
    return out


def _binding(dims: list[Dimension], floor: int, floor_name: str) -> tuple[int, str]:
    best = max(dims, key=lambda d: d.count)  # first of equals wins: dimension order is the tie-break
    if floor > best.count:
        return floor, floor_name
    return best.count, best.name


def size_ckus(workload: Workload, limits: LimitsProfile, ingress: float, egress: float,
              partitions: int) -> tuple[int, list[Dimension], str, str]:
    c = limits.cku
    dims: list[Dimension] = []
    if c.throughput_mb_s is not None:
        total = (ingress + egress) / MB
        dims.append(Dimension("throughput", total, "MB/s", c.throughput_mb_s,
                              units_needed(total, c.throughput_mb_s),
                              f"(ingress + egress) {_n(total)} MB/s ÷ {_n(c.throughput_mb_s)} MB/s per CKU"))
    else:
        assert c.ingress_mb_s is not None and c.egress_mb_s is not None
        dims.append(Dimension("ingress", ingress / MB, "MB/s", c.ingress_mb_s,
                              units_needed(ingress / MB, c.ingress_mb_s),
                              f"ingress {_n(ingress / MB)} MB/s ÷ {_n(c.ingress_mb_s)} MB/s per CKU"))
        dims.append(Dimension("egress", egress / MB, "MB/s", c.egress_mb_s,
                              units_needed(egress / MB, c.egress_mb_s),
                              f"egress {_n(egress / MB)} MB/s ÷ {_n(c.egress_mb_s)} MB/s per CKU"))
    dims.append(Dimension("connections", workload.connections, "connections", c.connections,
                          units_needed(workload.connections, c.connections),
                          f"{_n(workload.connections)} connections ÷ {_n(c.connections)} per CKU"))
    dims.append(Dimension("partitions", partitions, "partitions", c.partitions,
                          units_needed(partitions, c.partitions),
                          f"{_n(partitions)} partitions ÷ {_n(c.partitions)} per CKU"))
    multi = workload.availability == "multi-zone"
    floor = c.min_multi_zone if multi else 1
    ckus, binding = _binding(dims, floor, "availability" if multi else "minimum")
    rule = (f"largest of the dimensions, each rounded up ({', '.join(f'{d.name} {d.count}' for d in dims)})"
            f"; at least {floor} for {workload.availability}")
    return ckus, dims, binding, rule


def _tier_misfits(tier: TierLimits, workload: Workload, total_mb: float, ingress_mb: float,
                  egress_mb: float, partitions: int, storage: float, retention: float) -> list[str]:
    why: list[str] = []
    checks: list[tuple[float | None, float, str, str]] = [
        (tier.throughput_mb_s, total_mb, "throughput", "MB/s"),
        (tier.ingress_mb_s, ingress_mb, "ingress", "MB/s"),
        (tier.egress_mb_s, egress_mb, "egress", "MB/s"),
        (tier.partitions, partitions, "partitions", ""),
        (tier.connections, workload.connections, "connections", ""),
        (tier.retention_days, retention, "retention", "days"),
    ]
    if not tier.by_cku:
        for limit, value, label, unit in checks:
            if limit is not None and round(value, 9) > limit:
                why.append(f"{label} {_n(value)}{' ' + unit if unit else ''} > {_n(limit)}")
        if tier.storage_bytes is not None and storage > tier.storage_bytes:
            why.append(f"storage {format_bytes(storage)} > {format_bytes(tier.storage_bytes)}")
    req = set(workload.requirements)
    if "phi" in req and not tier.phi:
        why.append("phi needs a HIPAA-suitable tier")
    if "private-networking" in req and not tier.private_networking:
        why.append("private-networking not offered")
    if "multi-region" in req and not tier.multi_region:
        why.append("multi-region not offered")
    return why


def choose_tier(workload: Workload, limits: LimitsProfile, ingress: float, egress: float,
                partitions: int, storage: float, retention: float) -> tuple[str, str, list[tuple[str, str]]]:
    considered: list[tuple[str, str]] = []
    ruled_out: list[str] = []
    for tier in limits.tiers:
        why = _tier_misfits(tier, workload, (ingress + egress) / MB, ingress / MB, egress / MB,
                            partitions, storage, retention)
        if not why:
            considered.append((tier.name, "fits"))
            fits = "fits every limit" if not tier.by_cku else "sized by CKUs"
            lead = f"{'; '.join(ruled_out)}; " if ruled_out else ""
            return tier.name, f"{lead}{tier.name.capitalize()} {fits}", considered
        considered.append((tier.name, "; ".join(why)))
        ruled_out.append(f"not {tier.name.capitalize()}: {', '.join(why)}")
    # Nothing fits (a custom profile whose Dedicated lacks a requirement): Dedicated is the ceiling.
    return "dedicated", f"{'; '.join(ruled_out)}; Dedicated is the largest tier", considered


def size_brokers(workload: Workload, limits: LimitsProfile, ingress: float, egress: float,
                 partitions: int, storage: float) -> SelfManagedPlan:
    bp = limits.broker
    rf = workload.replication_factor or limits.replication_factor
    min_isr = min(limits.min_insync_replicas, max(1, rf - 1))
    u = bp.target_utilization
    pct = f"{u:.0%}"
    network = (ingress * (2 * rf - 1) + egress) / MB
    replicated = storage * rf
    replicas = partitions * rf
    dims = [
        Dimension("throughput", network, "MB/s", bp.throughput_mb_s * u,
                  units_needed(network, bp.throughput_mb_s * u),
                  f"ingress × (2×RF−1) + egress = {_n(network)} MB/s "
                  f"÷ ({_n(bp.throughput_mb_s)} MB/s × {pct})"),
        Dimension("storage", replicated, "bytes", bp.disk_bytes * u,
                  units_needed(replicated, bp.disk_bytes * u),
                  f"storage × RF {rf} = {format_bytes(replicated)} "
                  f"÷ ({format_bytes(bp.disk_bytes)} × {pct})"),
        Dimension("partition_replicas", replicas, "replicas", bp.max_partition_replicas * u,
                  units_needed(replicas, bp.max_partition_replicas * u),
                  f"{_n(partitions)} partitions × RF {rf} ÷ ({_n(bp.max_partition_replicas)} × {pct})"),
        Dimension("connections", workload.connections, "connections", bp.connections * u,
                  units_needed(workload.connections, bp.connections * u),
                  f"{_n(workload.connections)} connections ÷ ({_n(bp.connections)} × {pct})"),
    ]
    floor = max(MIN_BROKERS, rf)
    brokers, binding = _binding(dims, floor, "minimum")
    rule = (f"largest dimension at {pct} utilisation (the scaling guide's scaling trigger); "
            f"at least {floor} (3 brokers, replication factor {rf})")
    if workload.availability == "multi-zone" and brokers % ZONES:
        brokers += ZONES - brokers % ZONES
        rule += f"; rounded up to a multiple of {ZONES} zones"
    size_class, increment = ("small", 2) if brokers <= 5 else ("medium", 3) if brokers <= 12 else ("large", 5)
    per_broker = replicated / brokers / u
    step = 100 * 10**9
    disk = max(MIN_PVC_BYTES, math.ceil(round(per_broker / step, 9)) * step)
    return SelfManagedPlan(
        brokers=brokers, dimensions=dims, binding_dimension=binding, replication_factor=rf,
        min_insync_replicas=min_isr, storage_bytes_replicated=replicated, size_class=size_class,
        scaling_increment=increment, disk_per_broker_bytes=disk,
        broker_throughput_mb_s=bp.throughput_mb_s, rule=rule,
    )


def _findings(workload: Workload, topics: list[TopicPlan], confluent: ConfluentPlan,
              brokers: SelfManagedPlan) -> list[PlanFinding]:
    out: list[PlanFinding] = []
    for t in topics:
        p = t.partitions
        if p.capped:
            out.append(PlanFinding(
                "warning", "partitions.cap", t.name,
                f"{_n(t.throughput_bytes_s / MB)} MB/s needs {p.formula} partitions but the {t.topic_class} "
                f"cap is {p.cap}: split the topic or raise the cap"))
        if t.message_bytes > KAFKA_DEFAULT_MAX_MESSAGE_BYTES:
            out.append(PlanFinding(
                "warning", "topic.message_size", t.name,
                f"{format_bytes(t.message_bytes)} messages exceed Kafka's default max.message.bytes (1 MB): "
                "raise it for this topic or keep large payloads outside Kafka (claim check)"))
        if t.topic_class == "high-volume-clinical" and t.key in (None, "none"):
            out.append(PlanFinding(
                "info", "topic.key", t.name,
                "no partition key: events of one patient may be reordered; "
                "key by patient_id or encounter_id"))
        if t.topic_class == "high-volume-clinical" and t.retention_days < CLINICAL_RETENTION_DAYS:
            out.append(PlanFinding(
                "info", "topic.retention", t.name,
                f"retention {_n(t.retention_days)} days is below the scaling guide's 30+ days for clinical data"))
    unmodelled = [t.name for t in topics if t.egress_bytes_s is None]
    if unmodelled:
        more = f" and {len(unmodelled) - 5} more" if len(unmodelled) > 5 else ""
        shown = ", ".join(unmodelled[:5]) + more
        out.append(PlanFinding(
            "info", "egress.unmodelled", "workload",
            f"egress not modelled for {shown}: set consumer_groups to size reads too"))
    if confluent.binding_dimension == "availability":
        out.append(PlanFinding(
            "info", "ckus.multi_zone_minimum", "workload",
            f"multi-zone Dedicated needs at least {confluent.ckus} CKUs; the load alone needs fewer"))
    if brokers.binding_dimension == "storage":
        out.append(PlanFinding(
            "info", "brokers.storage_bound", "workload",
            f"storage binds self-managed sizing ({format_bytes(brokers.storage_bytes_replicated)} replicated "
            f"needs {brokers.brokers} brokers): tiered storage or shorter retention would shrink "
            "the cluster"))
    return out


def plan_workload(workload: Workload, limits: LimitsProfile) -> Plan:
    """Size `workload` against `limits`. Pure: same inputs, same plan."""
    topics = plan_topics(workload)
    ingress = sum(t.ingress_bytes_s for t in topics)
    egress = sum(t.egress_bytes_s or 0.0 for t in topics)
    storage = sum(t.storage_bytes for t in topics)
    partitions = workload.partitions + sum(t.partitions.partitions for t in topics)
    retention = max(t.retention_days for t in topics)
    ckus, dims, binding, ckus_rule = size_ckus(workload, limits, ingress, egress, partitions)
    tier, reason, considered = choose_tier(workload, limits, ingress, egress, partitions, storage, retention)
    confluent = ConfluentPlan(tier=tier, tier_reason=reason, tiers_considered=considered, ckus=ckus,
                              dimensions=dims, binding_dimension=binding, ckus_rule=ckus_rule)
    brokers = size_brokers(workload, limits, ingress, egress, partitions, storage)
    return Plan(
        workload=workload.name, limits=limits.name, availability=workload.availability,
        requirements=list(workload.requirements), connections=workload.connections,
        extra_partitions=workload.partitions, topics=topics, ingress_bytes_s=ingress,
        egress_bytes_s=egress, storage_bytes=storage, total_partitions=partitions,
        confluent=confluent, self_managed=brokers,
        findings=_findings(workload, topics, confluent, brokers),
    )
