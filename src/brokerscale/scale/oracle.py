"""The oracle: the cheapest schedule any controller could run, knowing the whole trace in advance.

It answers "how good could a policy possibly be on this trace?", so a policy's unit-hours can be
judged against a hard floor rather than against another heuristic. Exact, by dynamic programming over
time and units, under the same rules a real controller lives with:

- units stay within [min_units, max_units] (the policy's base minimum and its cost cap);
- steps: up by any number of CKUs, or by the broker size class; down by one unit;
- a change requested at step c takes effect at c + delay (up or down) and only one change is in
  flight at a time, so two changes take effect at least the later one's delay apart; the first change
  can take effect no earlier than its delay after the trace starts.

Objective, lexicographic: fewest critical steps first, then fewest unit-steps. Both go into one int64
cost `critical * BIG + units` with BIG larger than any possible unit total.

The recurrence needs no "time since last change" in its state: let A[u, t] be the cheapest cost of
steps [0, t) given a change into u takes effect at t, C[u, t] the prefix sum of u's per-step cost and
M[u, x] = min over t <= x of (A[u, t] - C[u, t]). Then for a change u -> v with delay d,
A[v, t] = min over u of C[u, t] + M[u, t - d], and the answer is min over u of C[u, T] + M[u, T].
Since every delay is at least one step, A over a block of `min delay` steps depends only on M before
the block, so each block is a handful of numpy operations over (units x block).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BIG = 1 << 32
INF = np.int64(1 << 62)


@dataclass(frozen=True)
class OracleResult:
    critical_steps: int
    unit_steps: int


@dataclass(frozen=True)
class OracleSchedule:
    """One cheapest schedule: the units in effect at every step, and its cost (the same as `solve`'s)."""

    units: npt.NDArray[np.int64]
    critical_steps: int
    unit_steps: int


def transitions(lo: int, hi: int, unit: str, step: int | None) -> list[tuple[int, int]]:
    """Allowed (from, to) changes within [lo, hi]: up by the step rule, down by one."""
    from brokerscale.scale.decide import broker_step

    out: list[tuple[int, int]] = []
    for u in range(lo, hi + 1):
        if u > lo:
            out.append((u, u - 1))
        if u == hi:
            continue
        if step is not None:
            out.append((u, min(hi, u + step)))
        elif unit == "broker":
            out.append((u, min(hi, u + broker_step(u))))
        else:
            out.extend((u, v) for v in range(u + 1, hi + 1))
    return out


def solve(k_crit: npt.NDArray[np.float64], lo: int, hi: int, start: int, d_up: int, d_down: int,
          unit: str = "cku", step: int | None = None,
          shrink_limit: npt.NDArray[np.float64] | None = None) -> OracleResult:
    """Fewest critical steps, then fewest unit-steps, over every feasible schedule.

    `k_crit[t]`: step t is critical with u units in effect iff k_crit[t] > u. `start`: units in effect
    at t = 0. Delays are in steps (>= 1). `shrink_limit[t]`, when given, is the shrink guard: a
    scale-down requested at step t is allowed only to a count >= shrink_limit[t].
    """
    n = len(k_crit)
    units = np.arange(lo, hi + 1, dtype=np.int64)
    nu = len(units)
    d_up, d_down = max(1, d_up), max(1, d_down)
    crit = (k_crit[None, :] > units[:, None]).astype(np.int64)
    cost = crit * BIG + units[:, None]
    csum = np.zeros((nu, n + 1), dtype=np.int64)
    np.cumsum(cost, axis=1, out=csum[:, 1:])
    pad = max(d_up, d_down)
    # M with `pad` columns of INF before t = 0: M[:, pad + x] = min over t <= x of A - C.
    m = np.full((nu, n + 1 + pad), INF, dtype=np.int64)
    s = start - lo
    m[s, pad] = 0  # A[start, 0] = 0 and C[:, 0] = 0
    m[:, pad] = np.where(np.arange(nu) == s, 0, INF)
    moves = transitions(lo, hi, unit, step)
    up_src = sorted({a - lo for a, b in moves if b > a})
    any_up = unit == "cku" and step is None  # every smaller count can reach v: a running minimum
    up_dst = [b - lo for a, b in sorted(moves) if b > a]  # one target per source otherwise
    # Sources of one target form a contiguous run (targets never decrease with the source).
    starts = [i for i, v in enumerate(up_dst) if i == 0 or v != up_dst[i - 1]]
    targets = [up_dst[i] for i in starts]
    block = min(d_up, d_down)
    t = 1
    while t <= n:
        e = min(n + 1, t + block)
        a = np.full((nu, e - t), INF, dtype=np.int64)
        if up_src:
            cand = csum[:, t:e] + m[:, pad + t - d_up:pad + e - d_up]
            if any_up:
                a[1:] = np.minimum.accumulate(cand[:-1], axis=0)
            else:
                a[targets] = np.minimum.reduceat(cand[up_src], starts, axis=0)
        if nu > 1:
            cand = csum[1:, t:e] + m[1:, pad + t - d_down:pad + e - d_down]
            if shrink_limit is not None:
                asked = np.arange(t - d_down, e - d_down)
                limit = np.where(asked >= 0, shrink_limit[np.clip(asked, 0, n - 1)], np.inf)
                cand = np.where(units[:-1, None] >= limit[None, :], cand, INF)
            np.minimum(a[:-1], cand, out=a[:-1])
        b = np.where(a >= INF, INF, a - csum[:, t:e])
        b = np.minimum.accumulate(b, axis=1)
        m[:, pad + t:pad + e] = np.minimum(b, m[:, pad + t - 1:pad + t])
        t = e
    finals = csum[:, n] + m[:, pad + n]
    best = int(finals.min())
    return OracleResult(critical_steps=best // BIG, unit_steps=best % BIG)


def schedule(k_crit: npt.NDArray[np.float64], lo: int, hi: int, start: int, d_up: int, d_down: int,
             unit: str = "cku", step: int | None = None,
             shrink_limit: npt.NDArray[np.float64] | None = None) -> OracleSchedule:
    """`solve`, and also WHICH schedule reaches its cost: the units in effect at every step.

    Used to explain a policy's excess over the oracle step by step (`scripts/scale_excess.py`). The same
    recurrence as `solve`, one step at a time with back-pointers, so it is slower (seconds for a 90-day
    trace at 5-minute steps) and keeps (units x steps) arrays: analysis, not the simulator's hot path.
    """
    n = len(k_crit)
    units = np.arange(lo, hi + 1, dtype=np.int64)
    nu = len(units)
    d_up, d_down = max(1, d_up), max(1, d_down)
    cost = (k_crit[None, :] > units[:, None]).astype(np.int64) * BIG + units[:, None]
    csum = np.zeros((nu, n + 1), dtype=np.int64)
    np.cumsum(cost, axis=1, out=csum[:, 1:])
    m = np.full((nu, n + 1), INF, dtype=np.int64)  # M[u, x] = min over t <= x of A[u, t] - C[u, t]
    arg_m = np.zeros((nu, n + 1), dtype=np.int64)  # ... and the t reaching it
    pred = np.full((nu, n + 1), -1, dtype=np.int64)  # A[v, t] came from this unit count
    m[start - lo, 0] = 0
    moves = transitions(lo, hi, unit, step)
    src = np.array([a - lo for a, _ in moves], dtype=np.int64)
    dst = np.array([b - lo for _, b in moves], dtype=np.int64)
    delay = np.where(dst > src, d_up, d_down)
    by_dst = [np.flatnonzero(dst == v) for v in range(nu)]
    for t in range(1, n + 1):
        asked = t - delay
        ok = asked >= 0
        cand = np.full(len(moves), INF, dtype=np.int64)
        prev = m[src[ok], asked[ok]]
        cand[ok] = np.where(prev >= INF, INF, csum[src[ok], t] + prev)
        if shrink_limit is not None:
            down = ok & (dst < src)
            blocked = down.copy()
            blocked[down] = units[dst[down]] < shrink_limit[asked[down]]
            cand[blocked] = INF
        a = np.full(nu, INF, dtype=np.int64)
        for v in range(nu):
            idx = by_dst[v]
            if len(idx):
                k = int(idx[np.argmin(cand[idx])])
                if cand[k] < INF:
                    a[v], pred[v, t] = cand[k], src[k]
        b = np.where(a >= INF, INF, a - csum[:, t])
        better = b < m[:, t - 1]
        m[:, t] = np.where(better, b, m[:, t - 1])
        arg_m[:, t] = np.where(better, t, arg_m[:, t - 1])
    finals = csum[:, n] + m[:, n]
    u = int(np.argmin(finals))
    best = int(finals[u])
    timeline = np.empty(n, dtype=np.int64)
    x, end = n, n  # M[u, x] names where the segment at u starts; it runs until `end`
    while True:
        t0 = int(arg_m[u, x])
        timeline[t0:end] = units[u]
        if t0 == 0:
            break
        p = int(pred[u, t0])
        x, end, u = t0 - (d_up if u > p else d_down), t0, p
    return OracleSchedule(units=timeline, critical_steps=best // BIG, unit_steps=best % BIG)
