"""Metrics API v2 answers, generated from the cluster's trace and the emulator's own CKU history.

Counters (`received_bytes`, `sent_bytes`, `request_count`) are deltas per point, as Confluent's are:
rate x granularity. Gauges are the level at the point's time. `cluster_load_percent` is 0..1, as
Confluent reports it. Confluent's published schema cannot express an empty result (`{"data": []}`
matches both the flat and the grouped response), so a query is answered with at least one point or an
error, never with an empty list.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from brokerscale.cloud.emulator.state import EmulatedCluster, EmulatorState
from brokerscale.cloud.metrics import (
    ACTIVE_CONNECTIONS,
    CLUSTER_LOAD,
    CONSUMER_LAG,
    DEDICATED_CKU,
    GRANULARITY_S,
    PARTITION_COUNT,
    RECEIVED_BYTES,
    REQUEST_COUNT,
    RETAINED_BYTES,
    SENT_BYTES,
)

MAX_POINTS = 5000
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def _err(status: int, detail: str) -> tuple[int, dict[str, Any]]:
    return status, {"errors": [{"status": str(status), "detail": detail}]}


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def _parse_duration(text: str) -> float | None:
    m = _DURATION.match(text)
    if not m or text in ("P", "PT"):
        return None
    d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    return float(timedelta(days=d, hours=h, minutes=mi, seconds=s).total_seconds())


def parse_interval(text: str, now: float) -> tuple[float, float]:
    """`start/end`, `start/duration`, `duration/end` or `duration/now` (ISO-8601)."""
    left, sep, right = text.partition("/")
    if not sep:
        raise ValueError(f"interval {text!r} must be <start>/<end>, <start>/<duration> or <duration>/<end>")
    if left.startswith("P"):
        dur = _parse_duration(left)
        end = now if right == "now" else _parse_time(right)
        if dur is None:
            raise ValueError(f"interval {text!r}: bad duration")
        return end - dur, end
    start = _parse_time(left)
    if right.startswith("P"):
        dur = _parse_duration(right)
        if dur is None:
            raise ValueError(f"interval {text!r}: bad duration")
        return start, start + dur
    return start, _parse_time(right)


def _cluster_filter(flt: Any) -> str | None:
    if not isinstance(flt, dict):
        return None
    if flt.get("field") == "resource.kafka.id" and flt.get("op") == "EQ":
        return str(flt.get("value"))
    if flt.get("op") == "AND":
        for sub in flt.get("filters") or []:
            found = _cluster_filter(sub)
            if found:
                return found
    return None


def metric_value(state: EmulatorState, c: EmulatedCluster, metric: str, ts: float, span: float) -> float | None:
    """The point of `metric` for the bucket [ts, ts+span), whole cluster.

    Counters are the rate at the bucket's middle times its length; gauges are the last level seen in
    the bucket (its end, or now for the bucket in progress), so a resize shows in the bucket it ends in.
    """
    if metric not in (RECEIVED_BYTES, SENT_BYTES, REQUEST_COUNT):
        at = min(ts + span, state.clock()) - 1e-3
        if metric == DEDICATED_CKU:
            cku = state.cku_at(c, at)
            return None if cku is None else float(cku)
        v = state.load_values(c, at)
    else:
        v = state.load_values(c, ts + span / 2)
    if metric == RECEIVED_BYTES:
        return float(v["received_mb_s"]) * 1e6 * span
    if metric == SENT_BYTES:
        return float(v["sent_mb_s"]) * 1e6 * span
    if metric == REQUEST_COUNT:
        return float(v["requests_per_s"]) * span
    if metric == ACTIVE_CONNECTIONS:
        return float(round(v["connections"]))
    if metric == PARTITION_COUNT:
        return float(round(v["partitions"]))
    if metric == RETAINED_BYTES:
        return float(round(v["retained_bytes"]))
    if metric == CONSUMER_LAG:
        return float(round(v["lag"]))
    if metric == CLUSTER_LOAD:
        return round(float(v["load_percent"]) / 100.0, 4)
    raise KeyError(metric)


SUPPORTED = (RECEIVED_BYTES, SENT_BYTES, REQUEST_COUNT, ACTIVE_CONNECTIONS, PARTITION_COUNT, RETAINED_BYTES,
             CONSUMER_LAG, CLUSTER_LOAD, DEDICATED_CKU)
GROUPABLE = {"metric.topic": (RECEIVED_BYTES, SENT_BYTES, RETAINED_BYTES, PARTITION_COUNT, CONSUMER_LAG),
             "metric.consumer_group_id": (CONSUMER_LAG,)}


def _shares(c: EmulatedCluster, label: str) -> list[tuple[str, float]]:
    if label == "metric.topic":
        total = sum(t.partitions for t in c.topics) or 1
        return [(t.name, t.partitions / total) for t in c.topics]
    groups = c.consumer_groups or ["default"]
    return [(g, 1.0 / len(groups)) for g in groups]


def run_query(state: EmulatorState, dataset: str, body: Any, page_token: str | None) -> tuple[int, dict[str, Any]]:
    if dataset != "cloud":
        return _err(400, f"Unknown dataset '{dataset}'; the only supported dataset is 'cloud'")
    if not isinstance(body, dict):
        return _err(400, "The request body must be a JSON object")
    aggs = body.get("aggregations")
    if not isinstance(aggs, list) or len(aggs) != 1 or not isinstance(aggs[0], dict):
        return _err(400, "aggregations must hold exactly one aggregation")
    metric = str(aggs[0].get("metric", ""))
    if metric not in SUPPORTED:
        return _err(400, f"Unknown metric '{metric}'")
    granularity = body.get("granularity")
    if granularity not in GRANULARITY_S and granularity != "ALL":
        return _err(400, f"Unsupported granularity '{granularity}'")
    cluster_id = _cluster_filter(body.get("filter"))
    if not cluster_id:
        return _err(400, "A filter on resource.kafka.id (op EQ) is required")
    state.advance()
    c = state.cluster(cluster_id)
    if c is None:
        return _err(403, f"Not authorized to query resource.kafka.id={cluster_id}")
    if metric == DEDICATED_CKU and c.kind != "Dedicated":
        return _err(400, f"Metric '{metric}' is only available for Dedicated clusters; {cluster_id} is {c.kind}")
    intervals = body.get("intervals")
    if not isinstance(intervals, list) or not intervals:
        return _err(400, "intervals must hold at least one interval")
    group_by = [str(g) for g in body.get("group_by") or []]
    for g in group_by:
        if g not in GROUPABLE or metric not in GROUPABLE[g]:
            return _err(400, f"Metric '{metric}' cannot be grouped by '{g}'")
    if len(group_by) > 1:
        return _err(400, "The emulator supports grouping by one label at a time")
    now = state.clock()
    buckets: list[tuple[float, float]] = []
    for text in intervals:
        try:
            start, end = parse_interval(str(text), now)
        except ValueError as exc:
            return _err(400, str(exc))
        if end <= start:
            return _err(400, f"interval {text!r} ends before it starts")
        if granularity == "ALL":
            buckets.append((start, end - start))
            continue
        step = GRANULARITY_S[granularity]
        first = math.floor(start / step) * step
        n = max(1, math.ceil((end - first) / step))
        if n > MAX_POINTS:
            return _err(400, f"interval {text!r} at {granularity} gives {n} points; the limit is {MAX_POINTS}")
        buckets.extend((first + i * step, float(step)) for i in range(n))
    rows: list[dict[str, Any]] = []
    if group_by:
        shares = _shares(c, group_by[0])
        limit = int(body.get("limit") or 100)
        offset = int(page_token or 0) if (page_token or "0").isdigit() else 0
        page = shares[offset:offset + limit]
        for name, share in page:
            for ts, span in buckets:
                value = metric_value(state, c, metric, ts, span)
                if value is not None:
                    rows.append({"timestamp": _iso(ts), group_by[0]: name, "value": _round(value * share, metric)})
        payload: dict[str, Any] = {"data": rows}
        if offset + limit < len(shares):
            payload["meta"] = {"pagination": {"page_size": limit, "total_size": len(shares),
                                              "next_page_token": str(offset + limit)}}
    else:
        for ts, span in buckets:
            value = metric_value(state, c, metric, ts, span)
            if value is not None:
                rows.append({"timestamp": _iso(ts), "value": value})
        payload = {"data": rows}
    if body.get("format") == "GROUPED":
        key = group_by[0] if group_by else None
        grouped: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            grouped.setdefault(str(r.get(key, "")) if key else "", []).append(
                {"timestamp": r["timestamp"], "value": r["value"]})
        payload["data"] = [({key: k} if key else {}) | {"points": pts} for k, pts in grouped.items()]
    if not payload["data"]:
        return _err(400, "The query selects no data points")
    return 200, payload


def _round(value: float, metric: str) -> float:
    return float(round(value)) if metric != CLUSTER_LOAD else round(value, 4)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def export_text(state: EmulatorState, dataset: str, cluster_ids: list[str],
                metrics: list[str]) -> tuple[int, str]:
    """Prometheus text of the latest complete minute, offset by 5 minutes as Confluent's export is."""
    if dataset != "cloud":
        return 400, f"Unknown dataset '{dataset}'"
    if not cluster_ids:
        return 400, "At least one resource.kafka.id is required"
    state.advance()
    ts = math.floor((state.clock() - 300) / 60) * 60
    lines: list[str] = []
    wanted = [m for m in SUPPORTED if not metrics or m in metrics]
    for metric in wanted:
        name = "confluent_kafka_server_" + metric.split("/", 1)[1]
        samples: list[str] = []
        for cid in cluster_ids:
            c = state.cluster(cid)
            if c is None:
                return 403, f"Not authorized to export resource.kafka.id={cid}"
            value = metric_value(state, c, metric, ts, 60.0)
            if value is not None:
                samples.append(f'{name}{{kafka_id="{cid}"}} {value} {int(ts)}')
        if samples:
            lines.append(f"# HELP {name} {metric} (brokerscale emulator)")
            lines.append(f"# TYPE {name} gauge")
            lines.extend(samples)
    return 200, "\n".join(lines) + "\n"
