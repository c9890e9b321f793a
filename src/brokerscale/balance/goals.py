"""Goals, per-broker targets and the lower bound on bytes moved.

Hard goals are never traded away (distinct brokers, distinct racks when there are enough racks, disk
and network under 80% of a known capacity, removed brokers empty). Soft goals are bands around a
fair share — Cruise Control's 10% by default — and the optimizer only moves data to get a broker
*into* its band, never to the exact mean: that is where the savings in bytes moved come from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
    """Per-broker bands the optimizer aims for; removed brokers have all bands at zero."""

    active: list[int]
    removed: set[int]
    group: dict[int, str]
    strict_racks: bool
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


def rack_aware(model: ClusterModel, active: list[int]) -> tuple[bool, int]:
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


def compute_targets(model: ClusterModel, removed: set[int], th: Thresholds) -> Targets:
    active = sorted(b for b in model.brokers if b not in removed)
    has_racks, n_racks = rack_aware(model, active)
    rfs = {len(r) for r in model.replicas}
    # When every partition has exactly one replica per rack, each rack's load is fixed: balance per rack.
    strict = has_racks and n_racks > 1 and rfs == {n_racks}
    group = {b: (model.brokers[b].rack or "") if strict else "" for b in model.brokers}
    t = Targets(active=active, removed=set(removed), group=group, strict_racks=strict)

    members: dict[str, list[int]] = {}
    for b in active:
        members.setdefault(group[b], []).append(b)
    total_count = sum(len(r) for r in model.replicas)
    total_disk = float(sum(s * len(r) for s, r in zip(model.sizes, model.replicas, strict=True)))
    total_net = float(sum(x * len(r) for x, r in zip(model.bytes_in, model.replicas, strict=True)))
    n_groups = len(members)
    for bs in members.values():
        share = 1.0 / n_groups if strict else 1.0
        caps = [model.brokers[b].disk_bytes or 0 for b in bs]
        weights = ([c / sum(caps) for c in caps] if all(caps) else [1.0 / len(bs)] * len(bs))
        cmean = total_count * share / len(bs)
        clo, chi = _bands(cmean, th.replica_count)
        for b, w in zip(bs, weights, strict=True):
            t.count_lo[b] = math.floor(clo)
            t.count_hi[b] = math.ceil(chi)
            dt = total_disk * share * w
            t.disk_target[b] = dt
            t.disk_lo[b], t.disk_hi[b] = _bands(dt, th.disk)
            nlo, nhi = _bands(total_net * share / len(bs), th.network_in)
            t.net_lo[b], t.net_hi[b] = nlo, nhi
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
    lmean = len(model.replicas) / len(active)
    llo, lhi = _bands(lmean, th.leader_count)
    t.leader_lo, t.leader_hi = math.floor(llo), math.ceil(lhi)
    return t


def broker_loads(model: ClusterModel, replicas: list[list[int]]) -> dict[int, dict[str, float]]:
    """Replicas, leaders, disk bytes and network-in bytes/s per broker for one assignment."""
    out = {b: {"replicas": 0, "leaders": 0, "disk_bytes": 0, "bytes_in_per_s": 0.0} for b in model.brokers}
    for reps, size, bi in zip(replicas, model.sizes, model.bytes_in, strict=True):
        for j, b in enumerate(reps):
            d = out[b]
            d["replicas"] += 1
            d["disk_bytes"] += size
            d["bytes_in_per_s"] += bi
            if j == 0:
                d["leaders"] += 1
    return out


def lower_bound(model: ClusterModel, targets: Targets) -> int:
    """Bytes that no plan meeting the goals can avoid moving.

    Each moved replica leaves exactly one broker and arrives on exactly one, so the total is at least
    the bytes that must leave over-band brokers (disk excess, or the smallest replicas a broker over
    its replica-count band must shed, whichever is larger; everything on a removed broker), and at
    least the bytes that must arrive on brokers under their disk band.
    """
    held: dict[int, list[int]] = {b: [] for b in model.brokers}
    for reps, size in zip(model.replicas, model.sizes, strict=True):
        for b in reps:
            held[b].append(size)
    leave = 0.0
    arrive = 0.0
    for b, sizes in held.items():
        disk = float(sum(sizes))
        if b in targets.removed:
            leave += disk
            continue
        excess_count = len(sizes) - targets.count_hi[b]
        smallest = float(sum(sorted(sizes)[:excess_count])) if excess_count > 0 else 0.0
        leave += max(disk - targets.disk_hi[b], smallest, 0.0)
        arrive += max(targets.disk_lo[b] - disk, 0.0)
    return math.floor(max(leave, arrive))


def hard_violations(model: ClusterModel, replicas: list[list[int]], targets: Targets) -> list[str]:
    """Every broken hard goal in an assignment, as readable lines (empty = all hard goals hold)."""
    problems: list[str] = []
    has_racks, n_racks = rack_aware(model, targets.active)
    for i, reps in enumerate(replicas):
        name = f"{model.topics[i]}-{model.partitions[i]}"
        if len(set(reps)) != len(reps):
            problems.append(f"{name}: two replicas on one broker {reps}")
        if has_racks and n_racks >= len(reps):
            racks = [model.brokers[b].rack for b in reps]
            if len(set(racks)) != len(racks):
                problems.append(f"{name}: two replicas in one rack {reps}")
    loads = broker_loads(model, replicas)
    for b, d in sorted(loads.items()):
        if b in targets.removed and d["replicas"]:
            problems.append(f"broker {b}: being removed but still holds {int(d['replicas'])} replicas")
        if d["disk_bytes"] > targets.disk_cap[b] + 0.5:
            problems.append(f"broker {b}: disk above {model.brokers[b].disk_bytes} x capacity limit")
        if d["bytes_in_per_s"] > targets.net_cap[b] + 0.5:
            problems.append(f"broker {b}: network-in above the capacity limit")
    return problems
