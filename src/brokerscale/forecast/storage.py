"""Storage forecast: retained bytes over time -> daily growth, 30/90-day projections, days to a limit.

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
                     upgrade_to: str | None = "standard") -> StorageForecast:
    """Project retained bytes `points` ((ts, bytes), any order) to 30 and 90 days after `now`.

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
    p30 = max(0.0, level + 30 * daily)
    p90 = max(0.0, level + 90 * daily)
    days_left: float | None = None
    advice: list[str] = []
    reason = ""
    if span < 1.0:
        reason = (f"history spans {span * 24:.1f} h: daily growth is extrapolated from less than a day, "
                  "treat the projections as rough")
    if limit_bytes is not None:
        if level >= limit_bytes:
            days_left = 0.0
        elif daily > 0:
            days_left = (limit_bytes - level) / daily
        label = limit_label or "the limit"
        if days_left is not None and days_left <= 90:
            if tier is not None and upgrade_to is not None:
                advice.append(f"projected to pass the {tier} tier's {label} in {days_left:.0f} days: "
                              f"consider upgrading to the {upgrade_to.title()} tier (unlimited storage)")
            else:
                advice.append(f"projected to pass {label} in {days_left:.0f} days: add disk or brokers, "
                              "or shorten retention")
    if daily <= 0:
        advice.append("retained bytes are flat or shrinking over the history: no growth to plan for")
    return StorageForecast(ok=True, reason=reason, daily_growth_bytes=daily,
                           daily_growth_stderr_bytes=se * DAY if se is not None else None,
                           projected_30d_bytes=p30, projected_90d_bytes=p90, days_until_limit=days_left,
                           advice=advice, **base)
