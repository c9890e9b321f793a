#!/usr/bin/env python3
"""Where a policy's unit-hours above the oracle's go: a step-by-step comparison with the oracle's schedule.

    .venv/bin/python scripts/scale_excess.py [TRACE.csv ...] [--policy FILE | --policy-name NAME] [--format json]

With no trace, the shipped traces. For each trace it replays the policy (`scale simulate`'s replay),
rebuilds the oracle's cheapest schedule (the same dynamic programme as `brokerscale.scale.oracle`, with
back-pointers; its cost is checked against `solve()`), and splits the policy's unit-hours above the
oracle's, step by step, by what the load was doing then (the analysis sees the whole trace):

- ramp up: the load within one provisioning delay ahead is more than 5 % above the load now — the
  policy's early headroom for a rise;
- after a peak: not rising, and the load within two provisioning delays before was more than 5 % above
  now — scale-down lag (cooldowns, one-unit shrinks, the shrink delay, the 70 % shrink guard);
- plateau: neither — the sizing target against the oracle riding between 80 and 85 %;
- forecast overshoot (taken out of the three above): the forecast the policy saw was more than 25 %
  above the load that came (a one-off incident repeated the next day, a quieter day than last week).

Each bucket shows the unit-hours above the oracle (steps where the policy has more units) and below it
(fewer: the oracle provisions ahead too), net, and as a share of the oracle's unit-hours; then two
parts of the net that no policy that keeps the house rules can recover: `guard`, the unit-hours the
oracle itself needs more when it must obey the 70 % shrink guard (a scale-down only where the load at
the request fits 70 % of the smaller size), and `overload`, steps critical at any size (over the cost
cap), where the oracle drops units because those minutes are critical anyway. Last, the same policy
replayed with a perfect forecast (decide is told the peak of the load that actually came in the
forecast's window): what is left above the oracle then is the cost of the policy's rules (trigger and
sizing margins, cooldowns, one-unit shrinks, the shrink guard), not of forecast error.

`--causes` splits the same excess by what the policy itself said, against the oracle and against the
oracle held to the 70 % shrink guard. The policy is replayed asking decide() at every step (the same
timeline as the simulator's, checked); each step with more units than the reference is charged to
- "scale-up ahead": the reference reaches as many units within two provisioning delays (the margin a
  policy that cannot see the future keeps before a rise);
- otherwise to the policy's decision one scale-down delay earlier, when a shrink would have had to be
  asked for to be in effect then: a change in flight (a scale-up, or the one-unit shrink before: the
  shrinks of a decay go one at a time), the shrink guard (the load after removing one unit over 70 %,
  or over the scale-down threshold), the scale-down cooldown, the minimum of clinic hours or a season,
  the forecast (a projected rise), the trend (a rise that would pass the shrink guard when the shrink
  lands), the dip guard, a scale-up decided then ("scale-up too big or early").
Steps with fewer units than the reference (it provisions ahead) are shown apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from brokerscale.scale.decide import Decision, Facts, LoadHistory, decide
from brokerscale.scale.demand import resolve_capacity, trigger_thresholds
from brokerscale.scale.oracle import schedule
from brokerscale.scale.policy import Policy, load_policy
from brokerscale.scale.simulate import initial_units, policy_forecast, simulate, steps_for, trace_demand
from brokerscale.scale.trace import TRACE_DIR, LoadTrace, read_trace

SHIPPED = ("clinic-week", "flu-season", "incident-surge")
BUCKETS = ("ramp up", "plateau", "after a peak", "forecast overshoot")


def _cause(d: Decision) -> str:
    """The rule that held (or moved) the policy at one step, from decide()'s reason."""
    if d.action == "up":
        return "scale-up too big or early"
    if d.action == "down":
        return "shrink decided"
    w = d.why
    for needle, name in (("shrink guard", "70 % shrink guard"), ("minimum", "clinic-hours / season minimum"),
                         ("within thresholds", "70 % shrink guard"), ("scale-down cooldown", "scale-down cooldown"),
                         ("forecast load would be", "forecast: projected rise"), ("rising", "trend: rising"),
                         ("dip in peak hours", "dip guard"), ("scale-up cooldown", "scale-up cooldown")):
        if needle in w:
            return name
    return "other"


def step_causes(trace: LoadTrace, policy: Policy, res_units: np.ndarray, demand: Any) -> list[str]:
    """The policy's rule at every step: simulate()'s replay asking decide() at each one (slower than the
    simulator's screen; the timeline must be the simulator's)."""
    n = len(trace)
    d_up, d_down = steps_for(policy.delay("up"), trace.step_s), steps_for(policy.delay("down"), trace.step_s)
    units = initial_units(float(demand.k_warn[0]), policy)
    epoch = trace.epoch.tolist()
    hist = LoadHistory(ts=epoch, demand=demand.demand.tolist(), dimension=demand.dimension,
                       partitions=demand.partitions.tolist(), end=0)
    fc_a, lv_a = policy_forecast(policy, demand.demand, trace.step_s)
    fc, lv = fc_a.tolist(), lv_a.tolist()
    out = [""] * n
    last_up: float | None = None
    last_down: float | None = None
    pending: tuple[int, int, str] | None = None  # (in effect at, units, direction)
    for j in range(n):
        if pending is not None and j >= pending[0]:
            units = pending[1]
            last_up, last_down = (epoch[j], last_down) if pending[2] == "up" else (last_up, epoch[j])
            pending = None
        if units != res_units[j]:
            raise SystemExit(f"{trace.source}: the step-by-step replay left the simulator's timeline at row {j}")
        if pending is not None:
            out[j] = f"in flight: {'scale-up' if pending[2] == 'up' else 'the shrink before'}"
            continue
        hist.end = j + 1
        seen = fc[j] == fc[j]  # NaN: no forecast yet
        d = decide(Facts(units, None, last_up, last_down, forecast_demand=fc[j] if seen else None,
                         forecast_level=lv[j] if seen else None), hist, policy, epoch[j])
        out[j] = _cause(d)
        if d.action is not None and d.target != units:
            pending = (j + (d_up if d.action == "up" else d_down), d.target, d.action)
    return out


def split_causes(units: np.ndarray, ref: np.ndarray, causes: list[str], d_up: int, d_down: int,
                 hours: float) -> dict[str, float]:
    """Unit-hours above `ref` charged to a cause (see the module's docstring), largest first."""
    acc: dict[str, float] = {}
    for t in range(len(units)):
        diff = int(units[t] - ref[t])
        if diff == 0:
            continue
        if diff < 0:
            key = "(below: the reference provisions ahead)"
        elif ref[t:t + 2 * d_up + 1].max() >= units[t]:
            key = "scale-up ahead (within 2 delays)"
        else:
            key = causes[max(0, t - d_down)]
            key = "scale-up too big or early" if key == "in flight: scale-up" else key
        acc[key] = acc.get(key, 0.0) + diff * hours
    return {k: round(v, 1) for k, v in sorted(acc.items(), key=lambda kv: -abs(kv[1]))}


def analyse(trace_path: Path, policy: Policy, causes: bool = False) -> dict[str, Any]:
    trace = read_trace(trace_path)
    cap, thr = resolve_capacity(None, policy.unit), trigger_thresholds()
    res = simulate(trace, policy, cap, thr, oracle=True)
    dem = trace_demand(trace, cap, thr)
    d_up, d_down = steps_for(policy.delay("up"), trace.step_s), steps_for(policy.delay("down"), trace.step_s)
    start = initial_units(float(dem.k_warn[0]), policy)
    step = None if policy.scale_up_step == "auto" else int(policy.scale_up_step)
    best = schedule(dem.k_crit, policy.min_units, policy.cap(), start, d_up, d_down, policy.unit, step)
    if (best.critical_steps, best.unit_steps) != (res.oracle_critical_steps, res.oracle_unit_steps):
        raise SystemExit(f"{trace_path}: the oracle's schedule does not reach the oracle's cost")
    orc = best.units
    g = schedule(dem.k_crit, policy.min_units, policy.cap(), start, d_up, d_down, policy.unit, step,
                 shrink_limit=dem.demand * (100.0 / policy.shrink_guard_utilization))
    guarded = g.units
    d = dem.demand
    n = len(d)
    perfect = None
    ahead_rows, back_rows = d_up, 2 * d_up
    fut = np.array([d[i:min(n, i + ahead_rows + 1)].max() for i in range(n)])
    past = np.array([d[max(0, i - back_rows):i + 1].max() for i in range(n)])
    bucket = np.where(fut > 1.05 * d, 0, np.where(past > 1.05 * d, 2, 1))
    if policy.forecast is not None:
        f = policy.forecast
        fc = policy_forecast(policy, d, trace.step_s)[0]
        # the peak of the load that actually came in the forecast's window (the trace's last row past its end)
        a_lo = steps_for(policy.forecast_ahead(), trace.step_s)
        a_hi = a_lo + int(f.horizon // trace.step_s)
        came = np.array([d[min(n - 1, i + a_lo):min(n, i + a_hi + 1)].max() for i in range(n)])
        with np.errstate(invalid="ignore"):
            over = fc > 1.25 * came
        # The units in effect at a step were set by the action before; carry an overshoot forward over the
        # provisioning delay and the segment the policy holds after it (until its units next change).
        seg_over = np.zeros(n, dtype=bool)
        changes = np.flatnonzero(np.diff(res.units)) + 1
        bounds = [0, *changes.tolist(), n]
        for k in range(len(bounds) - 1):
            lo_i, hi_i = bounds[k], bounds[k + 1]
            asked = max(0, lo_i - d_up)
            seg_over[lo_i:hi_i] = over[asked:lo_i + 1].any() or over[lo_i:hi_i].any()
        bucket = np.where(seg_over & (res.units > orc), 3, bucket)
        perfect = simulate(trace, policy, cap, thr, oracle=False, forecast_series=came)
    hours = trace.step_s / 3600.0
    by_cause = None
    if causes:
        per_step = step_causes(trace, policy, res.units, dem)
        by_cause = {"vs_oracle": split_causes(res.units, orc, per_step, d_up, d_down, hours),
                    "vs_guarded_oracle": split_causes(res.units, guarded, per_step, d_up, d_down, hours)}
    diff = (res.units - orc).astype(np.float64) * hours
    guard_diff = (guarded - orc).astype(np.float64) * hours
    overload = dem.k_crit > policy.cap()  # critical at any size: the oracle may as well shrink meanwhile
    oracle_h = res.oracle_unit_hours
    rows = {}
    for b, name in enumerate(BUCKETS):
        sel = bucket == b
        above, below = float(diff[sel & (diff > 0)].sum()), float(diff[sel & (diff < 0)].sum())
        rows[name] = {"above": round(above, 1), "below": round(below, 1), "net": round(above + below, 1),
                      "share_of_oracle": round((above + below) / oracle_h, 4), "steps": int(sel.sum()),
                      "of_which_shrink_guard": round(float(guard_diff[sel].sum()), 1),
                      "of_which_overload": round(float(diff[sel & overload].sum()), 1)}
    return {"trace": trace_path.stem, "policy": policy.name, "unit_hours": round(res.unit_hours, 1),
            "oracle_unit_hours": round(oracle_h, 1), "ratio": round(res.unit_hours / oracle_h, 4),
            "guarded_oracle_unit_hours": round(g.unit_steps * hours, 1),
            "critical_minutes": res.critical_minutes, "oracle_critical_minutes": res.oracle_critical_minutes,
            "actions": len(res.actions), "buckets": rows, "causes": by_cause,
            "perfect_forecast": None if perfect is None else {
                "unit_hours": round(perfect.unit_hours, 1), "ratio": round(perfect.unit_hours / oracle_h, 4),
                "critical_minutes": perfect.critical_minutes}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("traces", nargs="*", type=Path)
    ap.add_argument("--policy", type=Path)
    ap.add_argument("--policy-name", default="default")
    ap.add_argument("--format", choices=("table", "json"), default="table")
    ap.add_argument("--causes", action="store_true",
                    help="also split the excess by the rule that held the policy (asks decide() at every step)")
    args = ap.parse_args(argv)
    policy = load_policy(args.policy) if args.policy else load_policy(name=args.policy_name)
    paths = args.traces or [TRACE_DIR / f"{n}.csv" for n in SHIPPED]
    out = [analyse(p, policy, args.causes) for p in paths]
    if args.format == "json":
        json.dump(out, sys.stdout, indent=2)
        print()
        return 0
    for r in out:
        print(f"{r['trace']}: {r['policy']} {r['unit_hours']} unit-hours = {r['ratio']:.3f} x the oracle's "
              f"{r['oracle_unit_hours']} (oracle with the 70 % shrink guard: {r['guarded_oracle_unit_hours']}); "
              f"critical {r['critical_minutes']:g} min (oracle {r['oracle_critical_minutes']:g}), "
              f"{r['actions']} actions")
        pf = r["perfect_forecast"]
        if pf:
            print(f"  the same policy with a perfect forecast (the peak of the load that came): {pf['unit_hours']} "
                  f"= {pf['ratio']:.3f} x the oracle, critical {pf['critical_minutes']:g} min")
        print(f"  {'regime':20s} {'above':>8s} {'below':>8s} {'net':>8s} {'x oracle':>9s} {'steps':>7s} "
              f"{'guard':>7s} {'overload':>8s}")
        for name, b in r["buckets"].items():
            print(f"  {name:20s} {b['above']:8.1f} {b['below']:8.1f} {b['net']:8.1f} "
                  f"{b['share_of_oracle']:+9.3f} {b['steps']:7d} {b['of_which_shrink_guard']:7.1f} "
                  f"{b['of_which_overload']:8.1f}")
        for ref, split in (r["causes"] or {}).items():
            print(f"  by cause, {ref.replace('_', ' ')} (unit-hours, x the oracle):")
            for name, uh in split.items():
                print(f"    {name:42s} {uh:8.1f} {uh / r['oracle_unit_hours']:+8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
