"""Storage and scaling-event reports from Metrics API series (pure: points in, report out).

Storage follows the scaling guide's monitorStorageUsage (daily retained bytes, growth, 30/90-day projections,
tier advice), with one correction: the daily growth is the growth divided by the days the data actually
spans, not by the requested window. Scaling events follow getAutoScalingEvents, but on the real metric
(`dedicated_cku_count`) and counting changes, not distinct values (2 -> 3 -> 2 is two events).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from brokerscale.model.limits import LimitsProfile

DAY = 86400.0


class StorageDay(BaseModel):
    date: str
    retained_bytes: float


class StorageReport(BaseModel):
    cluster: str
    tier: str
    days: list[StorageDay]
    current_bytes: float | None = None
    growth_bytes: float | None = None
    growth_percent: float | None = None
    daily_growth_bytes: float | None = None
    projected_30d_bytes: float | None = None
    projected_90d_bytes: float | None = None
    tier_storage_limit_bytes: float | None = None
    advice: str = ""


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


def storage_report(cluster: str, kind: str, points: Sequence[tuple[float, float]],
                   limits: LimitsProfile) -> StorageReport:
    """`points` are (Unix seconds, retained bytes), one per day, oldest first."""
    tier_name = kind.lower()
    days = [StorageDay(date=_date(ts), retained_bytes=v) for ts, v in points]
    tier = next((t for t in limits.tiers if t.name == tier_name), None)
    limit = float(tier.storage_bytes) if tier and tier.storage_bytes else None
    report = StorageReport(cluster=cluster, tier=tier_name, days=days, tier_storage_limit_bytes=limit)
    if not points:
        report.advice = "no retained-bytes data for this window"
        return report
    first_ts, first = points[0]
    last_ts, last = points[-1]
    report.current_bytes = last
    if len(points) < 2 or last_ts <= first_ts:
        report.advice = "one day of data: growth needs at least two"
        return report
    span_days = (last_ts - first_ts) / DAY
    report.growth_bytes = last - first
    report.growth_percent = (last / first - 1) * 100 if first > 0 else None
    report.daily_growth_bytes = report.growth_bytes / span_days
    report.projected_30d_bytes = last + report.daily_growth_bytes * 30
    report.projected_90d_bytes = last + report.daily_growth_bytes * 90
    report.advice = _advice(report, limits)
    return report


def _advice(r: StorageReport, limits: LimitsProfile) -> str:
    limit = r.tier_storage_limit_bytes
    if limit is None:
        return f"the {r.tier} tier has no storage limit; plan cost, not capacity"
    bigger = next((t.name for t in limits.tiers
                   if t.name != r.tier and (t.storage_bytes is None or t.storage_bytes > limit)), None)
    target = f"upgrade to {bigger.capitalize()}" if bigger else "reduce retention"  # an imperative
    if r.current_bytes is not None and r.current_bytes >= limit:
        return f"over the {r.tier} tier's storage limit now: {target}"
    if (r.projected_30d_bytes or 0) > limit:
        return f"projected over the {r.tier} tier's storage limit within 30 days: {target} now"
    if (r.projected_90d_bytes or 0) > limit:
        return f"projected over the {r.tier} tier's storage limit within 90 days: plan to {target}"
    return f"within the {r.tier} tier's storage limit for the next 90 days"


class ScalingEvent(BaseModel):
    ts: float
    time: str
    direction: Literal["UP", "DOWN"]
    from_cku: int
    to_cku: int


class ScalingSummary(BaseModel):
    cluster: str
    days: float
    events: list[ScalingEvent]
    min_cku: int | None = None
    max_cku: int | None = None
    avg_cku: float | None = None
    count: int = 0


def scaling_events(cluster: str, days: float, points: Sequence[tuple[float, float]]) -> ScalingSummary:
    """`points` are (Unix seconds, dedicated_cku_count), oldest first."""
    events: list[ScalingEvent] = []
    prev: int | None = None
    for ts, value in points:
        cku = round(value)
        if prev is not None and cku != prev:
            events.append(ScalingEvent(ts=ts, time=datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S"),
                                       direction="UP" if cku > prev else "DOWN", from_cku=prev, to_cku=cku))
        prev = cku
    values = [v for _, v in points]
    return ScalingSummary(cluster=cluster, days=days, events=events,
                          min_cku=int(min(values)) if values else None,
                          max_cku=int(max(values)) if values else None,
                          avg_cku=sum(values) / len(values) if values else None, count=len(events))
