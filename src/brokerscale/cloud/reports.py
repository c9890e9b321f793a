"""Scaling-event reports from Metrics API series (pure: points in, report out).

Scaling events follow the scaling guide's getAutoScalingEvents, but on the real metric
(`dedicated_cku_count`) and counting changes, not distinct values (2 -> 3 -> 2 is two events).
Storage is not here: `cloud storage` projects with the one forecaster (brokerscale.forecast).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

DAY = 86400.0


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
