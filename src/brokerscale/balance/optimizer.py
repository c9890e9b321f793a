"""The optimizer: fewest bytes moved that bring every broker within its bands. Pure and deterministic.

Why this shape: bytes moved is what a rebalance costs (network, disk, hours of throttled copying), so
the optimizer never aims for the exact mean. It moves a broker's data only until it is inside its
band, and it picks the replicas whose sizes best fill the gap (largest replica that does not
overshoot, then the smallest that closes the rest). Replica-count balance is restored with the
smallest replicas, which costs almost nothing on a heavy-tailed size distribution. Leadership is
balanced last by reordering replica lists only (no data moves). Every choice breaks ties by ids, so
the same input always yields the same proposal; the input is never mutated and no clock is read.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from dataclasses import dataclass, field

from brokerscale.balance.goals import (
    Targets,
    Thresholds,
    broker_loads,
    compute_targets,
    hard_violations,
    lower_bound,
    rack_aware,
    validate_mode,
)
from brokerscale.balance.model import ClusterModel
from brokerscale.errors import BadInput

_SCAN = 64  # how many neighbouring replica sizes to try before giving up on a broker for this step
_BIG = 1 << 62


@dataclass
class Proposal:
    """The optimizer's answer: the new assignment plus everything needed to judge it."""

    model: ClusterModel
    mode: str
    brokers: list[int]
    thresholds: Thresholds
    targets: Targets
    new_replicas: list[list[int]]
    lower_bound_bytes: int
    soft_goals: dict[str, bool] = field(default_factory=dict)

    def changed(self) -> list[int]:
        return [i for i, (a, b) in enumerate(zip(self.model.replicas, self.new_replicas, strict=True)) if a != b]

    @property
    def bytes_moved(self) -> int:
        total = 0
        for i in self.changed():
            old = set(self.model.replicas[i])
            total += self.model.sizes[i] * sum(1 for b in self.new_replicas[i] if b not in old)
        return total

    @property
    def replica_moves(self) -> int:
        return sum(sum(1 for b in self.new_replicas[i] if b not in set(self.model.replicas[i]))
                   for i in self.changed())

    @property
    def leader_moves(self) -> int:
        return sum(1 for i in self.changed() if self.model.replicas[i][0] != self.new_replicas[i][0])


class _State:
    """Mutable working copy of the assignment with per-broker aggregates kept up to date."""

    def __init__(self, model: ClusterModel, targets: Targets) -> None:
        self.m = model
        self.t = targets
        self.rep = [list(r) for r in model.replicas]
        ids = sorted(model.brokers)
        self.count = dict.fromkeys(ids, 0)
        self.disk = dict.fromkeys(ids, 0.0)
        self.net = dict.fromkeys(ids, 0.0)
        self.held: dict[int, list[tuple[int, int]]] = {b: [] for b in ids}
        self.rack = {b: model.brokers[b].rack for b in ids}
        has_racks, n_racks = rack_aware(model, targets.active)
        self.rack_rule = [has_racks and n_racks >= len(r) for r in model.replicas]
        names: dict[str, int] = {}
        self.topic = [names.setdefault(tp, len(names)) for tp in model.topics]
        self.tcount: dict[tuple[int, int], int] = {}
        for pid, reps in enumerate(self.rep):
            size = model.sizes[pid]
            for b in reps:
                self.count[b] += 1
                self.disk[b] += size
                self.net[b] += model.bytes_in[pid]
                self.held[b].append((size, pid))
                key = (b, self.topic[pid])
                self.tcount[key] = self.tcount.get(key, 0) + 1
        for b in ids:
            self.held[b].sort()
        self.removed = targets.removed
        groups: dict[str, list[int]] = {}
        for b in targets.active:
            groups.setdefault(targets.group[b], []).append(b)
        self.dests = {b: groups.get(targets.group[b], targets.active) for b in ids}
        if not targets.strict_racks:
            self.dests = {b: targets.active for b in ids}
        self.allow_loose = False
        self.moves = 0
        self.max_moves = 4 * sum(len(r) for r in self.rep) + 100

    # -- primitives -------------------------------------------------------------------------------

    def eligible(self, pid: int, src: int, dst: int) -> bool:
        reps = self.rep[pid]
        if dst in reps or dst in self.removed:
            return False
        if self.rack_rule[pid]:
            r = self.rack[dst]
            for x in reps:
                if x != src and self.rack[x] == r:
                    return False
        size = self.m.sizes[pid]
        return (self.disk[dst] + size <= self.t.disk_cap[dst]
                and self.net[dst] + self.m.bytes_in[pid] <= self.t.net_cap[dst])

    def move(self, pid: int, src: int, dst: int) -> None:
        reps = self.rep[pid]
        reps[reps.index(src)] = dst
        size = self.m.sizes[pid]
        bi = self.m.bytes_in[pid]
        self.count[src] -= 1
        self.count[dst] += 1
        self.disk[src] -= size
        self.disk[dst] += size
        self.net[src] -= bi
        self.net[dst] += bi
        h = self.held[src]
        k = bisect_right(h, (size, pid)) - 1
        del h[k]
        insort(self.held[dst], (size, pid))
        tp = self.topic[pid]
        self.tcount[(src, tp)] -= 1
        self.tcount[(dst, tp)] = self.tcount.get((dst, tp), 0) + 1
        self.moves += 1
        if self.moves > self.max_moves:  # a safety net against oscillation; never expected
            raise BadInput("rebalance: the optimizer did not converge; loosen the thresholds")

    def fill(self, b: int) -> float:
        target = self.t.disk_target[b]
        return self.disk[b] / target if target > 0 else (math.inf if self.disk[b] else 0.0)

    def dest_key(self, pid: int, d: int) -> tuple[float, ...]:
        """Lower is better: count room, emptiest disk, fewest replicas of the topic, network, id."""
        return (1.0 if self.count[d] >= self.t.count_hi[d] else 0.0, round(self.fill(d), 9),
                float(self.tcount.get((d, self.topic[pid]), 0)),
                round(self.net[d] / self.t.net_hi[d], 9) if self.t.net_hi[d] > 0 else 0.0, float(d))

    def best_dest(self, pid: int, src: int, *, within_band: bool) -> int | None:
        size = self.m.sizes[pid]
        best: int | None = None
        best_key: tuple[float, ...] = ()
        for d in self.dests[src]:
            if d == src or not self.eligible(pid, src, d):
                continue
            if within_band and (self.disk[d] + size > self.t.disk_hi[d] or self.count[d] >= self.t.count_hi[d]):
                continue
            key = self.dest_key(pid, d)
            if best is None or key < best_key:
                best, best_key = d, key
        return best

    # -- phases -------------------------------------------------------------------------------------

    def fix_hard(self) -> None:
        """Racks shared by two replicas, and replicas on removed brokers, must move whatever it costs."""
        for pid, reps in enumerate(self.rep):
            if not self.rack_rule[pid]:
                continue
            seen: set[str | None] = set()
            for b in list(reps):
                if self.rack[b] in seen and b not in self.removed:
                    self._place(pid, b)
                seen.add(self.rack[b])
        for b in sorted(self.removed):
            for _size, pid in sorted(self.held[b], key=lambda x: (-x[0], x[1])):
                self._place(pid, b)

    def _place(self, pid: int, src: int) -> None:
        d = self.best_dest(pid, src, within_band=True)
        if d is None:
            d = self.best_dest(pid, src, within_band=False)
        if d is None:
            name = f"{self.m.topics[pid]}-{self.m.partitions[pid]}"
            raise BadInput(f"rebalance: no broker can take a replica of {name} from broker {src} "
                           "without breaking a hard goal (distinct brokers and racks, capacity limit)")
        self.move(pid, src, d)

    def margin(self, b: int) -> float:
        """Receivers stop a quarter-band short of their edge, so small count fixes still fit later."""
        return 0.25 * (self.t.disk_hi[b] - self.t.disk_lo[b]) / 2

    def _smallest_back(self, t: int, s: int, skip: int) -> tuple[int, int] | None:
        """The smallest replica on `t` that could go to `s` (the return leg of a count-neutral swap)."""
        for size, pid in self.held[t][:8 * _SCAN]:
            if pid != skip and self.eligible(pid, t, s):
                return size, pid
        return None

    def _largest_fit(self, s: int, t: int, cap: float, floor: float) -> tuple[int, int] | None:
        """Largest replica on `s` of size in (floor, cap] that may move to `t`; else the smallest above cap."""
        h = self.held[s]
        idx = bisect_right(h, (cap, _BIG)) - 1
        for k in range(idx, max(-1, idx - 8 * _SCAN), -1):
            size, pid = h[k]
            if size <= floor:
                break
            if self.eligible(pid, s, t):
                return size, pid
        return None

    def _transfer(self, s: int, t: int, want: float, room: float) -> int:
        """Move about `want` bytes from s to t (never more than `room`), swapping a small replica back
        when a one-way move would push either broker out of its replica-count band. Returns bytes moved."""
        tt = self.t
        single = self.count[s] > tt.count_lo[s] and self.count[t] < tt.count_hi[t]
        back: tuple[int, int] | None = None
        qsize = 0
        if not single:
            back = self._smallest_back(t, s, -1)
            if back is None:
                return 0
            qsize = back[0]
        cap = min(want, room) + qsize
        got = self._largest_fit(s, t, cap, qsize)
        if got is None:
            # nothing fits under the gap: the smallest replica that closes it, if t has room for it
            h = self.held[s]
            idx = bisect_right(h, (cap, _BIG))
            for k in range(idx, len(h)):  # stops at the first that fits or the first too big for t
                size, pid = h[k]
                if size - qsize > room:
                    break
                if self.eligible(pid, s, t):
                    got = (size, pid)
                    break
        if got is None or (back is not None and got[1] == back[1]):
            return 0
        self.move(got[1], s, t)
        if back is not None:
            self.move(back[1], t, s)
        return got[0] - qsize

    def push_disk(self) -> bool:
        """Brokers above their disk band shed the replicas that best fill the excess."""
        changed = False
        tt = self.t
        for s in sorted(tt.active, key=lambda b: (-(self.disk[b] - tt.disk_hi[b]), b)):
            while self.disk[s] > tt.disk_hi[s]:
                r = self.disk[s] - tt.disk_hi[s]
                moved = 0
                for t in sorted(self.dests[s], key=lambda x: (self.fill(x), x))[:6]:
                    room = tt.disk_hi[t] - self.margin(t) - self.disk[t]
                    if t == s or room <= 0:
                        continue
                    moved = self._transfer(s, t, r, room)
                    if moved > 0:
                        break
                if moved <= 0:
                    break
                changed = True
        return changed

    def pull_disk(self) -> bool:
        """Brokers below their disk band take the replicas that best fill the gap from brokers with surplus."""
        changed = False
        tt = self.t
        for d in sorted(tt.active, key=lambda b: (-(tt.disk_lo[b] - self.disk[b]), b)):
            while self.disk[d] < tt.disk_lo[d]:
                r = tt.disk_lo[d] - self.disk[d]
                room = tt.disk_hi[d] - self.disk[d]
                moved = 0
                for s in sorted(self.dests[d], key=lambda x: (-self.fill(x), x))[:6]:
                    surplus = self.disk[s] - tt.disk_lo[s] - self.margin(s)
                    if s == d or surplus <= 0:
                        continue
                    moved = self._transfer(s, d, min(r, surplus), min(room, surplus))
                    if moved > 0:
                        break
                if moved <= 0:
                    break
                changed = True
        return changed

    def balance_counts(self) -> bool:
        """Replica counts into their band, moving the smallest replicas that keep disk within its band."""
        changed = False
        for s in sorted(self.t.active, key=lambda b: (-self.count[b], b)):
            while self.count[s] > self.t.count_hi[s]:
                if not self._count_move(s, None):
                    break
                changed = True
        for d in sorted(self.t.active, key=lambda b: (self.count[b], b)):
            while self.count[d] < self.t.count_lo[d]:
                if not self._count_move(None, d):
                    break
                changed = True
        return changed

    def _count_move(self, s: int | None, d: int | None) -> bool:
        t = self.t
        if s is not None:
            dests = sorted((x for x in self.dests[s] if x != s and self.count[x] < t.count_hi[x]),
                           key=lambda x: (self.count[x] - t.count_lo[x], self.fill(x), x))
            pairs = [(s, x) for x in dests]
        else:
            assert d is not None
            srcs = sorted((x for x in self.dests[d] if x != d and self.count[x] > t.count_lo[x]),
                          key=lambda x: (-(self.count[x] - t.count_hi[x]), -self.fill(x), x))
            pairs = [(x, d) for x in srcs]
        best: tuple[int, int, int, int] | None = None
        loose: tuple[int, int, int, int] | None = None  # breaks a disk band by one small replica
        for src, dst in pairs[:8]:
            # no scan limit: when brokers share most partitions, the smallest eligible one can be far down
            for size, pid in self.held[src]:
                if best is not None and size >= best[0]:
                    break
                if not self.eligible(pid, src, dst):
                    continue
                if self.disk[dst] + size <= t.disk_hi[dst] and self.disk[src] - size >= t.disk_lo[src]:
                    best = (size, pid, src, dst)
                    break
                if loose is None or size < loose[0]:
                    loose = (size, pid, src, dst)
        if best is None and self.allow_loose:
            # the disk phases repair the small overshoot with count-neutral swaps
            best = loose
        if best is None:
            return False
        self.move(best[1], best[2], best[3])
        return True

    def balance_leaders(self) -> None:
        """Leadership-only changes: reorder replica lists so each broker leads within its band."""
        t = self.t
        leaders = dict.fromkeys(self.count, 0)
        for reps in self.rep:
            leaders[reps[0]] += 1
        for b in sorted(t.active, key=lambda x: (-leaders[x], x)):
            if leaders[b] <= t.leader_hi:
                continue
            for reps in self.rep:
                if leaders[b] <= t.leader_hi:
                    break
                if reps[0] != b:
                    continue
                f = min((x for x in reps[1:] if leaders[x] < t.leader_hi and x not in self.removed),
                        key=lambda x: (leaders[x], x), default=None)
                if f is not None:
                    j = reps.index(f)
                    reps[0], reps[j] = reps[j], reps[0]
                    leaders[b] -= 1
                    leaders[f] += 1
        for b in sorted(t.active, key=lambda x: (leaders[x], x)):
            if leaders[b] >= t.leader_lo:
                continue
            for reps in self.rep:
                if leaders[b] >= t.leader_lo:
                    break
                if b in reps[1:] and leaders[reps[0]] > t.leader_lo:
                    old = reps[0]
                    j = reps.index(b)
                    reps[0], reps[j] = reps[j], reps[0]
                    leaders[old] -= 1
                    leaders[b] += 1


def _soft_goals(model: ClusterModel, st: _State, th: Thresholds) -> dict[str, bool]:
    t = st.t
    loads = broker_loads(model, st.rep)
    act = t.active
    out = {
        "replica_count": all(t.count_lo[b] <= loads[b]["replicas"] <= t.count_hi[b] for b in act),
        "leader_count": all(t.leader_lo <= loads[b]["leaders"] <= t.leader_hi for b in act),
        "disk": all(t.disk_lo[b] - 0.5 <= loads[b]["disk_bytes"] <= t.disk_hi[b] + 0.5 for b in act),
        "network_in": all(t.net_lo[b] - 0.5 <= loads[b]["bytes_in_per_s"] <= t.net_hi[b] + 0.5 for b in act),
    }
    per_topic: dict[int, dict[int, int]] = {}
    for (b, tp), n in st.tcount.items():
        if b not in t.removed:
            per_topic.setdefault(tp, {})[b] = n
    spread_ok = True
    n_active = len(act)
    for counts in per_topic.values():
        total = sum(counts.values())
        hi = math.ceil(total / n_active * (1 + th.topic_spread))
        if max(counts.values()) > max(hi, 1):
            spread_ok = False
            break
    out["topic_spread"] = spread_ok
    return out


def optimize(model: ClusterModel, mode: str = "full", brokers: list[int] | None = None,
             thresholds: Thresholds | None = None) -> Proposal:
    """Propose a new assignment for `model` in `mode`; raises BadInput when the goals cannot be met."""
    th = thresholds or Thresholds()
    ids = sorted(set(brokers or []))
    removed = validate_mode(model, mode, ids)
    targets = compute_targets(model, removed, th)
    lb = lower_bound(model, targets)
    st = _State(model, targets)
    st.fix_hard()
    for rnd in range(10):
        st.allow_loose = rnd >= 2
        changed = st.balance_counts()
        changed |= st.push_disk()
        changed |= st.pull_disk()
        if not changed and st.allow_loose:
            break
    st.balance_leaders()
    problems = hard_violations(model, st.rep, targets)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise BadInput(f"rebalance: cannot meet the hard goals: {problems[0]}{more}")
    return Proposal(model=model, mode=mode, brokers=ids, thresholds=th, targets=targets,
                    new_replicas=st.rep, lower_bound_bytes=lb, soft_goals=_soft_goals(model, st, th))
