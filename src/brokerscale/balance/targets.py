"""Per-broker targets and bands, computed under the hard goals, and the lower bound on bytes moved.

Why targets are not simply "the mean": rack-awareness decides where copies may live. With RF 3 over
3 racks every rack holds one copy of every partition, so a rack with two brokers can give each only
half of what a single-broker rack holds. A band around the cluster-wide mean would then be a promise
no plan can keep, and a lower bound built on it would be larger than what the optimizer really
moves. So each broker's fair share is water-filled: copies that a rack *must* hold are fixed to that
rack, the rest flow to the emptiest racks; the cluster-wide band is reported as infeasible (with the
reason) whenever the shares it implies cannot be reached.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter

import numpy as np

from brokerscale.balance.model import ClusterModel
from brokerscale.errors import BadInput

MODES = ("full", "add-brokers", "remove-brokers")


@dataclass(frozen=True)
class Thresholds:
    """Allowed deviation from the fair share, as a fraction (0.10 = ±10%)."""

    replica_count: float = 0.10
    leader_count: float = 0.10
    disk: float = 0.10
    network_in: float = 0.10
    topic_spread: float = 0.10
    capacity: float = 0.80

    def __post_init__(self) -> None:
        for name in ("replica_count", "leader_count", "disk", "network_in", "topic_spread"):
            v = getattr(self, name)
            if not 0 <= v < 1:
                raise BadInput(f"threshold {name}: {v} must be in [0, 1)")
        if not 0 < self.capacity <= 1:
            raise BadInput(f"threshold capacity: {self.capacity} must be in (0, 1]")


@dataclass
class Targets:
    """Per-broker bands the goals aim for; removed brokers have every band at zero.

    `infeasible` names each soft goal whose cluster-wide band the hard goals make impossible, with
    the reason in words; the bands here are then the closest reachable ones (balanced per rack).
    """

    active: list[int]
    removed: set[int]
    group: dict[int, str]
    strict_racks: bool
    rack_rule: bool = False
    count_lo: dict[int, int] = field(default_factory=dict)
    count_hi: dict[int, int] = field(default_factory=dict)
    disk_target: dict[int, float] = field(default_factory=dict)
    disk_lo: dict[int, float] = field(default_factory=dict)
    disk_hi: dict[int, float] = field(default_factory=dict)
    net_lo: dict[int, float] = field(default_factory=dict)
    net_hi: dict[int, float] = field(default_factory=dict)
    disk_cap: dict[int, float] = field(default_factory=dict)
    net_cap: dict[int, float] = field(default_factory=dict)
    leader_lo: int = 0
    leader_hi: int = 0
    topic_hi: dict[str, int] = field(default_factory=dict)
    topic_hi_broker: dict[tuple[str, int], int] = field(default_factory=dict)
    infeasible: dict[str, str] = field(default_factory=dict)


def rack_aware(model: ClusterModel, active: Sequence[int]) -> tuple[bool, int]:
    """Racks count only when every active broker has one (Kafka refuses a half-racked cluster)."""
    racks = {model.brokers[b].rack for b in active}
    if None in racks:
        return False, 0
    return True, len(racks)


def validate_mode(model: ClusterModel, mode: str, brokers: list[int]) -> set[int]:
    """Check the mode's broker list against the model; returns the set of brokers being removed."""
    if mode not in MODES:
        raise BadInput(f"--mode: {mode!r} is not one of {', '.join(MODES)}")
    unknown = [b for b in brokers if b not in model.brokers]
    if unknown:
        known = ",".join(str(b) for b in sorted(model.brokers))
        raise BadInput(f"--brokers: unknown broker id {unknown[0]} (the cluster has {known})")
    if mode != "full" and not brokers:
        raise BadInput(f"--brokers: {mode} needs the broker ids, e.g. --brokers 4,5")
    if mode == "full" and brokers:
        raise BadInput("--brokers: only add-brokers and remove-brokers take broker ids")
    removed = set(brokers) if mode == "remove-brokers" else set()
    active = [b for b in model.brokers if b not in removed]
    if not active:
        raise BadInput("--brokers: removing every broker leaves nowhere to put the replicas")
    max_rf = max((len(r) for r in model.replicas), default=0)
    if max_rf > len(active):
        worst = next(i for i, r in enumerate(model.replicas) if len(r) == max_rf)
        raise BadInput(f"--brokers: only {len(active)} brokers would remain but "
                       f"{model.topics[worst]}-{model.partitions[worst]} has {max_rf} replicas")
    return removed


def _bands(mean: float, t: float) -> tuple[float, float]:
    return mean * (1 - t), mean * (1 + t)


def _water_fill(fixed: float, capped: float, cap: float, free: float, weights: list[float]) -> list[float]:
    """Load per rack: `fixed` in every rack, `capped` spread with at most `cap` per rack, `free` anywhere.

    The level per unit of weight rises until everything is placed, the emptiest racks filling first
    (bisection on the level; exact enough for bands of a few percent).
    """
    total = capped + free
    if total <= 0:
        return [fixed] * len(weights)
    limit = cap if free <= 0 else math.inf

    def placed(level: float) -> float:
        return sum(min(max(level * w - fixed, 0.0), limit) for w in weights)

    lo, hi = 0.0, (fixed * len(weights) + total) / min(weights) + 1.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if placed(mid) < total:
            lo = mid
        else:
            hi = mid
    return [fixed + min(max(hi * w - fixed, 0.0), limit) for w in weights]


def _per_broker_share(values: np.ndarray, rf: np.ndarray, n_racks: int, rack_rule: bool,
                      members: dict[str, list[int]], weight: dict[int, float]) -> dict[int, float]:
    """Each active broker's fair share of a per-partition quantity held once per replica."""
    total = float((values * rf).sum())
    if not rack_rule:
        wsum = sum(weight[b] for bs in members.values() for b in bs)
        return {b: total * weight[b] / wsum for bs in members.values() for b in bs}
    full = rf == n_racks
    fewer = rf < n_racks
    fixed = float(values[full].sum())  # one copy in every rack
    capped = float((values[fewer] * rf[fewer]).sum())  # at most one copy per rack
    cap = float(values[fewer].sum())
    free = total - fixed * n_racks - capped  # more replicas than racks: no per-rack limit
    racks = sorted(members)
    wr = [sum(weight[b] for b in members[r]) for r in racks]
    loads = _water_fill(fixed, capped, cap, max(free, 0.0), wr)
    out: dict[int, float] = {}
    for r, load, w in zip(racks, loads, wr, strict=True):
        for b in members[r]:
            out[b] = load * weight[b] / w
    return out


def _rack_reason(what: str, members: dict[str, list[int]], n_racks: int, rf_full: bool) -> str:
    sizes = ", ".join(f"{r}: {len(bs)}" for r, bs in sorted(members.items()))
    why = (f"every partition keeps one copy in each of the {n_racks} racks" if rf_full
           else "no rack may hold two copies of a partition")
    return (f"a cluster-wide {what} band cannot be met: {why} and the racks have different numbers of "
            f"brokers ({sizes}); each broker is balanced to its rack's reachable share instead")


def compute_targets(model: ClusterModel, removed: set[int], th: Thresholds) -> Targets:
    active = sorted(b for b in model.brokers if b not in removed)
    has_racks, n_racks = rack_aware(model, active)
    rf = np.fromiter(map(len, model.replicas), dtype=np.int64, count=len(model.replicas))
    rack_rule = has_racks and n_racks > 1 and bool(len(rf)) and bool((rf <= n_racks).any())
    strict = has_racks and n_racks > 1 and bool(len(rf)) and bool((rf == n_racks).all())
    group = {b: (model.brokers[b].rack or "") if strict else "" for b in model.brokers}
    t = Targets(active=active, removed=set(removed), group=group, strict_racks=strict, rack_rule=rack_rule)

    members: dict[str, list[int]] = {}
    for b in active:
        members.setdefault((model.brokers[b].rack or "") if rack_rule else "", []).append(b)
    caps = [model.brokers[b].disk_bytes or 0 for b in active]
    equal = dict.fromkeys(active, 1.0)
    disk_weight = ({b: c / (sum(caps) / len(caps)) for b, c in zip(active, caps, strict=True)}
                   if all(caps) else equal)
    sizes = np.asarray(model.sizes, dtype=np.float64)
    rates = np.asarray(model.bytes_in, dtype=np.float64)
    ones = np.ones(len(rf), dtype=np.float64)
    count_share = _per_broker_share(ones, rf, n_racks, rack_rule, members, equal)
    disk_share = _per_broker_share(sizes, rf, n_racks, rack_rule, members, disk_weight)
    net_share = _per_broker_share(rates, rf, n_racks, rack_rule, members, equal)

    n = len(active)
    cmean = float(rf.sum()) / n
    dtotal = float((sizes * rf).sum())
    ntotal = float((rates * rf).sum())
    uneven = {"replica count": False, "disk": False, "network-in": False}
    for b in active:
        clo, chi = _bands(count_share[b], th.replica_count)
        t.count_lo[b], t.count_hi[b] = math.floor(clo), math.ceil(chi)
        t.disk_target[b] = disk_share[b]
        t.disk_lo[b], t.disk_hi[b] = _bands(disk_share[b], th.disk)
        t.net_lo[b], t.net_hi[b] = _bands(net_share[b], th.network_in)
        # is the cluster-wide band (around the capacity-weighted mean) out of reach for this broker?
        glo, ghi = _bands(cmean, th.replica_count)
        uneven["replica count"] |= not (math.floor(glo) <= count_share[b] <= math.ceil(ghi))
        dmean = dtotal * disk_weight[b] / n
        uneven["disk"] |= abs(disk_share[b] - dmean) > th.disk * dmean + 0.5
        nmean = ntotal / n
        uneven["network-in"] |= abs(net_share[b] - nmean) > th.network_in * nmean + 0.5
    goal_key = {"replica count": "replica_count", "disk": "disk", "network-in": "network_in"}
    for what, bad in uneven.items():
        if bad:
            t.infeasible[goal_key[what]] = _rack_reason(what, members, n_racks, strict)
    for b in model.brokers:
        br = model.brokers[b]
        t.disk_cap[b] = br.disk_bytes * th.capacity if br.disk_bytes else math.inf
        t.net_cap[b] = br.network_bytes_s * th.capacity if br.network_bytes_s else math.inf
        if b in removed:
            t.count_lo[b] = t.count_hi[b] = 0
            t.disk_target[b] = t.disk_lo[b] = t.disk_hi[b] = 0.0
            t.net_lo[b] = t.net_hi[b] = 0.0
        else:
            t.disk_hi[b] = min(t.disk_hi[b], t.disk_cap[b])
            t.net_hi[b] = min(t.net_hi[b], t.net_cap[b])
    lmean = len(model.replicas) / n
    llo, lhi = _bands(lmean, th.leader_count)
    t.leader_lo, t.leader_hi = math.floor(llo), math.ceil(lhi)
    _topic_limits(model, t, rf, n_racks, members, th.topic_spread)
    return t


def _topic_limits(model: ClusterModel, t: Targets, rf: np.ndarray, n_racks: int, members: dict[str, list[int]],
                  spread: float) -> None:
    """Most replicas of each topic a broker may hold; per broker only where racks force a larger share."""
    if not len(rf):
        return
    names = sorted(set(model.topics))
    index = {name: i for i, name in enumerate(names)}
    tix = np.asarray([index[x] for x in model.topics], dtype=np.int64)
    totals = np.bincount(tix, weights=rf.astype(np.float64), minlength=len(names))
    n = len(t.active)
    t.topic_hi = {name: max(math.ceil(total / n * (1 + spread)), 1)
                  for name, total in zip(names, totals.tolist(), strict=True)}
    if not t.rack_rule:
        return
    order = np.argsort(tix, kind="stable")
    bounds = np.searchsorted(tix[order], np.arange(len(names) + 1))
    equal = dict.fromkeys(t.active, 1.0)
    forced = False
    for k, name in enumerate(names):
        rft = rf[order[bounds[k]:bounds[k + 1]]]
        share = _per_broker_share(np.ones(len(rft)), rft, n_racks, True, members, equal)
        for b, v in share.items():
            hi = max(math.ceil(v * (1 + spread)), 1)
            if hi > t.topic_hi[name]:
                t.topic_hi_broker[(name, b)] = hi
                forced = True
    if forced:
        t.infeasible["topic_spread"] = _rack_reason("topic spread", members, n_racks, t.strict_racks)


def flat_replicas(replicas: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(broker of each replica, partition index of each replica) for an assignment, as arrays."""
    lengths = np.fromiter(map(len, replicas), dtype=np.int64, count=len(replicas))
    total = int(lengths.sum())
    brokers = np.fromiter(chain.from_iterable(replicas), dtype=np.int64, count=total)
    pids = np.repeat(np.arange(len(replicas), dtype=np.int64), lengths)
    return brokers, pids


def by_group_then_size(groups: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The order of entries by (group, size), ties kept in input order (a stable sort).

    One radix sort on a packed key when both fit in 63 bits together (every real cluster), which is
    several times faster than `np.lexsort` on a million replicas.
    """
    if not len(groups):
        return np.zeros(0, dtype=np.int64)
    gmin, gmax, smin, smax = int(groups.min()), int(groups.max()), int(sizes.min()), int(sizes.max())
    bits = smax.bit_length()
    if gmin >= 0 and smin >= 0 and gmax.bit_length() + bits <= 63:
        return np.argsort((groups.astype(np.int64) << bits) | sizes.astype(np.int64), kind="stable")
    return np.lexsort((sizes, groups))


def doubled(replicas: Sequence[Sequence[int]]) -> list[int]:
    """Indices of the partitions that list one broker twice (an invalid assignment), in order."""
    if not replicas:
        return []
    brokers, pids = flat_replicas(replicas)
    keys = np.sort(pids * (int(brokers.max()) + 1) + brokers)
    same = keys[1:] == keys[:-1]
    if not same.any():
        return []
    return np.unique(keys[1:][same] // (int(brokers.max()) + 1)).tolist()


def count_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of an int array and how often each occurs (a sort; no hash table)."""
    if not len(keys):
        return keys, keys
    x = np.sort(keys)
    starts = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1])))
    counts = np.diff(np.append(starts, len(x)))
    return x[starts], counts


def broker_loads(model: ClusterModel, replicas: Sequence[Sequence[int]]) -> dict[int, dict[str, float]]:
    """Replicas, leaders, disk bytes and network-in bytes/s per broker for one assignment."""
    ids = sorted(model.brokers)
    out = {b: {"replicas": 0, "leaders": 0, "disk_bytes": 0, "bytes_in_per_s": 0.0} for b in ids}
    if not replicas:
        return out
    brokers, pids = flat_replicas(replicas)
    span = max(max(ids), int(brokers.max())) + 1
    sizes = np.asarray(model.sizes, dtype=np.int64)
    rates = np.asarray(model.bytes_in, dtype=np.float64)
    count = np.bincount(brokers, minlength=span)
    disk = np.bincount(brokers, weights=sizes[pids], minlength=span)
    net = np.bincount(brokers, weights=rates[pids], minlength=span)
    leaders = np.bincount(np.fromiter(map(itemgetter(0), replicas), dtype=np.int64, count=len(replicas)),
                          minlength=span)
    # disk sums exactly in integers (float64 would round totals above 2**53 bytes)
    disk_exact: dict[int, int] = {}
    for b in ids:
        disk_exact[b] = int(sizes[pids[brokers == b]].sum()) if disk[b] >= 2**52 else round(disk[b])
    for b in ids:
        d = out[b]
        d["replicas"] = int(count[b])
        d["leaders"] = int(leaders[b])
        d["disk_bytes"] = disk_exact[b]
        d["bytes_in_per_s"] = float(net[b])
    return out


def _smallest_per_group(group: np.ndarray, sizes: np.ndarray, take: np.ndarray) -> np.ndarray:
    """Mask of the `take[g]` smallest entries of each group (entries sorted by group, then size)."""
    if not len(group):
        return np.zeros(0, dtype=bool)
    starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
    first = np.repeat(starts, np.diff(np.append(starts, len(group))))
    rank = np.arange(len(group)) - first
    return rank < take


def lower_bound(model: ClusterModel, targets: Targets,
                goals: Sequence[str] = ("replica_count", "disk", "topic_spread")) -> int:
    """Bytes that no plan meeting the hard goals and the named soft goals can avoid moving.

    Each moved replica leaves exactly one broker and arrives on exactly one, so the total is at least
    the bytes that must leave over-band brokers and at least the bytes that must arrive on brokers
    under their disk band. What must leave a broker is the larger of its disk excess and the cheapest
    set of replicas that brings its counts into band: the smallest replicas of each topic it holds too
    many of, topped up with its smallest other replicas until its replica count fits (everything, on
    a removed broker). Bands are the reachable ones of `targets` (per rack where racks force it), so
    the bound holds for every such plan.
    """
    if not model.replicas:
        return 0
    ids = sorted(model.brokers)
    brokers, pids = flat_replicas(model.replicas)
    sizes = np.asarray(model.sizes, dtype=np.int64)[pids]
    names = sorted(set(model.topics))
    index = {name: i for i, name in enumerate(names)}
    topics = np.asarray([index[x] for x in model.topics], dtype=np.int64)[pids]
    span = max(ids) + 1
    count = np.bincount(brokers, minlength=span)
    disk = np.bincount(brokers, weights=sizes.astype(np.float64), minlength=span)
    removed = np.zeros(span, dtype=bool)
    removed[list(targets.removed)] = True
    forced = np.zeros(len(brokers), dtype=bool)
    if "topic_spread" in goals and targets.topic_hi:
        order = by_group_then_size(brokers * len(names) + topics, sizes)
        key = brokers[order] * len(names) + topics[order]
        keys, counts = count_keys(key)
        nt = len(names)
        hi = np.asarray([targets.topic_hi_broker.get((names[k % nt], k // nt), targets.topic_hi.get(names[k % nt], 0))
                         for k in keys.tolist()], dtype=np.int64)
        excess = np.maximum(counts - hi, 0)
        take = np.repeat(excess, counts)
        forced[order] = _smallest_per_group(key, sizes[order], take) & ~removed[brokers[order]]
    forced_bytes = np.bincount(brokers, weights=np.where(forced, sizes, 0).astype(np.float64), minlength=span)
    forced_count = np.bincount(brokers, weights=forced.astype(np.float64), minlength=span).astype(np.int64)
    extra = np.zeros(span, dtype=np.int64)
    if "replica_count" in goals:
        for b in ids:
            if b not in targets.removed:
                extra[b] = max(int(count[b]) - targets.count_hi[b] - int(forced_count[b]), 0)
    rest = ~forced
    order = by_group_then_size(brokers[rest], sizes[rest])
    rb, rs = brokers[rest][order], sizes[rest][order]
    top_up = _smallest_per_group(rb, rs, extra[rb])
    top_up_bytes = np.bincount(rb, weights=np.where(top_up, rs, 0).astype(np.float64), minlength=span)
    use_disk = "disk" in goals
    leave = 0.0
    arrive = 0.0
    for b in ids:
        d = float(disk[b])
        if b in targets.removed:
            leave += d
            continue
        over = d - targets.disk_hi[b] if use_disk else 0.0
        over = max(over, d - targets.disk_cap[b])  # the capacity limit is a hard goal: always counted
        leave += max(over, float(forced_bytes[b] + top_up_bytes[b]), 0.0)
        if use_disk:
            arrive += max(targets.disk_lo[b] - d, 0.0)
    return math.floor(max(leave, arrive))
