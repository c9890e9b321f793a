"""The scaling-trigger table as Prometheus alerting rules, from the same `RuleSet` that `check` judges.

`check` and the alerts can never disagree on a threshold because both read one rule set (the shipped
defaults merged with `--rules FILE`); this module only translates it. Pure: rule set and capacity
in, a rule-file document out.

Which series each alert reads:
- capacity (throughput, connections, partitions, request rate, disk): with a capacity (`--capacity FILE`
  or `--ckus N --limits NAME`) the brokers' own JMX-exporter series, divided by that capacity — the
  alert then works without brokerscale running; without one, `brokerscale_utilization_percent` from
  brokerscale's exporter (which knows the capacity it was started with);
- broker health and latency, consumer lag: brokerscale's exporter (`brokerscale_broker_*`,
  `brokerscale_cluster_*`, `brokerscale_consumer_group_*`): the same figures `check` computes
  (e.g. p99 only when Produce requests ran, queue time weighted by requests), so the two agree;
- hot partitions: the brokers' per-topic bytes-in counters and per-partition log series.
A severity band is exclusive, as in `check`: warning fires above the warning line and at or below
the critical line, critical above the critical line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from brokerscale.observe.capacity import BrokerCapacity, Capacity
from brokerscale.observe.rules import BelowThreshold, RuleSet, Threshold

MB = 1_000_000
RATE_WINDOW = "1m"
_BYTES_IN = 'kafka_server_brokertopicmetrics_bytesin_total{topic=""}'
_BYTES_OUT = 'kafka_server_brokertopicmetrics_bytesout_total{topic=""}'
BROKER = "broker_id"  # the label `dev up --prometheus` and the README's scrape config give each broker


@dataclass(frozen=True)
class _Measure:
    """One dimension as a PromQL expression of percent used, at one scope."""

    rule: str
    dimension: str
    scope: str  # cluster | broker
    expr: str
    action: str


def _band(expr: str, rule: Threshold | BelowThreshold, severity: str) -> str | None:
    """`expr` filtered to the severity band of `rule` (None when the band has no line). Above-rules fire
    over their lines, idle-time rules (BelowThreshold) under them."""
    past, within = (" < ", " >= ") if isinstance(rule, BelowThreshold) else (" > ", " <= ")
    w, c = rule.warning, rule.critical
    if severity == "critical":
        return None if c is None else f"({expr}){past}{c:g}"
    if w is None:
        return None
    return f"({expr}){past}{w:g}" + (f"{within}{c:g}" if c is not None else "")


def _capacity_measures(cap: Capacity | None) -> list[_Measure]:
    unit = "CKU" if cap is not None and cap.unit == "cku" else "broker"
    add_units = f"add {unit}s (`brokerscale check` says how many)"
    if cap is None:
        def util(dims: str) -> str:
            return f'brokerscale_utilization_percent{{dimension=~"{dims}"}}'
        return [
            _Measure("throughput", "throughput", "any", util("throughput|ingress|egress"), add_units),
            _Measure("connections", "connections", "any", util("connections"), add_units),
            _Measure("partitions", "partitions", "any", util("partitions"), add_units),
            _Measure("request_rate", "requests", "any", util("requests"), add_units),
            _Measure("disk", "disk", "any", util("disk"),
                     f"{add_units}, or more disk per broker, or shorten retention"),
        ]
    out: list[_Measure] = []

    def rate(series: str, by: str = "") -> str:
        return f"sum{by}(rate({series}[{RATE_WINDOW}]))"

    def pct(used: str, capacity: float | None) -> str | None:
        return None if not capacity else f"100 * ({used}) / {capacity:g}"

    cluster = [
        ("throughput", "throughput", f"{rate(_BYTES_IN)} + {rate(_BYTES_OUT)}", cap.throughput_bytes_per_s),
        ("throughput", "ingress", rate(_BYTES_IN), cap.ingress_bytes_per_s),
        ("throughput", "egress", rate(_BYTES_OUT), cap.egress_bytes_per_s),
        ("connections", "connections", "sum(kafka_server_socket_server_metrics_connection_count)", cap.connections),
        # CKU limits count partitions (one leader each); broker limits count the replicas hosted.
        ("partitions", "partitions", "sum(kafka_server_replicamanager_leadercount)" if cap.unit == "cku"
         else "sum(kafka_server_replicamanager_partitioncount)", cap.partitions),
        ("request_rate", "requests", rate("kafka_network_requestmetrics_requests_total"), cap.requests_per_s),
        ("disk", "disk", "sum(kafka_log_log_size)", cap.disk_bytes),
    ]
    for rule, dim, used, capacity in cluster:
        expr = pct(used, capacity)
        if expr is not None:
            action = f"{add_units}, or more disk per broker, or shorten retention" if dim == "disk" else add_units
            out.append(_Measure(rule, dim, "cluster", expr, action))
    if cap.broker is None:
        return out
    # Per broker: brokers without an override share one expression; each override gets its own.
    groups: list[tuple[str, BrokerCapacity]] = []
    overridden = sorted(cap.broker_overrides)
    if overridden:
        groups.append((f'{BROKER}!~"{"|".join(map(str, overridden))}"', cap.broker))
        groups += [(f'{BROKER}="{bid}"', cap.for_broker(bid) or cap.broker) for bid in overridden]
    else:
        groups.append(("", cap.broker))
    by = f" by ({BROKER})"
    per_dim: dict[tuple[str, str], list[str]] = {}
    for matcher, b in groups:
        def sel(series: str, matcher: str = matcher) -> str:
            return _with(series, matcher)

        per_broker = [
            ("throughput", "throughput", f"{rate(sel(_BYTES_IN), by)} + {rate(sel(_BYTES_OUT), by)}",
             b.throughput_mb_s * MB if b.throughput_mb_s else None),
            ("throughput", "ingress", rate(sel(_BYTES_IN), by), b.ingress_mb_s * MB if b.ingress_mb_s else None),
            ("throughput", "egress", rate(sel(_BYTES_OUT), by), b.egress_mb_s * MB if b.egress_mb_s else None),
            ("connections", "connections", f"sum{by}({sel('kafka_server_socket_server_metrics_connection_count')})",
             b.connections),
            ("partitions", "partitions", f"sum{by}({sel('kafka_server_replicamanager_partitioncount')})",
             b.partition_replicas),
            ("request_rate", "requests", rate(sel("kafka_network_requestmetrics_requests_total"), by),
             b.requests_per_s),
            ("disk", "disk", f"sum{by}({sel('kafka_log_log_size')})", b.disk),
        ]
        for rule, dim, used, capacity in per_broker:
            expr = pct(used, capacity)
            if expr is not None:  # a broker without this dimension in its capacity is not judged on it
                per_dim.setdefault((rule, dim), []).append(expr)
    for (rule, dim), exprs in per_dim.items():
        out.append(_Measure(rule, dim, "broker", " or ".join(f"({e})" for e in exprs) if len(exprs) > 1
                            else exprs[0],
                            "move partition leadership off the broker (brokerscale rebalance) or add a broker"))
    return out


def _with(series: str, matcher: str) -> str:
    """`name{a="b"}` plus one more label matcher."""
    if not matcher:
        return series
    if series.endswith("}"):
        return series[:-1] + ("," if not series.endswith("{}") else "") + matcher + "}"
    return f"{series}{{{matcher}}}"


def _alert(name: str, expr: str, severity: str, rule: str, scope: str, summary: str, action: str,
           for_: str) -> dict[str, Any]:
    alert: dict[str, Any] = {"alert": name, "expr": expr}
    if for_ not in ("", "0s", "0"):
        alert["for"] = for_
    alert["labels"] = {"severity": severity, "rule": rule, "scope": scope, "source": "brokerscale"}
    alert["annotations"] = {"summary": summary, "action": action}
    return alert


def _camel(*parts: str) -> str:
    return "".join(p.replace("_", " ").title().replace(" ", "") for p in parts)


def alerting_rules(rules: RuleSet, capacity: Capacity | None = None, *, for_: str = "1m") -> dict[str, Any]:
    """A Prometheus rule file (`groups:`) with one alert per rule, dimension, scope and severity."""
    capacity_alerts: list[dict[str, Any]] = []
    for m in _capacity_measures(capacity):
        rule: Threshold = getattr(rules, m.rule)
        if not rule.enabled:
            continue
        for sev in ("warning", "critical"):
            expr = _band(m.expr, rule, sev)
            if expr is None:
                continue
            line = rule.warning if sev == "warning" else rule.critical
            where = "{{ $labels.target }}" if m.scope == "any" else (
                "broker {{ $labels." + BROKER + " }}" if m.scope == "broker" else "the cluster")
            scope = "{{ $labels.scope }}" if m.scope == "any" else m.scope
            name = _camel("kafka", m.dimension, "utilization", "" if m.scope == "any" else m.scope, sev)
            capacity_alerts.append(_alert(
                name, expr, sev, m.rule, scope,
                f"{m.dimension} at {{{{ $value | printf \"%.0f\" }}}}% of provisioned on {where}; "
                f"{sev} above {line:g}%", m.action, for_))

    health: list[dict[str, Any]] = []

    def above(rule_name: str, expr: str, scope: str, what: str, action: str, unit: str = "") -> None:
        rule: Threshold = getattr(rules, rule_name)
        if not rule.enabled:
            return
        for sev in ("warning", "critical"):
            e = _band(expr, rule, sev)
            if e is None:
                continue
            line = rule.warning if sev == "warning" else rule.critical
            health.append(_alert(_camel("kafka", rule_name, sev), e, sev, rule_name, scope,
                                 f"{what} {{{{ $value | printf \"%.1f\" }}}}{unit}; {sev} above {line:g}{unit}",
                                 action, for_))

    above("under_replicated_partitions", "max by (cluster) (brokerscale_cluster_under_replicated_partitions)",
          "cluster", "under-replicated partitions:", "under-replicated partitions: fix before scaling")
    above("under_min_isr_partitions", "max by (cluster) (brokerscale_cluster_under_min_isr_partitions)",
          "cluster", "partitions below min.insync.replicas:",
          "partitions below min.insync.replicas (acks=all producers fail): fix before scaling")
    above("offline_partitions", "max by (cluster) (brokerscale_cluster_offline_partitions)", "cluster",
          "offline partitions:", "offline partitions have no leader: restore the brokers before anything else")
    above("request_latency_p99_ms", "brokerscale_broker_produce_p99_milliseconds", "broker",
          "p99 Produce latency on broker {{ $labels.broker }}:",
          "investigate the broker; add brokers or CKUs if utilization is also high", " ms")
    above("request_queue_time_ms", "brokerscale_broker_request_queue_time_milliseconds", "broker",
          "requests wait for a handler thread on broker {{ $labels.broker }}:",
          "raise num.io.threads on the broker or add brokers", " ms")
    idle = rules.request_handler_idle_percent
    if idle.enabled:
        for sev in ("warning", "critical"):
            e = _band("brokerscale_broker_request_handler_idle_percent", idle, sev)
            if e is not None:
                line = idle.warning if sev == "warning" else idle.critical
                health.append(_alert(_camel("kafka", "request_handler_idle", sev), e, sev,
                                     "request_handler_idle_percent", "broker",
                                     "request handler threads only {{ $value | printf \"%.0f\" }}% idle on broker "
                                     f"{{{{ $labels.broker }}}}; {sev} below {line:g}%",
                                     "raise num.io.threads on the broker or add brokers", for_))
    per_partition = ("sum by (topic) (rate(kafka_server_brokertopicmetrics_bytesin_total{topic!=\"\"}"
                     f"[{RATE_WINDOW}])) / 1e6 / on (topic) count by (topic) "
                     "(count by (topic, partition) (kafka_log_log_size))")
    above("partition_throughput_mb_s", per_partition, "topic",
          "topic {{ $labels.topic }} takes", "add partitions to the topic", " MB/s per partition")

    lag: list[dict[str, Any]] = []
    lr = rules.consumer_lag
    if lr.enabled:
        for sev, statuses in (("critical", lr.critical_statuses), ("warning", lr.warning_statuses)):
            if not statuses:
                continue
            names = "|".join(s.value for s in statuses)
            lag.append(_alert(
                _camel("kafka", "consumer_lag", sev),
                f'brokerscale_consumer_group_status{{status=~"{names}"}}', sev, "consumer_lag", "group",
                "group {{ $labels.group }} is {{ $labels.status }}",
                "STOP: restart the consumers; STALL: check the application; WARNING: add consumers "
                "(or partitions when every partition has a consumer); REWIND: check for an offset reset", for_))
        if lr.max_lag_offsets is not None:
            lag.append(_alert("KafkaConsumerLagOffsetsWarning",
                              f"brokerscale_consumer_group_lag_offsets >= {lr.max_lag_offsets}", "warning",
                              "consumer_lag", "group",
                              "group {{ $labels.group }} is {{ $value }} offsets behind",
                              "add consumers to the group", for_))
        if lr.max_lag_seconds is not None:
            lag.append(_alert("KafkaConsumerLagSecondsWarning",
                              f"brokerscale_consumer_group_max_lag_seconds >= {lr.max_lag_seconds:g}", "warning",
                              "consumer_lag", "group",
                              "group {{ $labels.group }} is {{ $value }} s behind",
                              "add consumers to the group", for_))
    return {"groups": [
        {"name": "brokerscale-capacity", "rules": capacity_alerts},
        {"name": "brokerscale-health", "rules": health},
        {"name": "brokerscale-consumer-lag", "rules": lag},
    ]}


def prometheus_rule_resource(doc: dict[str, Any], name: str = "brokerscale-scaling-triggers",
                             namespace: str | None = None) -> dict[str, Any]:
    """The same groups as a prometheus-operator `PrometheusRule` (monitoring.coreos.com/v1)."""
    meta: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/managed-by": "brokerscale",
                                                     "role": "alert-rules"}}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": meta,
            "spec": {"groups": doc["groups"]}}
