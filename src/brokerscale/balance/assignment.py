"""The optimizer's working copy of an assignment, with per-broker aggregates kept up to date.

Goals read it and change it only through `try_apply`, which asks every guarding goal (all hard goals
and the soft goals of higher priority) whether it accepts the action: that is how an earlier goal
vetoes a later goal's moves. Per-replica data is built once with numpy; the per-move bookkeeping is
plain Python on small per-broker dicts, because a move touches two brokers and one partition, while a
batch of tens of thousands of moves (`apply_batch`) is booked with numpy in one go.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from brokerscale.balance.model import ClusterModel
from brokerscale.balance.targets import Targets, by_group_then_size, count_keys, flat_replicas
from brokerscale.errors import BrokerscaleError

if TYPE_CHECKING:
    from brokerscale.balance.goals import Goal


class Move(NamedTuple):
    """One replica of partition `pid` moves from broker `src` to broker `dst`."""

    pid: int
    src: int
    dst: int


Action = tuple[Move, ...]
"""One move, or several applied together (a swap keeps both brokers' replica counts)."""


class DidNotConverge(BrokerscaleError):
    """The goals kept undoing each other's moves: an internal failure (a defect in a goal), not bad input."""

    exit_code = 1


class Assignment:
    """Mutable assignment: `rep[pid]` lists broker ids (leader first) and aggregates per broker."""

    def __init__(self, model: ClusterModel, targets: Targets, max_moves: int | None = None) -> None:
        self.m = model
        self.t = targets
        self.rep: list[list[int]] = list(map(list, model.replicas))
        self.sizes: list[int] = model.sizes
        self.rates: list[float] = model.bytes_in
        self.ids = sorted(model.brokers)
        self.active = list(targets.active)
        self.removed = targets.removed
        self.rack: dict[int, str | None] = {b: model.brokers[b].rack for b in self.ids}
        names = sorted(set(model.topics))
        index = {name: i for i, name in enumerate(names)}
        self.topic_names = names
        self.topic: list[int] = [index[name] for name in model.topics]
        self.n_topics = max(len(names), 1)
        self.count: dict[int, int] = dict.fromkeys(self.ids, 0)
        self.disk: dict[int, float] = dict.fromkeys(self.ids, 0.0)
        self.net: dict[int, float] = dict.fromkeys(self.ids, 0.0)
        self.leaders: dict[int, int] = dict.fromkeys(self.ids, 0)
        # replicas per (broker, topic), keyed broker * n_topics + topic
        self.tcount: dict[int, int] = {}
        # each broker's replicas ordered by (size, partition index): `by_size` the indices, `size_sorted` sizes
        # (8-byte machine integers: a list of Python ints costs five times that per replica)
        self.by_size: dict[int, array[int]] = {b: array("q") for b in self.ids}
        self.size_sorted: dict[int, array[int]] = {b: array("q") for b in self.ids}
        self.guards: list[Goal] = []
        self.moves = 0
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        # most replicas of each topic a broker may hold (`Targets.topic_hi`), and the per-broker exceptions
        self.topic_hi: list[int] = [targets.topic_hi.get(name, 1) for name in names]
        self.topic_hi_forced: dict[int, int] = {b * self.n_topics + index[name]: hi
                                                for (name, b), hi in targets.topic_hi_broker.items()}
        total = sum(map(len, self.rep))
        self.max_moves = max_moves if max_moves is not None else 6 * total + 1000
        self._index(model)

    def _index(self, model: ClusterModel) -> None:
        if not self.rep:
            return
        brokers, pids = flat_replicas(self.rep)
        sizes = np.asarray(model.sizes, dtype=np.int64)
        rates = np.asarray(model.bytes_in, dtype=np.float64)
        span = max(self.ids) + 1
        count = np.bincount(brokers, minlength=span)
        disk = np.bincount(brokers, weights=sizes[pids].astype(np.float64), minlength=span)
        net = np.bincount(brokers, weights=rates[pids], minlength=span)
        lead = np.bincount(np.fromiter(map(itemgetter(0), self.rep), dtype=np.int64, count=len(self.rep)),
                           minlength=span)
        for b in self.ids:
            self.count[b] = int(count[b])
            self.disk[b] = float(disk[b])
            self.net[b] = float(net[b])
            self.leaders[b] = int(lead[b])
        topics = np.asarray(self.topic, dtype=np.int64)
        keys, counts = count_keys(brokers * self.n_topics + topics[pids])
        self.tcount = dict(zip(keys.tolist(), counts.tolist(), strict=True))
        rsize = sizes[pids]
        order = by_group_then_size(brokers, rsize)
        ob = brokers[order]
        op = pids[order]
        os_ = rsize[order]
        bounds = [*np.searchsorted(ob, np.asarray(self.ids), side="left").tolist(), len(op)]
        for k, b in enumerate(self.ids):
            self.by_size[b] = array("q", op[bounds[k]:bounds[k + 1]].tobytes())
            self.size_sorted[b] = array("q", os_[bounds[k]:bounds[k + 1]].tobytes())

    def release_size_order(self) -> None:
        """Drop the per-broker size order once no goal will move replicas any more (`by_size` and
        `size_sorted` are then empty): at a million replicas it is a third of the optimizer's memory."""
        self.by_size = {}
        self.size_sorted = {}

    # -- reading ----------------------------------------------------------------------------------

    def holds(self, b: int, pid: int) -> bool:
        return b in self.rep[pid]

    def fill(self, b: int) -> float:
        target = self.t.disk_target[b]
        return self.disk[b] / target if target > 0 else (float("inf") if self.disk[b] else 0.0)

    def topic_count(self, b: int, pid: int) -> int:
        return self.tcount.get(b * self.n_topics + self.topic[pid], 0)

    def topic_limit(self, key: int) -> int:
        """Most replicas of one topic a broker may hold; `key` is broker * n_topics + topic index."""
        forced = self.topic_hi_forced
        if forced:
            hi = forced.get(key)
            if hi is not None:
                return hi
        return self.topic_hi[key % self.n_topics]

    def name(self, pid: int) -> str:
        return f"{self.m.topics[pid]}-{self.m.partitions[pid]}"

    # -- changing ---------------------------------------------------------------------------------

    def valid(self, action: Action) -> bool:
        """Structural check: each source holds the replica, no destination holds the partition already."""
        if len(action) == 1:
            pid, src, dst = action[0]
            reps = self.rep[pid]
            return src != dst and src in reps and dst not in reps
        if len(action) == 2 and action[0].pid != action[1].pid:
            a, b = action
            ra, rb = self.rep[a.pid], self.rep[b.pid]
            return (a.src != a.dst and a.src in ra and a.dst not in ra
                    and b.src != b.dst and b.src in rb and b.dst not in rb)
        after: dict[int, list[int]] = {}
        for pid, src, dst in action:
            reps = after.setdefault(pid, list(self.rep[pid]))
            if src == dst or src not in reps or dst in reps:
                return False
            reps[reps.index(src)] = dst
        return True

    def veto(self, action: Action) -> str | None:
        """Who refuses the action: "structure", the name of the first guarding goal that vetoes it, or None."""
        if not self.valid(action):
            return "structure"
        for g in self.guards:
            if not g.accepts(action, self):
                return g.name
        return None

    def accepted(self, action: Action) -> bool:
        """Structurally valid and accepted by every guarding goal."""
        return self.veto(action) is None

    def try_apply(self, action: Action) -> bool:
        if not self.accepted(action):
            return False
        self.apply(action)
        return True

    def apply(self, action: Action) -> None:
        nt = self.n_topics
        for pid, src, dst in action:
            reps = self.rep[pid]
            j = reps.index(src)
            reps[j] = dst
            size = self.sizes[pid]
            bi = self.rates[pid]
            self.count[src] -= 1
            self.count[dst] += 1
            self.disk[src] -= size
            self.disk[dst] += size
            self.net[src] -= bi
            self.net[dst] += bi
            if j == 0:
                self.leaders[src] -= 1
                self.leaders[dst] += 1
            sizes = self.size_sorted[src]
            lo = bisect_left(sizes, size)
            k = bisect_left(self.by_size[src], pid, lo, bisect_right(sizes, size, lo))
            del sizes[k]
            del self.by_size[src][k]
            sizes = self.size_sorted[dst]
            lo = bisect_left(sizes, size)
            k = bisect_left(self.by_size[dst], pid, lo, bisect_right(sizes, size, lo))
            sizes.insert(k, size)
            self.by_size[dst].insert(k, pid)
            tp = self.topic[pid]
            self.tcount[src * nt + tp] -= 1
            key = dst * nt + tp
            self.tcount[key] = self.tcount.get(key, 0) + 1
        self.moves += len(action)
        if self.moves > self.max_moves:
            raise DidNotConverge(
                f"rebalance: the optimizer made {self.moves} moves without converging; the goals "
                f"({', '.join(g.name for g in self.guards)}) keep undoing each other. This is a defect: "
                "please report it with the cluster file")

    def batchable(self) -> bool:
        """Every guard can judge a batch of moves at once (`accepts_batch`)."""
        return all(hasattr(g, "accepts_batch") for g in self.guards)

    def apply_batch(self, moves: list[Move]) -> int:
        """Apply the moves every guard accepts, judged against the state before the batch.

        The moves must touch distinct partitions. For tens of thousands of moves (replica-count
        balance) this is several times cheaper than one `try_apply` each: the per-broker size order
        is rebuilt once per broker instead of once per move. Returns how many were applied.
        """
        rep = self.rep
        ok = [src != dst and src in rep[pid] and dst not in rep[pid] for pid, src, dst in moves]
        for g in self.guards:
            verdict = g.accepts_batch(moves, self)  # type: ignore[attr-defined]
            ok = [a and b for a, b in zip(ok, verdict, strict=True)]
        chosen = [m for m, a in zip(moves, ok, strict=True) if a]
        if not chosen:
            return 0
        lead_from: list[int] = []
        lead_to: list[int] = []
        for pid, src, dst in chosen:
            reps = rep[pid]
            j = reps.index(src)
            reps[j] = dst
            if j == 0:
                lead_from.append(src)
                lead_to.append(dst)
        # the per-broker aggregates and size orders, for all the moves at once
        arr = np.array(chosen, dtype=np.int64).reshape(-1, 3)
        pids, srcs, dsts = arr[:, 0], arr[:, 1], arr[:, 2]
        sizes, rates, topics = self._per_partition()
        span = max(self.ids) + 1
        net_count = np.bincount(dsts, minlength=span) - np.bincount(srcs, minlength=span)
        for b in np.flatnonzero(net_count).tolist():
            self.count[b] += int(net_count[b])
        for agg, weights in ((self.disk, sizes[pids]), (self.net, rates[pids])):
            change = np.bincount(dsts, weights=weights, minlength=span) - np.bincount(srcs, weights=weights,
                                                                                       minlength=span)
            for b in np.flatnonzero(change).tolist():
                agg[b] += float(change[b])
        for b in lead_from:
            self.leaders[b] -= 1
        for b in lead_to:
            self.leaders[b] += 1
        nt = self.n_topics
        tcount = self.tcount
        for brokers, sign in ((srcs, -1), (dsts, 1)):
            keys, counts = count_keys(brokers * nt + topics[pids])
            for key, c in zip(keys.tolist(), counts.tolist(), strict=True):
                tcount[key] = tcount.get(key, 0) + sign * c
        psize = sizes[pids]
        order = by_group_then_size(srcs, psize)
        self._reorder(srcs[order], pids[order], None)
        order = by_group_then_size(dsts, psize)
        self._reorder(dsts[order], pids[order], psize[order])
        self.moves += len(chosen)
        return len(chosen)

    def held_of_topics(self, b: int, topics: set[int]) -> list[int]:
        """The replicas broker `b` holds of the given topics (by index), smallest first."""
        held = np.frombuffer(self.by_size[b], dtype=np.int64)
        topic_of = self._per_partition()[2]
        return held[np.isin(topic_of[held], np.fromiter(topics, dtype=np.int64, count=len(topics)))].tolist()

    def _per_partition(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sizes, rates and topic indices per partition as arrays (built once, for batches)."""
        if self._arrays is None:
            self._arrays = (np.asarray(self.sizes, dtype=np.int64), np.asarray(self.rates, dtype=np.float64),
                            np.asarray(self.topic, dtype=np.int64))
        return self._arrays

    def _reorder(self, brokers: np.ndarray, pids: np.ndarray, sizes: np.ndarray | None) -> None:
        """Take `pids` (grouped by broker) out of each broker's size order, or (with their `sizes`) merge
        them in, keeping the order by (size, partition index)."""
        bounds = np.flatnonzero(np.concatenate(([True], brokers[1:] != brokers[:-1], [True])))
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            b = int(brokers[lo])
            held = np.frombuffer(self.by_size[b], dtype=np.int64)
            held_sizes = np.frombuffer(self.size_sorted[b], dtype=np.int64)
            if sizes is None:
                keep = ~np.isin(held, pids[lo:hi])
                new_p, new_s = held[keep], held_sizes[keep]
            else:
                all_p = np.concatenate((held, pids[lo:hi]))
                all_s = np.concatenate((held_sizes, sizes[lo:hi]))
                order = np.lexsort((all_p, all_s))
                new_p, new_s = all_p[order], all_s[order]
            self.by_size[b] = array("q", new_p.tobytes())
            self.size_sorted[b] = array("q", new_s.tobytes())

    def set_leader(self, pid: int, b: int) -> None:
        """Leadership only: reorder the replica list so `b` comes first (no data moves)."""
        reps = self.rep[pid]
        j = reps.index(b)
        if j:
            old = reps[0]
            reps[0], reps[j] = reps[j], reps[0]
            self.leaders[old] -= 1
            self.leaders[b] += 1
