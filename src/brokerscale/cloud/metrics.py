"""Metrics API v2 (`/v2/metrics/cloud/query` and `/export`) on api.telemetry.confluent.cloud.

Times are passed in (Unix seconds), never read here, so the callers decide the window. Query results
are returned flat: one dict per point with `timestamp` (Unix seconds), `value` and any group-by labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from brokerscale.cloud.http import CloudHTTP

PREFIX = "io.confluent.kafka.server/"
RECEIVED_BYTES = PREFIX + "received_bytes"
SENT_BYTES = PREFIX + "sent_bytes"
REQUEST_COUNT = PREFIX + "request_count"
ACTIVE_CONNECTIONS = PREFIX + "active_connection_count"
PARTITION_COUNT = PREFIX + "partition_count"
RETAINED_BYTES = PREFIX + "retained_bytes"
CONSUMER_LAG = PREFIX + "consumer_lag_offsets"
CLUSTER_LOAD = PREFIX + "cluster_load_percent"
DEDICATED_CKU = PREFIX + "dedicated_cku_count"
ALL_METRICS = (RECEIVED_BYTES, SENT_BYTES, REQUEST_COUNT, ACTIVE_CONNECTIONS, PARTITION_COUNT, RETAINED_BYTES,
               CONSUMER_LAG, CLUSTER_LOAD, DEDICATED_CKU)
# Delta counters: each point is a count over its granularity, not a level.
COUNTERS = frozenset({RECEIVED_BYTES, SENT_BYTES, REQUEST_COUNT})
GRANULARITY_S = {"PT1M": 60, "PT5M": 300, "PT15M": 900, "PT30M": 1800, "PT1H": 3600, "PT4H": 14400,
                 "PT6H": 21600, "PT12H": 43200, "P1D": 86400}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class MetricsClient:
    """Confluent Cloud Metrics API v2, dataset `cloud`."""

    def __init__(self, http: CloudHTTP) -> None:
        self.http = http

    def query(self, metric: str, cluster_id: str, *, start: float, end: float, granularity: str = "PT1M",
              group_by: Sequence[str] = (), limit: int = 1000) -> list[dict[str, Any]]:
        """All points of `metric` (SUM) for the cluster in [start, end), following pagination."""
        body: dict[str, Any] = {
            "aggregations": [{"metric": metric, "agg": "SUM"}],
            "filter": {"field": "resource.kafka.id", "op": "EQ", "value": cluster_id},
            "granularity": granularity,
            # whole seconds, the end rounded up: truncated, a query a fraction of a second into a new minute
            # would end before that minute's bucket and miss what happened in it (a resize just completed)
            "intervals": [f"{iso(math.floor(start))}/{iso(math.ceil(end))}"],
            "limit": limit,
            "format": "FLAT",
        }
        if group_by:
            body["group_by"] = list(group_by)
        points: list[dict[str, Any]] = []
        params: dict[str, str] | None = None
        for _ in range(1000):  # a bound on pages, not an expected count
            resp = self.http.send_json("POST", "/v2/metrics/cloud/query", body, params=params) or {}
            for p in resp.get("data") or []:
                point = dict(p)
                point["timestamp"] = parse_ts(str(p["timestamp"]))
                point["value"] = float(p["value"])
                points.append(point)
            token = ((resp.get("meta") or {}).get("pagination") or {}).get("next_page_token")
            if not token or not group_by:
                break
            params = {"page_token": token}
        points.sort(key=lambda p: p["timestamp"])
        return points

    def export(self, cluster_ids: Sequence[str], metrics: Sequence[str] = ()) -> str:
        """Prometheus text of the latest point per metric and label set (Confluent's scrape endpoint)."""
        params: list[tuple[str, str]] = [("resource.kafka.id", c) for c in cluster_ids]
        params += [("metric", m) for m in metrics]
        return self.http.request("GET", "/v2/metrics/cloud/export", params=params,
                                 accept="text/plain;version=0.0.4").text
