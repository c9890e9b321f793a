"""Offset history: the store round-trip, and groups whose partitions have no committed offset."""

from __future__ import annotations

from pathlib import Path

from brokerscale.model.snapshot import LagStatus, PartitionState, TopicLoad
from brokerscale.observe.kafka_source import AdminView, GroupInfo
from brokerscale.observe.lag_history import COMMITTED_METRIC, LEO_METRIC, OffsetHistory, lag_snapshot


def _view(ts: float, leo: list[int], committed: dict[int, int | None], members: int = 1) -> AdminView:
    parts = [PartitionState(partition=i, leader=1, replicas=[1], isr=[1], log_start_offset=0, log_end_offset=v)
             for i, v in enumerate(leo)]
    return AdminView(ts=ts, cluster_id="x", brokers=[], topics=[TopicLoad(name="clinical.adt", partitions=parts)],
                     groups={"billing-etl": GroupInfo("billing-etl", "Stable" if members else "Empty", members,
                                                      None, "consumer", {"clinical.adt": members})},
                     committed={"billing-etl": {("clinical.adt", p): c for p, c in committed.items()}})


def test_lag_snapshot_warning_and_no_offset_partition() -> None:
    hist = OffsetHistory()
    views = [_view(float(t), [100 * t + 100, 0], {0: 40 * t}) for t in range(4)]
    for v in views:
        hist.add_view(v)
    (g,) = lag_snapshot(hist, views[-1])
    by = {p.partition: p for p in g.partitions}
    assert by[0].status == LagStatus.WARNING
    assert by[0].lag_offsets == 400 - 120
    assert by[1].status == LagStatus.NO_OFFSET and by[1].lag_offsets is None  # assigned, never committed
    assert g.status == LagStatus.WARNING and g.lag_offsets == 280


def test_history_round_trips_through_the_store(tmp_path: Path) -> None:
    from brokerscale.store import open_store

    store = open_store(str(tmp_path / "h.db"))
    writer = OffsetHistory()
    views = [_view(1000.0 + t, [100 * t + 100], {0: 40 * t}) for t in range(4)]
    for v in views[:3]:
        writer.add_view(v)
        store.write_samples(writer.to_samples("c1", v))
    reader = OffsetHistory()
    reader.add_samples(store.read_samples("c1", LEO_METRIC), store.read_samples("c1", COMMITTED_METRIC))
    assert reader.leo == writer.leo
    assert reader.points["billing-etl"] == writer.points["billing-etl"]
    reader.add_view(views[3])
    (g,) = lag_snapshot(reader, views[3])
    assert g.status == LagStatus.WARNING  # four observations, three of them from the store
    # Time lag: committed 120 was appended when LEO reached 121, between t=1000 (100) and t=1001 (200).
    assert g.partitions[0].lag_seconds is not None
    assert abs(g.partitions[0].lag_seconds - (1003.0 - 1000.21)) < 1e-6
    store.close()


def test_prune_forgets_only_observations_before_the_window() -> None:
    hist = OffsetHistory()
    for t in range(4):
        hist.add_view(_view(float(t * 10), [100 * t + 100, 5], {0: 40 * t, 1: 5}))
    tp = ("clinical.adt", 0)
    hist.add_log_end_points(tp, [(5.0, 150)])  # a dated bracket lands out of time order, as dating adds them
    hist.prune(since=15.0)
    assert hist.leo[tp] == [(20.0, 300), (30.0, 400)]
    assert [p.ts for p in hist.points["billing-etl"][tp]] == [20.0, 30.0]
    hist.prune(since=15.0)  # nothing older left: the same lists
    assert hist.leo[tp] == [(20.0, 300), (30.0, 400)]
    assert [(p.ts, p.committed) for p in hist.points["billing-etl"][("clinical.adt", 1)]] == [(20.0, 5), (30.0, 5)]


def test_prune_skips_a_recent_history_and_still_forgets_old_dated_points() -> None:
    hist = OffsetHistory()
    for t in (20, 30):
        hist.add_view(_view(float(t), [100 * t, 5], {0: 40 * t, 1: 5}))
    tp = ("clinical.adt", 0)
    before = hist.leo[tp]
    hist.prune(since=15.0)  # everything is recent: the very same lists are kept
    assert hist.leo[tp] is before and hist.leo[tp] == [(20.0, 2000), (30.0, 3000)]
    hist.add_log_end_points(tp, [(3.0, 700), (20.0, 2000)])  # dated long ago (and one already known)
    assert hist.leo[tp] == [(20.0, 2000), (30.0, 3000), (3.0, 700)]
    hist.prune(since=15.0)
    assert hist.leo[tp] == [(20.0, 2000), (30.0, 3000)]
    hist.prune(since=25.0)  # the window moved on: the first round's observations go too
    assert hist.leo[tp] == [(30.0, 3000)]
    assert [p.ts for p in hist.points["billing-etl"][tp]] == [30.0]


class _DatedLater:
    """Log-end points for partition 1 that arrive only when `finish` is called (as the append-time search's do)."""

    def __init__(self, history: OffsetHistory, points: list[tuple[float, int]]) -> None:
        self.history, self.points, self.calls = history, points, 0
        self.tps = {("clinical.adt", 1)}

    def finish(self) -> None:
        self.calls += 1
        self.history.add_log_end_points(("clinical.adt", 1), self.points)


def test_partitions_still_being_dated_are_judged_once_their_history_is_in() -> None:
    """The append-time search runs while the other partitions are judged: the partitions it dates are
    judged after it, and the group is exactly as if everything had been judged after it."""
    now = 1000.0
    view = _view(now, [500, 300, 200], {0: 400, 1: 100, 2: 150})
    dated = [(880.0, 100), (881.0, 101)]  # record 100 of partition 1 was appended at 880-881 s

    history = OffsetHistory()
    history.add_view(view)
    later = _DatedLater(history, dated)
    (g,) = lag_snapshot(history, view, min_points=1, pending=later)

    complete = OffsetHistory()
    complete.add_view(view)
    complete.add_log_end_points(("clinical.adt", 1), dated)
    (expected,) = lag_snapshot(complete, view, min_points=1)

    assert later.calls == 1
    assert g == expected and [p.partition for p in g.partitions] == [0, 1, 2]
    p1 = g.partitions[1]
    assert not p1.lag_seconds_lower_bound and p1.lag_seconds is not None and 119 <= p1.lag_seconds <= 120
    (undated,) = lag_snapshot(_fresh(view), view, min_points=1)
    assert undated.partitions[1].lag_seconds_lower_bound  # what judging it before the search would have said


def _fresh(view: AdminView) -> OffsetHistory:
    history = OffsetHistory()
    history.add_view(view)
    return history


def test_log_ends_then_prune_then_positions_keep_what_a_whole_view_then_prune_keeps() -> None:
    """The Observer adds a view's log-end offsets, prunes, starts the append-time search, then adds the
    groups' positions: the history (and the snapshot judged from it) must be what adding the whole
    view and then pruning gives, old observations falling out of the window included."""
    whole, split = OffsetHistory(), OffsetHistory()
    views = [_view(float(t * 10), [100 * t + 100, 5], {0: 40 * t, 1: 5}) for t in range(5)]
    for v in views:
        whole.add_view(v)
        whole.prune(v.ts - 25)
        split.add_log_ends(v)
        split.prune(v.ts - 25)
        split.add_positions(v)
        assert split.leo == whole.leo and split.points == whole.points
    assert len(whole.leo[("clinical.adt", 0)]) == 3  # the window kept three of five
    assert lag_snapshot(split, views[-1]) == lag_snapshot(whole, views[-1])
