"""The oracle is exact: it equals an exhaustive search over every schedule on small traces."""

from __future__ import annotations

import random

import numpy as np
import pytest

from brokerscale.scale.oracle import BIG, solve, transitions


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


@pytest.mark.parametrize("seed", range(12))
def test_oracle_matches_exhaustive_search(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(20, 45)
    lo, hi = rng.choice([(1, 4), (2, 5), (2, 6), (3, 9)])
    unit = rng.choice(["cku", "broker"])
    step = rng.choice([None, None, 1, 2])
    d_up, d_down = rng.randint(1, 4), rng.randint(1, 5)
    level = rng.uniform(lo, hi + 1)
    k = []
    for _ in range(n):  # a random walk with jumps, sometimes above what hi can carry
        level = max(0.2, level + rng.uniform(-0.8, 0.8) + (rng.uniform(1, 3) if rng.random() < 0.05 else 0))
        k.append(round(level, 3))
    start = rng.randint(lo, hi)
    limit = [x * rng.uniform(0.9, 1.3) for x in k] if seed % 3 == 0 else None
    got = solve(np.array(k), lo, hi, start, d_up, d_down, unit, step,
                shrink_limit=None if limit is None else np.array(limit))
    assert (got.critical_steps, got.unit_steps) == exhaustive(k, lo, hi, start, d_up, d_down, unit, step, limit)


def test_oracle_prefers_fewer_critical_steps_over_fewer_units() -> None:
    # Load needs 3 units from step 5; asking at step 3 (2-step delay) has them there just in time.
    got = solve(np.array([0.5] * 5 + [2.5] * 5), 1, 4, 1, 2, 2)
    assert (got.critical_steps, got.unit_steps) == (0, 5 * 1 + 5 * 3)
    # Needs 3 units from step 1 but nothing lands before step 2: one critical step is unavoidable, and
    # the oracle pays for more units rather than more critical steps.
    got = solve(np.array([0.5] + [2.5] * 9), 1, 4, 1, 2, 2)
    assert (got.critical_steps, got.unit_steps) == (1, 2 * 1 + 8 * 3)
