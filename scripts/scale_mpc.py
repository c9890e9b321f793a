#!/usr/bin/env python3
"""How close can an online policy get to the oracle? Bounds, and a receding-horizon (MPC) experiment.

    .venv/bin/python scripts/scale_mpc.py [TRACE.csv ...] [--forecast seasonal|perfect] [--margin 0.03]
                                          [--horizon-h 6] [--replan-s 300] [--bounds-only] [--format json]

With no trace, the shipped traces. Analysis, not the simulator: it reads the whole trace, and the MPC
replay solves a small dynamic programme every few minutes (seconds to minutes per trace).

For each trace it prints, in unit-hours and as a multiple of the oracle (`scale simulate`'s oracle):

- `default` and `seed-reactive`: `scale simulate`'s replay (unit-hours, critical, warning, actions);
- `guarded`: the oracle that must also obey the 70 % shrink guard (a scale-down only where the load at
  the request fits 70 % of the smaller size) — no policy that keeps Confluent's guard can go below it;
- `guarded+min`: the same, also keeping the policy's minimums in effect (clinic hours' 3 CKUs);
- `guarded+min+m%`: the same knowing the future only up to a margin: every step's load taken m % higher
  (a controller that cannot see the next minute's noise must keep such a margin to stay out of critical;
  the seasonal forecast's error at its 90th / 99th percentile is printed beside it, `forecast error`);
- `mpc`: the receding-horizon policy. At a decision point (every `--replan-s`, or when decide() wants
  to scale up) it solves the oracle's exact programme (`oracle.solve`) over the next `--horizon-h` hours
  on a forecast inflated by `--margin`, with the shrink guard, the minimums, the delays, one change in
  flight, and takes only the first action; the scale-down cooldown, peak-hour and maintenance-window
  rules gate that first action. decide() stays the safety net: its scale-ups to a minimum always apply,
  and so do all its scale-ups while the load departs from the calendar (today's level more than 10 %
  off the same hours one period ago, or the load now 10 % above what the forecast said for now).
  Without a usable forecast (less than one period of history, or the hours the forecast copies did not
  themselves run like the period before them: a one-off incident is not expected again) decide() alone
  acts. Forecasts: `perfect` (the load that actually came: what the MPC structure costs by itself) or
  `seasonal` (the same hours one week ago, else yesterday, at today's level: the policy's forecaster).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from brokerscale.forecast.load import level_ratio_series
from brokerscale.scale.decide import Facts, LoadHistory, _regime_at, decide
from brokerscale.scale.demand import resolve_capacity, trigger_thresholds
from brokerscale.scale.oracle import BIG, solve
from brokerscale.scale.policy import Policy, load_policy
from brokerscale.scale.simulate import Demand, initial_units, policy_forecast, simulate, steps_for, trace_demand
from brokerscale.scale.trace import TRACE_DIR, LoadTrace, read_trace

SHIPPED = ("clinic-week", "flu-season", "incident-surge")
MARGINS = (0.02, 0.04, 0.06)
SURPRISE = 0.1  # the calendar_tolerance of the default policy
Arr = npt.NDArray[np.float64]


@dataclass
class Setup:
    trace: LoadTrace
    policy: Policy
    dem: Demand
    d_up: int
    d_down: int
    start: int
    floor: npt.NDArray[np.int64]  # the minimum in effect at every row (base, clinic hours, season)


def setup(path: Path, policy: Policy) -> Setup:
    trace = read_trace(path)
    dem = trace_demand(trace, resolve_capacity(None, policy.unit), trigger_thresholds())
    floor = np.array([_regime_at(policy, t, 2).min_units for t in trace.epoch.tolist()], dtype=np.int64)
    return Setup(trace, policy, dem, steps_for(policy.delay("up"), trace.step_s),
                 steps_for(policy.delay("down"), trace.step_s), initial_units(float(dem.k_warn[0]), policy), floor)


def guarded(s: Setup, margin: float = 0.0, minimums: bool = True) -> int:
    """Unit-steps of the cheapest zero-critical schedule that keeps the shrink guard (and the minimums),
    seeing every step's load `margin` higher. Steps critical at any size stay as they are."""
    p, kc = s.policy, s.dem.k_crit
    over = kc > p.cap()
    k = np.where(over, kc, kc * (1.0 + margin))
    if minimums:  # a count under the minimum in effect counts as critical, so the programme avoids it
        k = np.where(over, k, np.maximum(k, s.floor - 1 + 1e-6))
    r = solve(k, p.min_units, p.cap(), s.start, s.d_up, s.d_down, p.unit, _step(p),
              shrink_limit=s.dem.demand * (100.0 / p.shrink_guard_utilization))
    return r.unit_steps


def _step(p: Policy) -> int | None:
    return None if p.scale_up_step == "auto" else int(p.scale_up_step)


def forecast_error(s: Setup) -> tuple[float, float]:
    """The 90th and 99th percentile of (peak load that came) / (the policy's forecast of it), daytime."""
    p, d = s.policy, s.dem.demand
    f = p.forecast
    if f is None:
        return math.nan, math.nan
    n = len(d)
    fc = policy_forecast(p, d, s.trace.step_s)[0]
    a_lo = steps_for(p.forecast_ahead(), s.trace.step_s)
    a_hi = a_lo + int(f.horizon // s.trace.step_s)
    came = np.array([d[min(n - 1, i + a_lo):min(n, i + a_hi + 1)].max() for i in range(n)])
    ok = ~np.isnan(fc) & (np.arange(n) < n - a_hi) & (came > 1.5)
    if not ok.any():
        return math.nan, math.nan
    q = np.quantile(came[ok] / fc[ok], [0.9, 0.99])
    return float(q[0]), float(q[1])


class Mpc:
    """The receding-horizon planner over one trace (see the module docstring)."""

    def __init__(self, s: Setup, forecast: str, margin: float, horizon_h: float, grid_s: float) -> None:
        self.s, self.forecast, self.margin = s, forecast, margin
        step_s = s.trace.step_s
        self.g = max(1, round(grid_s / step_s))
        if s.d_up % self.g or s.d_down % self.g:
            self.g = 1
        self.gu, self.gd = s.d_up // self.g, s.d_down // self.g
        self.h = max(self.gu + self.gd + 2, round(horizon_h * 3600 / (self.g * step_s)))
        d, f = s.dem.demand, s.policy.forecast
        lw = f.level_window if f is not None else 3600.0
        self.periods = [(round(7 * 86400 / step_s), level_ratio_series(d, step_s, period=7 * 86400, level_window=lw)),
                        (round(86400 / step_s), level_ratio_series(d, step_s, period=86400, level_window=lw))]
        self.plans = 0

    def future(self, j: int) -> tuple[Arr, Arr, float] | None:
        """(k_crit, demand) expected for rows j .. j + horizon (row j is known), and the forecast of row j."""
        s, m = self.s, self.margin
        kc, d = s.dem.k_crit, s.dem.demand
        n = len(d)
        idx = np.arange(j, j + self.h * self.g)
        if self.forecast == "perfect":
            ii = np.minimum(idx, n - 1)
            return kc[ii] * (1 + m), d[ii] * (1 + m), float(d[j])
        for period, lv in self.periods:
            if j < period + 60 or np.isnan(lv[j]):
                continue
            back = idx - period
            back = np.clip(np.where(back > j, back - period, back), 0, j)  # never past now
            src = lv[back]
            if np.isnan(src).any() or (np.abs(src - 1.0) > SURPRISE).any():
                return None  # the hours it would copy were themselves unusual: not a pattern
            r = float(lv[j])
            k, dd = kc[back] * r * (1 + m), d[back] * r * (1 + m)
            now = float(dd[0]) / (1 + m)
            k[0], dd[0] = kc[j], d[j]
            return k, dd, now
        return None

    def plan(self, j: int, u: int, fut: tuple[Arr, Arr, float], allow_down: bool) -> int | None:
        """The first action of the cheapest plan over the horizon: a new unit count, or None (hold)."""
        s, p, g, h = self.s, self.s.policy, self.g, self.h
        self.plans += 1
        k = fut[0].reshape(h, g).max(axis=1)
        dd = fut[1].reshape(h, g).max(axis=1)
        epoch0, step_s = float(s.trace.epoch[j]), s.trace.step_s
        floors = np.array([_regime_at(p, epoch0 + i * g * step_s, 2).min_units for i in range(h)])
        k = np.maximum(k, floors - 1 + 1e-6)
        lim = dd * (100.0 / p.shrink_guard_utilization)
        lo, hi = p.min_units, p.cap()
        top = float(k.max())
        if top <= u and not (allow_down and u > lo):
            return None  # nothing critical ahead and no shrink allowed: holding is the cheapest plan

        def prefix(units: int, steps: int) -> int:
            return int((k[:steps] > units).sum()) * BIG + units * steps

        def rest(at: int, v: int) -> int:
            if at >= h:
                return 0
            r = solve(k[at:], lo, hi, v, self.gu, self.gd, p.unit, _step(p), shrink_limit=lim[at:])
            return r.critical_steps * BIG + r.unit_steps

        best, choice = prefix(u, 1) + rest(1, u), None
        if allow_down and u > lo:
            c = prefix(u, self.gd) + rest(self.gd, u - 1)
            if c < best:
                best, choice = c, u - 1
        for v in range(u + 1, min(hi, max(u + 1, math.ceil(top))) + 1):  # more than the peak needs never pays
            c = prefix(u, self.gu) + rest(self.gu, v)
            if c < best:
                best, choice = c, v
        return choice


def mpc_replay(s: Setup, forecast: str, margin: float, horizon_h: float, replan_s: float) -> dict[str, Any]:
    p, trace, dem = s.policy, s.trace, s.dem
    n, step_s = len(trace), trace.step_s
    mpc = Mpc(s, forecast, margin, horizon_h, grid_s=300.0)
    replan = max(1, round(replan_s / step_s))
    fc, lv = policy_forecast(p, dem.demand, step_s)  # decide()'s own forecast, as `scale simulate` feeds it
    epoch = trace.epoch.tolist()
    hist = LoadHistory(ts=epoch, demand=dem.demand.tolist(), dimension=dem.dimension,
                       partitions=dem.partitions.tolist(), end=0)
    units, timeline = s.start, np.empty(n, dtype=np.int64)
    pending: tuple[int, int] | None = None
    last_up: float | None = None
    last_down: float | None = None
    actions = 0
    for j in range(n):
        if pending is not None and j == pending[0]:
            if pending[1] > units:
                last_up = epoch[j]
            else:
                last_down = epoch[j]
            units, pending = pending[1], None
        timeline[j] = units
        if pending is not None:
            continue
        hist.end = j + 1
        known = not math.isnan(fc[j])
        d = decide(Facts(units, None, last_up, last_down, forecast_demand=float(fc[j]) if known else None,
                         forecast_level=float(lv[j]) if known else None), hist, p, epoch[j])
        target = units
        fut = mpc.future(j)
        if fut is None:
            target = d.target if d.action is not None else units
        else:
            surprise = forecast != "perfect" and (not known or abs(float(lv[j]) - 1.0) > SURPRISE
                                                  or dem.demand[j] > fut[2] * (1 + SURPRISE))
            if d.action == "up" and (d.trigger == "minimum" or surprise):
                target = d.target
            if j % replan == 0 or d.action == "up":
                r = _regime_at(p, epoch[j], 0)
                last = max(last_up or -math.inf, last_down or -math.inf)
                can_down = (units > max(r.min_units, p.min_units) and r.can_shrink and r.in_window
                            and 100.0 * dem.demand[j] / (units - 1) <= p.shrink_guard_utilization
                            and dem.partitions[j] <= units - 1 and epoch[j] - last >= p.scale_down_cooldown)
                choice = mpc.plan(j, units, fut, can_down)
                if choice is not None and choice > units:
                    target = max(target, choice)
                elif choice is not None and target <= units:
                    target = choice
        if target != units:
            actions += 1
            eff = j + (s.d_up if target > units else s.d_down)
            pending = (eff, target) if eff < n else (n + 1, target)
    crit = dem.k_crit > timeline
    warn = ~crit & (dem.k_warn > timeline)
    return {"unit_hours": float(timeline.sum()) * step_s / 3600.0, "critical_minutes": int(crit.sum()) * step_s / 60,
            "warning_minutes": int(warn.sum()) * step_s / 60, "actions": actions, "plans": mpc.plans}


def analyse(path: Path, policy: Policy, args: argparse.Namespace) -> dict[str, Any]:
    s = setup(path, policy)
    cap, thr = resolve_capacity(None, policy.unit), trigger_thresholds()
    hours = s.trace.step_s / 3600.0
    ours = simulate(s.trace, policy, cap, thr, oracle=True)
    seed = simulate(s.trace, load_policy(name="seed-reactive", unit=policy.unit), cap, thr, oracle=False)
    o = ours.oracle_unit_hours

    def row(uh: float, crit: float | None = None, warn: float | None = None, act: int | None = None) -> dict[str, Any]:
        return {"unit_hours": round(uh, 1), "x_oracle": round(uh / o, 4), "critical_minutes": crit,
                "warning_minutes": warn, "actions": act}

    out: dict[str, Any] = {
        "trace": path.stem, "oracle": {"unit_hours": round(o, 1), "critical_minutes": ours.oracle_critical_minutes},
        "default": row(ours.unit_hours, ours.critical_minutes, ours.warning_minutes, len(ours.actions)),
        "seed-reactive": row(seed.unit_hours, seed.critical_minutes, seed.warning_minutes, len(seed.actions)),
        "guarded": row(guarded(s, minimums=False) * hours),
        "guarded+min": row(guarded(s) * hours),
    }
    for m in MARGINS:
        out[f"guarded+min+{round(100 * m)}%"] = row(guarded(s, m) * hours)
    out["forecast_error_p90_p99"] = [round(x, 3) for x in forecast_error(s)]
    if not args.bounds_only:
        r = mpc_replay(s, args.forecast, args.margin, args.horizon_h, args.replan_s)
        out[f"mpc ({args.forecast}, margin {args.margin:g})"] = {
            **row(r["unit_hours"], r["critical_minutes"], r["warning_minutes"], r["actions"]), "plans": r["plans"]}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("traces", nargs="*", type=Path)
    ap.add_argument("--policy", type=Path)
    ap.add_argument("--policy-name", default="default")
    ap.add_argument("--forecast", choices=("seasonal", "perfect"), default="seasonal")
    ap.add_argument("--margin", type=float, default=0.03, help="the MPC plans for the forecast this much higher")
    ap.add_argument("--horizon-h", type=float, default=6.0, help="hours the MPC plans ahead")
    ap.add_argument("--replan-s", type=float, default=300.0, help="seconds between MPC plans")
    ap.add_argument("--bounds-only", action="store_true", help="skip the MPC replay (fast)")
    ap.add_argument("--format", choices=("table", "json"), default="table")
    args = ap.parse_args(argv)
    policy = load_policy(args.policy) if args.policy else load_policy(name=args.policy_name)
    paths = args.traces or [TRACE_DIR / f"{n}.csv" for n in SHIPPED]
    for path in paths:
        r = analyse(path, policy, args)
        if args.format == "json":
            print(json.dumps(r))
            continue
        e90, e99 = r["forecast_error_p90_p99"]
        print(f"{r['trace']}: oracle {r['oracle']['unit_hours']} unit-hours, critical "
              f"{r['oracle']['critical_minutes']:g} min; forecast error p90 {e90:.3f}, p99 {e99:.3f}")
        print(f"  {'schedule':32s} {'unit_h':>9s} {'x oracle':>9s} {'critical':>9s} {'warning':>9s} {'actions':>8s}")
        for name, v in r.items():
            if not isinstance(v, dict) or "x_oracle" not in v:
                continue

            def cell(x: object) -> str:
                return "-" if x is None else f"{x:g}"

            print(f"  {name:32s} {v['unit_hours']:9.1f} {v['x_oracle']:9.3f} {cell(v['critical_minutes']):>9s} "
                  f"{cell(v['warning_minutes']):>9s} {cell(v['actions']):>8s}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
