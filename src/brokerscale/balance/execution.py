"""From a reviewed plan file to a finished (or cleanly stopped) rebalance: the one place moves are built.

`rebalance execute` and the demo both go through `moves_for` (sizes from the proposal file, so bytes,
ordering and progress are right for internal topics too) and `run_moves` (audited, the store closed,
holding the run lock and honouring a cancel marker). `cancel_run` is what `rebalance cancel` does: ask a
running executor to stop, wait for it, then roll back whatever is still moving and drop the throttles.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brokerscale.balance.executor import Executor, Progress, cancel
from brokerscale.balance.kafka_ops import TP, KafkaOps
from brokerscale.balance.reassignment_file import Plan
from brokerscale.balance.state import (
    ExecState,
    Move,
    cancel_requested,
    clear_cancel,
    executor_running,
    load_state,
    plan_id,
    request_cancel,
    run_lock,
)
from brokerscale.errors import BadInput, OperationFailed

DEFAULT_THROTTLE = 50_000_000
DEFAULT_MAX_PER_BROKER = 5


def moves_for(ops: KafkaOps, plan: Plan) -> list[Move]:
    """The partitions whose replicas differ from the plan, sized from the plan file when it carries sizes
    (a brokerscale proposal); otherwise from the brokers' log dirs, internal topics included."""
    topics = sorted({t for t, _ in plan.targets})
    current = ops.assignments(topics)
    known = ops.live_brokers() | {b for r in current.values() for b in r}
    for (t, p), reps in sorted(plan.targets.items()):
        if (t, p) not in current:
            raise BadInput(f"{plan.source}: partition {t}-{p} does not exist in the cluster")
        unknown = [b for b in reps if b not in known]
        if unknown:
            raise BadInput(f"{plan.source}: {t}-{p}: unknown broker id {unknown[0]}")
    sizes = plan.sizes if plan.sized else _log_dir_sizes(ops, topics)
    return [Move(t, p, list(reps), list(current[(t, p)]), sizes.get((t, p), 0))
            for (t, p), reps in sorted(plan.targets.items()) if current[(t, p)] != reps]


def _log_dir_sizes(ops: KafkaOps, topics: list[str]) -> dict[TP, int]:
    from brokerscale.balance.live import model_from_admin

    model = model_from_admin(ops.admin, "|".join(re.escape(t) for t in topics), include_internal=True,
                             allow_moving=True)
    return {(model.topics[i], model.partitions[i]): model.sizes[i] for i in range(len(model))}


@dataclass(frozen=True)
class Settings:
    """The throttle and concurrency a run uses, and where each came from (for the operator to see)."""

    throttle_bytes_s: int | None
    max_per_broker: int
    throttle_source: str
    max_source: str

    def describe(self) -> str:
        from brokerscale.units import format_bytes

        rate = "none" if self.throttle_bytes_s is None else f"{format_bytes(self.throttle_bytes_s)}/s per broker"
        n = self.max_per_broker
        return (f"throttle {rate} ({self.throttle_source}), at most {n} move{'s' if n != 1 else ''} per broker "
                f"at once ({self.max_source})")


def choose_settings(resumed: ExecState | None, throttle: int | None, no_throttle: bool,
                    max_per_broker: int | None) -> Settings:
    """A resumed run keeps the operator's saved throttle and concurrency unless new values are given."""
    if no_throttle:
        rate, rate_src = None, "--no-throttle"
    elif throttle is not None:
        rate, rate_src = throttle, "--throttle"
    elif resumed is not None:
        rate, rate_src = resumed.throttle_bytes_s, "saved with the run"
    else:
        rate, rate_src = DEFAULT_THROTTLE, "default"
    if max_per_broker is not None:
        limit, limit_src = max_per_broker, "--max-per-broker"
    elif resumed is not None:
        limit, limit_src = resumed.max_per_broker, "saved with the run"
    else:
        limit, limit_src = DEFAULT_MAX_PER_BROKER, "default"
    return Settings(rate, limit, rate_src, limit_src)


def state_for(plan: Plan | None, moves: list[Move] | None, existing: ExecState | None, path: Path,
              cluster: str) -> tuple[ExecState, bool]:
    """The state to run: the unfinished run of the same plan (resumed), or a fresh one. Returns (state, resumed)."""
    if plan is not None and moves is not None:
        pid = plan_id([Move(t, p, r, []) for (t, p), r in sorted(plan.targets.items())])
        if existing is not None and existing.active and existing.plan_id != pid:
            raise BadInput(f"{path}: another rebalance ({existing.plan_id}, {existing.status}) is unfinished; "
                           "resume it with `brokerscale rebalance execute --apply` or drop it with "
                           "`brokerscale rebalance cancel --apply`")
        if existing is not None and existing.active and existing.plan_id == pid:
            return existing, True
        return ExecState(plan_id=pid, cluster=cluster, moves=moves), False
    if existing is not None and existing.active:
        return existing, True
    raise BadInput("--proposal: nothing to resume for this cluster; pass the file from "
                   "`brokerscale rebalance propose -o plan.json`")


def run_moves(ops: KafkaOps, state: ExecState, path: Path, *, poll_s: float, stall_s: float, actor: str = "cli",
              on_progress: Callable[[Progress], None] | None = None,
              on_notice: Callable[[str], None] | None = None, store: Any = None) -> ExecState:
    """Run the executor under the run lock, audited (intent before, result after); the store is closed after.

    A cancel marker left by an earlier `rebalance cancel` is cleared first: it was meant for that run.
    """
    from brokerscale.store import open_store

    with run_lock(path):
        clear_cancel(path)
        own = store is None
        audit = open_store() if own else store
        try:
            moves = state.moves
            intent = {"plan_id": state.plan_id, "partitions": len(moves), "bytes": sum(m.bytes for m in moves),
                      "throttle_bytes_s": state.throttle_bytes_s, "max_per_broker": state.max_per_broker,
                      "reassignment": [{"topic": m.topic, "partition": m.partition, "replicas": m.target}
                                       for m in moves]}
            before = {f"{m.topic}-{m.partition}": m.original for m in moves}
            with audit.audited(actor=actor, action="rebalance.execute", target=state.cluster, intent=intent,
                               before=before, correlation_id=state.plan_id) as change:
                ex = Executor(ops=ops, state=state, path=path, audit=audit, actor=actor, poll_s=poll_s,
                              stall_timeout_s=stall_s, on_progress=on_progress, on_notice=on_notice,
                              cancel_requested=lambda: cancel_requested(path))
                try:
                    ex.run()
                finally:
                    change.after = {"status": state.status, "completed": len(state.completed),
                                    "message": state.message}
        finally:
            if own:
                audit.close()
    return state


def cancel_run(ops: KafkaOps, path: Path, cluster: str, *, everything: bool, wait_s: float = 120.0,
               on_wait: Callable[[], None] | None = None, sleep: Callable[[float], None] = time.sleep) -> list[TP]:
    """Stop a running executor (cancel marker, then wait for its run lock), then cancel what is still moving
    and remove the throttles the run recorded. Returns the partitions this call cancelled."""
    from brokerscale.store import open_store

    if executor_running(path):
        request_cancel(path)
        if on_wait is not None:
            on_wait()
        deadline = time.monotonic() + wait_s
        while executor_running(path):
            if time.monotonic() > deadline:
                raise OperationFailed(f"the running `rebalance execute` did not stop within {wait_s:.0f} s; "
                                      f"it will stop at its next poll (cancel requested in {path})")
            sleep(0.2)
    state = load_state(path)
    if state is None:
        state = ExecState(plan_id="external", cluster=cluster, moves=[])
    store = open_store()
    try:
        return cancel(ops, state, store, path, everything=everything)
    finally:
        store.close()
