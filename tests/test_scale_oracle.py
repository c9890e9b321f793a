"""The oracle is exact: it equals an exhaustive search over every schedule on small traces."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pytest

from brokerscale.scale.oracle import BIG, schedule, solve, transitions


def exhaustive(k_crit: list[float], lo: int, hi: int, start: int, d_up: int, d_down: int, unit: str,
               step: int | None, shrink_limit: list[float] | None = None) -> tuple[int, int]:
    """Every schedule, explicitly: state = (units, change in flight, when it lands). Step t costs the units
    in effect; after it a change may be asked for if none is in flight; it lands at t + delay."""
    moves: dict[int, list[int]] = {}
    for a, b in transitions(lo, hi, unit, step):
        moves.setdefault(a, []).append(b)
    states: dict[tuple[int, int, int], int] = {(start, 0, -1): 0}
    for t, k in enumerate(k_crit):
        nxt: dict[tuple[int, int, int], int] = {}
        for (u, target, lands), cost in states.items():
            if target and lands == t:
                u, target, lands = target, 0, -1
            c = cost + (BIG if k > u else 0) + u
            options = [(u, target, lands)]
            if not target:
                for v in moves.get(u, []):
                    if v < u and shrink_limit is not None and v < shrink_limit[t]:
                        continue
                    options.append((u, v, t + (d_up if v > u else d_down)))
            for s in options:
                if nxt.get(s, 1 << 62) > c:
                    nxt[s] = c
        states = nxt
    best = min(states.values())
    return best // BIG, best % BIG


@dataclass
class Case:
    k: list[float]
    lo: int
    hi: int
    unit: str
    step: int | None
    d_up: int
    d_down: int
    start: int
    limit: list[float] | None


def random_case(rng: random.Random, *, with_limit: bool) -> Case:
    """A small trace: a random walk with jumps, sometimes above what `hi` can carry; random bounds, steps,
    delays, start and (optionally) a shrink limit."""
    n = rng.randint(20, 45)
    lo, hi = rng.choice([(1, 4), (2, 5), (2, 6), (3, 9)])
    unit = rng.choice(["cku", "broker"])
    step = rng.choice([None, None, 1, 2])
    d_up, d_down = rng.randint(1, 4), rng.randint(1, 5)
    level = rng.uniform(lo, hi + 1)
    k = []
    for _ in range(n):
        level = max(0.2, level + rng.uniform(-0.8, 0.8) + (rng.uniform(1, 3) if rng.random() < 0.05 else 0))
        k.append(round(level, 3))
    start = rng.randint(lo, hi)
    limit = [x * rng.uniform(0.9, 1.3) for x in k] if with_limit else None
    return Case(k, lo, hi, unit, step, d_up, d_down, start, limit)


@pytest.mark.parametrize("seed", range(12))
def test_oracle_matches_exhaustive_search(seed: int) -> None:
    c = random_case(random.Random(seed), with_limit=seed % 3 == 0)
    got = solve(np.array(c.k), c.lo, c.hi, c.start, c.d_up, c.d_down, c.unit, c.step,
                shrink_limit=None if c.limit is None else np.array(c.limit))
    assert (got.critical_steps, got.unit_steps) == exhaustive(c.k, c.lo, c.hi, c.start, c.d_up, c.d_down, c.unit,
                                                              c.step, c.limit)


def test_oracle_prefers_fewer_critical_steps_over_fewer_units() -> None:
    # Load needs 3 units from step 5; asking at step 3 (2-step delay) has them there just in time.
    got = solve(np.array([0.5] * 5 + [2.5] * 5), 1, 4, 1, 2, 2)
    assert (got.critical_steps, got.unit_steps) == (0, 5 * 1 + 5 * 3)
    # Needs 3 units from step 1 but nothing lands before step 2: one critical step is unavoidable, and
    # the oracle pays for more units rather than more critical steps.
    got = solve(np.array([0.5] + [2.5] * 9), 1, 4, 1, 2, 2)
    assert (got.critical_steps, got.unit_steps) == (1, 2 * 1 + 8 * 3)


def _check_feasible(units: list[int], lo: int, hi: int, start: int, d_up: int, d_down: int, unit: str,
                    step: int | None, shrink_limit: list[float] | None) -> None:
    """A schedule a controller could run: starts at `start`, changes by allowed moves, each landing at least
    its delay after the previous landing (or the start), a shrink asked where the guard allowed it."""
    allowed = set(transitions(lo, hi, unit, step))
    prev_u, prev_t = start, 0
    for t, u in enumerate(units):
        if u == prev_u:
            continue
        assert (prev_u, u) in allowed, f"step {t}: {prev_u} -> {u} is not an allowed move"
        d = d_up if u > prev_u else d_down
        assert t - prev_t >= d, f"step {t}: {prev_u} -> {u} lands {t - prev_t} steps after the last change, delay {d}"
        if u < prev_u and shrink_limit is not None:
            assert u >= shrink_limit[t - d], f"step {t}: shrink to {u} asked at {t - d} against the guard"
        prev_u, prev_t = u, t


@pytest.mark.parametrize("seed", range(12))
def test_schedule_is_feasible_and_reaches_the_oracle_cost(seed: int) -> None:
    c = random_case(random.Random(100 + seed), with_limit=seed % 2 == 0)
    k, lo, hi, unit, step, d_up, d_down, start, limit = (c.k, c.lo, c.hi, c.unit, c.step, c.d_up, c.d_down, c.start,
                                                         c.limit)
    arr_limit = None if limit is None else np.array(limit)
    got = schedule(np.array(k), lo, hi, start, d_up, d_down, unit, step, shrink_limit=arr_limit)
    best = solve(np.array(k), lo, hi, start, d_up, d_down, unit, step, shrink_limit=arr_limit)
    units = got.units.tolist()
    assert (got.critical_steps, got.unit_steps) == (best.critical_steps, best.unit_steps)
    assert sum(units) == best.unit_steps, units
    assert sum(1 for x, u in zip(k, units, strict=True) if x > u) == best.critical_steps, units
    _check_feasible(units, lo, hi, start, d_up, d_down, unit, step, limit)


def test_schedule_on_a_shipped_trace_matches_the_simulator_oracle() -> None:
    from brokerscale.scale.demand import resolve_capacity, trigger_thresholds
    from brokerscale.scale.policy import load_policy
    from brokerscale.scale.simulate import initial_units, simulate, steps_for, trace_demand
    from brokerscale.scale.trace import TRACE_DIR, read_trace

    trace = read_trace(TRACE_DIR / "incident-surge.csv")
    pol = load_policy(name="default")
    cap, thr = resolve_capacity(None, "cku"), trigger_thresholds()
    res = simulate(trace, pol, cap, thr, oracle=True, guarded=True)
    dem = trace_demand(trace, cap, thr)
    d_up, d_down = steps_for(pol.delay("up"), trace.step_s), steps_for(pol.delay("down"), trace.step_s)
    start = initial_units(float(dem.k_warn[0]), pol)
    limit = dem.demand * (100.0 / pol.shrink_guard_utilization)
    plain = schedule(dem.k_crit, pol.min_units, pol.cap(), start, d_up, d_down)
    guarded = schedule(dem.k_crit, pol.min_units, pol.cap(), start, d_up, d_down, shrink_limit=limit)
    assert (plain.critical_steps, plain.unit_steps) == (res.oracle_critical_steps, res.oracle_unit_steps)
    assert (guarded.critical_steps, guarded.unit_steps) == (res.guarded_critical_steps, res.guarded_unit_steps)
    assert int((dem.k_crit > plain.units).sum()) == res.oracle_critical_steps
    _check_feasible(guarded.units.tolist(), pol.min_units, pol.cap(), start, d_up, d_down, "cku", None,
                    limit.tolist())
