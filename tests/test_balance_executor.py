"""The executor against a simulated controller: batching limits, throttles always removed, resume,
a dead destination broker, cancel. (The real cluster runs the same code in test_balance_kafka.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from brokerscale.balance.execution import choose_settings, moves_for, run_moves
from brokerscale.balance.executor import Executor, RunCancelled, cancel, throttle_plan
from brokerscale.balance.kafka_ops import TP
from brokerscale.balance.reassignment_file import read_plan
from brokerscale.balance.state import ExecState, Move, load_state, plan_id
from brokerscale.errors import NotAuthorized, OperationFailed, Unreachable


class FakeController:
    """Reassignments finish `ticks` polls after they start, unless a destination broker is down."""

    def __init__(self, assignment: dict[TP, list[int]], brokers: set[int], ticks: int = 2) -> None:
        self.assignment = {k: list(v) for k, v in assignment.items()}
        self.live = set(brokers)
        self.ticks = ticks
        self.running: dict[TP, tuple[list[int], list[int], int]] = {}  # tp -> (target, original, age)
        self.configs: dict[str, dict[str, str]] = {}
        self.max_concurrent: dict[int, int] = {}
        self.elected: list[TP] = []
        self.config_log: list[str] = []
        self.denied = ""
        self.leader: dict[TP, int] = {}  # live leader where it is not the first replica (a broker restarted)

    def _tick(self) -> None:
        for tp, (target, original, age) in list(self.running.items()):
            adding = [b for b in target if b not in original]
            if any(b not in self.live for b in adding):
                continue
            if age + 1 >= self.ticks:
                self.assignment[tp] = list(target)
                del self.running[tp]
            else:
                self.running[tp] = (target, original, age + 1)

    # Ops protocol
    def check_permitted(self, brokers: dict[int, dict[str, str | None]],
                        topics: dict[str, dict[str, str | None]]) -> None:
        if self.denied:
            raise NotAuthorized(f"rebalance execute --apply is not permitted: this principal lacks the ACL "
                                f"{self.denied}")

    def live_brokers(self) -> set[int]:
        return set(self.live)

    def assignments(self, topics: list[str]) -> dict[TP, list[int]]:
        self._tick()
        return {tp: list(r) for tp, r in self.assignment.items() if tp[0] in topics}

    def placement(self, topics: list[str]) -> dict[TP, tuple[list[int], int | None]]:
        return {tp: (r, self.leader.get(tp, r[0])) for tp, r in self.assignments(topics).items()}

    def ongoing(self) -> dict[TP, dict[str, list[int]]]:
        return {tp: {"replicas": t, "adding_replicas": [b for b in t if b not in o],
                     "removing_replicas": [b for b in o if b not in t]} for tp, (t, o, _) in self.running.items()}

    def submit(self, changes: dict[TP, list[int] | None]) -> dict[TP, str]:
        for tp, target in changes.items():
            if target is None:
                self.running.pop(tp, None)  # Kafka rolls back to the original replicas
                continue
            self.running[tp] = (list(target), list(self.assignment[tp]), 0)
        load: dict[int, int] = {}
        for t, o, _ in self.running.values():
            for b in set(t) ^ set(o):
                load[b] = load.get(b, 0) + 1
        for b, n in load.items():
            self.max_concurrent[b] = max(self.max_concurrent.get(b, 0), n)
        return {}

    def set_configs(self, brokers: dict[int, dict[str, str | None]], topics: dict[str, dict[str, str | None]]) -> None:
        named = [(f"broker {b}", c) for b, c in brokers.items()] + [(f"topic {t}", c) for t, c in topics.items()]
        for name, cfg in named:
            cur = self.configs.setdefault(name, {})
            for k, v in cfg.items():
                self.config_log.append(f"{name} {k}={v}")
                if v is None:
                    cur.pop(k, None)
                else:
                    cur[k] = v
            if not cur:
                del self.configs[name]

    def elect_preferred(self, partitions: list[TP]) -> None:
        self.elected.extend(partitions)

    def throttle_configs(self, brokers: list[int], topics: list[str]) -> dict[str, dict[str, str]]:
        names = [f"broker {b}" for b in brokers] + [f"topic {t}" for t in topics]
        return {n: dict(self.configs[n]) for n in names if self.configs.get(n)}


class Recorder:
    """An audit store double that records intent/result pairs the way the real store does."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []

    def audited(self, **kw: object):  # type: ignore[no-untyped-def]
        from contextlib import contextmanager

        rows = self.rows

        class Change:
            after: object = None

        @contextmanager
        def cm():  # type: ignore[no-untyped-def]
            rows.append(("intent", str(kw["action"])))
            try:
                yield Change()
            except BaseException:
                rows.append(("error", str(kw["action"])))
                raise
            rows.append(("ok", str(kw["action"])))

        return cm()


def _plan(n: int = 12) -> tuple[dict[TP, list[int]], list[Move]]:
    assignment = {("adt", p): [1 + p % 3, 1 + (p + 1) % 3] for p in range(n)}
    moves = []
    for (t, p), reps in assignment.items():
        target = [4, reps[1]] if p % 2 == 0 else [reps[1], reps[0]]  # half data moves, half leader-only
        moves.append(Move(t, p, target, reps, 1000 * (p + 1)))
    return assignment, moves


def _executor(ctrl: FakeController, state: ExecState, path: Path, audit: Recorder | None = None) -> Executor:
    return Executor(ops=ctrl, state=state, path=path, audit=audit, poll_s=0, stall_timeout_s=60,
                    sleep=lambda s: None)


def test_runs_to_completion_with_limits_and_throttles_removed(tmp_path: Path) -> None:
    assignment, moves = _plan()
    ctrl = FakeController(assignment, {1, 2, 3, 4}, ticks=3)
    state = ExecState(plan_id(moves), "test", moves, throttle_bytes_s=10_000_000, max_per_broker=2)
    audit = Recorder()
    seen = []
    ex = _executor(ctrl, state, tmp_path / "s.json", audit)
    ex.on_progress = seen.append
    ex.run()
    assert state.status == "done"
    assert all(ctrl.assignment[(m.topic, m.partition)] == m.target for m in moves)
    assert max(ctrl.max_concurrent.values()) <= 2
    assert ctrl.configs == {}, "no throttle config may be left behind"
    assert any("leader.replication.throttled.rate=10000000" in x for x in ctrl.config_log)
    assert any("follower.replication.throttled.replicas=0:4" in x for x in ctrl.config_log)
    assert sorted(ctrl.elected) == sorted((m.topic, m.partition) for m in moves if m.original[0] != m.target[0])
    assert ("intent", "rebalance.throttle.set") in audit.rows and ("ok", "rebalance.throttle.remove") in audit.rows
    assert seen[-1].done == len(moves) and seen[-1].done_bytes == seen[-1].total_bytes
    assert load_state(tmp_path / "s.json").status == "done"  # type: ignore[union-attr]


def _run_spread_plan(tmp_path: Path, leaders: dict[TP, int]) -> tuple[FakeController, list[list[TP]]]:
    """Six moves onto broker 4, partitions 0-2 first replica 1, 3-5 first replica 3, sizes falling;
    `leaders` overrides live leaders. Runs the executor to the end (checked) and returns the controller
    and every batch of partitions it submitted, in order."""
    sizes = {0: 9000, 1: 8000, 2: 7000, 3: 3000, 4: 2000, 5: 1000}
    assignment = {("adt", p): ([1, 5] if p < 3 else [3, 6]) for p in sizes}
    moves = [Move("adt", p, [assignment[("adt", p)][0], 4], assignment[("adt", p)], size) for p, size in sizes.items()]
    ctrl = FakeController(assignment, {1, 3, 4, 5, 6}, ticks=2)
    ctrl.leader = dict(leaders)
    batches: list[list[TP]] = []
    submit = ctrl.submit

    def recording(changes: dict[TP, list[int] | None]) -> dict[TP, str]:
        batches.append(sorted(changes))
        return submit(changes)

    ctrl.submit = recording  # type: ignore[method-assign]
    state = ExecState(plan_id(moves), "test", moves, throttle_bytes_s=1_000_000, max_per_broker=2)
    _executor(ctrl, state, tmp_path / "s.json").run()
    assert state.status == "done" and all(ctrl.assignment[(m.topic, m.partition)] == m.target for m in moves)
    return ctrl, batches


def test_moves_spread_over_the_brokers_they_copy_from(tmp_path: Path) -> None:
    """A new replica copies from the partition's leader. The first batch takes the largest move of each
    source, not the two largest (both from broker 1): one source feeding the destination alone is held
    by its own leader throttle as well as by the destination's."""
    ctrl, batches = _run_spread_plan(tmp_path, leaders={})
    assert batches[0] == [("adt", 0), ("adt", 3)]
    assert max(ctrl.max_concurrent.values()) <= 2


def test_moves_spread_over_the_live_leaders_not_the_preferred_ones(tmp_path: Path) -> None:
    """A new replica copies from the partition's live leader. Here broker 1 restarted and its partitions
    0 and 1 are led by broker 5 now, while partition 2 is still led by broker 1: the first batch takes
    the largest move of each live leader (0 from broker 5, then 2 from broker 1), not the largest of
    'broker 1' and of broker 3 as the first replicas would suggest."""
    _ctrl, batches = _run_spread_plan(tmp_path, leaders={("adt", 0): 5, ("adt", 1): 5})
    assert batches[0] == [("adt", 0), ("adt", 2)]


class TimedController(FakeController):
    """Reassignments take `seconds` of a fake clock each; the executor sleeps on that clock."""

    def __init__(self, assignment: dict[TP, list[int]], brokers: set[int], seconds: dict[TP, float]) -> None:
        super().__init__(assignment, brokers)
        self.now = 0.0
        self.seconds = seconds
        self.started: dict[TP, float] = {}
        self.calls: dict[str, int] = {"placement": 0, "ongoing": 0}
        self.throttles_removed_at: float | None = None

    def _tick(self) -> None:
        for tp in [tp for tp in self.running if self.now >= self.started[tp] + self.seconds[tp]]:
            self.assignment[tp] = self.running.pop(tp)[0]

    def placement(self, topics: list[str]) -> dict[TP, tuple[list[int], int | None]]:
        self.calls["placement"] += 1
        return super().placement(topics)

    def ongoing(self) -> dict[TP, dict[str, list[int]]]:
        self.calls["ongoing"] += 1
        self._tick()
        return super().ongoing()

    def submit(self, changes: dict[TP, list[int] | None]) -> dict[TP, str]:
        self.started.update(dict.fromkeys(changes, self.now))
        return super().submit(changes)

    def set_configs(self, brokers: dict[int, dict[str, str | None]], topics: dict[str, dict[str, str | None]]) -> None:
        if any(v is None for cfg in brokers.values() for v in cfg.values()):
            self.throttles_removed_at = self.now
        super().set_configs(brokers, topics)


def test_the_end_of_the_last_wave_is_seen_at_once_not_a_poll_later(tmp_path: Path) -> None:
    """With 0.5 s polls, a run whose last move ends at 3.03 s would notice it at 3.5 s; watching the
    controller's list every 0.1 s in the last wave, the throttles are removed by ~3.13 s. While a move
    still waits for a slot there is no watching: one full poll per 0.5 s."""
    seconds = {("adt", 0): 2.0, ("adt", 1): 1.0, ("adt", 2): 2.03}
    assignment = {tp: [1, 2] for tp in seconds}
    moves = [Move("adt", p, [1, 3], [1, 2], 1000) for _, p in seconds]
    ctrl = TimedController(assignment, {1, 2, 3}, seconds)
    state = ExecState(plan_id(moves), "test", moves, throttle_bytes_s=1_000_000, max_per_broker=2)

    def sleep(s: float) -> None:
        ctrl.now += s

    ex = Executor(ops=ctrl, state=state, path=tmp_path / "s.json", poll_s=0.5, finish_poll_s=0.1,
                  stall_timeout_s=60, sleep=sleep, clock=lambda: ctrl.now)
    ex.run()
    assert state.status == "done" and all(ctrl.assignment[(m.topic, m.partition)] == m.target for m in moves)
    # partition 1 ends at 1.0 s, seen at the 1.0 s poll: partition 2 starts then and ends at 3.03 s
    assert ctrl.started[("adt", 2)] == pytest.approx(1.0)
    assert ctrl.throttles_removed_at is not None and 3.03 <= ctrl.throttles_removed_at <= 3.03 + 0.15
    # before the last wave (0-1 s) only full polls: the list alone is read only while nothing waits
    assert ctrl.calls["ongoing"] - ctrl.calls["placement"] <= (3.2 - 1.0) / 0.1


def test_dead_destination_stops_then_resume_completes(tmp_path: Path) -> None:
    assignment, moves = _plan()
    ctrl = FakeController(assignment, {1, 2, 3, 4}, ticks=2)
    path = tmp_path / "s.json"
    state = ExecState(plan_id(moves), "test", moves, throttle_bytes_s=1_000_000)
    ex = _executor(ctrl, state, path)
    polls = {"n": 0}

    def kill_after_first_poll(_: float) -> None:
        polls["n"] += 1
        if polls["n"] == 1:
            ctrl.live.discard(4)

    ex.sleep = kill_after_first_poll
    with pytest.raises(OperationFailed, match="destination broker 4 is offline"):
        ex.run()
    saved = load_state(path)
    assert saved is not None and saved.status == "failed" and saved.active
    # throttles are removed on failure too, except the rate on the offline broker, which cannot be reached:
    # it stays recorded so the next run removes it
    assert set(ctrl.configs) == {"broker 4"}
    assert saved.throttled_brokers == [4] and "offline broker 4" in saved.message
    assert len(saved.completed) < len(moves)
    # broker comes back: a new executor from the saved state resumes to completion
    ctrl.live.add(4)
    again = _executor(ctrl, saved, path)
    again.run()
    assert saved.status == "done"
    assert all(ctrl.assignment[(m.topic, m.partition)] == m.target for m in moves)
    assert ctrl.configs == {}


class UnfencedDeath(FakeController):
    """A broker that died but is still in the controller's live set for `grace` polls (KRaft fences it only
    after its session times out): nothing reads its configs, and writing to it fails."""

    def __init__(self, assignment: dict[TP, list[int]], brokers: set[int], grace: int) -> None:
        super().__init__(assignment, brokers, ticks=1000)
        self.dead: set[int] = set()
        self.grace = grace

    def live_brokers(self) -> set[int]:
        if self.dead and self.grace > 0:
            self.grace -= 1
        elif self.dead:
            self.live -= self.dead
        return super().live_brokers()

    def throttle_configs(self, brokers: list[int], topics: list[str]) -> dict[str, dict[str, str]]:
        return super().throttle_configs([b for b in brokers if b not in self.dead], topics)

    def set_configs(self, brokers: dict[int, dict[str, str | None]], topics: dict[str, dict[str, str | None]]) -> None:
        if set(brokers) & self.dead:
            raise Unreachable(f"cannot reach Kafka broker {sorted(set(brokers) & self.dead)[0]}: "
                              "KafkaConnectionError: 111 ECONNREFUSED")
        super().set_configs(brokers, topics)


def test_a_destination_that_dies_before_it_is_fenced_is_reported_offline_not_unreachable(tmp_path: Path) -> None:
    """The throttle check reads the dead broker's rate as missing and sets it again; that write fails until
    the controller fences the broker. The run must end as a dead destination (exit 1, resumable), with the
    failed write in the audit log, not as an unreachable cluster."""
    assignment, moves = _plan()
    ctrl = UnfencedDeath(assignment, {1, 2, 3, 4}, grace=5)
    state = ExecState(plan_id(moves), "test", moves, throttle_bytes_s=1_000_000, max_per_broker=1)
    audit = Recorder()
    notices: list[str] = []
    ex = _executor(ctrl, state, tmp_path / "s.json", audit)
    ex.on_notice = notices.append
    now = {"t": 0.0}
    ex.clock = lambda: now["t"]

    def poll(_: float) -> None:
        now["t"] += 1.0
        if now["t"] == 2.0:
            ctrl.dead.add(4)

    ex.sleep = poll
    with pytest.raises(OperationFailed, match="destination broker 4 is offline") as failed:
        ex.run()
    assert not isinstance(failed.value, Unreachable)
    assert any("could not set the throttles again" in n and "broker 4" in n for n in notices), notices
    assert ("error", "rebalance.throttle.set") in audit.rows, "the failed write is in the audit log"
    assert state.status == "failed" and state.active and 4 in state.throttled_brokers


def test_cancel_rolls_back_in_flight_and_clears_throttles(tmp_path: Path) -> None:
    assignment, moves = _plan()
    ctrl = FakeController(assignment, {1, 2, 3, 4}, ticks=1000)  # nothing ever finishes
    path = tmp_path / "s.json"
    state = ExecState(plan_id(moves), "test", moves, throttle_bytes_s=1_000_000)
    ex = _executor(ctrl, state, path)
    ex.stall_timeout_s = -1  # give up at the first poll, leaving moves in flight
    with pytest.raises(OperationFailed, match="no partition finished"):
        ex.run()
    assert ctrl.running, "moves are still in flight in the controller"
    # simulate a crash that left throttles set: cancel must remove them from the recorded list
    state.throttled_brokers, state.throttled_topics = [1, 4], ["adt"]
    ctrl.configs = {"broker 1": {"leader.replication.throttled.rate": "1"}, "topic adt": {"x": "y"}}
    audit = Recorder()
    cancelled = cancel(ctrl, state, audit, path)
    assert cancelled and not ctrl.running
    assert "broker 1" not in ctrl.configs
    assert load_state(path).status == "cancelled"  # type: ignore[union-attr]
    assert ("ok", "rebalance.cancel") in audit.rows
    for m in moves:  # every partition is either where it was or where it was meant to go
        assert ctrl.assignment[(m.topic, m.partition)] in (m.original, m.target)


def test_refused_reassignment_fails_cleanly(tmp_path: Path) -> None:
    assignment, moves = _plan(4)
    ctrl = FakeController(assignment, {1, 2, 3, 4})
    ctrl.submit = lambda changes: dict.fromkeys(changes, "InvalidReplicaAssignmentError")  # type: ignore[method-assign]
    state = ExecState(plan_id(moves), "test", moves, throttle_bytes_s=5)
    with pytest.raises(OperationFailed, match="refused to reassign"):
        _executor(ctrl, state, tmp_path / "s.json").run()
    assert ctrl.configs == {} and state.status == "failed"


def test_throttle_plan_matches_kafka_conventions() -> None:
    m = Move("adt", 3, [4, 2], [1, 2], 10)
    brokers, topics = throttle_plan([m], 1000)
    assert sorted(brokers) == [1, 2, 4]
    assert topics["adt"]["leader.replication.throttled.replicas"] == "3:1,3:2"
    assert topics["adt"]["follower.replication.throttled.replicas"] == "3:4"
    assert throttle_plan([m], None) == ({}, {})


def test_a_cluster_that_stops_answering_fails_instead_of_hanging(tmp_path: Path) -> None:
    from brokerscale.errors import Unreachable

    assignment, moves = _plan(4)
    ctrl = FakeController(assignment, {1, 2, 3, 4})
    state = ExecState(plan_id(moves), "test", moves, throttle_bytes_s=5)
    now = {"t": 0.0}
    ex = _executor(ctrl, state, tmp_path / "s.json")
    ex.clock = lambda: now["t"]
    ex.sleep = lambda s: now.__setitem__("t", now["t"] + max(s, 1.0))

    def dead(_: list[str]) -> dict[TP, list[int]]:
        raise Unreachable("describe topics: KafkaConnectionError")

    ctrl.assignments = dead  # type: ignore[method-assign]
    with pytest.raises(OperationFailed, match="stopped answering"):
        ex.run()
    assert 55 <= now["t"] <= 70
    assert state.status == "failed"


def test_a_cancel_request_stops_the_run_and_rolls_back_what_is_moving(tmp_path: Path) -> None:
    assignment, moves = _plan()
    ctrl = FakeController(assignment, {1, 2, 3, 4}, ticks=3)
    state = ExecState(plan_id(moves), "test", moves, throttle_bytes_s=1_000_000, max_per_broker=1)
    audit = Recorder()
    ex = _executor(ctrl, state, tmp_path / "s.json", audit)
    polls = {"n": 0}

    def poll(_: float) -> None:
        polls["n"] += 1

    ex.sleep = poll
    ex.cancel_requested = lambda: polls["n"] >= 4  # another shell ran `rebalance cancel` after 4 polls
    with pytest.raises(RunCancelled, match="cancelled by `brokerscale rebalance cancel`"):
        ex.run()
    assert not ctrl.running, "the executor rolled back its own in-flight moves"
    assert ctrl.configs == {}, "and removed its throttles"
    assert state.status == "cancelled" and not state.active
    assert 0 < len(state.completed) < len(moves), "it stopped part way instead of finishing unthrottled"
    for m in moves:
        now = ctrl.assignment[(m.topic, m.partition)]
        assert now == (m.target if m.key in state.completed else m.original)
    assert ("ok", "rebalance.cancel") in audit.rows
    assert load_state(tmp_path / "s.json").status == "cancelled"  # type: ignore[union-attr]


def test_throttles_removed_behind_a_running_executor_are_set_again(tmp_path: Path) -> None:
    assignment, moves = _plan()
    ctrl = FakeController(assignment, {1, 2, 3, 4}, ticks=4)
    state = ExecState(plan_id(moves), "test", moves, throttle_bytes_s=1_000_000, max_per_broker=1)
    audit = Recorder()
    notices: list[str] = []
    ex = _executor(ctrl, state, tmp_path / "s.json", audit)
    ex.on_notice = notices.append
    now = {"t": 0.0, "polls": 0, "unthrottled_polls": 0}
    ex.clock = lambda: now["t"]

    def poll(_: float) -> None:
        now["t"] += 1.0
        now["polls"] += 1
        if now["polls"] == 3:  # someone deletes every throttle config while moves are in flight
            ctrl.configs.clear()
        if ctrl.running and not ctrl.configs:
            now["unthrottled_polls"] += 1

    ex.sleep = poll
    ex.run()
    assert state.status == "done"
    assert notices and "throttle configs removed outside this run" in notices[0]
    assert now["unthrottled_polls"] <= 3, "the throttle came back within the check interval"
    sets = [r for r in audit.rows if r == ("ok", "rebalance.throttle.set")]
    assert len(sets) >= 2
    assert ctrl.configs == {}


def test_resume_keeps_the_saved_throttle_and_concurrency_unless_given() -> None:
    saved = ExecState("p", "c", [], throttle_bytes_s=1_000_000, max_per_broker=1)
    s = choose_settings(saved, None, False, None)
    assert (s.throttle_bytes_s, s.max_per_broker) == (1_000_000, 1)
    text = s.describe()
    assert "saved with the run" in text and "throttle 1 MB/s" in text and "1 move per broker" in text
    s = choose_settings(saved, 2_000_000, False, 3)
    assert (s.throttle_bytes_s, s.max_per_broker, s.throttle_source) == (2_000_000, 3, "--throttle")
    assert choose_settings(saved, None, True, None).throttle_bytes_s is None
    fresh = choose_settings(None, None, False, None)
    assert (fresh.throttle_bytes_s, fresh.max_per_broker, fresh.throttle_source) == (50_000_000, 5, "default")


def test_moves_come_from_the_plan_file_sizes_without_a_log_dir_scan(tmp_path: Path) -> None:
    import json

    assignment = {("__consumer_offsets", 0): [1, 2], ("adt", 0): [1, 2], ("adt", 1): [2, 3]}
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": "__consumer_offsets", "partition": 0, "replicas": [4, 2], "size_bytes": 7000},
        {"topic": "adt", "partition": 0, "replicas": [2, 1], "size_bytes": 5000},
        {"topic": "adt", "partition": 1, "replicas": [2, 3], "size_bytes": 100}], "summary": {}}))
    ctrl = FakeController(assignment, {1, 2, 3, 4})  # has no admin client: a scan would fail
    moves = moves_for(ctrl, read_plan(plan_file))  # type: ignore[arg-type]
    assert [(m.topic, m.partition, m.bytes) for m in moves] == [("__consumer_offsets", 0, 7000), ("adt", 0, 0)]


def test_run_moves_closes_its_store_and_refuses_a_second_executor(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import brokerscale.store as store_module
    from brokerscale.balance.state import run_lock
    from brokerscale.errors import BadInput

    real_open = store_module.open_store
    opened: list[object] = []

    class Tracked:
        def __init__(self) -> None:
            self.inner = real_open(str(tmp_path / "audit.db"))
            self.closed = False
            opened.append(self)

        def audited(self, **kw: object) -> object:
            return self.inner.audited(**kw)  # type: ignore[arg-type]

        def close(self) -> None:
            self.closed = True
            self.inner.close()

    monkeypatch.setattr(store_module, "open_store", lambda *a, **k: Tracked())
    assignment, moves = _plan(4)
    ctrl = FakeController(assignment, {1, 2, 3, 4}, ticks=1)
    path = tmp_path / "s.json"
    with run_lock(path), pytest.raises(BadInput, match="another `rebalance execute` is running"):
        run_moves(ctrl, ExecState(plan_id(moves), "t", moves), path, poll_s=0, stall_s=60)  # type: ignore[arg-type]
    state = run_moves(ctrl, ExecState(plan_id(moves), "t", moves), path, poll_s=0,  # type: ignore[arg-type]
                      stall_s=60)
    assert state.status == "done"
    assert opened and all(s.closed for s in opened)  # type: ignore[attr-defined]


def test_a_principal_without_the_acls_moves_nothing_and_the_run_is_audited_as_an_error(tmp_path: Path) -> None:
    from brokerscale.store import open_store

    assignment, moves = _plan(4)
    ctrl = FakeController(assignment, {1, 2, 3, 4}, ticks=1)
    ctrl.denied = "Alter on Cluster:kafka-cluster"
    path = tmp_path / "s.json"
    store = open_store(str(tmp_path / "audit.db"))
    state = ExecState(plan_id(moves), "t", moves, throttle_bytes_s=10_000_000)
    with pytest.raises(NotAuthorized, match="Alter on Cluster:kafka-cluster") as info:
        run_moves(ctrl, state, path, poll_s=0, stall_s=60, store=store)  # type: ignore[arg-type]
    assert info.value.exit_code == 2
    assert ctrl.assignment == assignment and not ctrl.running and ctrl.configs == {}  # no throttle, no move
    assert load_state(path).status == "failed"  # type: ignore[union-attr]
    records = store.audit_records(action_prefix="rebalance.")
    assert [(r["action"], r["result"]) for r in records] == [("rebalance.execute", "error")]
    assert "NotAuthorized" in records[0]["error"]
