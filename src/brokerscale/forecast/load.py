"""Load forecast for the autoscaler: the peak load expected when new capacity would land.

A hospital's load repeats by the day (clinic hours, shift changes, the evening batch). The forecast is
seasonal-naive with a level correction: the peak of the load in the same window one period earlier,
scaled by how the last `level_window` compares with the same stretch one period earlier (a flu-season
week runs hotter than the one before, a holiday cooler). The ratio is clamped to [1/4, 4] so one
odd hour cannot project absurd load. Without a full period of history there is no forecast (None / NaN):
decide then relies on its trend, which sees surges no calendar predicts.

A surge (every sample rising by a fixed fraction a minute: a mass-casualty event) is not a calendar
pattern: `surged_between` / `surge_rows` find where one was under way, so a caller can decline to copy
those hours into tomorrow's forecast.

Pure: histories in, numbers out. `peak_at` (one moment, any sampling: the controller) and
`peak_series` (every step of a regular trace at once: the simulator) compute the same figure.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

MIN_RATIO, MAX_RATIO = 0.25, 4.0


def _ratio(now_level: float, then_level: float) -> float:
    if then_level <= 0:
        return 1.0
    return min(MAX_RATIO, max(MIN_RATIO, now_level / then_level))


def peak_at(ts: Sequence[float], demand: Sequence[float], end: int, now: float, *, period: float, ahead: float,
            horizon: float, level_window: float) -> float | None:
    """Expected peak demand in [now + ahead, now + ahead + horizon], from points [0, end) of a history
    (oldest first). None when the history does not reach back one period plus the level window."""
    if end == 0 or ts[0] > now - period - level_window:
        return None
    lo = bisect.bisect_left(ts, now - period + ahead, 0, end)
    hi = bisect.bisect_right(ts, now - period + ahead + horizon, 0, end)
    if hi <= lo:
        return None
    peak = max(demand[lo:hi])
    a = bisect.bisect_right(ts, now - level_window, 0, end)
    b = bisect.bisect_right(ts, now - period - level_window, 0, end)
    c = bisect.bisect_right(ts, now - period, 0, end)
    if a >= end or c <= b:
        return None
    now_level = sum(demand[a:end]) / (end - a)
    then_level = sum(demand[b:c]) / (c - b)
    return peak * _ratio(now_level, then_level)


def peak_series(demand: npt.NDArray[np.float64], step_s: float, *, period: float, ahead: float, horizon: float,
                level_window: float) -> npt.NDArray[np.float64]:
    """`peak_at` for every step of a regular trace (step i sees rows 0..i); NaN where there is none."""
    n = len(demand)
    out = np.full(n, np.nan)
    p, w = round(period / step_s), max(1, round(level_window / step_s))
    a_lo = math.ceil(round(ahead / step_s, 9))  # the rows whose time lies in [now + ahead, now + ahead + horizon]
    a_hi = math.floor(round((ahead + horizon) / step_s, 9))  # one period back (inclusive ends)
    first = p + w  # rows i - p - w .. exist
    width = a_hi - a_lo + 1
    if a_hi > p or width < 1 or n <= first:
        return out
    windows = np.lib.stride_tricks.sliding_window_view(demand, width).max(axis=1)
    idx = np.arange(first, n)
    peak = windows[idx - p + a_lo]
    csum = np.concatenate(([0.0], np.cumsum(demand)))
    # now level: rows (i - w, i]; then level: rows (i - p - w, i - p]
    now_level = (csum[idx + 1] - csum[idx + 1 - w]) / w
    then_level = (csum[idx + 1 - p] - csum[idx + 1 - p - w]) / w
    ratio = np.where(then_level > 0, np.clip(now_level / np.where(then_level > 0, then_level, 1.0),
                                             MIN_RATIO, MAX_RATIO), 1.0)
    out[first:] = peak * ratio
    return out


def level_ratio_at(ts: Sequence[float], demand: Sequence[float], end: int, now: float, *, period: float,
                   level_window: float) -> float | None:
    """How the last `level_window` compares with the same stretch one period earlier (1.0: today runs
    like yesterday). Decide trusts the calendar over a short-term trend only while this stays near 1."""
    if end == 0 or ts[0] > now - period - level_window:
        return None
    a = bisect.bisect_right(ts, now - level_window, 0, end)
    b = bisect.bisect_right(ts, now - period - level_window, 0, end)
    c = bisect.bisect_right(ts, now - period, 0, end)
    if a >= end or c <= b:
        return None
    return _ratio(sum(demand[a:end]) / (end - a), sum(demand[b:c]) / (c - b))


def level_ratio_series(demand: npt.NDArray[np.float64], step_s: float, *, period: float,
                       level_window: float) -> npt.NDArray[np.float64]:
    """`level_ratio_at` for every step of a regular trace (step i sees rows 0..i); NaN where there is none."""
    n = len(demand)
    out = np.full(n, np.nan)
    p, w = round(period / step_s), max(1, round(level_window / step_s))
    first = p + w
    if n <= first:
        return out
    idx = np.arange(first, n)
    csum = np.concatenate(([0.0], np.cumsum(demand)))
    now_level = (csum[idx + 1] - csum[idx + 1 - w]) / w
    then_level = (csum[idx + 1 - p] - csum[idx + 1 - p - w]) / w
    out[first:] = np.where(then_level > 0, np.clip(now_level / np.where(then_level > 0, then_level, 1.0),
                                                   MIN_RATIO, MAX_RATIO), 1.0)
    return out


def rose_steadily(ts: Sequence[float], demand: Sequence[float], first: int, end: int, rate: float) -> bool:
    """Whether every sample in rows [first, end) rose over the one before by at least `rate` (a fraction of
    the load at row `first`, per minute), over two rises at least: the surge rule of decide's trend."""
    if end - first < 3:
        return False
    base = demand[first] * rate / 60.0
    if base <= 0:
        return False
    return all(demand[j] - demand[j - 1] >= base * (ts[j] - ts[j - 1]) for j in range(first + 1, end))


def surged_between(ts: Sequence[float], demand: Sequence[float], end: int, start: float, stop: float, *,
                   window: float, rate: float) -> bool:
    """Whether the surge rule (`rose_steadily` over the `window` before a row) held at any row of [0, end)
    whose time lies in (start, stop]."""
    lo = bisect.bisect_right(ts, start, 0, end)
    hi = bisect.bisect_right(ts, stop, 0, end)
    return any(rose_steadily(ts, demand, bisect.bisect_left(ts, ts[j] - window, 0, j + 1), j + 1, rate)
               for j in range(lo, hi))


def surge_rows(epoch: npt.NDArray[np.float64], demand: npt.NDArray[np.float64], *, window: float,
               rate: float) -> npt.NDArray[np.bool_]:
    """`rose_steadily` over the `window` before every row at once (the simulator's form)."""
    n = len(demand)
    if n < 3:
        return np.zeros(n, dtype=bool)
    first = np.searchsorted(epoch, epoch - window, side="left")
    rows = np.arange(n)
    base = demand[first] * rate / 60.0
    ok = (rows - first >= 2) & (base > 0)
    rise, dt = np.diff(demand), np.diff(epoch)
    for back in range(int((rows - first).max(initial=0))):
        j = rows - back  # the rise into row j, for every row whose window reaches back past j - 1
        inside = j > first
        ok &= ~inside | (rise[np.maximum(j - 1, 0)] >= base * dt[np.maximum(j - 1, 0)])
    return ok
