"""Rebalance on the real 3-broker cluster: Kafka's tool accepts our file; add a broker and execute with a
throttle under load with zero loss; a dead destination stops the run, a re-run resumes, cancel cleans up;
remove-brokers drains a broker so `dev remove-broker` succeeds."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.kafka


def _ops(bootstrap: str) -> Any:
    from brokerscale.balance.kafka_ops import KafkaOps
    from brokerscale.connect import ConnectionProfile

    return KafkaOps(ConnectionProfile(bootstrap).admin())


def _create(bootstrap: str, topic: str, assignment: dict[int, list[int]]) -> None:
    from kafka.admin import NewTopic

    ops = _ops(bootstrap)
    try:
        ops.admin.create_topics([NewTopic(topic, replica_assignments=assignment)])
    finally:
        ops.close()


def _fill(bootstrap: str, topic: str, count: int, size: str = "2KB") -> None:
    res = subprocess.run([sys.executable, "-m", "brokerscale", "load", "-b", bootstrap, "--topic", topic, "--max",
                          "--count", str(count), "--size", size, "--skew", "1.2", "--duration", "60s",
                          "--format", "json"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]


def _targets(plan: Path) -> dict[tuple[str, int], list[int]]:
    doc = json.loads(plan.read_text())
    return {(p["topic"], p["partition"]): p["replicas"] for p in doc["reassignment"]["partitions"]}


def _wait(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _settled(bootstrap: str, topic: str, timeout: float = 60) -> None:
    """Wait until every partition is fully in sync and led by its preferred leader (the load generator's
    offset lookups do not retry a leader change)."""
    ops = _ops(bootstrap)
    try:
        def ok() -> bool:
            leaders = ops.leaders([topic])
            assign = ops.assignments([topic])
            return not ops.under_replicated([topic]) and all(leaders[tp] == r[0] for tp, r in assign.items())

        _wait(ok, timeout, f"{topic} to settle")
    finally:
        ops.close()


def _no_throttles(bootstrap: str, brokers: list[int], topics: list[str]) -> bool:
    ops = _ops(bootstrap)
    try:
        return ops.throttle_configs(brokers, topics) == {}
    finally:
        ops.close()


@pytest.fixture(scope="module")
def fourth(kafka_cluster: Any) -> Iterator[int]:
    """A fourth broker for this module; drained with `remove-brokers` and removed at the end."""
    new = kafka_cluster.add_broker()
    try:
        yield new
    finally:
        if new in [b.id for b in kafka_cluster.brokers]:  # the drain test normally removed it already
            _drain_and_remove(kafka_cluster, new)


def _drain_and_remove(kafka_cluster: Any, broker: int) -> None:
    from brokerscale.cli import main

    bootstrap = kafka_cluster.bootstrap
    if broker in [b.id for b in kafka_cluster.brokers if not b.alive]:
        kafka_cluster.start_broker(broker)
    plan = Path(os.environ["BROKERSCALE_DATA_DIR"]) / "drain.json"
    for args in (["rebalance", "cancel", "-b", bootstrap, "--all", "--apply"],
                 ["rebalance", "propose", "-b", bootstrap, "--mode", "remove-brokers", "--brokers", str(broker),
                  "-o", str(plan)],
                 ["rebalance", "execute", "-b", bootstrap, "--proposal", str(plan), "--no-throttle", "--apply"]):
        with contextlib.suppress(SystemExit):
            main(args)
    kafka_cluster.remove_broker(broker)


def test_kafka_reassign_tool_accepts_our_file(bootstrap: str, tmp_path: Path, cli: Any) -> None:
    from brokerscale.dev.tools import run_tool

    _create(bootstrap, "bal.tool", {p: [1, 2] for p in range(6)})  # all on brokers 1 and 2: skewed
    _fill(bootstrap, "bal.tool", 600)
    ra = tmp_path / "ra.json"
    code, _out, err = cli("rebalance", "propose", "-b", bootstrap, "--topics", r"bal\.tool", "--reassignment-file", ra)
    assert code == 0, err
    doc = json.loads(ra.read_text())
    assert doc["partitions"], "the skewed topic needs moves"
    res = run_tool("kafka-reassign-partitions", ["--bootstrap-server", bootstrap, "--reassignment-json-file",
                                                 str(ra), "--execute"], timeout=120)
    assert res.returncode == 0, res.stderr
    assert "Successfully started" in res.stdout

    def verified() -> bool:
        v = run_tool("kafka-reassign-partitions", ["--bootstrap-server", bootstrap, "--reassignment-json-file",
                                                   str(ra), "--verify"], timeout=120)
        return v.returncode == 0 and "is still in progress" not in v.stdout

    _wait(verified, 60, "kafka-reassign-partitions --verify")
    ops = _ops(bootstrap)
    try:
        now = ops.assignments(["bal.tool"])
    finally:
        ops.close()
    for p in doc["partitions"]:
        assert now[("bal.tool", p["partition"])] == p["replicas"]


def test_add_broker_and_execute_with_throttle_under_load(bootstrap: str, fourth: int, tmp_path: Path,
                                                         cli: Any) -> None:
    _create(bootstrap, "bal.adt", {p: [1 + (p + k) % 3 for k in range(3)] for p in range(12)})  # not on the new one
    _fill(bootstrap, "bal.adt", 6000)
    plan = tmp_path / "plan.json"
    code, _, err = cli("rebalance", "propose", "-b", bootstrap, "--topics", r"bal\.adt", "--mode", "add-brokers",
                       "--brokers", str(fourth), "-o", plan)
    assert code == 0, err
    targets = _targets(plan)
    assert any(fourth in r for r in targets.values())
    _settled(bootstrap, "bal.adt")
    load = subprocess.Popen([sys.executable, "-m", "brokerscale", "load", "-b", bootstrap, "--topic", "bal.adt",
                             "--rate", "300", "--duration", "20s", "--size", "1KB", "--verify", "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        code, out, err = cli("rebalance", "execute", "-b", bootstrap, "--proposal", plan, "--throttle", "2MB",
                             "--max-per-broker", "2", "--apply")
        assert code == 0, err
        stdout, stderr = load.communicate(timeout=120)
    finally:
        if load.poll() is None:
            load.kill()
    assert load.returncode == 0, stderr[-2000:]
    report = json.loads(stdout)
    assert report["acked"] > 0 and report["errors"] == 0
    assert report["verify"]["lost"] == 0 and report["verify"]["read_back"] == report["acked"]
    ops = _ops(bootstrap)
    try:
        now = ops.assignments(["bal.adt"])
        for tp, reps in targets.items():
            assert now[tp] == reps
        _wait(lambda: ops.under_replicated(["bal.adt"]) == [], 60, "no under-replicated partitions")
    finally:
        ops.close()
    assert _no_throttles(bootstrap, [1, 2, 3, fourth], ["bal.adt"])
    code, out, _ = cli("rebalance", "status", "-b", bootstrap, "--format", "json")
    status = json.loads(out)
    assert status["run"]["status"] == "done" and status["throttles"] == {}


def test_dead_destination_stops_resume_completes_and_cancel_cleans_up(bootstrap: str, fourth: int, tmp_path: Path,
                                                                      cli: Any, kafka_cluster: Any) -> None:
    _create(bootstrap, "bal.kill", {p: [1, 2, 3][p % 3:] + [1, 2, 3][:p % 3] for p in range(6)})
    _fill(bootstrap, "bal.kill", 20000, size="3KB")  # big enough that moves take seconds, one at a time
    plan = tmp_path / "plan.json"
    code, _, err = cli("rebalance", "propose", "-b", bootstrap, "--topics", r"bal\.kill", "--mode", "add-brokers",
                       "--brokers", str(fourth), "-o", plan)
    assert code == 0, err
    cmd = [sys.executable, "-m", "brokerscale", "rebalance", "execute", "-b", bootstrap, "--proposal", str(plan),
           "--throttle", "10KB", "--max-per-broker", "1", "--apply"]
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ops = _ops(bootstrap)
    try:
        _wait(lambda: any(t == "bal.kill" for t, _ in ops.ongoing()), 30, "moves in flight")
        kafka_cluster.stop_broker(fourth, kill=True)
        started = time.monotonic()
        try:
            _, stderr = run.communicate(timeout=90)
        finally:
            if run.poll() is None:
                run.kill()
        assert run.returncode == 1, stderr
        assert f"destination broker {fourth} is offline" in stderr
        assert time.monotonic() - started < 90
        assert _no_throttles(bootstrap, [1, 2, 3], ["bal.kill"]), "throttles are removed on failure"
    finally:
        kafka_cluster.start_broker(fourth)
    code, _, err = cli("rebalance", "execute", "-b", bootstrap, "--no-throttle", "--apply")  # resume
    assert code == 0, err
    now = ops.assignments(["bal.kill"])
    for tp, reps in _targets(plan).items():
        assert now[tp] == reps
    assert _no_throttles(bootstrap, [1, 2, 3, fourth], ["bal.kill"]), "the resumed run removed the last throttle"
    # cancel: a run that crashed (SIGKILL, throttles left behind) is cancelled to a consistent state
    back = tmp_path / "back.json"
    code, _, err = cli("rebalance", "propose", "-b", bootstrap, "--topics", r"bal\.kill", "--mode",
                       "remove-brokers", "--brokers", str(fourth), "-o", back)
    assert code == 0, err
    crash = subprocess.Popen([*cmd[:8], str(back), "--throttle", "10KB", "--max-per-broker", "1", "--apply"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: any(t == "bal.kill" for t, _ in ops.ongoing()), 30, "moves in flight")
        time.sleep(1)
    finally:
        crash.kill()
        crash.wait()
    assert not _no_throttles(bootstrap, [1, 2, 3, fourth], ["bal.kill"]), "a killed run leaves its throttles"
    code, _out, err = cli("rebalance", "cancel", "-b", bootstrap, "--apply")
    assert code == 0, err
    assert _no_throttles(bootstrap, [1, 2, 3, fourth], ["bal.kill"])
    assert not any(t == "bal.kill" for t, _ in ops.ongoing())
    before = {tp: r for tp, r in now.items()}
    after = ops.assignments(["bal.kill"])
    wanted = _targets(back)
    ops.close()
    for tp, reps in after.items():
        assert reps in (before[tp], wanted.get(tp, before[tp])), (tp, reps)


def test_remove_brokers_drains_to_zero_then_dev_remove_broker_succeeds(bootstrap: str, fourth: int, tmp_path: Path,
                                                                       cli: Any, kafka_cluster: Any) -> None:
    plan = tmp_path / "drain.json"
    code, out, err = cli("rebalance", "propose", "-b", bootstrap, "--mode", "remove-brokers", "--brokers", str(fourth),
                         "-o", plan, "--format", "json")
    assert code == 0, err
    row = next(r for r in json.loads(out)["summary"]["per_broker"] if r["broker"] == fourth)
    assert row["replicas_before"] > 0 and row["replicas_after"] == 0 and row["role"] == "removed"
    code, _, err = cli("rebalance", "execute", "-b", bootstrap, "--proposal", plan, "--throttle", "20MB", "--apply")
    assert code == 0, err
    ops = _ops(bootstrap)
    try:
        everywhere = ops.assignments(ops.admin.list_topics())
    finally:
        ops.close()
    assert not [tp for tp, r in everywhere.items() if fourth in r]
    kafka_cluster.remove_broker(fourth)
    assert fourth not in [b.id for b in kafka_cluster.brokers]
