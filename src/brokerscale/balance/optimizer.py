"""The optimizer: fewest bytes moved that bring every broker within its bands. Pure and deterministic.

Why this shape: bytes moved is what a rebalance costs (network, disk, hours of throttled copying), so
no goal aims for the exact mean. The goals run in priority order (`goals.default_goals`: hard goals,
replica count, disk, network-in, topic spread, leaders); each moves data only until a broker is inside
its band, picking the replicas whose sizes best fill the gap, and every hard goal plus every goal
before it may veto its moves. Replica counts are fixed first with the smallest replicas, which costs
almost nothing on a heavy-tailed size distribution; later goals then swap a large replica against a
small one so the counts stay put. Leadership is balanced last by reordering replica lists only. Every
choice breaks ties by ids, so the same input always yields the same proposal; the input is never
mutated and no clock is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from brokerscale.balance.assignment import Assignment, DidNotConverge
from brokerscale.balance.goals import Goal, default_goals
from brokerscale.balance.model import ClusterModel
from brokerscale.balance.targets import Targets, Thresholds, compute_targets, doubled, lower_bound, validate_mode
from brokerscale.errors import BadInput
from brokerscale.gcpause import paused_gc

__all__ = ["DidNotConverge", "Proposal", "optimize"]

_ROUNDS = 3  # passes over the goal list; a second one rarely changes anything, a third never has


@dataclass
class Proposal:
    """The optimizer's answer: the new assignment plus everything needed to judge it.

    `soft_goals` says per soft goal whether it is met; `infeasible` names the goals whose cluster-wide
    band the hard goals rule out, with the reason (they are then judged against the reachable band).
    The lower bound counts only the goals this proposal meets, so no plan meeting them moves less.
    """

    model: ClusterModel
    mode: str
    brokers: list[int]
    thresholds: Thresholds
    targets: Targets
    new_replicas: list[list[int]]
    lower_bound_bytes: int
    soft_goals: dict[str, bool] = field(default_factory=dict)
    infeasible: dict[str, str] = field(default_factory=dict)
    goals: list[str] = field(default_factory=list)
    _changed: list[int] | None = field(default=None, repr=False, compare=False)
    _counts: tuple[int, int, int] | None = field(default=None, repr=False, compare=False)

    def changed(self) -> list[int]:
        if self._changed is None:
            self._changed = [i for i, (a, b) in enumerate(zip(self.model.replicas, self.new_replicas, strict=True))
                             if a != b]
        return self._changed

    def _tally(self) -> tuple[int, int, int]:
        """(bytes moved, replica moves, leader moves), counted in one pass over the changed partitions."""
        if self._counts is None:
            old_reps, new_reps, sizes = self.model.replicas, self.new_replicas, self.model.sizes
            moved = replicas = leaders = 0
            for i in self.changed():
                old, new = old_reps[i], new_reps[i]
                arriving = len(new) - len(set(new) & set(old))
                moved += sizes[i] * arriving
                replicas += arriving
                leaders += old[0] != new[0]
            self._counts = (moved, replicas, leaders)
        return self._counts

    @property
    def bytes_moved(self) -> int:
        return self._tally()[0]

    @property
    def replica_moves(self) -> int:
        return self._tally()[1]

    @property
    def leader_moves(self) -> int:
        return self._tally()[2]


def run_goals(state: Assignment, goals: Sequence[Goal]) -> None:
    """Each goal improves in priority order, guarded by every hard goal and every goal before it."""
    hard = [g for g in goals if g.hard]
    for _ in range(_ROUNDS):
        changed = False
        for k, goal in enumerate(goals):
            state.guards = hard + [g for g in goals[:k] if not g.hard]
            changed |= bool(goal.improve(state))
        if not changed or all(g.satisfied(state) for g in goals):
            break
    state.guards = []


def _hard_problems(state: Assignment, goals: Sequence[Goal]) -> list[str]:
    problems = [f"{state.name(i)}: two replicas on one broker {state.rep[i]}" for i in doubled(state.rep)]
    for g in goals:
        if g.hard:
            lines = getattr(g, "violations", None)
            problems += lines(state) if lines else ([] if g.satisfied(state) else [f"{g.name} not met"])
    return problems


def optimize(model: ClusterModel, mode: str = "full", brokers: list[int] | None = None,
             thresholds: Thresholds | None = None, goals: Sequence[Goal] | None = None) -> Proposal:
    """Propose a new assignment for `model` in `mode`.

    `goals` in priority order (default: `default_goals(thresholds)`). Raises BadInput when the hard
    goals cannot be met, DidNotConverge when the goals keep undoing each other (a defect, not input).
    """
    with paused_gc():
        return _optimize(model, mode, brokers, thresholds, goals)


def _optimize(model: ClusterModel, mode: str, brokers: list[int] | None, thresholds: Thresholds | None,
              goals: Sequence[Goal] | None) -> Proposal:
    th = thresholds or Thresholds()
    ids = sorted(set(brokers or []))
    removed = validate_mode(model, mode, ids)
    targets = compute_targets(model, removed, th)
    chosen = list(goals) if goals is not None else default_goals(th)
    state = Assignment(model, targets)
    run_goals(state, chosen)
    problems = _hard_problems(state, chosen)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise BadInput(f"rebalance: cannot meet the hard goals: {problems[0]}{more}")
    soft = {g.name: g.satisfied(state) for g in chosen if not g.hard}
    state.release_size_order()  # a third of the memory at a million replicas, before the bound's arrays
    lb = lower_bound(model, targets, [name for name, ok in soft.items() if ok])
    return Proposal(model=model, mode=mode, brokers=ids, thresholds=th, targets=targets, new_replicas=state.rep,
                    lower_bound_bytes=lb, soft_goals=soft, infeasible=dict(targets.infeasible),
                    goals=[g.name for g in chosen])
