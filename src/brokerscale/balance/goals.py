"""Goals as classes, in priority order (Cruise Control's model, with bytes moved as the one cost).

A goal is one class: its `name`, whether it is `hard`, `accepts(action, state)` (may a move made
for another goal change what this goal looks after?), `improve(state)` (make moves towards it) and
`satisfied(state)`. The optimizer runs the goals in priority order; while a goal improves, every
hard goal and every soft goal before it guards the moves, so a later goal can never undo an earlier
one. Hard goals are never traded away (distinct racks, capacity, removed brokers empty). Soft goals
are bands around a fair share — Cruise Control's 10% by default — and moves stop once a broker is
*inside* its band, never at the exact mean: that is where the savings in bytes moved come from.

Writing a goal: subclass `SoftGoal` (or implement the `Goal` protocol), move replicas with
`state.try_apply((Move(pid, src, dst),))`, and pass it to `optimize(..., goals=[...])`. A goal may
also offer `accepts_batch(moves, state) -> list[bool]`: when every guard does, replica-count
balance judges its tens of thousands of small moves in batches instead of one at a time.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from brokerscale.balance.assignment import Action, Assignment, Move
from brokerscale.balance.model import ClusterModel
from brokerscale.balance.targets import (
    MODES,
    Targets,
    Thresholds,
    broker_loads,
    compute_targets,
    count_keys,
    doubled,
    flat_replicas,
    lower_bound,
    rack_aware,
    validate_mode,
)

__all__ = [
    "DEFAULT_GOALS", "MODES", "Action", "Assignment", "CapacityGoal", "DiskGoal", "DrainGoal", "Goal",
    "LeaderCountGoal", "Move", "NetworkInGoal", "RackAwareGoal", "ReplicaCountGoal", "SoftGoal",
    "Targets", "Thresholds", "TopicSpreadGoal", "broker_loads", "compute_targets", "default_goals",
    "hard_violations", "lower_bound", "rack_aware", "validate_mode",
]

_SCAN = 64  # how many neighbouring replica sizes to try before giving up on a pair of brokers


@runtime_checkable
class Goal(Protocol):
    name: str
    hard: bool

    def accepts(self, action: Action, state: Assignment) -> bool:
        """May `action` (made for another goal) happen? Veto only what makes this goal worse."""
        ...

    def improve(self, state: Assignment) -> bool:
        """Move replicas towards this goal through `state.try_apply`; True when something changed."""
        ...

    def satisfied(self, state: Assignment) -> bool:
        ...


class SoftGoal:
    """Convenience base: accepts everything, never moves, always satisfied; override what you need."""

    name = "goal"
    hard = False

    def accepts(self, action: Action, state: Assignment) -> bool:
        return True

    def improve(self, state: Assignment) -> bool:
        return False

    def satisfied(self, state: Assignment) -> bool:
        return True

    def violations(self, state: Assignment) -> list[str]:
        return [] if self.satisfied(state) else [f"{self.name} not met"]


def _deltas(action: Action, state: Assignment, per: Sequence[float] | None) -> dict[int, float]:
    """Net change per broker of a per-replica quantity (`None` = replica count)."""
    out: dict[int, float] = {}
    get = out.get
    for pid, src, dst in action:
        v = 1.0 if per is None else per[pid]
        out[src] = get(src, 0.0) - v
        out[dst] = get(dst, 0.0) + v
    return out


def _distance(v: float, lo: float, hi: float) -> float:
    return lo - v if v < lo else (v - hi if v > hi else 0.0)


def _not_worse(action: Action, state: Assignment, per: Sequence[float] | None,
               now: dict[int, float] | dict[int, int], lo: dict[int, float] | dict[int, int],
               hi: dict[int, float] | dict[int, int]) -> bool:
    """Every broker the action touches ends inside its band or no further from it than before."""
    slack = 0.0 if per is None else 0.5
    if len(action) == 1:
        pid, src, dst = action[0]
        v = 1.0 if per is None else per[pid]
        s, d = now[src], now[dst]
        if _distance(s - v, lo[src], hi[src]) > max(_distance(s, lo[src], hi[src]), slack):
            return False
        return _distance(d + v, lo[dst], hi[dst]) <= max(_distance(d, lo[dst], hi[dst]), slack)
    for b, dv in _deltas(action, state, per).items():
        if _distance(now[b] + dv, lo[b], hi[b]) > max(_distance(now[b], lo[b], hi[b]), slack):
            return False
    return True


def best_destination(state: Assignment, pid: int, src: int, candidates: Iterable[int]) -> int | None:
    """The accepted destination that keeps counts and disk in band, emptiest first; else any accepted."""
    t = state.t
    size = state.sizes[pid]
    keyed = []
    for d in candidates:
        if d == src or d in state.removed:
            continue
        keyed.append((state.count[d] >= t.count_hi[d], state.disk[d] + size > t.disk_hi[d],
                      round(state.fill(d), 9), state.topic_count(d, pid), d))
    keyed.sort()
    for key in keyed:
        if state.try_apply((Move(pid, src, key[-1]),)):
            return key[-1]
    return None


def _place_or_fail(state: Assignment, pid: int, src: int) -> None:
    if best_destination(state, pid, src, state.active) is None:
        from brokerscale.errors import BadInput

        raise BadInput(f"rebalance: no broker can take a replica of {state.name(pid)} from broker {src} "
                       "without breaking a hard goal (distinct brokers and racks, capacity limit)")


# -- hard goals ------------------------------------------------------------------------------------

class RackAwareGoal(SoftGoal):
    """No two replicas of a partition in one rack, when there are at least as many racks as replicas."""

    name = "rack_aware"
    hard = True

    def __init__(self) -> None:
        self._for: Assignment | None = None
        self._n_racks = -1
        self._checked_at = -1
        self._last: list[int] = []

    def _racks(self, state: Assignment) -> int:
        if self._for is not state:
            has, n = rack_aware(state.m, state.active)
            self._n_racks = n if has and n > 1 else -1
            self._for = state
            self._checked_at = -1
        return self._n_racks

    def accepts(self, action: Action, state: Assignment) -> bool:
        n = self._racks(state)
        if n < 0:
            return True
        rack = state.rack
        if len(action) == 1:
            pid, src, dst = action[0]
            reps = state.rep[pid]
            if len(reps) > n:
                return True
            r = rack[dst]
            return all(x == src or rack[x] != r for x in reps)
        if len({m.pid for m in action}) == len(action):  # distinct partitions: each move on its own
            for pid, src, dst in action:
                reps = state.rep[pid]
                r = rack[dst]
                if len(reps) <= n and any(x != src and rack[x] == r for x in reps):
                    return False
            return True
        after: dict[int, list[int]] = {}
        for pid, src, dst in action:
            reps = after.setdefault(pid, list(state.rep[pid]))
            reps[reps.index(src)] = dst
        for pid, reps in after.items():
            if len(reps) <= n and len({rack[x] for x in reps}) < len({rack[x] for x in state.rep[pid]}):
                return False
        return True

    def accepts_batch(self, moves: list[Move], state: Assignment) -> list[bool]:
        n = self._racks(state)
        if n < 0:
            return [True] * len(moves)
        rack = state.rack
        rep = state.rep
        out = []
        for pid, src, dst in moves:
            reps = rep[pid]
            ok = True
            if len(reps) <= n:
                r = rack[dst]
                for x in reps:
                    if x != src and rack[x] == r:
                        ok = False
                        break
            out.append(ok)
        return out

    def _violating(self, state: Assignment) -> list[int]:
        n = self._racks(state)
        if n < 0:
            return []
        if self._checked_at == state.moves:  # nothing moved since the last check (racks cannot change else)
            return list(self._last)
        self._last = self._check(state, n)
        self._checked_at = state.moves
        return list(self._last)

    def _check(self, state: Assignment, n: int) -> list[int]:
        # vectorised: distinct (partition, rack) pairs per partition against its replication factor
        brokers, pids = flat_replicas(state.rep)
        names = sorted({str(r) for r in state.rack.values()})
        rack_no = np.zeros(max(state.ids) + 1, dtype=np.int64)
        for b, r in state.rack.items():
            rack_no[b] = names.index(str(r))
        pairs, _ = count_keys(pids * len(names) + rack_no[brokers])
        distinct = np.bincount(pairs // len(names), minlength=len(state.rep))
        rf = np.bincount(pids, minlength=len(state.rep))
        return np.nonzero((rf <= n) & (distinct < rf))[0].tolist()

    def improve(self, state: Assignment) -> bool:
        bad = self._violating(state)
        for pid in bad:
            seen: set[str | None] = set()
            for b in list(state.rep[pid]):
                if state.rack[b] in seen and b not in state.removed:
                    _place_or_fail(state, pid, b)
                seen.add(state.rack[b])
        return bool(bad)

    def satisfied(self, state: Assignment) -> bool:
        return not self._violating(state)

    def violations(self, state: Assignment) -> list[str]:
        return [f"{state.name(pid)}: two replicas in one rack {state.rep[pid]}" for pid in self._violating(state)]


class CapacityGoal(SoftGoal):
    """Disk and network-in stay under the capacity limit (80% by default) of brokers whose capacity is known."""

    name = "capacity"
    hard = True

    def __init__(self) -> None:
        self._for: Assignment | None = None
        self._unlimited = True

    def _limitless(self, state: Assignment) -> bool:
        """No broker has a known capacity (the common case for clusters read live): nothing to check."""
        if self._for is not state:
            self._for = state
            t = state.t
            self._unlimited = all(math.isinf(t.disk_cap[b]) and math.isinf(t.net_cap[b]) for b in state.ids)
        return self._unlimited

    def accepts(self, action: Action, state: Assignment) -> bool:
        t = state.t
        if self._limitless(state):
            return True
        if len(action) == 1:
            pid, _src, dst = action[0]
            return (state.disk[dst] + state.sizes[pid] <= t.disk_cap[dst]
                    and state.net[dst] + state.rates[pid] <= t.net_cap[dst])
        for b, dv in _deltas(action, state, state.sizes).items():
            if dv > 0 and state.disk[b] + dv > t.disk_cap[b]:
                return False
        for b, dv in _deltas(action, state, state.rates).items():
            if dv > 0 and state.net[b] + dv > t.net_cap[b]:
                return False
        return True

    def accepts_batch(self, moves: list[Move], state: Assignment) -> list[bool]:
        """Capacity adds up over a batch: judged move by move, in order, on running totals."""
        t = state.t
        if self._limitless(state):
            return [True] * len(moves)
        disk = dict(state.disk)
        net = dict(state.net)
        out = []
        for pid, src, dst in moves:
            size, rate = state.sizes[pid], state.rates[pid]
            ok = disk[dst] + size <= t.disk_cap[dst] and net[dst] + rate <= t.net_cap[dst]
            if ok:
                disk[dst] += size
                net[dst] += rate
                disk[src] -= size
                net[src] -= rate
            out.append(ok)
        return out

    def improve(self, state: Assignment) -> bool:
        t = state.t
        changed = False
        for b in state.active:
            while state.disk[b] > t.disk_cap[b] + 0.5 or state.net[b] > t.net_cap[b] + 0.5:
                pid = state.by_size[b][-1]  # the largest replica frees the most with one move
                _place_or_fail(state, pid, b)
                changed = True
        return changed

    def satisfied(self, state: Assignment) -> bool:
        return not self.violations(state)

    def violations(self, state: Assignment) -> list[str]:
        t = state.t
        out = []
        for b in state.ids:
            if state.disk[b] > t.disk_cap[b] + 0.5:
                out.append(f"broker {b}: disk above {state.m.brokers[b].disk_bytes} x capacity limit")
            if state.net[b] > t.net_cap[b] + 0.5:
                out.append(f"broker {b}: network-in above the capacity limit")
        return out


class DrainGoal(SoftGoal):
    """Brokers being removed end empty, and nothing moves onto them."""

    name = "drain"
    hard = True

    def accepts(self, action: Action, state: Assignment) -> bool:
        return not any(m.dst in state.removed for m in action)

    def accepts_batch(self, moves: list[Move], state: Assignment) -> list[bool]:
        return [m.dst not in state.removed for m in moves]

    def improve(self, state: Assignment) -> bool:
        changed = False
        for b in sorted(state.removed):
            for pid in list(reversed(state.by_size[b])):  # largest first: they are the hardest to fit
                _place_or_fail(state, pid, b)
                changed = True
        return changed

    def satisfied(self, state: Assignment) -> bool:
        return all(state.count[b] == 0 for b in state.removed)

    def violations(self, state: Assignment) -> list[str]:
        return [f"broker {b}: being removed but still holds {state.count[b]} replicas"
                for b in sorted(state.removed) if state.count[b]]


# -- soft goals ------------------------------------------------------------------------------------

def _dests(state: Assignment, b: int) -> list[int]:
    """Where a replica on `b` may go: its rack when every rack holds one copy of every partition."""
    t = state.t
    if not t.strict_racks:
        return state.active
    g = t.group[b]
    return [x for x in state.active if t.group[x] == g]


def _surplus(state: Assignment, s: int, n: int, offered: set[int]) -> list[int]:
    """The `n` replicas of `s` cheapest to move: the smallest of each topic `s` holds too many of, then the
    smallest others (the set `lower_bound` counts). Partitions in `offered` (another broker offers a
    replica of them in this batch, where one move per partition is allowed) are passed over; the
    chosen ones are added to it."""
    held = state.by_size[s]
    nt = state.n_topics
    base = s * nt
    topic = state.topic
    tc = state.tcount
    limit = state.topic_limit
    # the topics `s` holds: from the per-(broker, topic) counts when that is the shorter walk
    held_topics: Iterable[int] = (range(nt) if nt < len(held) else {topic[pid] for pid in held})
    excess = {tp: e for tp in held_topics if (e := tc.get(base + tp, 0) - limit(base + tp)) > 0}
    out: list[int] = []
    if excess:
        for pid in state.held_of_topics(s, set(excess)):  # smallest first
            tp = topic[pid]
            if excess[tp] > 0 and pid not in offered:
                excess[tp] -= 1
                out.append(pid)
                if len(out) >= n:
                    break
    if len(out) < n:
        chosen = set(out)
        for pid in held:
            if pid not in chosen and pid not in offered:
                out.append(pid)
                if len(out) >= n:
                    break
    offered.update(out)
    return out


def _deal(state: Assignment, offers: list[tuple[int, int]], room: dict[int, int], racks: int) -> list[Move]:
    """Deal offered replicas round-robin over the brokers with room, skipping a broker that already holds
    the partition, one that would exceed the topic's limit and (with `racks`) one in a rack the partition
    already uses; when no broker within a short look-ahead has room for the topic, the first one that
    passes the other checks takes it."""
    dests = list(room)
    nt = state.n_topics
    topic = state.topic
    tc = state.tcount
    limit = state.topic_limit
    uniform = not state.topic_hi_forced  # then a topic's limit is the same on every broker
    topic_hi = state.topic_hi
    rack = state.rack
    rep = state.rep
    extra: dict[int, int] = {}
    moves: list[Move] = []
    turn = 0
    for pid, s in offers:
        n = len(dests)
        if not n:
            break
        reps = rep[pid]
        tp = topic[pid]
        used = [rack[x] for x in reps if x != s] if racks and len(reps) <= racks else ()
        hi = topic_hi[tp]
        pick = -1
        fallback = -1
        for j in range(min(n, 32)):
            k = (turn + j) % n
            d = dests[k]
            if d in reps or (used and rack[d] in used):
                continue
            key = d * nt + tp
            if tc.get(key, 0) + extra.get(key, 0) < (hi if uniform else limit(key)):
                pick = k
                break
            if fallback < 0:
                fallback = k
        if pick < 0:
            pick = fallback
        if pick < 0:
            continue
        d = dests[pick]
        key = d * nt + tp
        extra[key] = extra.get(key, 0) + 1
        moves.append(Move(pid, s, d))
        room[d] -= 1
        if room[d]:
            turn = pick + 1
        else:
            del dests[pick]
            turn = pick
    return moves


class ReplicaCountGoal(SoftGoal):
    """Replica count per broker within its band; the smallest replicas move, so it costs almost nothing."""

    name = "replica_count"

    def accepts(self, action: Action, state: Assignment) -> bool:
        return _not_worse(action, state, None, state.count, state.t.count_lo, state.t.count_hi)

    def improve(self, state: Assignment) -> bool:
        t = state.t
        cnt = state.count
        changed = False
        if state.batchable():
            for _ in range(6):  # each batch deals the refused replicas to other brokers next time
                applied = self._bulk(state)
                changed |= applied > 0
                if applied < 100:
                    break
        for s in sorted(state.active, key=lambda b: (-(cnt[b] - t.count_hi[b]), b)):
            if cnt[s] > t.count_hi[s]:
                changed |= self._shed(state, s)
        for d in sorted(state.active, key=lambda b: (cnt[b] - t.count_lo[b], b)):
            if cnt[d] < t.count_lo[d]:
                changed |= self._gain(state, d)
        return changed

    def _bulk(self, state: Assignment) -> int:
        """One batch: every broker above its band offers its surplus replicas, dealt round-robin to the
        brokers below their band's top, furthest below first. What the guards refuse is left to the
        move-by-move pass that follows.

        The surplus is the cheapest set the lower bound counts: the smallest replicas of each topic the
        broker holds too many of, then its smallest others. A replica goes to the next broker in turn
        that has room for its topic and no copy in its rack, so topic spread and rack-awareness are
        mostly met here at no extra cost instead of by swaps later.
        """
        t = state.t
        cnt = state.count
        groups: dict[str, list[int]] = {}
        for b in state.active:
            groups.setdefault(t.group[b] if t.strict_racks else "", []).append(b)
        has_racks, n_racks = rack_aware(state.m, state.active)
        racks = n_racks if has_racks and n_racks > 1 else 0
        moves: list[Move] = []
        offered: set[int] = set()  # one move per partition per batch: the guards judge each on the state before
        for members in groups.values():
            offers: list[tuple[int, int]] = []
            shift = state.moves % max(len(members), 1)  # deal from another broker each batch
            for s in sorted(members, key=lambda b: (-(cnt[b] - t.count_hi[b]), b)):
                if cnt[s] > t.count_hi[s]:
                    offers += [(pid, s) for pid in _surplus(state, s, cnt[s] - t.count_hi[s], offered)]
            order = sorted(members, key=lambda b: (cnt[b] - t.count_lo[b], b))
            order = order[shift:] + order[:shift]
            room = {d: t.count_hi[d] - cnt[d] for d in order if cnt[d] < t.count_hi[d]}
            moves += _deal(state, offers, room, racks)
        return state.apply_batch(moves) if moves else 0

    def _shed(self, state: Assignment, s: int) -> bool:
        """Give the smallest replicas of `s` to the brokers furthest below their band, round-robin."""
        t = state.t
        cnt = state.count
        dests = sorted((x for x in _dests(state, s) if x != s and cnt[x] < t.count_hi[x]),
                       key=lambda x: (cnt[x] - t.count_lo[x], state.fill(x), x))
        changed = False
        k = 0
        held = state.by_size[s]
        turn = 0
        while cnt[s] > t.count_hi[s] and k < len(held) and dests:
            pid = held[k]
            for j in range(min(len(dests), 8)):
                d = dests[(turn + j) % len(dests)]
                if state.try_apply((Move(pid, s, d),)):
                    changed = True
                    if cnt[d] >= t.count_hi[d]:
                        dests.remove(d)
                    turn = turn + j + 1
                    break
            else:
                k += 1  # this replica fits nowhere near: try the next smallest
        return changed

    def _gain(self, state: Assignment, d: int) -> bool:
        t = state.t
        cnt = state.count
        srcs = sorted((x for x in _dests(state, d) if x != d and cnt[x] > t.count_lo[x]),
                      key=lambda x: (-(cnt[x] - t.count_hi[x]), -state.fill(x), x))
        changed = False
        for s in srcs:
            k = 0
            held = state.by_size[s]
            while cnt[d] < t.count_lo[d] and cnt[s] > t.count_lo[s] and k < len(held):
                if state.try_apply((Move(held[k], s, d),)):
                    changed = True
                else:
                    k += 1
            if cnt[d] >= t.count_lo[d]:
                break
        return changed

    def satisfied(self, state: Assignment) -> bool:
        t = state.t
        return all(t.count_lo[b] <= state.count[b] <= t.count_hi[b] for b in state.active)


def _fills(v: dict[int, float], mid: dict[int, float], brokers: list[int], sign: float) -> list[tuple[float, int]]:
    """(sign x fill, broker) per broker, fill being value / middle of the band (an empty band: 0 or inf)."""
    return [(sign * (v[x] / mid[x] if mid[x] > 0 else (math.inf if v[x] else 0.0)), x) for x in brokers]


class _Ranked:
    """(key, broker) pairs kept sorted while keys change: a transfer changes the keys of two brokers only,
    so re-sorting every broker after every move (the obvious way) would be wasted work."""

    def __init__(self, pairs: list[tuple[float, int]]) -> None:
        self.items = sorted(pairs)
        self.key = {x: k for k, x in pairs}

    def first(self, n: int) -> list[tuple[float, int]]:
        return self.items[:n]

    def update(self, pairs: list[tuple[float, int]]) -> None:
        for k, x in pairs:
            old = self.key.get(x)
            if old is None:
                continue
            del self.items[bisect_left(self.items, (old, x))]
            insort(self.items, (k, x))
            self.key[x] = k


class _BandGoal(SoftGoal):
    """Shared machinery of the byte-valued bands (disk, network-in): push the over-full, pull the under-full.

    A transfer takes the largest replica that does not overshoot the gap (then the smallest that
    closes it); when a guarding goal refuses a one-way move (typically the replica-count band), the
    smallest replica the receiver holds travels back in the same action.
    """

    quantity = "disk"  # the Assignment attribute per broker, and the per-replica list below
    per_replica_attr = "sizes"
    lo_attr, hi_attr = "disk_lo", "disk_hi"

    def value(self, state: Assignment) -> dict[int, float]:
        v: dict[int, float] = getattr(state, self.quantity)
        return v

    def per_replica(self, state: Assignment) -> Sequence[float]:
        v: Sequence[float] = getattr(state, self.per_replica_attr)
        return v

    def band(self, state: Assignment) -> tuple[dict[int, float], dict[int, float]]:
        return getattr(state.t, self.lo_attr), getattr(state.t, self.hi_attr)

    def accepts(self, action: Action, state: Assignment) -> bool:
        lo, hi = self.band(state)
        return _not_worse(action, state, self.per_replica(state), self.value(state), lo, hi)

    def satisfied(self, state: Assignment) -> bool:
        lo, hi = self.band(state)
        v = self.value(state)
        return all(lo[b] - 0.5 <= v[b] <= hi[b] + 0.5 for b in state.active)

    def improve(self, state: Assignment) -> bool:
        changed = False
        for _ in range(6):
            step = self._push(state) | self._pull(state)
            changed |= step
            if not step:
                break
        return changed

    def _margin(self, lo: dict[int, float], hi: dict[int, float], b: int) -> float:
        """Receivers stop a quarter-band short of their edge, so small later fixes still fit."""
        return 0.25 * (hi[b] - lo[b]) / 2

    def _mids(self, state: Assignment, lo: dict[int, float], hi: dict[int, float]) -> dict[int, float]:
        """The middle of each broker's band: fill (value / middle) orders senders and receivers."""
        return {b: (lo[b] + hi[b]) / 2 for b in state.ids}

    def _push(self, state: Assignment) -> bool:
        lo, hi = self.band(state)
        v = self.value(state)
        changed = False
        mid = self._mids(state, lo, hi)
        for s in sorted(state.active, key=lambda b: (-(v[b] - hi[b]), b)):
            if v[s] <= hi[s]:
                continue
            ranked = _Ranked(_fills(v, mid, _dests(state, s), 1.0))  # emptiest receivers first
            while v[s] > hi[s]:
                want = v[s] - hi[s]
                moved = 0.0
                for _f, t in ranked.first(6):
                    room = hi[t] - self._margin(lo, hi, t) - v[t]
                    if t == s or room <= 0:
                        continue
                    moved = self._transfer(state, s, t, want, room)
                    if moved > 0:
                        ranked.update(_fills(v, mid, [s, t], 1.0))  # only these two changed
                        break
                if moved <= 0:
                    break
                changed = True
        return changed

    def _pull(self, state: Assignment) -> bool:
        lo, hi = self.band(state)
        v = self.value(state)
        changed = False
        mid = self._mids(state, lo, hi)
        for d in sorted(state.active, key=lambda b: (-(lo[b] - v[b]), b)):
            if v[d] >= lo[d]:
                continue
            ranked = _Ranked(_fills(v, mid, _dests(state, d), -1.0))  # fullest senders first
            while v[d] < lo[d]:
                want = lo[d] - v[d]
                room = hi[d] - v[d]
                moved = 0.0
                for _f, s in ranked.first(6):
                    surplus = v[s] - lo[s] - self._margin(lo, hi, s)
                    if s == d or surplus <= 0:
                        continue
                    moved = self._transfer(state, s, d, min(want, surplus), min(room, surplus))
                    if moved > 0:
                        ranked.update(_fills(v, mid, [s, d], -1.0))
                        break
                if moved <= 0:
                    break
                changed = True
        return changed

    def _candidates(self, state: Assignment, s: int) -> tuple[list[float], list[int]]:
        """Replicas of `s` ordered by this goal's quantity (ascending): values and partition indices."""
        return state.size_sorted[s], state.by_size[s]  # type: ignore[return-value]

    def _transfer(self, state: Assignment, s: int, t: int, want: float, room: float) -> float:
        per = self.per_replica(state)
        got = self._pick(state, s, t, min(want, room), room, 0.0, None, 8)
        if got is not None:
            return got
        for back in self._backs(state, t, s):  # one way refused: swap against a small replica of t
            q = per[back.pid]
            got = self._pick(state, s, t, min(want, room) + q, room, q, back, _SCAN)
            if got is not None:
                return got - q
        return 0.0

    def _backs(self, state: Assignment, t: int, s: int) -> list[Move]:
        """The smallest replicas of `t` that could travel back to `s` (the return leg of a swap)."""
        _vals, pids = self._candidates(state, t)
        hard = [g for g in state.guards if g.hard]
        out = []
        for k in range(min(len(pids), 8 * _SCAN)):
            pid = pids[k]
            if s not in state.rep[pid]:
                leg = (Move(pid, t, s),)
                if all(g.accepts(leg, state) for g in hard):
                    out.append(leg[0])
                    if len(out) >= 4:
                        break
        return out

    def _pick(self, state: Assignment, s: int, t: int, cap: float, room: float, floor: float,
              back: Move | None, tries: int) -> float | None:
        """Apply the best-fitting move of a replica from s to t (with `back` as the return leg); its value."""
        vals, pids = self._candidates(state, s)
        idx = bisect_right(vals, cap) - 1
        extra: Action = (back,) if back is not None else ()
        # below the cap, largest first; then (nothing fits under the gap) the smallest that closes it
        below = range(idx, -1, -1)
        above = range(idx + 1, len(vals))
        for ks, is_below in ((below, True), (above, False)):
            n = 0
            for k in ks:
                val = vals[k]
                if (val <= floor) if is_below else (val - floor > room):
                    break
                pid = pids[k]
                if back is not None and pid == back.pid:
                    continue
                action = (Move(pid, s, t), *extra)
                why = state.veto(action)
                if why is None:
                    state.apply(action)
                    return val
                if back is None and why in self._soft_guards(state):
                    return None  # a band refuses one-way moves between these brokers: swap instead
                n += 1
                if n >= tries:
                    break
        return None

    def _soft_guards(self, state: Assignment) -> set[str]:
        return {g.name for g in state.guards if not g.hard}


class DiskGoal(_BandGoal):
    """Disk bytes per broker within its band (capacity-weighted, per rack where racks force it)."""

    name = "disk"


class NetworkInGoal(_BandGoal):
    """Bytes-in per second per broker within its band (every replica receives a partition's bytes in)."""

    name = "network_in"
    quantity = "net"
    per_replica_attr = "rates"
    lo_attr, hi_attr = "net_lo", "net_hi"

    def __init__(self) -> None:
        self._sorted: dict[int, tuple[list[float], list[int]]] = {}
        self._at = -1
        self._for: Assignment | None = None

    def improve(self, state: Assignment) -> bool:
        if not any(state.rates):
            return False
        return super().improve(state)

    def _candidates(self, state: Assignment, s: int) -> tuple[list[float], list[int]]:
        if self._at != state.moves or self._for is not state:
            self._for = state  # replicas moved since: sort again (only brokers that are asked)
            self._sorted.clear()
            self._at = state.moves
        if s not in self._sorted:
            pids = sorted(state.by_size[s], key=lambda p: (state.rates[p], p))
            self._sorted[s] = ([state.rates[p] for p in pids], pids)
        return self._sorted[s]


class TopicSpreadGoal(SoftGoal):
    """No broker holds many more replicas of one topic than its share (losing it would hurt that topic)."""

    name = "topic_spread"

    def limit(self, state: Assignment, key: int) -> int:
        """Most replicas of a topic a broker may hold (`Targets.topic_hi`); key is broker * n_topics + topic."""
        return state.topic_limit(key)

    def accepts(self, action: Action, state: Assignment) -> bool:
        delta: dict[int, int] = {}
        nt = state.n_topics
        for pid, src, dst in action:
            tp = state.topic[pid]
            delta[src * nt + tp] = delta.get(src * nt + tp, 0) - 1
            delta[dst * nt + tp] = delta.get(dst * nt + tp, 0) + 1
        return all(dv <= 0 or state.tcount.get(key, 0) + dv <= self.limit(state, key) for key, dv in delta.items())

    def _over(self, state: Assignment) -> list[tuple[int, int]]:
        nt = state.n_topics
        return sorted((key // nt, key % nt) for key, n in state.tcount.items()
                      if n > self.limit(state, key) and key // nt not in state.removed)

    def satisfied(self, state: Assignment) -> bool:
        return not self._over(state)

    def improve(self, state: Assignment) -> bool:
        nt = state.n_topics
        changed = False
        over = self._over(state)
        mine: dict[int, list[int]] = {}
        last = -1
        fewest: dict[tuple[int, str], list[int]] = {}
        topic = state.topic
        wanted: dict[int, set[int]] = {}
        for b, tp in over:
            wanted.setdefault(b, set()).add(tp)
        for b, tp in over:
            if b != last:  # one pass over the broker's replicas, smallest first: cheapest to move
                mine = {}
                for p in state.held_of_topics(b, wanted[b]):
                    mine.setdefault(topic[p], []).append(p)
                last = b
            group = (tp, state.t.group[b])
            if group not in fewest:  # the brokers holding the fewest of the topic, once per topic (and rack)
                fewest[group] = sorted(_dests(state, b), key=lambda x: (state.tcount.get(x * nt + tp, 0), x))[:16]
            dests = [x for x in fewest[group]
                     if x != b and state.tcount.get(x * nt + tp, 0) < self.limit(state, x * nt + tp)][:8]
            for pid in mine.get(tp, []):
                if state.tcount.get(b * nt + tp, 0) <= self.limit(state, b * nt + tp):
                    break
                if self._move_one(state, pid, b, dests, tp):
                    changed = True
        return changed

    def _move_one(self, state: Assignment, pid: int, b: int, dests: list[int], tp: int) -> bool:
        nt = state.n_topics
        size = state.sizes[pid]
        one_way = True
        soft = {g.name for g in state.guards if not g.hard}
        for d in dests:
            if state.tcount.get(d * nt + tp, 0) >= self.limit(state, d * nt + tp):
                continue
            if one_way:
                why = state.veto((Move(pid, b, d),))
                if why is None:
                    state.apply((Move(pid, b, d),))
                    return True
                one_way = why not in soft  # a band refuses one-way moves from b: only swaps from now on
            # else a swap with a replica of about the same size (of a topic b has room for) keeps both
            # brokers' replica counts and disk where they are
            sizes = state.size_sorted[d]
            pids = state.by_size[d]
            mid = bisect_right(sizes, size)
            for k in [*range(min(4, len(pids))), *_around(mid, len(pids), 12)]:
                q = pids[k]
                tq = state.topic[q]
                if tq != tp and state.tcount.get(b * nt + tq, 0) < self.limit(state, b * nt + tq) and \
                        b not in state.rep[q] and \
                        state.try_apply((Move(pid, b, d), Move(q, d, b))):
                    return True
        return False


def _around(mid: int, n: int, count: int) -> list[int]:
    """Indices mid-1, mid, mid-2, mid+1, ... within [0, n): the neighbours of a sorted position."""
    out = []
    for step in range(count):
        k = mid - 1 - step // 2 if step % 2 == 0 else mid + step // 2
        if 0 <= k < n:
            out.append(k)
    return out


class LeaderCountGoal(SoftGoal):
    """Leaders per broker within a band, by reordering replica lists only (no data moves)."""

    name = "leader_count"

    def accepts(self, action: Action, state: Assignment) -> bool:
        t = state.t
        for pid, src, dst in action:
            if state.rep[pid][0] == src and state.leaders[dst] + 1 > t.leader_hi >= state.leaders[dst]:
                return False
        return True

    def satisfied(self, state: Assignment) -> bool:
        t = state.t
        return all(t.leader_lo <= state.leaders[b] <= t.leader_hi for b in state.active)

    def improve(self, state: Assignment) -> bool:
        t = state.t
        lead = state.leaders
        changed = False
        over = {b for b in state.active if lead[b] > t.leader_hi} | {b for b in state.removed if lead[b]}
        if over:
            for pid, reps in enumerate(state.rep):
                b = reps[0]
                if b not in over:
                    continue
                limit = 0 if b in state.removed else t.leader_hi
                if lead[b] <= limit:
                    continue
                f = min((x for x in reps[1:] if lead[x] < t.leader_hi and x not in state.removed),
                        key=lambda x: (lead[x], x), default=None)
                if f is not None:
                    state.set_leader(pid, f)
                    changed = True
        under = {b for b in state.active if lead[b] < t.leader_lo}
        if under:
            for pid, reps in enumerate(state.rep):
                old = reps[0]
                if lead[old] <= t.leader_lo:
                    continue
                cand = [x for x in reps[1:] if x in under and lead[x] < t.leader_lo]
                if cand:
                    state.set_leader(pid, min(cand, key=lambda x: (lead[x], x)))
                    changed = True
        return changed


def default_goals(th: Thresholds) -> list[Goal]:
    """Cruise Control's order: hard goals, then replica count, disk, network-in, topic spread, leaders."""
    return [RackAwareGoal(), CapacityGoal(), DrainGoal(), ReplicaCountGoal(), DiskGoal(), NetworkInGoal(),
            TopicSpreadGoal(), LeaderCountGoal()]


DEFAULT_GOALS = ("rack_aware", "capacity", "drain", "replica_count", "disk", "network_in", "topic_spread",
                 "leader_count")


def hard_violations(model: ClusterModel, replicas: list[list[int]], targets: Targets) -> list[str]:
    """Every broken hard goal in an assignment, as readable lines (empty = all hard goals hold)."""
    state = Assignment(model, targets)
    state.rep = [list(r) for r in replicas]
    state._index(model)
    problems = [f"{model.topics[i]}-{model.partitions[i]}: two replicas on one broker {replicas[i]}"
                for i in doubled(replicas)]
    for g in (RackAwareGoal(), CapacityGoal(), DrainGoal()):
        problems += g.violations(state)
    return problems
