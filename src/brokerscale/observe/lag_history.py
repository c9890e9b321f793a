"""A window of offset observations per partition and group, and the lag snapshot built from it.

Pure: observations are added with their own timestamps; nothing here reads a clock or the network.
The same history round-trips through the store as samples (`log_end_offset`, `committed_offset`), so a
`brokerscale lag` run continues where the exporter or an earlier run left off.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Set
from typing import TYPE_CHECKING, Protocol

from brokerscale.model.snapshot import GroupLag, LagStatus, PartitionLag
from brokerscale.observe.kafka_source import TP, AdminView, GroupInfo, gc_paused
from brokerscale.observe.lag_eval import LagThresholds, OffsetPoint, evaluate_partitions, group_status

if TYPE_CHECKING:  # the store package pulls in SQLAlchemy: only when samples are really written
    from brokerscale.store.samples import Sample

LEO_METRIC = "log_end_offset"
COMMITTED_METRIC = "committed_offset"
INACTIVE_STATES = {"Empty", "Dead"}


class OffsetHistory:
    """(ts, log-end offset) per partition and (ts, committed, log-end) per group and partition."""

    def __init__(self) -> None:
        self.leo: dict[TP, list[tuple[float, int]]] = defaultdict(list)
        self.points: dict[str, dict[TP, list[OffsetPoint]]] = defaultdict(lambda: defaultdict(list))
        # No observation is older than this (inf: none yet). `prune` walks the 40,000 lists of a
        # 20,000-partition history only when something can be older than the window.
        self._oldest = float("inf")

    def add_log_end_points(self, tp: TP, points: Iterable[tuple[float, int]]) -> None:
        """(ts, log-end offset) proved by other means (the dating search), kept unless already known."""
        known = self.leo[tp]
        for point in points:
            if point not in known:
                known.append(point)
                self._oldest = min(self._oldest, point[0])

    def add_view(self, view: AdminView) -> None:
        """The view's log-end offsets and the groups' positions; the same as `add_log_ends` then
        `add_positions` (with a `prune` between them or after them: the view's own points are not old)."""
        with gc_paused():  # tens of thousands of small tuples: see gc_paused
            self._add_log_ends(view)
            self._add_positions(view)

    def add_log_ends(self, view: AdminView) -> None:
        """The view's log-end offsets only: all that the append-time search reads of the history. The
        Observer starts that search, then adds the groups' positions while it runs (~20 ms of a
        20,000-partition round that no longer delays the search, which ends the round)."""
        with gc_paused():
            self._add_log_ends(view)

    def add_positions(self, view: AdminView) -> None:
        """The groups' committed positions of the view (with the log-end offset beside each)."""
        with gc_paused():
            self._add_positions(view)

    def _add_log_ends(self, view: AdminView) -> None:
        self._oldest = min(self._oldest, view.ts)
        for tp, off in view.log_end_offsets().items():
            self.leo[tp].append((view.ts, off))

    def _add_positions(self, view: AdminView) -> None:
        self._oldest = min(self._oldest, view.ts)
        leo = view.log_end_offsets()
        for group, committed in view.committed.items():
            for tp, pos in committed.items():
                if tp in leo:
                    self.points[group][tp].append(OffsetPoint(view.ts, pos, leo[tp]))

    def prune(self, since: float) -> None:
        """Forget observations older than `since` (the window's start)."""
        if self._oldest >= since:
            return
        self._oldest = since  # what is left is at least this recent
        # Lists are rebuilt only where something is old: a round keeps 20,000 of each, mostly all new.
        for tp, seen in self.leo.items():
            if seen and min(seen)[0] < since:
                self.leo[tp] = [x for x in seen if x[0] >= since]
        for parts in self.points.values():
            for tp, pts in parts.items():
                if any(p.ts < since for p in pts):
                    parts[tp] = [p for p in pts if p.ts >= since]

    def to_samples(self, cluster: str, view: AdminView) -> list[Sample]:
        from brokerscale.store.samples import Sample

        """The samples of one view, for the store's history: log-end offsets only of partitions some
        group reads (time lag is read off them), committed offsets of every group."""
        read = {tp for committed in view.committed.values() for tp in committed}
        out = [Sample(view.ts, cluster, LEO_METRIC, float(off), {"topic": t, "partition": str(p)})
               for (t, p), off in view.log_end_offsets().items() if (t, p) in read]
        for group, committed in view.committed.items():
            out.extend(Sample(view.ts, cluster, COMMITTED_METRIC, float(off),
                              {"group": group, "topic": t, "partition": str(p)})
                       for (t, p), off in committed.items() if off is not None)
        return out

    def add_samples(self, leo_samples: Iterable[Sample], committed_samples: Iterable[Sample]) -> None:
        """Rebuild history from stored samples (observations taken at the same ts are joined)."""
        leo_at: dict[tuple[float, TP], int] = {}
        for s in leo_samples:
            tp = (s.labels["topic"], int(s.labels["partition"]))
            self.leo[tp].append((s.ts, int(s.value)))
            leo_at[(s.ts, tp)] = int(s.value)
            self._oldest = min(self._oldest, s.ts)
        for s in committed_samples:
            tp = (s.labels["topic"], int(s.labels["partition"]))
            end = leo_at.get((s.ts, tp))
            if end is not None:
                self.points[s.labels["group"]][tp].append(OffsetPoint(s.ts, int(s.value), end))
        for tp in self.leo:
            self.leo[tp].sort()
        for parts in self.points.values():
            for tp in parts:
                parts[tp].sort(key=lambda p: p.ts)


class Pending(Protocol):
    """Log-end history still to come for some partitions (append times being searched, collect.py)."""

    @property
    def tps(self) -> Set[TP]: ...

    def finish(self) -> None:
        """Wait until that history is in; then it is complete."""


def lag_snapshot(history: OffsetHistory, view: AdminView, *, min_points: int = 3,
                 thresholds: LagThresholds | None = None, groups: list[str] | None = None,
                 pending: Pending | None = None) -> list[GroupLag]:
    """Lag per group and partition as of `view`, judged over the history window (which includes `view`).

    Partitions of topics a group is assigned to but has never committed on are NO_OFFSET, not lag.
    With `pending`, every other partition is judged first and those in `pending.tps` once
    `pending.finish()` returns: the same figures as judging all of them after it, in the same order.
    """
    with gc_paused():
        return _lag_snapshot(history, view, min_points=min_points, thresholds=thresholds, groups=groups,
                             pending=pending)


def _lag_snapshot(history: OffsetHistory, view: AdminView, *, min_points: int, thresholds: LagThresholds | None,
                  groups: list[str] | None, pending: Pending | None) -> list[GroupLag]:
    # per group: its info, the partitions judged, and the rows left for after `pending` (with their places)
    judged: list[tuple[str, GroupInfo | None, list[PartitionLag], list[tuple[int, tuple[str, int, list[OffsetPoint]]]],
                       bool | None]] = []
    later_tps = pending.tps if pending is not None else frozenset()
    start = view.log_start_offsets()
    leo_now = view.log_end_offsets()
    topic_parts: dict[str, list[int]] = defaultdict(list)
    for tp in leo_now:
        topic_parts[tp[0]].append(tp[1])
    wanted = sorted(set(view.groups) | set(view.committed)) if groups is None else groups
    now, leo_hist, leo_get = view.ts, history.leo, leo_now.get
    none_seen: list[OffsetPoint] = []  # shared, never changed
    for gid in wanted:
        info = view.groups.get(gid)
        committed = view.committed.get(gid, {})
        active = None
        if info is not None and info.state is not None:
            active = info.state not in INACTIVE_STATES and (info.members or 0) > 0
        tps = set(committed)
        if info is not None:
            for topic in info.assigned:
                tps.update((topic, p) for p in topic_parts.get(topic, []))
        seen_get, committed_get = history.points.get(gid, {}).get, committed.get
        rows: list[tuple[str, int, list[OffsetPoint]]] = []
        for tp in sorted(tps):  # 20,000 per snapshot of the scaling guide's cluster: lookups hoisted
            end = leo_get(tp)
            if end is None:
                continue
            pts: list[OffsetPoint] = seen_get(tp, none_seen)  # read only: the judging does not change it
            if committed_get(tp) is None:
                pts = [*pts, OffsetPoint(now, None, end)]
            rows.append((tp[0], tp[1], pts))
        later = [(i, row) for i, row in enumerate(rows) if (row[0], row[1]) in later_tps] if later_tps else []
        if later:
            rows = [row for row in rows if (row[0], row[1]) not in later_tps]
        parts = evaluate_partitions(rows, now=now, log_end_histories=leo_hist, log_starts=start, group_active=active,
                                    min_points=min_points, thresholds=thresholds)
        judged.append((gid, info, parts, later, active))
    if pending is not None:
        pending.finish()
    out: list[GroupLag] = []
    for gid, info, parts, later, active in judged:
        if later:
            done = evaluate_partitions([row for _i, row in later], now=now, log_end_histories=leo_hist,
                                       log_starts=start, group_active=active, min_points=min_points,
                                       thresholds=thresholds)
            for (i, _row), p in zip(later, done, strict=True):  # back in their places, in partition order
                parts.insert(i, p)
        status, reason = group_status(parts)
        if gid in view.group_errors:
            status, reason = LagStatus.UNKNOWN, f"offsets could not be read: {view.group_errors[gid]}"
        known = [p.lag_seconds for p in parts if p.lag_seconds is not None]
        out.append(GroupLag(group=gid, state=info.state if info else None,
                            members=info.members if info else None,
                            partitions=parts, lag_offsets=sum(p.lag_offsets or 0 for p in parts),
                            max_lag_seconds=max(known) if known else None,
                            # a partition known only from below may be the one furthest behind
                            max_lag_seconds_lower_bound=any(p.lag_seconds_lower_bound for p in parts),
                            status=status, reason=reason))
    return out
