"""Replay a load trace through a policy and score it against the oracle.

Definitions (also in `scale simulate --help`):
- the capacity of N units is N times one unit's (limits profile or capacity file);
- units in effect during a step are those already provisioned: a change decided at step i (after
  seeing row i) takes effect at step i + ceil(provisioning delay / step), and only one change is in
  flight at a time;
- a step is critical when any dimension exceeds its critical threshold in the scaling guide's trigger
  table (throughput > 85 %, connections > 85 %, partitions > 90 % of the capacity in effect), warning
  when it is not critical but exceeds a warning threshold (70 / 70 / 80 %);
- cooldowns run from the moment a change takes effect;
- the run starts with the smallest count within [min, max] that keeps the first row out of warning.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

import numpy as np
import numpy.typing as npt

from brokerscale.forecast.load import level_ratio_series, peak_series, surge_rows
from brokerscale.scale.decide import Facts, LoadHistory, decide
from brokerscale.scale.demand import DIMENSIONS, Thresholds, UnitCapacity, trigger_thresholds
from brokerscale.scale.oracle import solve
from brokerscale.scale.policy import DAYS, Policy
from brokerscale.scale.trace import LoadTrace


@dataclass
class Demand:
    """Per-row demand in units' worth: the highest dimension, which one, and the trigger levels."""

    demand: npt.NDArray[np.float64]
    dimension: list[str]
    partitions: npt.NDArray[np.float64]
    k_warn: npt.NDArray[np.float64]  # step is at least warning with u units iff k_warn > u
    k_crit: npt.NDArray[np.float64]  # ... critical iff k_crit > u


def trace_demand(trace: LoadTrace, cap: UnitCapacity, thr: Thresholds) -> Demand:
    n = len(trace)
    per_dim = {}
    sample = cap.demand(1.0, 1.0, 1.0, 1.0)
    for dim in DIMENSIONS:
        if dim in sample:
            per_dim[dim] = _dimension(trace, cap, dim)
    if not per_dim:
        raise ValueError(f"{cap.description}: no dimension has a capacity")
    dims = list(per_dim)
    stack = np.vstack([per_dim[d] for d in dims])
    arg = np.argmax(stack, axis=0)
    demand = stack[arg, np.arange(n)]
    warn = np.max(np.vstack([100.0 * per_dim[d] / thr.warning[d] for d in dims]), axis=0)
    crit = np.max(np.vstack([100.0 * per_dim[d] / thr.critical[d] for d in dims]), axis=0)
    parts = per_dim.get("partitions", np.zeros(n))
    return Demand(demand=demand, dimension=[dims[i] for i in arg.tolist()], partitions=parts,
                  k_warn=warn, k_crit=crit)


def _dimension(trace: LoadTrace, cap: UnitCapacity, dim: str) -> npt.NDArray[np.float64]:
    # UnitCapacity.demand is linear in each input, so apply it to whole arrays at once.
    out = cap.demand(trace.ingress, trace.egress, trace.connections, trace.partitions)  # type: ignore[arg-type]
    return np.asarray(out[dim], dtype=np.float64)


@dataclass
class Action:
    decided_at: str
    effective_at: str | None
    direction: str
    from_units: int
    to_units: int
    trigger: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"timestamp": self.decided_at, "effective_at": self.effective_at, "direction": self.direction,
                "from": self.from_units, "to": self.to_units, "trigger": self.trigger, "reason": self.reason}


@dataclass
class SimResult:
    trace: str
    policy: str
    unit: str
    step_s: float
    units: npt.NDArray[np.int64]
    utilization: npt.NDArray[np.float64]
    critical_steps: int
    warning_steps: int
    actions: list[Action] = field(default_factory=list)
    oracle_critical_steps: int = 0
    oracle_unit_steps: int = 0
    guarded_critical_steps: int | None = None
    guarded_unit_steps: int | None = None
    timestamps: list[str] = field(default_factory=list)
    epoch: npt.NDArray[np.float64] | None = None
    demand: npt.NDArray[np.float64] | None = None

    @property
    def unit_hours(self) -> float:
        return float(self.units.sum()) * self.step_s / 3600.0

    @property
    def critical_minutes(self) -> float:
        return self.critical_steps * self.step_s / 60.0

    @property
    def warning_minutes(self) -> float:
        return self.warning_steps * self.step_s / 60.0

    @property
    def oracle_unit_hours(self) -> float:
        return self.oracle_unit_steps * self.step_s / 3600.0

    @property
    def oracle_critical_minutes(self) -> float:
        return self.oracle_critical_steps * self.step_s / 60.0

    def as_json(self) -> dict[str, Any]:
        util = np.round(self.utilization, 2).tolist()
        units = self.units.tolist()
        return {
            "unit_hours": round(self.unit_hours, 4),
            "critical_minutes": round(self.critical_minutes, 4),
            "warning_minutes": round(self.warning_minutes, 4),
            "actions": [a.as_json() for a in self.actions],
            "oracle": {"unit_hours": round(self.oracle_unit_hours, 4),
                       "critical_minutes": round(self.oracle_critical_minutes, 4)},
            "timeline": [{"timestamp": ts, "units": u, "utilization": x}
                         for ts, u, x in zip(self.timestamps, units, util, strict=True)],
        }


def steps_for(seconds: float, step_s: float) -> int:
    return max(1, math.ceil(round(seconds / step_s, 9)))


def initial_units(k_warn0: float, policy: Policy) -> int:
    lo, hi = policy.min_units, policy.cap()
    return max(lo, min(hi, math.floor(k_warn0) + 1 if k_warn0 >= lo else lo))


class _Screen:
    """Which steps decide() could act at, with a given number of units: a superset, computed for the whole
    trace at once, so the replay asks decide() only there (a year of minutes asks it some 40,000 times
    instead of 525,600) and gets the same answer as asking at every step (tests/test_scale_simulate.py).

    decide() acts only (1) below a minimum in effect now or one provisioning delay ahead, (2) above the
    cost cap, (3) when the load projected by the trend (always counted here, whatever the calendar says),
    by a surge (wherever the newest two samples rose) or by the forecast is over the lowest scale-up
    threshold of any period, or (4) when the load is under the highest scale-down threshold of any
    period and one unit fewer would pass the shrink guard; every
    other rule only holds. Each condition is widened by a relative 1e-9 so rounding cannot hide a step
    decide() would act at.
    """

    def __init__(self, policy: Policy, demand: npt.NDArray[np.float64], epoch: npt.NDArray[np.float64],
                 forecast: npt.NDArray[np.float64] | None) -> None:
        self.policy = policy
        self.n = len(demand)
        ph = policy.peak_hours
        ups = [policy.scale_up_utilization, *(x.scale_up_utilization for x in [ph] if x and x.scale_up_utilization),
               *(x.scale_up_utilization for x in policy.seasons if x.scale_up_utilization)]
        downs = [policy.scale_down_utilization,
                 *(x.scale_down_utilization for x in [ph] if x and x.scale_down_utilization is not None)]
        self.up_min, self.down_max = min(ups) * (1 - 1e-9), max(downs) * (1 + 1e-9)
        self.guard = policy.shrink_guard_utilization * (1 + 1e-9)
        hi = demand.copy()
        if forecast is not None:
            hi = np.fmax(hi, forecast)
        if policy.trend is not None:
            hi = np.maximum(hi, demand + np.maximum(0.0, _slopes(policy, demand, epoch)) * _trend_ahead(policy))
            if policy.trend.surge is not None:
                hi = np.maximum(hi, demand + _surge_slopes(policy, demand, epoch) * _trend_ahead(policy))
        self.hi_pct = 100.0 * hi
        self.lo_pct = 100.0 * demand
        self._floor = _floor_steps(policy, epoch)  # min units decide may provision at each step (upper bound)
        self._cache: dict[int, list[int]] = {}

    def next(self, units: int, i: int) -> int:
        """The first step >= i where decide() could act with `units` in effect (n if none)."""
        idx = self._cache.get(units)
        if idx is None:
            p = self.policy
            if units > p.cap():
                mask = np.ones(self.n, dtype=bool)
            else:
                mask = self._floor > units
                if units < p.cap():
                    mask |= self.hi_pct > self.up_min * units
                if units > p.min_units:  # under a scale-down threshold and inside the shrink guard
                    mask |= (self.lo_pct < self.down_max * units) & (self.lo_pct <= self.guard * (units - 1))
            idx = self._cache[units] = np.flatnonzero(mask).tolist()
        k = bisect.bisect_left(idx, i)
        return idx[k] if k < len(idx) else self.n


def _trend_ahead(policy: Policy) -> float:
    tr = policy.trend
    assert tr is not None
    return policy.delay("up") if tr.lookahead == "provisioning" else float(tr.lookahead)


def _slopes(policy: Policy, demand: npt.NDArray[np.float64], epoch: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """decide's `_slope` at every step (step i sees rows 0..i); +inf where it is computed another way
    (fewer than six points in the window), so those steps are always asked."""
    tr = policy.trend
    assert tr is not None
    n = len(demand)
    end = np.arange(1, n + 1)
    first = np.searchsorted(epoch, epoch - tr.window, side="left")
    count = end - first
    out = np.full(n, np.inf)
    out[count < tr.min_points] = 0.0
    ok = np.flatnonzero(count >= 6)
    if len(ok):
        f, e = first[ok], end[ok]
        d3 = demand[:-2] + demand[1:-1] + demand[2:]  # x[j] + x[j+1] + x[j+2], summed in decide's order
        t3 = epoch[:-2] + epoch[1:-1] + epoch[2:]
        a, b, ta, tb = d3[f], d3[e - 3], t3[f], t3[e - 3]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[ok] = np.where(tb > ta, (b - a) / np.where(tb > ta, tb - ta, 1.0), 0.0)
    return out


def _surge_slopes(policy: Policy, demand: npt.NDArray[np.float64],
                  epoch: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """An upper bound of decide's `surge_slope` at every step: +inf wherever the window holds three
    samples or more and its newest two rises both reach the surge's rate (decide then asks itself:
    it also needs every earlier rise in the window to), 0 elsewhere, where decide finds no surge."""
    tr = policy.trend
    assert tr is not None and tr.surge is not None
    n = len(demand)
    out = np.zeros(n)
    if n < 3:
        return out
    first = np.searchsorted(epoch, epoch - tr.surge.window, side="left")
    base = demand[first] * (tr.surge.rate / 60.0) * (1 - 1e-9)
    rise, dt = np.diff(demand), np.diff(epoch)
    ok = np.zeros(n, dtype=bool)
    idx = np.arange(2, n)
    ok[2:] = ((idx - first[2:] >= 2) & (base[2:] > 0) & (rise[1:] >= base[2:] * dt[1:])
              & (rise[:-1] >= base[2:] * dt[:-1]))
    out[ok] = np.inf
    return out


def _floor_steps(policy: Policy, epoch: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """An upper bound of the minimum decide() could provision toward at each step: the base minimum,
    a season's minimum anywhere in the year (seasons are not narrowed), and clinic hours' minimum from
    one provisioning delay before their start (decide provisions it ahead) to their end on their days,
    at every UTC offset the zone has over the trace (so a DST change cannot hide a step)."""
    n = len(epoch)
    floor = np.full(n, policy.min_units, dtype=np.int64)
    for s in policy.seasons:
        if s.min_units:
            floor = np.maximum(floor, s.min_units)
    ph = policy.peak_hours
    if ph is None or not ph.min_units or ph.min_units <= policy.min_units:
        return np.minimum(floor, max(policy.cap(), policy.min_units))
    zone = policy.zone()
    hours = np.arange(float(epoch[0]) - 86400.0, float(epoch[-1]) + 86400.0, 3600.0)
    offsets = {datetime.fromtimestamp(float(t), UTC).astimezone(zone).utcoffset() for t in hours}
    margin = 120.0  # against rounding only: every offset the zone uses is tried below
    start = ph.start.hour * 3600.0 + ph.start.minute * 60 - policy.delay("up") - margin
    end = (ph.end.hour * 3600.0 + ph.end.minute * 60 if ph.end != time.max else 86400.0) + margin
    near = np.zeros(n, dtype=bool)
    if ph.start > ph.end or end - start >= 86400.0:
        near[:] = True
    days = np.array([d in ph.days for d in DAYS])
    # the window opening on the same day, and where it reaches past midnight the day before or after
    shifts = [0] + ([1] if start < 0 else []) + ([-1] if end > 86400.0 else [])
    for off in offsets:
        local = epoch + (off.total_seconds() if off is not None else 0.0)
        day = np.floor_divide(local, 86400.0)
        tod = local - day * 86400.0
        weekday = (day.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        for k in shifts:
            at = tod - k * 86400.0
            near |= days[(weekday + k) % 7] & (at >= start) & (at < end)
    floor = np.where(near, np.maximum(floor, ph.min_units), floor)
    return np.minimum(floor, max(policy.cap(), policy.min_units))


def policy_forecast(policy: Policy, demand: npt.NDArray[np.float64],
                    step_s: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The forecast decide() is given at every step (step i sees rows 0..i) and its level ratio, both in
    the controller's terms (`Controller.forecast`): the preferred period where its history reaches and
    its hours ran like today (level at least `forecast.min_level`) and no surge was under way in them
    (`forecast.skip_surges`), else the next period, else NaN."""
    n = len(demand)
    fc, lv = np.full(n, np.nan), np.full(n, np.nan)
    f = policy.forecast
    if f is None:
        return fc, lv
    reach, tr = policy.surge_reach(), policy.trend
    surged = None
    if reach is not None and tr is not None and tr.surge is not None:
        fired = surge_rows(step_s * np.arange(n, dtype=np.float64), demand, window=tr.surge.window,
                           rate=tr.surge.rate)
        surged = np.concatenate(([0], np.cumsum(fired)))
    rows = np.arange(n)
    for period in reversed(policy.forecast_periods()):  # the last written, the preferred, wins
        p = peak_series(demand, step_s, period=period, ahead=policy.forecast_ahead(), horizon=f.horizon,
                        level_window=f.level_window)
        level = level_ratio_series(demand, step_s, period=period, level_window=f.level_window)
        have = ~np.isnan(p)
        if f.min_level is not None:
            with np.errstate(invalid="ignore"):
                have &= level >= f.min_level
        if surged is not None and reach is not None:
            # rows (i - period - level_window, i - period + reach]: any surge there, no copy
            back, w = round(period / step_s), max(1, round(f.level_window / step_s))
            a_hi = math.floor(round(reach / step_s, 9))
            lo, hi = np.clip(rows - back - w + 1, 0, n), np.clip(rows - back + a_hi + 1, 0, n)
            have &= surged[hi] == surged[lo]
        fc[have] = p[have]
        lv[have] = level[have]
    return fc, lv


def simulate(trace: LoadTrace, policy: Policy, cap: UnitCapacity, thr: Thresholds | None = None,
             *, oracle: bool = True, guarded: bool = False, start_units: int | None = None,
             forecast_series: npt.NDArray[np.float64] | None = None) -> SimResult:
    """Run `policy` over `trace` with `decide()`, count critical and warning steps, solve the oracle.

    `forecast_series` (analysis only): the forecast decide sees at each step, in units' worth (NaN: none),
    instead of the policy's own, with today's level taken as matching it; `scripts/scale_excess.py` feeds
    the load that actually came, to measure what the policy's rules would cost with a perfect forecast."""
    thr = thr or trigger_thresholds()
    dem = trace_demand(trace, cap, thr)
    n = len(trace)
    d_up, d_down = steps_for(policy.delay("up"), trace.step_s), steps_for(policy.delay("down"), trace.step_s)
    units = start_units if start_units is not None else initial_units(float(dem.k_warn[0]), policy)
    epoch = trace.epoch.tolist()
    hist = LoadHistory(ts=epoch, demand=dem.demand.tolist(), dimension=dem.dimension,
                       partitions=dem.partitions.tolist(), end=0)
    timeline = np.empty(n, dtype=np.int64)
    actions: list[Action] = []
    last_up: float | None = None
    last_down: float | None = None
    fc = None
    fc_a = None
    lv: list[float] = []
    if policy.forecast is not None:
        fc_a, lv_a = policy_forecast(policy, dem.demand, trace.step_s)
        if forecast_series is not None:
            fc_a = np.asarray(forecast_series, dtype=np.float64)
            lv_a = np.where(np.isnan(fc_a), np.nan, 1.0)
        fc, lv = fc_a.tolist(), lv_a.tolist()
    ask = _Screen(policy, dem.demand, trace.epoch, None if fc is None else fc_a)
    i = 0
    while i < n:
        # Between changes the units are constant and decide() can only act at a step the screen lets
        # through; the steps in between hold, so they are filled without asking.
        j = ask.next(units, i)
        timeline[i:j] = units
        if j >= n:
            break
        hist.end = j + 1
        ahead = level = None
        if fc is not None and fc[j] == fc[j]:  # NaN: no forecast yet
            ahead, level = fc[j], lv[j]
        d = decide(Facts(units, None, last_up, last_down, forecast_demand=ahead, forecast_level=level), hist,
                   policy, epoch[j])
        if d.action is None or d.target == units:
            timeline[j] = units
            i = j + 1
            continue
        act = Action(trace.timestamps[j], None, d.action, units, d.target, d.trigger, d.reason)
        actions.append(act)
        eff = j + (d_up if d.action == "up" else d_down)
        timeline[j:eff] = units  # decide() holds while a change is in flight; no need to ask it
        if eff >= n:
            break
        act.effective_at = trace.timestamps[eff]
        if d.target > units:
            last_up = epoch[eff]
        else:
            last_down = epoch[eff]
        units, i = d.target, eff
    crit = dem.k_crit > timeline
    warn = ~crit & (dem.k_warn > timeline)
    result = SimResult(trace=trace.source, policy=policy.name, unit=policy.unit, step_s=trace.step_s,
                       units=timeline, utilization=100.0 * dem.demand / timeline,
                       critical_steps=int(crit.sum()), warning_steps=int(warn.sum()), actions=actions,
                       timestamps=trace.timestamps, epoch=trace.epoch, demand=dem.demand)
    if oracle:
        step = None if policy.scale_up_step == "auto" else int(policy.scale_up_step)
        start = start_units if start_units is not None else initial_units(float(dem.k_warn[0]), policy)
        best = solve(dem.k_crit, policy.min_units, policy.cap(), start, d_up, d_down, policy.unit, step)
        result.oracle_critical_steps = best.critical_steps
        result.oracle_unit_steps = best.unit_steps
    if oracle and guarded:
        step = None if policy.scale_up_step == "auto" else int(policy.scale_up_step)
        start = start_units if start_units is not None else initial_units(float(dem.k_warn[0]), policy)
        limit = dem.demand * (100.0 / policy.shrink_guard_utilization)
        floor = solve(dem.k_crit, policy.min_units, policy.cap(), start, d_up, d_down, policy.unit, step,
                      shrink_limit=limit)
        result.guarded_critical_steps = floor.critical_steps
        result.guarded_unit_steps = floor.unit_steps
    return result
