"""A self-managed Apache Kafka cluster: brokers in, partitions moved by the existing optimizer and executor.

Scale up to N: N minus the serving brokers must join empty, then an add-brokers rebalance (throttled,
audited, resumable) moves partitions onto them. For a local dev cluster brokerscale starts them itself
(the same code as `brokerscale dev add-broker`). For any other cluster it cannot start machines: it
uses brokers the operator has started and registered that hold no replicas yet (spares), and when there
are too few it says how many to start, as a failed pre-check, before anything is recorded as intended.

Scale down by one: a remove-brokers rebalance drains the highest-numbered serving broker, then a dev
cluster's broker is stopped and unregistered (`dev remove-broker`); on another cluster the operator is
told it is drained and may be stopped.

Units in effect are the live brokers that hold replicas (a registered but empty broker carries no load).
Crash safety: before the first step of a change, `request` writes the operation (from, to, brokers) to
a file; `wait` finishes it from whatever point it reached, so a controller killed at any moment and
restarted completes the change once (the controller's reconcile calls `wait`) and never starts it twice.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from brokerscale.balance.execution import DEFAULT_THROTTLE, moves_for, run_moves, state_for
from brokerscale.balance.kafka_ops import KafkaOps
from brokerscale.balance.live import model_from_admin
from brokerscale.balance.optimizer import optimize
from brokerscale.balance.proposal import to_json
from brokerscale.balance.reassignment_file import read_plan
from brokerscale.balance.state import ExecState, load_state, plan_id
from brokerscale.connect import ConnectionProfile
from brokerscale.errors import OperationFailed
from brokerscale.model.snapshot import Snapshot

if TYPE_CHECKING:
    from brokerscale.balance.executor import Progress
    from brokerscale.dev.cluster import DevCluster
    from brokerscale.observe.collect import Observer

ACTOR = "scale-controller"


@dataclass
class Operation:
    """A change in flight, saved before its first step so a restarted controller can finish it."""

    direction: str  # up | down
    from_units: int
    to_units: int
    brokers: list[int] = field(default_factory=list)  # added (up) or being drained (down)


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label) or "cluster"


class SelfManagedActuator:
    finishes_interrupted = True  # an operation file left by a failed attempt is finished on reconcile

    def __init__(self, profile: ConnectionProfile, observer: Observer, workdir: Path, *,
                 dev_name: str | None = None, throttle_bytes_s: int | None = DEFAULT_THROTTLE,
                 poll_s: float = 0.5, stall_s: float = 600.0, first_window_s: float = 5.0,
                 log: Callable[[str], None] = print, on_wait: Callable[[], None] | None = None) -> None:
        self.profile, self.observer, self.dev_name = profile, observer, dev_name
        self.throttle_bytes_s, self.poll_s, self.stall_s = throttle_bytes_s, poll_s, stall_s
        self.first_window_s, self.log, self.on_wait = first_window_s, log, on_wait
        self.target = f"selfmanaged:{profile.label}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.op_path = workdir / f"{_safe(profile.label)}.operation.json"
        self.rebalance_path = workdir / f"{_safe(profile.label)}.rebalance.json"
        self._observed = False

    # -- what the cluster is now -------------------------------------------------------------------
    def _dev(self) -> DevCluster | None:
        if self.dev_name is None:
            return None
        from brokerscale.dev.cluster import DevCluster

        return DevCluster.find(self.dev_name)

    def _layout(self) -> tuple[set[int], set[int]]:
        """(live brokers, serving brokers: the live ones holding at least one replica, or every live broker
        of a cluster that holds no replica at all yet)."""
        with self.observer.connected() as admin:
            live = admin.cluster().live()
            holding = {b for t in admin.topics(include_internal=True) for p in t.partitions for b in p.replicas}
        return live, (live & holding) or set(live)

    def _operation(self) -> Operation | None:
        if not self.op_path.exists():
            return None
        try:
            doc = json.loads(self.op_path.read_text())
            return Operation(doc["direction"], int(doc["from_units"]), int(doc["to_units"]),
                             [int(b) for b in doc.get("brokers", [])])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise OperationFailed(f"{self.op_path}: not a scaling operation file ({exc}); inspect the cluster and "
                                  "delete the file to go on") from None

    def _save(self, op: Operation) -> None:
        tmp = self.op_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(op), indent=1))
        os.replace(tmp, self.op_path)

    def units(self) -> tuple[int, int | None]:
        op = self._operation()
        if op is not None:
            return op.from_units, op.to_units
        return len(self._layout()[1]), None

    def observe(self) -> Snapshot:
        dev = self._dev()
        if dev is not None:  # brokers added or removed since the last round are scraped too
            self.observer.metrics_urls = dict(dev.metrics_urls)
        if not self._observed:  # rates need two readings: the first round takes both
            self._observed = True
            return self.observer.observe(self.first_window_s, rounds=2).snapshot
        return self.observer.sample().snapshot

    def reassignment_running(self) -> bool:
        with self.observer.connected() as admin:
            return bool(admin.reassignments())

    def shortfall(self, units: int) -> str | None:
        """Why `units` cannot be reached now (None when it can): a cluster brokerscale did not start needs
        the operator to start and register the brokers first."""
        if self._dev() is not None:
            return None
        live, serving = self._layout()
        spares = sorted(live - serving)
        need = units - len(serving)
        if need <= len(spares):
            return None
        have = (f"empty brokers registered now: {', '.join(map(str, spares))}" if spares
                else "no empty broker registered")
        return (f"brokerscale cannot start machines for {self.profile.label}: start and register {need - len(spares)} "
                f"more broker(s) ({have}); the next round moves partitions onto them")

    # -- acting ----------------------------------------------------------------------------------
    def request(self, units: int) -> None:
        if self._operation() is not None:
            raise OperationFailed(f"{self.target}: a change is already in flight ({self.op_path})")
        serving = self._layout()[1]
        current = len(serving)
        if units == current:
            return
        if units > current:
            self._save(Operation("up", current, units))
            return
        victims = sorted(serving)[units - current:]  # the newest brokers go first
        self._save(Operation("down", current, units, victims))

    def wait(self, units: int, timeout_s: float) -> float:
        start = time.monotonic()
        op = self._operation()
        if op is None:
            effective, _ = self.units()
            if effective == units:
                return 0.0
            raise OperationFailed(f"{self.target}: no change to {units} brokers in flight ({effective} serving)")
        if op.to_units != units:
            raise OperationFailed(f"{self.target}: the change in flight is to {op.to_units} brokers, not {units}")
        if op.direction == "up":
            self._grow(op, timeout_s)
        else:
            self._shrink(op)
        self.op_path.unlink(missing_ok=True)
        return time.monotonic() - start

    def _tick(self) -> None:
        if self.on_wait is not None:
            self.on_wait()

    def _grow(self, op: Operation, timeout_s: float) -> None:
        need = op.to_units - op.from_units
        live, serving = self._layout()
        # Empty live brokers first (ones this operation already started before a crash, or the operator's).
        spares = sorted(b for b in live - serving if b not in op.brokers)
        op.brokers = [b for b in op.brokers if b in live] + spares
        op.brokers = op.brokers[:need]
        self._save(op)
        dev = self._dev()
        while len(op.brokers) < need:
            if dev is None:
                raise OperationFailed(self.shortfall(op.to_units) or f"{self.target}: too few empty brokers")
            self.log(f"starting a broker ({len(op.brokers) + 1} of {need})")
            self._tick()
            new = dev.add_broker(timeout=min(timeout_s, 300.0))
            op.brokers.append(new)
            self._save(op)
            self.log(f"broker {new} joined, empty")
        with self.observer.connected() as admin:
            admin.refresh(op.brokers)
        if dev is None:
            self.log(f"moving partitions onto brokers {', '.join(map(str, op.brokers))} (registered by the operator; "
                     "brokerscale does not start machines for this cluster)")
        self._rebalance("add-brokers", op.brokers)

    def _shrink(self, op: Operation) -> None:
        _live, serving = self._layout()
        if set(op.brokers) & serving:
            self._rebalance("remove-brokers", op.brokers)
        dev = self._dev()
        for b in op.brokers:
            self._tick()
            if dev is not None and b in dev.nodes:
                self.log(f"broker {b} drained: stopping and unregistering it")
                dev.remove_broker(b)
            elif dev is None:
                self.log(f"broker {b} drained: it holds no replicas and may be stopped and unregistered "
                         f"(`kafka-cluster unregister --id {b}`); brokerscale does not stop machines it did not start")

    def _rebalance(self, mode: str, brokers: list[int]) -> None:
        """Propose with the optimizer and run with the executor (throttled, audited); resume an unfinished run."""
        ops = KafkaOps(self.profile.admin())
        try:
            existing = load_state(self.rebalance_path)
            if existing is not None and existing.active:
                state, _ = state_for(None, None, existing, self.rebalance_path, self.target)
                self.log(f"resuming the {mode} rebalance {state.plan_id}")
            else:
                model = model_from_admin(ops.admin, include_internal=mode == "remove-brokers")
                proposal = optimize(model, mode, brokers)
                plan_file = self.rebalance_path.with_name(self.rebalance_path.stem + f".{mode}.plan.json")
                plan_file.write_text(json.dumps(to_json(proposal), indent=1))
                moves = moves_for(ops, read_plan(plan_file))
                if not moves:
                    self.log(f"{mode} {','.join(map(str, brokers))}: nothing to move")
                    return
                state = ExecState(plan_id(moves), self.target, moves, throttle_bytes_s=self.throttle_bytes_s)
                rate = "no throttle" if self.throttle_bytes_s is None else \
                    f"throttle {self.throttle_bytes_s / 1e6:g} MB/s per broker"
                self.log(f"{mode} {','.join(map(str, brokers))}: moving {len(moves)} partitions "
                         f"({sum(m.bytes for m in moves) / 1e6:.1f} MB, {rate}); plan {plan_file}")
            last = [0.0]

            def progress(p: Progress) -> None:
                self._tick()
                if time.monotonic() - last[0] >= 10.0 or p.done == p.total:
                    last[0] = time.monotonic()
                    self.log(f"rebalance: {p.done}/{p.total} partitions, {p.in_flight} moving")

            run_moves(ops, state, self.rebalance_path, poll_s=self.poll_s, stall_s=self.stall_s, actor=ACTOR,
                      on_progress=progress, on_notice=self.log)
        finally:
            ops.close()
