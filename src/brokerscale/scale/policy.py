"""Scaling policies: the scaling guide's `cku_auto_scaling` block as a file brokerscale enforces.

Confluent's Terraform provider has no `cku_auto_scaling` block and Dedicated clusters do not resize
themselves; a policy file is that block, with the same fields and defaults, plus what a health system
needs on top of it: headroom for the provisioning delay, trend awareness, clinic hours, seasons
(flu season), a cost cap and maintenance windows. Two policies ship: `seed-reactive` (the scaling
guide's configuration exactly) and `default` (brokerscale's own).

Example (every field optional; defaults shown are the scaling guide's)::

    unit: cku                     # cku (Confluent Dedicated) or broker (self-managed, Strimzi)
    min_units: 2
    max_units: 8
    scale_up_utilization: 80      # percent of the units in effect, highest dimension
    scale_down_utilization: 30
    scale_up_cooldown: 300s       # after a change takes effect, before the next scale-up
    scale_down_cooldown: 600s     # ... before the next scale-down
    provisioning_delay: {up: 30m, down: 30m}   # from the request until the capacity is in effect
    target_utilization: 70        # a scale-up sizes for this (never above scale_up_utilization)
    trend: {window: 30m, lookahead: provisioning}   # project the load to when new capacity lands
                                  # calendar_tolerance: 0.1 -> the forecast, not the trend, while today
                                  # runs like the same hours last period
                                  # surge: {window: 2m, rate: 0.03} -> a load rising 3 % a minute or more
                                  # at every sample is projected along that rise
                                  # waive_cooldown: 5m -> while the trend projects past the threshold
                                  # and the last 5 min still rose, no scale-up cooldown
    forecast: {period: 24h, horizon: 1h}   # the same hours yesterday, at today's level
                                  # prefer_period: 7d -> last week's same hours once a week is recorded
                                  # min_level: 0.8 -> not from hours that ran 25 % hotter than today
                                  # skip_surges: true -> not from hours in which a surge (trend.surge's
                                  # rule) was under way: an incident is not expected again tomorrow
    plateau: {window: 5m, tolerance: 0.15, extra_points: 2}   # a level load (projection within 15 % of
                                  # the last 5 min's mean) scales up at the threshold + 2 points
    timezone: America/New_York
    peak_hours: {days: [mon, tue, wed, thu, fri], start: "07:00", end: "19:00",
                 min_units: 3, scale_up_utilization: 70}
    seasons: [{name: flu season, start: 12-01, end: 03-15, min_units: 3}]
    budget: {monthly: 20000, unit_price_per_hour: 2.74}   # caps max_units at what the budget buys
    maintenance_windows: [{days: [sat, sun], start: "01:00", end: "05:00"}]
    shrink_guard_utilization: 70  # never shrink if the load after shrinking would exceed this
    dip_guard: {window: 1h, utilization: 85}   # in peak hours, with no forecast yet: the last hour's
                                  # highest load must fit the smaller size under 85 %

Validation is strict: a bad field is one line naming the file and the field (exit code 2).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from brokerscale.errors import BadInput, from_validation_error
from brokerscale.model.files import read_yaml
from brokerscale.units import DurationSeconds

POLICY_DIR = Path(__file__).resolve().parent.parent / "data" / "policies"
Unit = Literal["cku", "broker"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS_PER_MONTH = 730.0  # 8,760 h / 12, how cloud bills count a month

# Provisioning delays when a policy gives none: a Confluent CKU change and a self-managed broker add
# (start, join, add-brokers rebalance under a throttle) are not instant. Scale-downs drain data first.
DEFAULT_DELAYS: dict[str, dict[str, float]] = {
    "cku": {"up": 30 * 60.0, "down": 30 * 60.0},
    "broker": {"up": 20 * 60.0, "down": 40 * 60.0},
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _clock(v: object) -> object:
    if isinstance(v, int) and not isinstance(v, bool):  # YAML reads 07:00 as a sexagesimal int (420)
        return time(v // 60 % 24, v % 60) if v < 24 * 60 else v
    if isinstance(v, str):
        if v == "24:00":
            return time.max
        if not re.fullmatch(r"\d{1,2}:\d{2}", v):
            raise ValueError(f"{v!r} is not a time of day (HH:MM, for example 07:00)")
        h, m = (int(x) for x in v.split(":"))
        if h > 23 or m > 59:
            raise ValueError(f"{v!r} is not a time of day (HH:MM, for example 07:00)")
        return time(h, m)
    return v


class Window(_Strict):
    """Some days of the week between two local times (end exclusive; may wrap past midnight)."""

    days: list[Day] = Field(default_factory=lambda: list(DAYS), min_length=1)
    start: time
    end: time

    _c1 = field_validator("start", "end", mode="before")(_clock)

    def contains(self, local: datetime) -> bool:
        t = local.time()
        day = DAYS[local.weekday()]
        if self.start <= self.end:
            return day in self.days and self.start <= t < self.end
        # Wraps midnight: the part after midnight belongs to the previous day's window.
        if t >= self.start:
            return day in self.days
        return t < self.end and DAYS[(local.weekday() - 1) % 7] in self.days


class PeakHours(Window):
    """Known busy hours (clinic hours): their own thresholds and minimum."""

    min_units: int | None = Field(None, ge=1)
    scale_up_utilization: float | None = Field(None, gt=0, le=100)
    scale_down_utilization: float | None = Field(None, ge=0, lt=100)
    scale_down: bool = Field(True, description="false: never scale down inside peak hours")


class Season(_Strict):
    """A date range every year (MM-DD to MM-DD inclusive, may wrap the new year), e.g. flu season."""

    name: str = Field(min_length=1)
    start: str
    end: str
    min_units: int | None = Field(None, ge=1)
    scale_up_utilization: float | None = Field(None, gt=0, le=100)

    @field_validator("start", "end")
    @classmethod
    def _month_day(cls, v: str) -> str:
        if not re.fullmatch(r"\d{2}-\d{2}", v):
            raise ValueError(f"{v!r} is not a month and day (MM-DD, for example 12-01)")
        try:
            datetime(2024, int(v[:2]), int(v[3:]))  # a leap year accepts 02-29
        except ValueError:
            raise ValueError(f"{v!r} is not a date of the year") from None
        return v

    def contains(self, local: datetime) -> bool:
        md = f"{local.month:02d}-{local.day:02d}"
        if self.start <= self.end:
            return self.start <= md <= self.end
        return md >= self.start or md <= self.end


class Budget(_Strict):
    """A monthly spend cap: max units = what the budget buys for a whole month."""

    monthly: float = Field(gt=0)
    unit_price_per_hour: float = Field(gt=0)

    def max_units(self) -> int:
        return math.floor(self.monthly / (self.unit_price_per_hour * HOURS_PER_MONTH))


class Delays(_Strict):
    up: DurationSeconds | None = Field(None, ge=0)
    down: DurationSeconds | None = Field(None, ge=0)


class Surge(_Strict):
    """A load rising faster than any daily ramp (a mass-casualty event: x4 in 20 minutes). The trend's
    window (30 min) averages the start of such a rise with the quiet before it and projects a fraction of
    it, and only one change can be in flight: a first scale-up sized that way lands too small and the next
    one lands a provisioning delay later. Here every sample within the last `window` rose by at least
    `rate` of the load at the window's start per minute (two rises at least: one jump is not a ramp); the
    load is then projected along that rise over the provisioning delay, whatever the calendar says."""

    window: DurationSeconds = Field(120.0, gt=0, description="the newest stretch whose every sample must rise")
    rate: float = Field(0.03, gt=0, le=1, description="the least rise per minute, as a fraction of the load at "
                        "the window's start, of every sample over the one before")


class Trend(_Strict):
    """Project the load forward so new capacity is in place when it is needed, not after."""

    window: DurationSeconds = Field(1800.0, gt=0)
    lookahead: Literal["provisioning"] | DurationSeconds = "provisioning"
    min_points: int = Field(3, ge=2)
    calendar_tolerance: float | None = Field(
        None, ge=0, description="with a forecast: while today's load is within this fraction of the same hours "
        "one period ago and not above the forecast, the forecast, not the trend, projects the load")
    surge: Surge | None = None
    waive_cooldown: DurationSeconds | None = Field(
        None, gt=0, description="while the trend or a surge projects past the scale-up threshold on the units "
        "in effect and the load still rose over this newest stretch, the scale-up cooldown is waived: one-unit "
        "steps up a long ramp then follow each other as soon as each lands")


class Plateau(_Strict):
    """A level load needs less headroom than a rising one. The scale-up threshold's margin below the
    critical line covers two things: the noise of a load measured every minute, and a rise that keeps
    going while new capacity is on its way (one provisioning delay). A load whose projection is no more
    than `tolerance` above its mean over the last `window` is not rising; only the noise margin is
    needed, so its threshold is `extra_points` higher."""

    window: DurationSeconds = Field(300.0, gt=0, description="the recent mean the projection is compared with")
    tolerance: float = Field(0.15, ge=0, le=1, description="a projection at most this fraction above that mean "
                             "is a level load")
    extra_points: float = Field(2.0, gt=0, le=20, description="percentage points added to the scale-up "
                                "threshold in effect while the load is level (never above 100)")


class DipGuard(_Strict):
    """Inside peak hours a dip comes back: a lunch dip of 18 % is over within the hour. A scale-down
    takes a provisioning delay to land and, if the load comes back, its correction another one, so a
    shrink at the bottom of a dip at the 70 % guard's edge ran critical when the load returned. The
    forecast knows the dip ends; before there is one (the first period of history, or the same hours
    then ran unlike today), a scale-down inside peak hours keeps the highest load of the last `window`
    under `utilization` on the smaller size, unless peak hours end before a correction could land."""

    window: DurationSeconds = Field(3600.0, gt=0, description="how far back the load that may come back is read")
    utilization: float = Field(85.0, gt=0, le=100, description="the most that load may use of the smaller size")


class Forecast(_Strict):
    """Expect the load the calendar brings: the same hours one period earlier, at today's level (see
    `brokerscale.forecast.load`). Feeds decide: a scale-up ahead of a known rise, no scale-down into one."""

    period: DurationSeconds = Field(86400.0, gt=0)
    prefer_period: DurationSeconds | None = Field(
        None, gt=0, description="once the history reaches back this far, the same hours this long ago instead "
        "(7d: a Monday is forecast from last Monday, not from Sunday)")
    lookahead: Literal["provisioning"] | DurationSeconds = "provisioning"
    horizon: DurationSeconds = Field(3600.0, gt=0, description="how long after the lookahead the peak is taken")
    level_window: DurationSeconds = Field(3600.0, gt=0)
    min_level: float | None = Field(
        None, gt=0, le=1, description="the hours of a period whose load ran hotter than today's by more than "
        "1/min_level (today's last level_window against the same stretch then) are not copied: the next period "
        "is, else there is no forecast")
    skip_surges: bool = Field(
        False, description="the hours of a period in which a surge was under way (trend.surge's rule held at a "
        "sample from the level_window before the same moment then to one surge window past the copied window's "
        "end: the rule holds once a rise is confirmed) are not copied: the next period is, else there is no "
        "forecast. Needs trend.surge")


class Policy(_Strict):
    """A scaling policy. See the module docstring for the file format."""

    name: str = "custom"
    description: str = ""
    unit: Unit = "cku"
    min_units: int = Field(2, ge=1)
    max_units: int = Field(8, ge=1)
    scale_up_utilization: float = Field(80.0, gt=0, le=100)
    scale_down_utilization: float = Field(30.0, ge=0, lt=100)
    scale_up_cooldown: DurationSeconds = Field(300.0, ge=0)
    scale_down_cooldown: DurationSeconds = Field(600.0, ge=0)
    scale_up_step: Literal["auto"] | int = Field(
        "auto", description="auto: CKUs as many as reach target_utilization, brokers by size class")
    target_utilization: float | None = Field(None, gt=0, le=100)
    provisioning_delay: Delays = Field(default_factory=Delays)
    trend: Trend | None = None
    forecast: Forecast | None = None
    plateau: Plateau | None = None
    sustain: DurationSeconds = Field(0.0, ge=0, description="utilization must stay past a threshold this long")
    timezone: str = "UTC"
    peak_hours: PeakHours | None = None
    seasons: list[Season] = Field(default_factory=list)
    budget: Budget | None = None
    maintenance_windows: list[Window] = Field(default_factory=list)
    shrink_guard_utilization: float = Field(70.0, gt=0, le=100)
    dip_guard: DipGuard | None = None
    wait_for_trough: DurationSeconds = Field(
        0.0, ge=0, description="a scale-down waits until the load has not fallen for this long (the day's trough)")

    @field_validator("scale_up_step")
    @classmethod
    def _step(cls, v: object) -> object:
        if isinstance(v, int) and v < 1:
            raise ValueError("must be auto or a whole number of units >= 1")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone (for example America/New_York)") from None
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        if self.min_units > self.max_units:
            raise ValueError(f"min_units ({self.min_units}) must not exceed max_units ({self.max_units})")
        if self.scale_down_utilization >= self.scale_up_utilization:
            raise ValueError(f"scale_down_utilization ({self.scale_down_utilization:g}) must be below "
                             f"scale_up_utilization ({self.scale_up_utilization:g})")
        if self.forecast is not None and self.forecast.skip_surges and (self.trend is None or self.trend.surge is None):
            raise ValueError("forecast.skip_surges needs trend.surge: it skips the hours where that rule held")
        if self.budget is not None and self.budget.max_units() < self.min_units:
            raise ValueError(f"budget buys {self.budget.max_units()} units a month, below min_units "
                             f"({self.min_units})")
        return self

    # -- derived ------------------------------------------------------------------------------
    def delay(self, direction: Literal["up", "down"]) -> float:
        given = getattr(self.provisioning_delay, direction)
        return float(given) if given is not None else DEFAULT_DELAYS[self.unit][direction]

    def forecast_periods(self) -> list[float]:
        """The periods the forecast looks back by, preferred first."""
        f = self.forecast
        if f is None:
            return []
        return ([float(f.prefer_period)] if f.prefer_period is not None else []) + [float(f.period)]

    def forecast_ahead(self) -> float:
        f = self.forecast
        if f is None or f.lookahead == "provisioning":
            return self.delay("up")
        return float(f.lookahead)

    def surge_reach(self) -> float | None:
        """With `forecast.skip_surges`: how far past the same moment one period ago a surge keeps the forecast
        from copying those hours (the copied window's end, plus one surge window: the rule holds once a rise
        is confirmed); None when surges are copied like any hours."""
        f, tr = self.forecast, self.trend
        if f is None or not f.skip_surges or tr is None or tr.surge is None:
            return None
        return self.forecast_ahead() + float(f.horizon) + float(tr.surge.window)

    def cap(self) -> int:
        """The most units this policy ever asks for: max_units or what the budget buys."""
        return min(self.max_units, self.budget.max_units()) if self.budget else self.max_units

    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)


_ZONES: dict[str, ZoneInfo] = {}


def _zone(name: str) -> ZoneInfo:
    z = _ZONES.get(name)
    if z is None:
        z = _ZONES[name] = ZoneInfo(name)
    return z


def shipped_policies() -> list[str]:
    return sorted(p.stem for p in POLICY_DIR.glob("*.yaml"))


def parse_policy(data: object, source: str, unit: Unit | None = None) -> Policy:
    """Validate policy data read from `source`; `unit` overrides the file's unit (for shipped policies)."""
    if not isinstance(data, dict):
        raise BadInput(f"{source}: (top level): must be a mapping of policy fields")
    if unit is not None:
        data = {**data, "unit": unit}
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(source, exc, Policy) from None


def load_policy(path: Path | None = None, name: str | None = None, unit: Unit | None = None) -> Policy:
    """A policy from a file, or a shipped one by name (seed-reactive, default)."""
    if path is not None:
        return parse_policy(read_yaml(path), str(path), None if unit is None else unit)
    name = name or "default"
    shipped = POLICY_DIR / f"{name}.yaml"
    if not shipped.is_file():
        raise BadInput(f"--policy-name: {name!r} is not a shipped policy ({', '.join(shipped_policies())})")
    return parse_policy(read_yaml(shipped, shipped.name), shipped.name, unit)
