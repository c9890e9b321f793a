"""The optimizer through its public interface: hard goals, bands, lower bound, determinism, modes."""

from __future__ import annotations

import itertools
import json

import pytest
from rich.console import Console

from brokerscale.balance.assignment import Assignment, DidNotConverge, Move
from brokerscale.balance.goals import Goal, SoftGoal, Thresholds, broker_loads, default_goals, hard_violations
from brokerscale.balance.model import Broker, ClusterModel
from brokerscale.balance.optimizer import optimize
from brokerscale.balance.proposal import file_text, render, to_json
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


# -- goals as classes ------------------------------------------------------------------------------


class KeepBrokerUnder:
    """A goal written in one class, outside the package: broker `broker` keeps at most `limit` replicas.

    It implements the Goal protocol directly (no base class) to show that nothing else needs to change.
    """

    hard = False

    def __init__(self, broker: int, limit: int) -> None:
        self.broker = broker
        self.limit = limit
        self.name = f"broker_{broker}_under_{limit}"

    def accepts(self, action: tuple[Move, ...], state: Assignment) -> bool:
        gain = sum(1 for m in action if m.dst == self.broker) - sum(1 for m in action if m.src == self.broker)
        return gain <= 0 or state.count[self.broker] + gain <= self.limit

    def improve(self, state: Assignment) -> bool:
        changed = False
        others = sorted((b for b in state.active if b != self.broker), key=lambda b: (state.count[b], b))
        for pid in list(state.by_size[self.broker]):  # smallest first
            if state.count[self.broker] <= self.limit:
                break
            changed |= any(state.try_apply((Move(pid, self.broker, d),)) for d in others)
        return changed

    def satisfied(self, state: Assignment) -> bool:
        return state.count[self.broker] <= self.limit


def test_a_new_goal_is_one_class_and_steers_the_optimizer() -> None:
    m = skewed_cluster(brokers=6, racks=3, partitions=600, rf=3, seed=11, topics=6)
    th = Thresholds()
    plain = optimize(m, "full", [], th)
    before = broker_loads(m, plain.new_replicas)[3]["replicas"]
    limit = int(before * 0.8)
    goals = default_goals(th)
    goals.insert(3, KeepBrokerUnder(3, limit))  # after the hard goals, before replica count
    p = optimize(m, "full", [], th, goals=goals)
    assert isinstance(goals[3], Goal)
    after = broker_loads(m, p.new_replicas)
    assert after[3]["replicas"] <= limit < before
    assert p.soft_goals[f"broker_3_under_{limit}"] is True
    assert p.goals[3] == f"broker_3_under_{limit}"
    # the later goals could not undo it, and the hard goals still hold
    assert hard_violations(m, p.new_replicas, p.targets) == []
    # placed last instead, replica count (an earlier goal) vetoes the moves it would need
    last = optimize(m, "full", [], th, goals=[*default_goals(th), KeepBrokerUnder(3, limit)])
    assert broker_loads(m, last.new_replicas)[3]["replicas"] > limit
    assert last.soft_goals[f"broker_3_under_{limit}"] is False


class _PingPong(SoftGoal):
    """A defective goal: moves one replica back and forth forever."""

    name = "ping_pong"

    def improve(self, state: Assignment) -> bool:
        while True:
            b = state.rep[0][0]
            other = next(x for x in state.active if x not in state.rep[0])
            state.apply((Move(0, b, other),))

    def satisfied(self, state: Assignment) -> bool:
        return False


def test_goals_that_never_converge_are_an_internal_error_not_bad_input() -> None:
    m = ClusterModel({b: Broker(b) for b in (1, 2, 3)})
    for i in range(10):
        m.add("t", i, [1 + i % 3], 100)
    with pytest.raises(DidNotConverge, match="defect") as info:
        optimize(m, "full", [], goals=[*default_goals(Thresholds()), _PingPong()])
    assert not isinstance(info.value, BadInput)
    assert info.value.exit_code != 2


def test_network_in_goal_moves_replicas() -> None:
    """Counts and disk balanced, bytes-in not: only the network-in goal has a reason to move anything."""
    m = ClusterModel({b: Broker(b) for b in (1, 2, 3, 4)})
    for i in range(40):
        b = 1 + i % 4
        m.add("t", i, [b], 1000, 50.0 if b == 1 and i < 32 else 1.0)  # broker 1 holds all 8 hot partitions
    th = Thresholds()
    without = optimize(m, "full", [], th, goals=[g for g in default_goals(th) if g.name != "network_in"])
    assert without.bytes_moved == 0 and "network_in" not in without.soft_goals
    p = optimize(m, "full", [], th)
    loads = broker_loads(m, p.new_replicas)
    assert p.soft_goals["network_in"] and p.soft_goals["disk"] and p.soft_goals["replica_count"]
    assert all(p.targets.net_lo[b] - 0.5 <= loads[b]["bytes_in_per_s"] <= p.targets.net_hi[b] + 0.5 for b in loads)
    assert p.bytes_moved >= p.lower_bound_bytes


def test_topic_spread_goal_moves_replicas() -> None:
    """Broker 1 holds every replica of topic `hot`; counts and disk are balanced overall."""
    m = ClusterModel({b: Broker(b) for b in (1, 2, 3)})
    for i in range(30):
        m.add("hot", i, [1], 100)
    for i in range(60):
        m.add("cold", i, [2 + i % 2], 100)
    th = Thresholds()
    without = optimize(m, "full", [], th, goals=[g for g in default_goals(th) if g.name != "topic_spread"])
    assert without.bytes_moved == 0
    p = optimize(m, "full", [], th)
    per_broker = {b: sum(1 for t, r in zip(m.topics, p.new_replicas, strict=True) if t == "hot" and b in r)
                  for b in (1, 2, 3)}
    assert max(per_broker.values()) <= p.targets.topic_hi["hot"] == 11
    assert p.soft_goals["topic_spread"] and p.soft_goals["replica_count"] and p.soft_goals["disk"]
    assert p.lower_bound_bytes <= p.bytes_moved


# -- the lower bound under the hard goals (uneven racks) ---------------------------------------------


def _uneven_racks(mixed: bool, seed: int = 4, n: int = 5) -> ClusterModel:
    """Racks az1, az2, az3 plus a new broker 4 in az1; RF 3 partitions (and RF 1 ones when `mixed`)."""
    import math
    import random

    rng = random.Random(seed)
    m = ClusterModel({1: Broker(1, "az1"), 2: Broker(2, "az2"), 3: Broker(3, "az3"), 4: Broker(4, "az1")})
    for p in range(n):
        m.add("t", p, [[1, 2, 3], [2, 3, 1], [3, 1, 2]][p % 3], int(1e6 * math.exp(rng.gauss(0, 1))))
    if mixed:
        for p in range(2):
            m.add("one", p, [1 + p], 1000 * (p + 1))
    return m


def _cheapest(m: ClusterModel, ok: object) -> int | None:
    """Brute force: the fewest bytes over every rack-aware assignment that `ok(replicas)` accepts."""
    brokers = sorted(m.brokers)
    racks = {b: m.brokers[b].rack for b in brokers}
    options = []
    for reps in m.replicas:
        sets = [c for c in itertools.combinations(brokers, len(reps))
                if len({racks[b] for b in c}) == len(c)]  # 3 racks >= RF: distinct racks is hard
        options.append(sets)
    best = None
    for combo in itertools.product(*options):
        moved = sum(s * sum(1 for b in c if b not in old)
                    for c, s, old in zip(combo, m.sizes, m.replicas, strict=True))
        if (best is None or moved < best) and ok([list(c) for c in combo]):  # type: ignore[operator]
            best = moved
    return best


@pytest.mark.parametrize("mixed", [False, True])
def test_lower_bound_never_beats_the_optimum_with_uneven_racks(mixed: bool) -> None:
    """The scaling guide's case: az1 gets a second broker. The bound must hold under rack-awareness."""
    m = _uneven_racks(mixed, n=6 if mixed else 7)
    p = optimize(m, "add-brokers", [4], Thresholds(replica_count=0.5, disk=0.5, leader_count=0.9))
    t = p.targets
    met = {k for k, v in p.soft_goals.items() if v}

    def meets(replicas: list[list[int]]) -> bool:
        loads = broker_loads(m, replicas)
        for b, d in loads.items():
            if "replica_count" in met and not t.count_lo[b] <= d["replicas"] <= t.count_hi[b]:
                return False
            if "disk" in met and not t.disk_lo[b] - 0.5 <= d["disk_bytes"] <= t.disk_hi[b] + 0.5:
                return False
        return True

    best = _cheapest(m, meets)
    assert best is not None
    assert p.lower_bound_bytes <= best <= p.bytes_moved
    assert p.lower_bound_bytes > 0  # broker 4 must receive something: the bound is not vacuous


def test_lower_bound_is_below_what_the_plan_moves_with_uneven_racks_and_mixed_rf() -> None:
    """Regression: the bound assumed a cluster-wide disk balance that rack-awareness rules out."""
    m = _uneven_racks(True, n=60)
    p = optimize(m, "add-brokers", [4])
    assert p.lower_bound_bytes <= p.bytes_moved
    assert p.bytes_moved <= 1.10 * p.lower_bound_bytes
    assert p.soft_goals["disk"] and p.soft_goals["replica_count"]
    doc = to_json(p)["summary"]
    assert doc["ratio_to_lower_bound"] >= 1.0
    assert set(doc["soft_goals_infeasible"]) >= {"disk", "replica_count"}
    assert "az1: 2" in doc["soft_goals_infeasible"]["disk"]
    console = Console(record=True, width=200)
    render(p, console)
    text = console.export_text()
    assert "infeasible" in text and "az1: 2" in text


def test_topic_spread_is_met_at_little_extra_cost_on_a_skewed_cluster() -> None:
    """Replica-count balance sheds the smallest replicas of over-spread topics first and deals them to
    brokers with room for the topic, so topic spread needs few swaps: the plan stays within 1.05 x the
    lower bound (which counts those replicas) with every default goal met."""
    m = skewed_cluster(brokers=60, racks=3, partitions=30_000, rf=3, seed=7)
    p = optimize(m, "full", [], Thresholds(replica_count=1 / 1500, disk=0.05))
    assert all(p.soft_goals.values()), p.soft_goals
    assert hard_violations(m, p.new_replicas, p.targets) == []
    assert p.lower_bound_bytes <= p.bytes_moved <= 1.05 * p.lower_bound_bytes


@pytest.mark.parametrize("case", ["skewed", "balanced", "odd topic names"])
def test_the_proposal_file_is_the_json_document_one_partition_per_line(case: str) -> None:
    """`file_text` (what `propose -o` writes) parses to exactly `to_json`, whatever the topic names hold."""
    if case == "skewed":
        m = skewed_cluster(brokers=6, racks=3, partitions=300, rf=3, seed=5, topics=4)
    else:
        m = ClusterModel({b: Broker(b) for b in (1, 2, 3)})
        names = ["a", "b", "c"] if case == "balanced" else ['q"uote', "back\\slash", "üñí\ncode"]
        for i in range(12):
            m.add(names[i // 4], i, [1 + i % 3] if case == "balanced" else [1], 100 + i)
    p = optimize(m, "full", [], Thresholds())
    text = file_text(p)
    assert json.loads(text) == to_json(p)
    assert bool(p.changed()) == (case != "balanced")
    lines = text.splitlines()
    assert sum(1 for line in lines if line.startswith('  {"topic": ')) == len(p.changed())
    assert sum(1 for line in lines if line.startswith('   {"topic": ')) == len(p.changed())  # the rollback
