"""Scaling triggers: a Snapshot, its utilisation and the rules in; Findings out. Pure.

Each finding says how bad (warning / critical), which metric and value against which threshold, where
(cluster, broker, topic, group) and the one thing to do next. Health problems that make scaling unsafe
(under-replicated, offline or under-min-ISR partitions) are critical and say "fix before scaling".
"""

from __future__ import annotations

from brokerscale.model.snapshot import Finding, GroupLag, LagStatus, Scope, Severity, Snapshot
from brokerscale.observe.capacity import Capacity, Utilization, units_needed
from brokerscale.observe.rules import BelowThreshold, RuleSet, Threshold
from brokerscale.units import format_bytes, plural

_DIMENSION_RULE = {"throughput": "throughput", "ingress": "throughput", "egress": "throughput",
                   "connections": "connections", "partitions": "partitions", "requests": "request_rate",
                   "disk": "disk"}
_DIMENSION_METRIC = {"throughput": "throughput_utilization_percent", "ingress": "ingress_utilization_percent",
                     "egress": "egress_utilization_percent", "connections": "connection_utilization_percent",
                     "partitions": "partition_utilization_percent",
                     "requests": "request_rate_utilization_percent", "disk": "disk_utilization_percent"}
_ORDER = {"critical": 0, "warning": 1}


def dimension_rule(rules: RuleSet, dimension: str) -> tuple[str, Threshold]:
    """The rule (name and thresholds) that judges a capacity dimension's utilization."""
    name = _DIMENSION_RULE[dimension]
    rule: Threshold = getattr(rules, name)
    return name, rule


def _above(rule: Threshold, value: float) -> tuple[Severity, float] | None:
    if not rule.enabled:
        return None
    if rule.critical is not None and value > rule.critical:
        return "critical", rule.critical
    if rule.warning is not None and value > rule.warning:
        return "warning", rule.warning
    return None


def _below(rule: BelowThreshold, value: float) -> tuple[Severity, float] | None:
    if not rule.enabled:
        return None
    if rule.critical is not None and value < rule.critical:
        return "critical", rule.critical
    if rule.warning is not None and value < rule.warning:
        return "warning", rule.warning
    return None


def _capacity_action(u: Utilization, cap: Capacity, rule: Threshold) -> str:
    target = rule.warning or rule.critical or 70.0
    if u.scope == "broker":
        return f"move partition leadership off {u.target} (brokerscale rebalance) or add a broker"
    extra = units_needed(u.percent, cap.units, target) - cap.units
    if cap.unit == "cku":
        return f"add {extra} CKU"
    more = f"add {extra} broker{'s' if extra > 1 else ''}"
    if u.dimension == "disk":
        return f"{more} or more disk per broker, or shorten retention"
    return more


def _fmt(dimension: str, v: float) -> str:
    if dimension in ("throughput", "ingress", "egress"):
        return f"{format_bytes(v)}/s"
    if dimension == "disk":
        return format_bytes(v)
    return f"{v:,.0f}"


def _utilization_findings(utils: list[Utilization], cap: Capacity, rules: RuleSet) -> list[Finding]:
    out = []
    for u in utils:
        rule: Threshold = getattr(rules, _DIMENSION_RULE[u.dimension])
        hit = _above(rule, u.percent)
        if hit is None:
            continue
        sev, thr = hit
        out.append(Finding(
            rule=_DIMENSION_RULE[u.dimension], severity=sev, metric=_DIMENSION_METRIC[u.dimension],
            value=u.percent, threshold=thr, unit="%", scope=u.scope, target=u.target,
            action=_capacity_action(u, cap, rule),
            message=f"{u.dimension} at {u.percent:.0f}% of provisioned ({_fmt(u.dimension, u.used)} of "
                    f"{_fmt(u.dimension, u.capacity)}) on {u.target}; {sev} above {thr:g}%"))
    return out


def _broker_findings(snap: Snapshot, rules: RuleSet) -> list[Finding]:
    out: list[Finding] = []
    for b in snap.brokers:
        if not b.alive:
            continue
        target = f"broker {b.id}"
        idle = "" if b.request_handler_idle_ratio is None else \
            f" (request handlers {100 * b.request_handler_idle_ratio:.0f}% idle)"
        # FetchConsumer's total time includes the consumer's own long-poll wait (fetch.max.wait.ms),
        # so only Produce is judged; fetch p99 is reported in the snapshot.
        for metric, value, label in (("produce_p99_ms", b.produce_p99_ms, "Produce"),):
            hit = _above(rules.request_latency_p99_ms, value) if value is not None else None
            if hit and value is not None:
                out.append(Finding(rule="request_latency_p99_ms", severity=hit[0], metric=metric, value=value,
                                   threshold=hit[1], unit="ms", scope="broker", target=target,
                                   action=f"investigate {target}{idle}; add brokers or CKUs if utilization "
                                          "is also high",
                                   message=f"p99 {label} latency {value:.0f} ms on {target}"))
        q = b.request_queue_time_avg_ms
        hit = _above(rules.request_queue_time_ms, q) if q is not None else None
        if hit and q is not None:
            out.append(Finding(rule="request_queue_time_ms", severity=hit[0], metric="request_queue_time_avg_ms",
                               value=q, threshold=hit[1], unit="ms", scope="broker", target=target,
                               action=f"raise num.io.threads on {target} or add brokers",
                               message=f"requests wait {q:.0f} ms for a handler thread on {target}"))
        if b.request_handler_idle_ratio is not None:
            pct = 100 * b.request_handler_idle_ratio
            low = _below(rules.request_handler_idle_percent, pct)
            if low:
                out.append(Finding(rule="request_handler_idle_percent", severity=low[0],
                                   metric="request_handler_idle_percent", value=round(pct, 1), threshold=low[1],
                                   direction="below", unit="%", scope="broker", target=target,
                                   action=f"raise num.io.threads on {target} or add brokers",
                                   message=f"request handler threads only {pct:.0f}% idle on {target}"))
    return out


def _health_findings(snap: Snapshot, rules: RuleSet) -> list[Finding]:
    out: list[Finding] = []
    down = [b.id for b in snap.brokers if not b.alive]
    down_text = f" (broker{'s' if len(down) > 1 else ''} down: {', '.join(map(str, down))})" if down else ""
    # (rule, count, action, what one partition has, what several have)
    checks: list[tuple[str, int | None, str, str, str]] = [
        ("under_replicated_partitions", snap.under_replicated_partitions,
         "under-replicated partitions: fix before scaling", "partition has fewer in-sync replicas than replicas",
         "partitions have fewer in-sync replicas than replicas"),
        ("under_min_isr_partitions", snap.under_min_isr_partitions,
         "partitions below min.insync.replicas (acks=all producers fail): fix before scaling",
         "partition below min.insync.replicas", "partitions below min.insync.replicas"),
        ("offline_partitions", snap.offline_partitions,
         "offline partitions have no leader: restore the brokers before anything else", "partition has no leader",
         "partitions have no leader"),
    ]
    for b in down:  # a cluster whose other brokers answer is observable: a silent broker is itself the finding
        out.append(Finding(rule="broker_unreachable", severity="critical", metric="brokers_unreachable", value=1,
                           threshold=0, scope="broker", target=f"broker {b}",
                           action=f"restart broker {b} or replace it; its replicas are not in sync",
                           message=f"broker {b} unreachable (registered replicas, no answer or fenced)"))
    for name, value, action, one, several in checks:
        what = one if value == 1 else several
        rule: Threshold = getattr(rules, name)
        hit = _above(rule, float(value)) if value is not None else None
        if hit and value is not None:
            out.append(Finding(rule=name, severity=hit[0], metric=name, value=value, threshold=hit[1],
                               scope="cluster", target=snap.cluster, action=action,
                               message=f"{value} {what}{down_text}"))
    return out


def _topic_findings(snap: Snapshot, rules: RuleSet) -> list[Finding]:
    out: list[Finding] = []
    for t in snap.topics:
        if t.internal or not t.partitions or t.bytes_in_per_s is None:
            continue
        per_part = t.bytes_in_per_s / len(t.partitions) / 1e6
        hit = _above(rules.partition_throughput_mb_s, per_part)
        if hit:
            out.append(Finding(rule="partition_throughput_mb_s", severity=hit[0],
                               metric="topic_bytes_in_per_partition_mb_s", value=round(per_part, 3),
                               threshold=hit[1], unit="MB/s", scope="topic", target=t.name,
                               action=f"add partitions to {t.name}",
                               message=f"{t.name} takes {per_part:.1f} MB/s per partition "
                                       f"over {plural(len(t.partitions), 'partition')}"))
    return out


def _lag_action(g: GroupLag, snap: Snapshot) -> tuple[str, Scope, str]:
    if g.status == LagStatus.STOP:
        return f"restart the consumers of group {g.group}: no member is committing", "group", g.group
    if g.status == LagStatus.STALL:
        return f"consumers of group {g.group} are stuck (offsets not moving): check the application", \
            "group", g.group
    if g.status == LagStatus.REWIND:
        return f"group {g.group} rewound its offsets: check for an offset reset", "group", g.group
    topics = sorted({p.topic for p in g.partitions})
    parts = sum(len(t.partitions) for t in snap.topics if t.name in topics)
    if g.members is not None and parts and g.members >= parts and len(topics) == 1:
        return (f"add partitions to {topics[0]} (group {g.group} already has one consumer per partition)",
                "topic", topics[0])
    return f"add consumers to group {g.group}", "group", g.group


def _lag_threshold(g: GroupLag, max_offsets: int | None) -> float | None:
    """The offsets threshold when it is what the group is past; a status alone has no threshold."""
    return float(max_offsets) if max_offsets is not None and g.lag_offsets >= max_offsets else None


def _lag_findings(snap: Snapshot, rules: RuleSet) -> list[Finding]:
    rule = rules.consumer_lag
    if not rule.enabled:
        return []
    out: list[Finding] = []
    for g in snap.groups:
        sev: Severity | None = None
        if g.status in rule.critical_statuses:
            sev = "critical"
        elif g.status in rule.warning_statuses:
            sev = "warning"
        if sev is None:
            continue
        action, scope, target = _lag_action(g, snap)
        at_least = "at least " if g.max_lag_seconds_lower_bound else ""
        secs = f", {at_least}{g.max_lag_seconds:.1f} s behind" if g.max_lag_seconds is not None else ""
        out.append(Finding(rule="consumer_lag", severity=sev, metric="consumer_lag_offsets",
                           value=g.lag_offsets, unit="offsets",
                           threshold=_lag_threshold(g, rule.max_lag_offsets),
                           scope=scope, target=target if scope == "topic" else g.group, action=action,
                           message=f"group {g.group} {g.status.value}: {g.lag_offsets:,} offsets{secs}; {g.reason}"))
    return out


def evaluate(snap: Snapshot, rules: RuleSet, utils: list[Utilization] | None = None,
             capacity: Capacity | None = None) -> list[Finding]:
    """Every finding, most severe first."""
    s = snap.with_totals()
    found = _health_findings(s, rules)
    if utils and capacity is not None:
        found += _utilization_findings(utils, capacity, rules)
    found += _broker_findings(s, rules) + _topic_findings(s, rules) + _lag_findings(s, rules)
    return sorted(found, key=lambda f: _ORDER[f.severity])


def worst(findings: list[Finding]) -> Severity | None:
    if any(f.severity == "critical" for f in findings):
        return "critical"
    return "warning" if findings else None
