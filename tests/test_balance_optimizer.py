"""The optimizer through its public interface: hard goals, bands, lower bound, determinism, modes."""

from __future__ import annotations

import itertools

import pytest

from brokerscale.balance.goals import Thresholds, broker_loads, hard_violations
from brokerscale.balance.model import Broker, ClusterModel
from brokerscale.balance.optimizer import optimize
from brokerscale.balance.synthetic import add_empty_brokers, skewed_cluster
from brokerscale.errors import BadInput


def _spread(model: ClusterModel, replicas: list[list[int]], removed: set[int] = frozenset()) -> tuple[float, float]:
    loads = broker_loads(model, replicas)
    act = [b for b in loads if b not in removed]
    cmean = sum(loads[b]["replicas"] for b in act) / len(act)
    dmean = sum(loads[b]["disk_bytes"] for b in act) / len(act)
    return (max(abs(loads[b]["replicas"] - cmean) for b in act),
            max(abs(loads[b]["disk_bytes"] / dmean - 1) for b in act))


@pytest.fixture(scope="module")
def skewed() -> ClusterModel:
    return skewed_cluster(brokers=12, racks=3, partitions=3000, rf=3, seed=3, topics=20)


def test_full_rebalance_meets_bands_and_hard_goals(skewed: ClusterModel) -> None:
    before = [list(r) for r in skewed.replicas]
    count0, disk0 = _spread(skewed, skewed.replicas)
    p = optimize(skewed, "full", [], Thresholds(replica_count=0.01, disk=0.05))
    assert skewed.replicas == before, "the input model must not be mutated"
    count1, disk1 = _spread(skewed, p.new_replicas)
    assert disk0 > 0.2 and count0 > 20  # the generator really is skewed
    assert disk1 <= 0.05 + 1e-9
    assert count1 <= 0.01 * 750 + 1
    assert hard_violations(skewed, p.new_replicas, p.targets) == []
    for reps in p.new_replicas:  # one replica per rack with 3 racks and RF 3
        assert len({skewed.brokers[b].rack for b in reps}) == 3
    assert p.lower_bound_bytes <= p.bytes_moved <= 1.10 * p.lower_bound_bytes
    assert all(p.soft_goals[k] for k in ("replica_count", "disk", "leader_count"))


def test_same_input_same_proposal(skewed: ClusterModel) -> None:
    a = optimize(skewed.copy(), "full", [], Thresholds(disk=0.05))
    b = optimize(skewed.copy(), "full", [], Thresholds(disk=0.05))
    assert a.new_replicas == b.new_replicas
    assert a.bytes_moved == b.bytes_moved


def test_add_brokers_fills_new_brokers_within_band(skewed: ClusterModel) -> None:
    m = skewed.copy()
    new = add_empty_brokers(m, 3)
    p = optimize(m, "add-brokers", new, Thresholds())
    loads = broker_loads(m, p.new_replicas)
    for b in new:
        assert p.targets.disk_lo[b] <= loads[b]["disk_bytes"] <= p.targets.disk_hi[b]
        assert loads[b]["replicas"] >= p.targets.count_lo[b]
    assert p.bytes_moved >= p.lower_bound_bytes > 0


def test_remove_brokers_drains_to_zero(skewed: ClusterModel) -> None:
    p = optimize(skewed, "remove-brokers", [2, 5], Thresholds())
    loads = broker_loads(skewed, p.new_replicas)
    assert loads[2]["replicas"] == 0 and loads[5]["replicas"] == 0
    assert loads[2]["leaders"] == 0
    assert hard_violations(skewed, p.new_replicas, p.targets) == []
    # everything that lived on the removed brokers had to move: that is the lower bound
    drained = sum(s for s, r in zip(skewed.sizes, skewed.replicas, strict=True) for b in r if b in (2, 5))
    assert p.lower_bound_bytes >= drained
    assert p.bytes_moved >= drained


def test_balanced_cluster_needs_no_change() -> None:
    m = ClusterModel({b: Broker(b) for b in (1, 2, 3)})
    for i in range(30):
        reps = [1 + (i + k) % 3 for k in range(2)]
        m.add("t", i, reps, 1000)
    p = optimize(m, "full")
    assert p.changed() == [] and p.bytes_moved == 0 and p.lower_bound_bytes == 0


def test_leader_imbalance_is_fixed_without_moving_data() -> None:
    m = ClusterModel({b: Broker(b) for b in (1, 2, 3)})
    for i in range(30):
        m.add("t", i, [1, 2, 3], 1000 + i)
    p = optimize(m, "full")
    assert p.bytes_moved == 0 and p.replica_moves == 0
    assert p.leader_moves >= 18
    leaders = broker_loads(m, p.new_replicas)
    assert all(9 <= leaders[b]["leaders"] <= 11 for b in (1, 2, 3))
    assert all(sorted(r) == [1, 2, 3] for r in p.new_replicas)


def test_capacity_is_a_hard_limit() -> None:
    m = ClusterModel({1: Broker(1, None, 1000), 2: Broker(2, None, 1000), 3: Broker(3, None, 10_000)})
    for i in range(10):
        m.add("t", i, [1], 90)  # broker 1 holds 900 bytes of a 1000-byte disk: above 80%
    p = optimize(m, "full")
    loads = broker_loads(m, p.new_replicas)
    assert all(loads[b]["disk_bytes"] <= 0.8 * m.brokers[b].disk_bytes for b in (1, 2, 3))
    # capacity-weighted targets: the big broker takes most of the data
    assert loads[3]["disk_bytes"] > loads[1]["disk_bytes"]


def test_no_room_for_the_drained_replicas_is_bad_input() -> None:
    m = ClusterModel({1: Broker(1, None, 1000), 2: Broker(2, None, 1000)})
    m.add("t", 0, [1], 700)
    m.add("t", 1, [2], 700)
    with pytest.raises(BadInput, match="hard goal"):
        optimize(m, "remove-brokers", [2])


@pytest.mark.parametrize(("mode", "ids", "match"), [
    ("add-brokers", [9], "unknown broker id 9"),
    ("remove-brokers", [1, 2], "only 1 brokers would remain"),
    ("full", [1], "only add-brokers and remove-brokers"),
    ("add-brokers", [], "needs the broker ids"),
    ("sideways", [], "not one of"),
])
def test_bad_modes(mode: str, ids: list[int], match: str) -> None:
    m = ClusterModel({b: Broker(b) for b in (1, 2, 3)})
    m.add("t", 0, [1, 2], 10)
    with pytest.raises(BadInput, match=match):
        optimize(m, mode, ids)


def test_lower_bound_never_beats_the_true_optimum() -> None:
    """Brute force every assignment of a tiny cluster: LB <= optimum <= what the optimizer proposes."""
    sizes = [50, 40, 30, 20, 10, 5, 5]
    m = ClusterModel({b: Broker(b) for b in (1, 2, 3, 4)})
    for i, s in enumerate(sizes):
        m.add("t", i, [1 if i < 5 else 2], s)
    th = Thresholds(replica_count=0.5, disk=0.3, leader_count=0.9)
    p = optimize(m, "full", [], th)
    t = p.targets
    best = None
    for combo in itertools.product((1, 2, 3, 4), repeat=len(sizes)):
        disk = dict.fromkeys((1, 2, 3, 4), 0)
        count = dict.fromkeys((1, 2, 3, 4), 0)
        for b, s in zip(combo, sizes, strict=True):
            disk[b] += s
            count[b] += 1
        if all(t.disk_lo[b] <= disk[b] <= t.disk_hi[b] and t.count_lo[b] <= count[b] <= t.count_hi[b]
               for b in disk):
            moved = sum(s for b, s, r in zip(combo, sizes, m.replicas, strict=True) if b != r[0])
            best = moved if best is None else min(best, moved)
    assert best is not None
    assert p.lower_bound_bytes <= best <= p.bytes_moved
    assert p.soft_goals["disk"] and p.soft_goals["replica_count"]


def test_three_to_four_brokers_every_partition_everywhere() -> None:
    """RF 3 on 3 brokers: every broker holds every partition, so most replicas cannot go to most places."""
    import math
    import random

    rng = random.Random(1)
    m = ClusterModel({b: Broker(b) for b in (1, 2, 3, 4)})
    for p in range(300):
        m.add("t", p, [1, 2, 3][p % 3:] + [1, 2, 3][:p % 3], int(80e3 * math.exp(rng.gauss(0, 1.3))))
    p = optimize(m, "add-brokers", [4], Thresholds(replica_count=0.02))
    assert p.soft_goals["replica_count"] and p.soft_goals["disk"]
    assert p.lower_bound_bytes <= p.bytes_moved <= 1.01 * p.lower_bound_bytes
    assert all(len(set(r)) == 3 for r in p.new_replicas)
