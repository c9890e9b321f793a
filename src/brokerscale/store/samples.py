"""A metric history sample: one value of one metric of one cluster at one time.

Observers, the scaling controller and forecasts all exchange history in this shape, so it lives
apart from the database code and can be imported by the pure core without pulling in SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sample:
    """`ts` is seconds since the epoch (UTC); `labels` narrow the series (broker, topic, group...)."""

    ts: float
    cluster: str
    metric: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)
