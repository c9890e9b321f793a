"""Storage forecast: retained bytes over time -> daily growth, 30/90-day projections, days to a limit.

Retained bytes grow only until retention is reached: a topic keeping 30 days holds at most 30 days of
its ingress. So each topic's projection is min(linear growth, ingress x retention), per topic when
per-topic history is recorded, else for the cluster as a whole, and the forecast says which applies.

Pure (the samples and the limit are passed in). The trend is an ordinary least-squares line through all
samples, not the first-to-last difference the scaling guide's example uses (one noisy endpoint would swing it),
and it reports how sure it is: the slope's standard error and the history's span. With fewer than
`min_points` samples there is no forecast, only the reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

DAY = 86400.0


class TopicHistory(BaseModel):
    """What the forecast knows about one topic: its size over time, its ingress, its retention."""

    model_config = ConfigDict(extra="forbid")

    name: str
    points: list[tuple[float, float]] = []  # (ts, bytes on disk, all replicas)
    ingress_bytes_per_s: float | None = None  # one copy, as producers send it
    replication_factor: int = 1
    retention_s: float | None = None  # None: kept forever
    retention_bytes: float | None = None  # whole topic, one copy per partition x partitions; None: no cap


class TopicProjection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str
    current_bytes: float
    daily_growth_bytes: float
    ceiling_bytes: float | None  # what retention lets the topic hold; None: no ceiling known
    projected_90d_bytes: float
    basis: str  # "linear growth" or "retention"


class StorageForecast(BaseModel):
    model_config = ConfigDict(extra="forbid")

    samples: int
    span_days: float
    current_bytes: float | None
    ok: bool
    reason: str = ""
    daily_growth_bytes: float | None = None
    daily_growth_stderr_bytes: float | None = None
    projected_30d_bytes: float | None = None
    projected_90d_bytes: float | None = None
    limit_bytes: float | None = None
    limit_label: str | None = None
    days_until_limit: float | None = None
    ceiling_bytes: float | None = None  # where retained bytes level off; None: no ceiling known
    basis: str = "linear growth"  # "linear growth", "retention" or "retention (per topic)"
    basis_detail: str = ""
    topics: list[TopicProjection] = []
    projection: list[tuple[float, float]] = []  # (days from now, bytes) every 5 days to 90: what charts draw
    advice: list[str] = []


def _fit(points: Sequence[tuple[float, float]]) -> tuple[float, float, float | None]:
    """Slope (per second), intercept and the slope's standard error (None with two points)."""
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    sxx = sum((t - mt) ** 2 for t, _ in points)
    sxy = sum((t - mt) * (v - mv) for t, v in points)
    slope = sxy / sxx
    intercept = mv - slope * mt
    if n <= 2:
        return slope, intercept, None
    sse = sum((v - (intercept + slope * t)) ** 2 for t, v in points)
    return slope, intercept, math.sqrt(sse / (n - 2) / sxx)


def forecast_storage(points: Sequence[tuple[float, float]], *, now: float, limit_bytes: float | None = None,
                     limit_label: str | None = None, tier: str | None = None, min_points: int = 3,
                     upgrade_to: str | None = "standard", topics: Sequence[TopicHistory] = (),
                     retention_s: float | None = None,
                     ingress_bytes_per_s: float | None = None) -> StorageForecast:
    """Project retained bytes `points` ((ts, bytes), any order) to 30 and 90 days after `now`.

    Retention: `topics` (per-topic history) make the projection the sum of each topic's
    min(linear growth, ingress x retention); without them, `retention_s` caps the cluster as a whole at
    ingress x retention (`ingress_bytes_per_s` as stored on disk, all replicas; else the fitted growth,
    which equals ingress while the logs are still filling).

    `tier` + `limit_bytes` give the scaling guide's advice: a tier whose storage limit is passed within 90 days
    should move up (Basic's 5 TB -> Standard). Without a tier the limit is a disk to grow or retention
    to shorten.
    """
    pts = sorted((float(t), float(v)) for t, v in points)
    span = (pts[-1][0] - pts[0][0]) / DAY if len(pts) > 1 else 0.0
    current = pts[-1][1] if pts else None
    base = {"samples": len(pts), "span_days": round(span, 4), "current_bytes": current,
            "limit_bytes": limit_bytes, "limit_label": limit_label}
    if len(pts) < min_points or span <= 0:
        why = (f"{len(pts)} sample(s) of retained bytes; at least {min_points} over some time are needed "
               "(run `brokerscale observe` or the exporter to record history)")
        return StorageForecast(ok=False, reason=why, **base)
    slope, intercept, se = _fit(pts)
    daily = slope * DAY
    level = intercept + slope * now
    projector = _Projection(level, daily)
    projector.apply_retention(topics, retention_s, ingress_bytes_per_s, now=now, min_points=min_points)
    p30 = max(0.0, projector.at(30))
    p90 = max(0.0, projector.at(90))
    days_left: float | None = None
    advice: list[str] = []
    reason = ""
    if span < 1.0:
        reason = (f"history spans {span * 24:.1f} h: daily growth is extrapolated from less than a day, "
                  "treat the projections as rough")
    ceiling = projector.ceiling()
    if limit_bytes is not None:
        days_left = projector.days_until(limit_bytes)
        label = limit_label or "the limit"
        if days_left is not None and days_left <= 90:
            if tier is not None and upgrade_to is not None:
                advice.append(f"projected to pass the {tier} tier's {label} in {days_left:.0f} days: "
                              f"consider upgrading to the {upgrade_to.title()} tier (unlimited storage)")
            else:
                advice.append(f"projected to pass {label} in {days_left:.0f} days: add disk or brokers, "
                              "or shorten retention")
        elif days_left is None and ceiling is not None and ceiling < limit_bytes and daily > 0:
            advice.append(f"retention caps retained bytes near {_fmt(ceiling)}, below {label}: "
                          "the limit is not reached at today's ingress")
    if daily <= 0:
        advice.append("retained bytes are flat or shrinking over the history: no growth to plan for")
    return StorageForecast(ok=True, reason=reason, daily_growth_bytes=daily,
                           daily_growth_stderr_bytes=se * DAY if se is not None else None,
                           projected_30d_bytes=p30, projected_90d_bytes=p90, days_until_limit=days_left,
                           ceiling_bytes=ceiling, basis=projector.basis, basis_detail=projector.detail,
                           topics=projector.topic_rows, advice=advice,
                           projection=[(float(d), max(0.0, projector.at(d))) for d in range(0, 91, 5)], **base)


def _fmt(n: float) -> str:
    from brokerscale.units import format_bytes

    return format_bytes(n)


class _Projection:
    """Retained bytes `d` days from now: linear, capped by retention for the cluster or per topic."""

    HORIZON_DAYS = 36500.0  # a century: beyond it, 'never' is the honest answer

    def __init__(self, level: float, daily: float) -> None:
        self.level = level
        self.daily = daily
        self.cap: float | None = None  # cluster-wide ceiling
        self.parts: list[tuple[float, float, float | None]] = []  # per topic: (level, daily, ceiling)
        self.rest = 0.0  # bytes not accounted to any topic (kept as they are)
        self.basis = "linear growth"
        self.detail = "no retention known: growth is assumed to continue"
        self.topic_rows: list[TopicProjection] = []

    def apply_retention(self, topics: Sequence[TopicHistory], retention_s: float | None,
                        ingress_bytes_per_s: float | None, *, now: float, min_points: int) -> None:
        usable = [t for t in topics if t.points]
        if usable:
            self._per_topic(usable, now=now, min_points=min_points)
            return
        if retention_s is None:
            return
        per_day = ingress_bytes_per_s * DAY if ingress_bytes_per_s is not None else max(self.daily, 0.0)
        source = "measured ingress" if ingress_bytes_per_s is not None else "the fitted growth as ingress"
        self.cap = per_day * retention_s / DAY
        self.basis = "retention" if self.cap < self.level + self.daily * 90 else "linear growth"
        self.detail = (f"cluster-wide: {_fmt(per_day)}/day ({source}) x {retention_s / DAY:g} days of retention "
                       f"= ceiling {_fmt(self.cap)}; no per-topic history")

    def _per_topic(self, topics: Sequence[TopicHistory], *, now: float, min_points: int) -> None:
        total_now = 0.0
        capped = 0
        for t in topics:
            pts = sorted(t.points)
            current = pts[-1][1]
            ingress_day = t.ingress_bytes_per_s * t.replication_factor * DAY if t.ingress_bytes_per_s is not None \
                else None
            if len(pts) >= min_points and pts[-1][0] > pts[0][0]:
                slope, intercept, _ = _fit(pts)
                daily, level = slope * DAY, intercept + slope * now
            else:
                daily, level = (ingress_day or 0.0), current
            ceilings = []
            if t.retention_s is not None:
                ceilings.append((ingress_day if ingress_day is not None else max(daily, 0.0)) * t.retention_s / DAY)
            if t.retention_bytes is not None:
                ceilings.append(t.retention_bytes * t.replication_factor)
            ceiling = min(ceilings) if ceilings else None
            self.parts.append((level, daily, ceiling))
            total_now += level
            p90 = _capped(level, daily, ceiling, 90)
            basis = "retention" if ceiling is not None and p90 < level + daily * 90 else "linear growth"
            capped += basis == "retention"
            self.topic_rows.append(TopicProjection(topic=t.name, current_bytes=current, daily_growth_bytes=daily,
                                                   ceiling_bytes=ceiling, projected_90d_bytes=p90, basis=basis))
        self.rest = max(0.0, self.level - total_now)
        self.basis = "retention (per topic)" if capped else "linear growth"
        self.detail = (f"per topic: {capped} of {len(topics)} topic(s) level off at ingress x retention "
                       "within 90 days; the others grow linearly")

    def at(self, days: float) -> float:
        if self.parts:
            return self.rest + sum(_capped(lv, dl, cap, days) for lv, dl, cap in self.parts)
        return _capped(self.level, self.daily, self.cap, days)

    def ceiling(self) -> float | None:
        """Where the projection levels off; None when some part grows without a known ceiling."""
        if self.parts:
            if any(cap is None and dl > 0 for _, dl, cap in self.parts):
                return None
            return self.rest + sum(max(lv, cap) if cap is not None else lv for lv, _, cap in self.parts)
        if self.cap is None:
            return None if self.daily > 0 else self.level
        return max(self.level, self.cap)

    def days_until(self, limit: float) -> float | None:
        """First day the projection reaches `limit` (0 if already there), None if it never does."""
        if self.at(0) >= limit:
            return 0.0
        if not self.parts and self.cap is None:
            return (limit - self.level) / self.daily if self.daily > 0 else None
        if self.at(self.HORIZON_DAYS) < limit:
            return None
        lo, hi = 0.0, self.HORIZON_DAYS
        for _ in range(60):  # the projection is monotone (non-decreasing) in days: bisection
            mid = (lo + hi) / 2
            if self.at(mid) >= limit:
                hi = mid
            else:
                lo = mid
        return hi


def _capped(level: float, daily: float, ceiling: float | None, days: float) -> float:
    linear = level + daily * days
    if ceiling is None:
        return linear
    return min(linear, max(level, ceiling))
