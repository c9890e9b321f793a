"""Confluent Cloud metrics -> the shared Snapshot model, so `check` and the triggers work unchanged.

`build_snapshot` is pure (series in, Snapshot out); `collect_snapshot` is the thin adapter that asks
the Metrics API for the window ending at `now` (passed in).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from brokerscale.cloud.cmk import CloudCluster
from brokerscale.cloud.metrics import (
    ACTIVE_CONNECTIONS,
    CLUSTER_LOAD,
    CONSUMER_LAG,
    DEDICATED_CKU,
    PARTITION_COUNT,
    RECEIVED_BYTES,
    REQUEST_COUNT,
    RETAINED_BYTES,
    SENT_BYTES,
    MetricsClient,
)
from brokerscale.errors import BrokerscaleError
from brokerscale.model.snapshot import GroupLag, LagStatus, Snapshot

STEP_S = 60.0


def _rate(points: Sequence[Mapping[str, Any]]) -> float | None:
    """Delta counters per minute -> per second, averaged over the window."""
    if not points:
        return None
    return sum(float(p["value"]) for p in points) / (len(points) * STEP_S)


def _last(points: Sequence[Mapping[str, Any]]) -> float | None:
    return float(points[-1]["value"]) if points else None


def build_snapshot(cluster: CloudCluster, series: Mapping[str, Sequence[Mapping[str, Any]]],
                   lag_by_group: Mapping[str, float], *, taken_at: float, window_s: float) -> Snapshot:
    def last_int(metric: str) -> int | None:
        v = _last(series.get(metric, ()))
        return None if v is None else round(v)

    load = _last(series.get(CLUSTER_LOAD, ()))
    # The CKUs in effect now are the cluster's status.cku; `dedicated_cku_count` is history, one-minute
    # buckets behind, so right after a resize it still names the old size (and check would judge today's
    # load against yesterday's capacity). The metric is the fallback when the cluster does not say.
    cku = last_int(DEDICATED_CKU)
    groups = [GroupLag(group=g, lag_offsets=int(lag), status=LagStatus.UNKNOWN,
                       reason="Confluent Cloud reports offsets only; status needs the lag evaluator's history")
              for g, lag in sorted(lag_by_group.items())]
    return Snapshot(
        cluster=cluster.id,
        source="confluent-cloud-metrics",
        taken_at=taken_at,
        window_s=window_s,
        groups=groups,
        bytes_in_per_s=_rate(series.get(RECEIVED_BYTES, ())),
        bytes_out_per_s=_rate(series.get(SENT_BYTES, ())),
        requests_per_s=_rate(series.get(REQUEST_COUNT, ())),
        connections=last_int(ACTIVE_CONNECTIONS),
        partition_count=last_int(PARTITION_COUNT),
        retained_bytes=last_int(RETAINED_BYTES),
        cku_count=cluster.status_cku if cluster.status_cku is not None else cku,
        cluster_load_percent=None if load is None else load * 100.0,
    )


def collect_snapshot(metrics: MetricsClient, cluster: CloudCluster, *, now: float,
                     window_s: float = 600.0) -> Snapshot:
    """Query each metric for [now - window, now) at one-minute granularity and build the Snapshot."""
    start = now - window_s
    series: dict[str, list[dict[str, Any]]] = {}
    wanted = [RECEIVED_BYTES, SENT_BYTES, REQUEST_COUNT, ACTIVE_CONNECTIONS, PARTITION_COUNT, RETAINED_BYTES]
    if cluster.kind == "Dedicated":
        wanted += [CLUSTER_LOAD, DEDICATED_CKU]
    for metric in wanted:
        series[metric] = metrics.query(metric, cluster.id, start=start, end=now, granularity="PT1M")
    lag: dict[str, float] = {}
    try:
        points = metrics.query(CONSUMER_LAG, cluster.id, start=now - 120, end=now, granularity="PT1M",
                               group_by=["metric.consumer_group_id"])
    except BrokerscaleError:
        points = []  # no groups is not an error for a snapshot
    for p in points:  # sorted by time: the last point per group wins
        lag[str(p.get("metric.consumer_group_id", ""))] = float(p["value"])
    return build_snapshot(cluster, series, lag, taken_at=now, window_s=window_s)


SAMPLE_FIELDS = ("bytes_in_per_s", "bytes_out_per_s", "connections", "requests_per_s", "partition_count",
                 "retained_bytes", "cku_count", "cluster_load_percent")


def snapshot_samples(snap: Snapshot) -> list[Any]:
    """The Snapshot as store samples, named as observe names its own (so `forecast` reads both alike)."""
    from brokerscale.store import Sample

    return [Sample(snap.taken_at, snap.cluster, name, float(getattr(snap, name)), {})
            for name in SAMPLE_FIELDS if getattr(snap, name) is not None]
