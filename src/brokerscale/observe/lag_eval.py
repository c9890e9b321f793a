"""Consumer lag judged from a window of observations: time lag and Burrow-style status.

Pure: histories and `now` are passed in. Time lag is read off the partition's own history of
(time, log-end offset) samples by linear interpolation *between* samples — never extrapolated past
them — so a producer burst cannot turn a few seconds of lag into hours (kafka-lag-exporter's failure).
When the committed offset predates the oldest sample the answer is a lower bound, and says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import NamedTuple

from brokerscale.model.snapshot import LagStatus, PartitionLag
from brokerscale.model.trusted import trusted_builder

# Worst first: the order in which a group's status is taken from its partitions.
_SEVERITY = {
    LagStatus.STOP: 6, LagStatus.STALL: 5, LagStatus.REWIND: 4, LagStatus.WARNING: 3,
    LagStatus.UNKNOWN: 2, LagStatus.NO_OFFSET: 1, LagStatus.OK: 0,
}


_partition_lag = trusted_builder(PartitionLag)  # one per group and partition of every snapshot


class OffsetPoint(NamedTuple):
    """One observation of a partition for one group at time `ts` (Unix seconds). A tuple: a round adds
    one per group and partition (a frozen dataclass costs three times as much to build)."""

    ts: float
    committed: int | None
    log_end: int


class TimeLag(NamedTuple):
    """Seconds behind, and whether that is only a lower bound. A tuple: one is made per partition and
    group of every snapshot (a frozen dataclass costs three times as much to build)."""

    seconds: float
    lower_bound: bool = False


_CAUGHT_UP = TimeLag(0.0)


@dataclass(frozen=True)
class LagThresholds:
    """Optional limits beyond Burrow's rules: lag at or above them is at least a WARNING."""

    max_offsets: int | None = None
    max_seconds: float | None = None


def time_lag(committed: int, now: float, log_end_history: Sequence[tuple[float, int]]) -> TimeLag | None:
    """Seconds since the first record the group has not consumed (offset `committed`) was appended.

    `log_end_history` is (ts, log-end offset), any order. The record at offset C exists once the
    log-end offset exceeds C, so we find when LEO first reached C + 1 and interpolate between the two
    samples around that moment. Returns None with no history; 0 when the group is caught up.
    """
    if not log_end_history:
        return None
    hist = log_end_history if len(log_end_history) == 1 else sorted(log_end_history)
    if committed >= hist[-1][1]:
        return TimeLag(0.0)
    target = committed + 1
    prev: tuple[float, int] | None = None
    for ts, leo in hist:
        if leo >= target:
            if prev is None or prev[1] >= target:
                return TimeLag(max(0.0, now - ts), lower_bound=True)
            t0, l0 = prev
            frac = (target - l0) / (leo - l0)
            produced_at = t0 + frac * (ts - t0)
            return TimeLag(max(0.0, now - produced_at))
        prev = (ts, leo)
    return TimeLag(0.0)  # unreachable: the newest sample is above `committed`


def partition_status(points: Sequence[OffsetPoint], *, group_active: bool | None = None,
                     min_points: int = 3, thresholds: LagThresholds | None = None,
                     lag_seconds: float | None = None) -> tuple[LagStatus, str]:
    """Burrow's window rules on one partition's observations (oldest first), plus optional thresholds.

    OK: lag reached zero somewhere in the window. REWIND: a committed offset went backwards.
    STOP: the group stopped committing: no active members and the offset frozen for 2+ observations.
    STALL: the offset did not move while lag > 0, over the whole window or (Burrow) for longer than it
    was moving in the window.
    WARNING: the offset moves but lag never decreased across the window.
    """
    return _status(_by_time(points), group_active=group_active, min_points=min_points, thresholds=thresholds,
                   lag_seconds=lag_seconds)


def _by_time(points: Sequence[OffsetPoint]) -> Sequence[OffsetPoint]:
    """Oldest first; observations are nearly always added in time order, and sorting 20,000 one- and
    three-element lists twice each is a tenth of a lag snapshot."""
    if len(points) < 2 or all(a.ts <= b.ts for a, b in pairwise(points)):
        return points
    return sorted(points, key=lambda p: p.ts)


def _rewound(pts: Sequence[OffsetPoint]) -> bool:
    """Did a committed offset go backwards (points in time order, all committed)?"""
    return len(pts) > 1 and any(b.committed < a.committed for a, b in pairwise(pts))  # type: ignore[operator]


def _frozen_from(pts: Sequence[OffsetPoint]) -> int:
    """Where the trailing run of observations at the current committed offset starts."""
    last = pts[-1].committed
    i = len(pts) - 1
    while i > 0 and pts[i - 1].committed == last:
        i -= 1
    return i


def _status(pts: Sequence[OffsetPoint], *, group_active: bool | None, min_points: int,
            thresholds: LagThresholds | None, lag_seconds: float | None) -> tuple[LagStatus, str]:
    """`partition_status` of observations already in time order."""
    if not pts or pts[-1].committed is None:
        return LagStatus.NO_OFFSET, "no committed offset: the group has not consumed this partition"
    if len(pts) > 1:
        pts = [p for p in pts if p.committed is not None]
        lags = [max(0, p.log_end - (p.committed or 0)) for p in pts]
    else:  # one observation (every partition of a first round): no comprehension
        only = pts[0].log_end - (pts[0].committed or 0)
        lags = [only if only > 0 else 0]
    if lags[-1] == 0 or (len(pts) >= min_points and 0 in lags):
        status, reason = LagStatus.OK, "lag reached zero in the window"
    elif group_active is False and not _rewound(pts):
        # Lag and membership are both known from one observation: nobody is consuming. Only "growing"
        # (WARNING, STALL) needs a window; a group without members never catches up by itself.
        tail_start = pts[_frozen_from(pts)].ts
        status = LagStatus.STOP
        reason = (f"no active members and lag > 0 (offset unchanged for {pts[-1].ts - tail_start:.0f} s "
                  f"over {len(pts)} observation(s))")
    elif len(pts) < min_points:
        status, reason = LagStatus.UNKNOWN, f"{len(pts)} observation(s) in the window, {min_points} needed"
    else:
        committed = [p.committed or 0 for p in pts]
        # Lag as it stood at each new commit: polling between commits must not fake a decrease.
        moved = zip(pairwise(committed), lags[1:], strict=True)
        at_commits = [lags[0]] + [lag for (a, b), lag in moved if b != a]
        # The trailing run of observations at the current committed offset.
        start = _frozen_from(pts)
        tail_len = len(pts) - start
        frozen_since, now_ts = pts[start].ts, pts[-1].ts
        if any(b < a for a, b in pairwise(committed)):
            status, reason = LagStatus.REWIND, "a committed offset went backwards"
        elif group_active is False and tail_len >= 2:
            status = LagStatus.STOP
            reason = f"the group stopped committing (no active members) {now_ts - frozen_since:.0f} s ago, lag > 0"
        elif tail_len == len(pts) or (tail_len >= min_points and now_ts - frozen_since > frozen_since - pts[0].ts):
            # Burrow: frozen for longer than it was moving in the window (or for the whole window).
            status, reason = LagStatus.STALL, "committed offset did not move while lag > 0"
        elif len(at_commits) >= 2 and all(b >= a for a, b in pairwise(at_commits)):
            status, reason = LagStatus.WARNING, f"lag never decreased over {len(pts)} observations"
        else:
            status, reason = LagStatus.OK, "consumer is making progress"
    if status == LagStatus.OK and thresholds is not None:
        if thresholds.max_offsets is not None and lags[-1] >= thresholds.max_offsets:
            return LagStatus.WARNING, f"lag {lags[-1]} offsets ≥ threshold {thresholds.max_offsets}"
        limit_s = thresholds.max_seconds
        if limit_s is not None and lag_seconds is not None and lag_seconds >= limit_s:
            return LagStatus.WARNING, f"lag {lag_seconds:.1f} s ≥ threshold {thresholds.max_seconds:g} s"
    return status, reason


def evaluate_partition(topic: str, partition: int, points: Sequence[OffsetPoint], *, now: float,
                       log_end_history: Sequence[tuple[float, int]], log_start: int | None = None,
                       group_active: bool | None = None, min_points: int = 3,
                       thresholds: LagThresholds | None = None) -> PartitionLag:
    """Lag in offsets and seconds plus status for one group on one partition.

    A committed offset below the log start offset means retention deleted records the group never
    read: those are reported as `expired_offsets`, and lag is counted from the log start.
    """
    pts = points if len(points) < 2 else _by_time(points)  # one observation: the common case, nothing to sort
    last = pts[-1] if pts else None
    if last is None or last.committed is None:
        return _partition_lag(topic=topic, partition=partition, committed_offset=None,
                              log_end_offset=last.log_end if last else None, log_start_offset=log_start,
                              lag_offsets=None, lag_seconds=None, lag_seconds_lower_bound=False, expired_offsets=0,
                              status=LagStatus.NO_OFFSET, reason="no committed offset: not counted as lag")
    committed = last.committed
    expired = 0
    effective = committed
    if log_start is not None and committed < log_start:
        expired = log_start - committed
        effective = log_start
    lag = last.log_end - effective
    if lag < 0:
        lag = 0
    tl = time_lag(effective, now, log_end_history) if lag > 0 else _CAUGHT_UP
    status, reason = _status(pts, group_active=group_active, min_points=min_points,
                             thresholds=thresholds, lag_seconds=tl.seconds if tl else None)
    if tl is not None and tl.lower_bound:
        reason += "; time lag is a lower bound (offset older than the history)"
    if expired:
        reason += f"; {expired} offsets deleted by retention before they were consumed (not counted as lag)"
    return _partition_lag(topic=topic, partition=partition, committed_offset=committed,
                          log_end_offset=last.log_end, log_start_offset=log_start, lag_offsets=lag,
                          lag_seconds=round(tl.seconds, 3) if tl is not None else None,
                          lag_seconds_lower_bound=bool(tl and tl.lower_bound),
                          expired_offsets=expired, status=status, reason=reason)


def evaluate_partitions(rows: Iterable[tuple[str, int, Sequence[OffsetPoint]]], *, now: float,
                        log_end_histories: Mapping[tuple[str, int], Sequence[tuple[float, int]]],
                        log_starts: Mapping[tuple[str, int], int], group_active: bool | None = None,
                        min_points: int = 3, thresholds: LagThresholds | None = None) -> list[PartitionLag]:
    """`evaluate_partition` for each (topic, partition, points) of one group, in order.

    A first round judges every partition from one observation: that case is decided here inline, as
    `_status` decides it (a tenth of a 20,000-partition snapshot was spent calling through keyword
    arguments and building one-element lists); every other case goes through `evaluate_partition`."""
    out: list[PartitionLag] = []
    append = out.append
    build = _partition_lag
    no_hist: tuple[tuple[float, int], ...] = ()
    bounds: dict[float, TimeLag] = {}  # time_lag of a one-observation history, by its time (one per round)
    # the one-observation verdicts (their texts exactly as `_status` words them)
    stop_reason = "no active members and lag > 0 (offset unchanged for 0 s over 1 observation(s))"
    unknown_reason = f"1 observation(s) in the window, {min_points} needed"
    ok_reason = "lag reached zero in the window"
    general = min_points <= 1 and group_active is not False  # `_status` goes on to the window rules
    max_offsets = thresholds.max_offsets if thresholds is not None else None
    max_seconds = thresholds.max_seconds if thresholds is not None else None
    for topic, partition, points in rows:
        tp = (topic, partition)
        if len(points) != 1 or points[0].committed is None:
            append(evaluate_partition(topic, partition, points, now=now,
                                      log_end_history=log_end_histories.get(tp, no_hist), log_start=log_starts.get(tp),
                                      group_active=group_active, min_points=min_points, thresholds=thresholds))
            continue
        point = points[0]
        committed: int = point.committed  # type: ignore[assignment]  # checked just above
        log_end = point.log_end
        log_start = log_starts.get(tp)
        expired = 0
        effective = committed
        if log_start is not None and committed < log_start:
            expired = log_start - committed
            effective = log_start
        lag = log_end - effective
        if lag < 0:
            lag = 0
        if lag <= 0:
            tl: TimeLag | None = _CAUGHT_UP
        else:
            hist = log_end_histories.get(tp, no_hist)
            if len(hist) == 1 and effective < hist[0][1]:  # one observation, past the offset: a lower bound
                seen_at = hist[0][0]
                tl = bounds.get(seen_at)
                if tl is None:
                    tl = bounds[seen_at] = TimeLag(max(0.0, now - seen_at), lower_bound=True)
            else:
                tl = time_lag(effective, now, hist)
        seen_lag = log_end - committed  # `_status` judges the observation itself, before retention
        if seen_lag <= 0:
            status, reason = LagStatus.OK, ok_reason
        elif group_active is False:
            status, reason = LagStatus.STOP, stop_reason
        elif not general:
            status, reason = LagStatus.UNKNOWN, unknown_reason
        else:
            append(evaluate_partition(topic, partition, points, now=now,
                                      log_end_history=log_end_histories.get(tp, no_hist), log_start=log_start,
                                      group_active=group_active, min_points=min_points, thresholds=thresholds))
            continue
        if status is LagStatus.OK and thresholds is not None:
            shown = seen_lag if seen_lag > 0 else 0
            if max_offsets is not None and shown >= max_offsets:
                status, reason = LagStatus.WARNING, f"lag {shown} offsets ≥ threshold {max_offsets}"
            elif max_seconds is not None and tl is not None and tl.seconds >= max_seconds:
                status, reason = LagStatus.WARNING, f"lag {tl.seconds:.1f} s ≥ threshold {max_seconds:g} s"
        lower = tl is not None and tl.lower_bound
        if lower:
            reason += "; time lag is a lower bound (offset older than the history)"
        if expired:
            reason += f"; {expired} offsets deleted by retention before they were consumed (not counted as lag)"
        append(build(topic=topic, partition=partition, committed_offset=committed, log_end_offset=log_end,
                     log_start_offset=log_start, lag_offsets=lag,
                     lag_seconds=round(tl.seconds, 3) if tl is not None else None, lag_seconds_lower_bound=lower,
                     expired_offsets=expired, status=status, reason=reason))
    return out


def group_status(parts: Sequence[PartitionLag]) -> tuple[LagStatus, str]:
    """The worst partition status; a group whose partitions all lack offsets is NO_OFFSET."""
    if not parts:
        return LagStatus.NO_OFFSET, "no committed offsets"
    worst = max(parts, key=lambda p: _SEVERITY[p.status])
    if worst.status == LagStatus.OK:
        return LagStatus.OK, ""
    n = sum(1 for p in parts if p.status == worst.status)
    where = f"{worst.topic}[{worst.partition}]"
    return worst.status, f"{n} partition(s) {worst.status.value}: {where} {worst.reason}"

