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

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from brokerscale.forecast.load import level_ratio_series, peak_series
from brokerscale.scale.decide import Facts, LoadHistory, decide
from brokerscale.scale.demand import DIMENSIONS, Thresholds, UnitCapacity, trigger_thresholds
from brokerscale.scale.oracle import solve
from brokerscale.scale.policy import Policy
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


def simulate(trace: LoadTrace, policy: Policy, cap: UnitCapacity, thr: Thresholds | None = None,
             *, oracle: bool = True, guarded: bool = False, start_units: int | None = None) -> SimResult:
    """Run `policy` over `trace` with `decide()`, count critical and warning steps, solve the oracle."""
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
    pending: tuple[int, int, Action] | None = None  # (target, effective step, action)
    last_up: float | None = None
    last_down: float | None = None
    fc = None
    lv: list[float] = []
    if policy.forecast is not None:
        f = policy.forecast
        fc_a, lv_a = np.full(n, np.nan), np.full(n, np.nan)
        for period in reversed(policy.forecast_periods()):  # the preferred period, where it has history
            p = peak_series(dem.demand, trace.step_s, period=period, ahead=policy.forecast_ahead(),
                            horizon=f.horizon, level_window=f.level_window)
            have = ~np.isnan(p)
            fc_a[have] = p[have]
            lv_a[have] = level_ratio_series(dem.demand, trace.step_s, period=period,
                                            level_window=f.level_window)[have]
        fc, lv = fc_a.tolist(), lv_a.tolist()
    for i in range(n):
        if pending is not None and i >= pending[1]:
            target, _, act = pending
            act.effective_at = trace.timestamps[i]
            if target > units:
                last_up = epoch[i]
            else:
                last_down = epoch[i]
            units, pending = target, None
        timeline[i] = units
        if pending is not None:  # decide() holds while a change is in flight; no need to ask it
            continue
        hist.end = i + 1
        ahead = level = None
        if fc is not None and fc[i] == fc[i]:  # NaN: no forecast yet
            ahead, level = fc[i], lv[i]
        d = decide(Facts(units, None, last_up, last_down, forecast_demand=ahead, forecast_level=level), hist,
                   policy, epoch[i])
        if d.action is not None and d.target != units:
            act = Action(trace.timestamps[i], None, d.action, units, d.target, d.trigger, d.reason)
            actions.append(act)
            pending = (d.target, i + (d_up if d.action == "up" else d_down), act)
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
