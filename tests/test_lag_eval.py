"""Lag core: time-lag interpolation (never extrapolated) and Burrow-style window rules."""

from __future__ import annotations

import pytest

from brokerscale.model.snapshot import LagStatus
from brokerscale.observe.lag_eval import (
    LagThresholds,
    OffsetPoint,
    evaluate_partition,
    evaluate_partitions,
    group_status,
    partition_status,
    time_lag,
)


def test_time_lag_interpolates_between_samples() -> None:
    # LEO grows 100 offsets/s from t=0. Offset 450 was appended when LEO reached 451, at t = 4.51.
    hist = [(float(t), 100 * t) for t in range(0, 11)]
    tl = time_lag(450, now=10.0, log_end_history=hist)
    assert tl is not None and not tl.lower_bound
    assert tl.seconds == pytest.approx(10.0 - 4.51)


def test_time_lag_burst_does_not_jump() -> None:
    # Idle for 100 s, then a burst of 10,000 records in the last second. A consumer 10 records behind
    # is behind by less than a second of real time, whatever the average rate says.
    hist = [(0.0, 0), (50.0, 0), (100.0, 0), (101.0, 10_000)]
    tl = time_lag(9_990, now=101.0, log_end_history=hist)
    assert tl is not None
    assert tl.seconds < 1.0


def test_time_lag_older_than_history_is_a_lower_bound() -> None:
    hist = [(100.0, 1000), (110.0, 2000)]
    tl = time_lag(500, now=110.0, log_end_history=hist)
    assert tl is not None and tl.lower_bound
    assert tl.seconds == pytest.approx(10.0)


def test_time_lag_caught_up_and_no_history() -> None:
    tl = time_lag(2000, now=5.0, log_end_history=[(0.0, 1000), (5.0, 2000)])
    assert tl is not None and tl.seconds == 0.0
    assert time_lag(10, now=5.0, log_end_history=[]) is None


def _pts(rows: list[tuple[float, int | None, int]]) -> list[OffsetPoint]:
    return [OffsetPoint(ts, c, leo) for ts, c, leo in rows]


def test_status_ok_when_lag_reaches_zero_in_window() -> None:
    pts = _pts([(0, 100, 150), (1, 150, 150), (2, 160, 200), (3, 190, 260)])
    assert partition_status(pts)[0] == LagStatus.OK


def test_status_warning_when_lag_never_decreases() -> None:
    pts = _pts([(0, 100, 150), (1, 130, 200), (2, 160, 250), (3, 190, 300)])
    status, reason = partition_status(pts)
    assert status == LagStatus.WARNING
    assert "never decreased" in reason


def test_status_polls_between_commits_do_not_fake_progress() -> None:
    # Commits every 2 observations: between commits lag grows, at commits it grows too -> WARNING.
    pts = _pts([(0, 100, 150), (1, 100, 200), (2, 180, 250), (3, 180, 300), (4, 260, 350)])
    assert partition_status(pts)[0] == LagStatus.WARNING


def test_status_ok_when_consumer_gains() -> None:
    pts = _pts([(0, 100, 200), (1, 190, 250), (2, 260, 280), (3, 290, 300)])
    assert partition_status(pts)[0] == LagStatus.OK


def test_status_stall_and_stop() -> None:
    pts = _pts([(0, 100, 150), (1, 100, 200), (2, 100, 250)])
    assert partition_status(pts, group_active=True)[0] == LagStatus.STALL
    assert partition_status(pts, group_active=False)[0] == LagStatus.STOP


def test_status_rewind() -> None:
    pts = _pts([(0, 500, 600), (1, 100, 650), (2, 150, 700)])
    assert partition_status(pts)[0] == LagStatus.REWIND


def test_status_unknown_with_too_few_points_and_no_offset() -> None:
    assert partition_status(_pts([(0, 100, 150)]))[0] == LagStatus.UNKNOWN
    assert partition_status(_pts([(0, None, 150)]))[0] == LagStatus.NO_OFFSET


def test_thresholds_raise_ok_to_warning() -> None:
    pts = _pts([(0, 100, 150), (1, 150, 150), (2, 1000, 5000)])
    assert partition_status(pts)[0] == LagStatus.OK
    st, reason = partition_status(pts, thresholds=LagThresholds(max_offsets=1000))
    assert st == LagStatus.WARNING and "threshold" in reason
    st, _ = partition_status(pts, thresholds=LagThresholds(max_seconds=30), lag_seconds=45.0)
    assert st == LagStatus.WARNING
    st, _ = partition_status(pts, thresholds=LagThresholds(max_seconds=60), lag_seconds=45.0)
    assert st == LagStatus.OK


def test_expired_offsets_are_not_lag() -> None:
    # Retention deleted up to offset 5,000; the group last committed 1,000.
    pts = _pts([(0, 1000, 9000), (1, 1000, 9100), (2, 1000, 9200)])
    p = evaluate_partition("clinical.adt", 0, pts, now=2.0, log_end_history=[(0, 9000), (1, 9100), (2, 9200)],
                           log_start=5000, group_active=False)
    assert p.expired_offsets == 4000
    assert p.lag_offsets == 4200
    assert "retention" in p.reason


def test_no_committed_offset_is_not_lag() -> None:
    p = evaluate_partition("clinical.adt", 1, _pts([(0, None, 300)]), now=0.0, log_end_history=[(0, 300)])
    assert p.status == LagStatus.NO_OFFSET
    assert p.lag_offsets is None


def test_group_status_is_worst_partition() -> None:
    a = evaluate_partition("t", 0, _pts([(0, 10, 10), (1, 20, 20), (2, 30, 30)]), now=2.0,
                           log_end_history=[(0, 10), (1, 20), (2, 30)])
    b = evaluate_partition("t", 1, _pts([(0, 10, 50), (1, 10, 60), (2, 10, 70)]), now=2.0,
                           log_end_history=[(0, 50), (1, 60), (2, 70)], group_active=False)
    status, reason = group_status([a, b])
    assert status == LagStatus.STOP
    assert "t[1]" in reason
    assert group_status([a])[0] == LagStatus.OK
    assert group_status([])[0] == LagStatus.NO_OFFSET


def test_stop_after_moving_when_members_are_gone() -> None:
    # Consumed for 3 observations, then the consumer died: the last 2 observations are frozen.
    pts = _pts([(0, 100, 150), (1, 130, 200), (2, 160, 250), (3, 160, 300), (4, 160, 350)])
    assert partition_status(pts, group_active=False)[0] == LagStatus.STOP
    # Members still there, frozen only briefly: not yet a stall (Burrow's rule), lag still growing.
    assert partition_status(pts, group_active=True)[0] == LagStatus.WARNING


def test_stall_when_frozen_longer_than_it_moved() -> None:
    pts = _pts([(0, 100, 150), (1, 130, 200), (2, 130, 250), (3, 130, 300), (4, 130, 350)])
    assert partition_status(pts, group_active=True)[0] == LagStatus.STALL


def test_group_without_members_and_with_lag_is_stop_from_the_first_observation() -> None:
    # Reported: 0 members, 42,000 behind, one `check --no-history` (two observations) said OK.
    one = [OffsetPoint(100.0, 0, 42_000)]
    status, reason = partition_status(one, group_active=False)
    assert status == LagStatus.STOP and "no active members" in reason
    two = [OffsetPoint(100.0, 0, 42_000), OffsetPoint(105.0, 0, 42_000)]
    assert partition_status(two, group_active=False)[0] == LagStatus.STOP
    # Membership unknown or present: growing still needs the window.
    assert partition_status(two, group_active=None)[0] == LagStatus.UNKNOWN
    assert partition_status(two, group_active=True)[0] == LagStatus.UNKNOWN
    # Caught up without members is fine, and a rewind is still reported as one.
    assert partition_status([OffsetPoint(100.0, 42_000, 42_000)], group_active=False)[0] == LagStatus.OK
    rewound = [OffsetPoint(100.0, 500, 42_000), OffsetPoint(105.0, 0, 42_000), OffsetPoint(110.0, 0, 42_000)]
    assert partition_status(rewound, group_active=False)[0] == LagStatus.REWIND


@pytest.mark.parametrize("active", [True, False, None])
@pytest.mark.parametrize("min_points", [1, 3])
@pytest.mark.parametrize("thresholds", [None, LagThresholds(max_offsets=5), LagThresholds(max_seconds=2.0),
                                        LagThresholds(max_offsets=1_000, max_seconds=1_000.0)])
def test_a_group_judged_at_once_equals_each_partition_judged_alone(
        active: bool | None, min_points: int, thresholds: LagThresholds | None) -> None:
    # evaluate_partitions decides one-observation partitions inline: every case must come out exactly as
    # evaluate_partition words it (caught up, behind, behind past retention, history dating it or only
    # bounding it, no history, no committed offset, several observations).
    now = 100.0
    rows = [
        ("t", 0, [OffsetPoint(now, 50, 50)]),  # caught up
        ("t", 1, [OffsetPoint(now, 40, 50)]),  # behind, history dates it
        ("t", 2, [OffsetPoint(now, 40, 50)]),  # behind, one observation: a lower bound
        ("t", 3, [OffsetPoint(now, 5, 50)]),  # behind past the log start
        ("t", 4, [OffsetPoint(now, 3, 8)]),  # below the log start and caught up from it
        ("t", 5, [OffsetPoint(now, 40, 50)]),  # no history at all
        ("t", 6, [OffsetPoint(now, None, 50)]),  # never committed
        ("t", 7, []),
        ("t", 8, [OffsetPoint(90.0, 30, 45), OffsetPoint(95.0, 35, 48), OffsetPoint(now, 40, 50)]),
        ("t", 9, [OffsetPoint(now, 60, 50)]),  # committed past the log end (a truncated log)
        ("t", 10, [OffsetPoint(now, 45, 50)]),  # one older observation, not past the offset
        ("t", 11, [OffsetPoint(now, 40, 50)]),  # one older observation past the offset: a lower bound
        ("t", 12, [OffsetPoint(now, 41, 50)]),  # the same observation time as t[11]
    ]
    histories = {("t", 0): [(now, 50)], ("t", 1): [(90.0, 30), (95.0, 45), (now, 50)], ("t", 2): [(now, 50)],
                 ("t", 3): [(80.0, 20), (now, 50)], ("t", 4): [(now, 8)], ("t", 6): [(now, 50)],
                 ("t", 8): [(90.0, 45), (95.0, 48), (now, 50)], ("t", 9): [(now, 50)], ("t", 10): [(90.0, 45)],
                 ("t", 11): [(80.0, 50)], ("t", 12): [(80.0, 50)]}
    starts = {("t", 3): 10, ("t", 4): 9}
    together = evaluate_partitions(rows, now=now, log_end_histories=histories, log_starts=starts,
                                   group_active=active, min_points=min_points, thresholds=thresholds)
    alone = [evaluate_partition(t, p, pts, now=now, log_end_history=histories.get((t, p), ()),
                                log_start=starts.get((t, p)), group_active=active, min_points=min_points,
                                thresholds=thresholds) for t, p, pts in rows]
    assert [p.model_dump() for p in together] == [p.model_dump() for p in alone]
    assert len({p.status for p in together}) >= 3  # the cases really differ
