"""The autoscaler on a real self-managed cluster: `scale run --target selfmanaged --apply` against a
module-scoped 3-broker dev cluster while `load --verify` pushes it past the policy's threshold.

A small capacity file (0.5 MB/s of client traffic per broker) makes 1.5 MB/s of load 100 % of three
brokers: the controller starts a fourth broker and moves partitions onto it (add-brokers rebalance,
throttled); 1.5 MB/s is then 75 % of four. When the load stops it drains the newest broker and removes
it after the cooldown. The load loses nothing; the audit log and `scale events` show both events; the
exporter (running the whole time) and `check` see the capacity of four brokers without a restart.
The policy's max_units of 4 keeps the cluster small (one added broker) on a shared 2-core machine.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from brokerscale.store import open_store

pytestmark = pytest.mark.kafka
BROKERSCALE = str(Path(sys.executable).parent / "brokerscale")


@pytest.fixture(scope="module")
def small_cluster() -> Iterator[Any]:
    """Its own 3-broker cluster: the autoscaler adds and removes brokers, which the shared one must not see."""
    from brokerscale.dev.cluster import DevCluster

    cluster = DevCluster.up(f"pytest-scale-{os.getpid()}", brokers=3, racks=["a", "b", "c"])
    try:
        yield cluster
    finally:
        cluster.down()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _records(store_url: str, target: str) -> list[dict[str, Any]]:
    store = open_store(store_url)
    try:
        return [r for r in store.audit_records("scale.") if r["target"] == target]
    finally:
        store.close()


def _wait_for(check: Any, timeout: float, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.time() + timeout
    while not check():
        assert proc.poll() is None, f"the controller exited while waiting for {what}:\n{log.read_text()}"
        assert time.time() < deadline, f"timed out waiting for {what}:\n{log.read_text()}"
        time.sleep(1.0)


class CapacityWatch:
    """Polls the exporter's /metrics: every cluster throughput capacity it served, in order."""

    def __init__(self, url: str) -> None:
        self.url, self.seen = url, []  # type: ignore[var-annotated]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        pat = re.compile(r'^brokerscale_capacity\{[^}]*dimension="throughput",scope="cluster"[^}]*\} (\S+)$', re.M)
        while not self.stop.is_set():
            try:
                m = pat.search(httpx.get(self.url, timeout=5).text)
            except httpx.HTTPError:
                m = None
            if m and (not self.seen or self.seen[-1] != float(m.group(1))):
                self.seen.append(float(m.group(1)))
            self.stop.wait(1.0)


def test_load_past_the_threshold_scales_up_then_drains_one_broker_after_the_cooldown(
        small_cluster: Any, tmp_path: Path) -> None:
    from brokerscale.dev.cluster import DevCluster

    name = small_cluster.name
    target = f"selfmanaged:{name}"
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {**os.environ, "BROKERSCALE_STORE_URL": store_url}
    cap = tmp_path / "capacity.yaml"
    cap.write_text("broker:\n  throughput_mb_s: 0.5\n")
    pol = tmp_path / "policy.yaml"
    pol.write_text(yaml.safe_dump({
        "unit": "broker", "min_units": 3, "max_units": 4, "scale_up_step": 1,
        "scale_up_utilization": 80, "scale_down_utilization": 30,
        "scale_up_cooldown": "5s", "scale_down_cooldown": "40s", "sustain": "8s",
        "provisioning_delay": {"up": "90s", "down": "60s"}}))
    port = _free_port()
    exporter = subprocess.Popen([BROKERSCALE, "exporter", "--cluster", name, "--capacity", str(cap), "--port",
                                 str(port), "--interval", "3s"], env=env, stdout=subprocess.DEVNULL,
                                stderr=(tmp_path / "exporter.log").open("wb"))
    watch = CapacityWatch(f"http://127.0.0.1:{port}/metrics")
    topic = f"scale.live.{uuid.uuid4().hex[:6]}"
    load = subprocess.Popen([BROKERSCALE, "load", "--cluster", name, "--topic", topic, "--partitions", "6",
                             "--rate", "1.5MB/s", "--size", "5KB", "--duration", "120s", "--verify",
                             "--format", "json"], env=env, stdout=subprocess.PIPE,
                            stderr=(tmp_path / "load.log").open("wb"))
    log = tmp_path / "run.log"
    run = subprocess.Popen([BROKERSCALE, "scale", "run", "--target", "selfmanaged", "--cluster", name,
                            "--policy", str(pol), "--limits", str(cap), "--apply", "--interval", "3s",
                            "--throttle", "20MB/s", "--duration", "600s"], env=env, stdout=log.open("wb"),
                           stderr=subprocess.STDOUT)
    try:
        def done(action: str) -> bool:
            return (tmp_path / "store.db").exists() and any(
                r["action"] == action and r["result"] == "ok" for r in _records(store_url, target))

        _wait_for(lambda: done("scale.up"), 300, "the scale-up", run, log)
        assert len([b for b in DevCluster.find(name).brokers if b.alive]) == 4
        # `check` started now sees four brokers' capacity (the scale-down cooldown is 40 s).
        out = subprocess.run([BROKERSCALE, "check", "--cluster", name, "--capacity", str(cap), "--interval", "2s",
                              "--format", "json"], env=env, capture_output=True, text=True, timeout=120).stdout
        [row] = [u for u in json.loads(out)["utilization"] if u["dimension"] == "throughput" and
                 u["scope"] == "cluster"]
        assert row["capacity"] == pytest.approx(2_000_000)
        report_text, _ = load.communicate(timeout=300)
        _wait_for(lambda: done("scale.down"), 300, "the scale-down", run, log)
        _wait_for(lambda: len(watch.seen) >= 3 and watch.seen[-1] == pytest.approx(1_500_000), 90,
                  "the exporter to see three brokers again", exporter, tmp_path / "exporter.log")
    finally:
        for p in (run, load, exporter):
            if p.poll() is None:
                p.terminate()
        run.wait(60)
        load.wait(60)
        exporter.wait(30)
        watch.stop.set()
    report = json.loads(report_text)
    assert report["errors"] == 0 and report["acked"] > 0
    assert report["verify"]["lost"] == 0 and report["verify"]["complete"], report["verify"]

    text = log.read_text()
    assert "pre-check no running reassignment: PASS (none running)" in text
    assert re.search(r"add-brokers 4: moving \d+ partitions .*throttle 20 MB/s", text), text
    assert "post-check capacity in place: PASS (4 brokers in effect)" in text
    assert re.search(r"post-check utilization under the threshold: PASS \(\d+% \(limit 80%\)\)", text), text
    assert "broker 4 drained: stopping and unregistering it" in text
    records = [r for r in reversed(_records(store_url, target)) if r["result"] == "ok"]
    assert [(r["action"], r["intent"]["from"], r["intent"]["to"]) for r in records] == [
        ("scale.up", 3, 4), ("scale.down", 4, 3)]
    assert records[1]["ts"] - records[0]["finished_ts"] >= 40.0  # the scale-down cooldown
    alive = sorted(b.id for b in DevCluster.find(name).brokers if b.alive)
    assert alive == [1, 2, 3]
    # the rebalances went through the executor: audited, with their throttles set and removed
    store = open_store(store_url)
    try:
        actions = [r["action"] for r in store.audit_records("rebalance.")]
    finally:
        store.close()
    assert actions.count("rebalance.execute") == 2
    assert actions.count("rebalance.throttle.set") >= 2 and actions.count("rebalance.throttle.remove") >= 2

    events = json.loads(subprocess.run([BROKERSCALE, "scale", "events", "--format", "json"], env=env,
                                       capture_output=True, check=True, text=True).stdout)
    assert [(e["direction"], e["from"], e["to"], e["result"]) for e in events["events"]] == [
        ("up", 3, 4, "ok"), ("down", 4, 3, "ok")]
    assert all(e["duration_s"] > 0 for e in events["events"])
    assert (events["statistics"]["min_units"], events["statistics"]["max_units"]) == (3, 4)
    # the exporter never restarted, and served three brokers' capacity, then four, then three again
    assert watch.seen[-3:] == [pytest.approx(1_500_000), pytest.approx(2_000_000), pytest.approx(1_500_000)], \
        watch.seen


def test_kill_9_of_a_real_controller_mid_scale_up_then_a_restart_finishes_it_once(
        small_cluster: Any, tmp_path: Path) -> None:
    """`kill -9` of a real `scale run --target selfmanaged --apply` after its intent is recorded and the new
    broker has joined (the add-brokers rebalance starting or under way; the result row not written), then
    a restart: it waits out the dead controller's lease, finishes the same change from the cluster's real
    state (no second broker, the rebalance resumed or found done) and records one result for the one
    intent. A policy minimum above the cluster's size triggers the scale-up without any load."""
    import signal

    from brokerscale.connect import ConnectionProfile
    from brokerscale.dev.cluster import DevCluster

    name = small_cluster.name
    target = f"selfmanaged:{name}"
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {**os.environ, "BROKERSCALE_STORE_URL": store_url}

    def alive_brokers() -> list[int]:
        found = DevCluster.find(name)
        assert found is not None, name
        return sorted(b.id for b in found.brokers if b.alive)

    before = alive_brokers()
    assert len(before) == 3, before
    # a little data, so the rebalance onto the new broker has something to move under its throttle
    topic = f"scale.kill.{uuid.uuid4().hex[:6]}"
    subprocess.run([BROKERSCALE, "load", "--cluster", name, "--topic", topic, "--partitions", "6", "--rate",
                    "2MB/s", "--size", "5KB", "--duration", "8s", "--format", "json"], env=env, check=True,
                   capture_output=True, timeout=300)
    pol = tmp_path / "policy.yaml"
    pol.write_text(yaml.safe_dump({"unit": "broker", "min_units": 4, "max_units": 4, "scale_up_step": 1,
                                   "provisioning_delay": {"up": "90s", "down": "60s"}}))

    def controller(log: Path, *extra: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([BROKERSCALE, "scale", "run", "--target", "selfmanaged", "--cluster", name,
                                 "--policy", str(pol), "--apply", "--interval", "2s", "--throttle", "2MB/s",
                                 *extra], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)

    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = controller(first_log, "--duration", "600s")
    try:
        _wait_for(lambda: "joined, empty" in first_log.read_text(), 300, "the new broker to join", first, first_log)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(30)
    pending = _records(store_url, target)
    assert [(r["action"], r["result"], r["intent"]["to"]) for r in pending] == [("scale.up", "pending", 4)], \
        (pending, first_log.read_text())

    # The restart first waits out the dead controller's lease (60 s from its last renewal) inside its run
    # loop, whose --duration counts from the loop's start: 100 s leave the wait room on a busy machine; the
    # reconcile, once begun, runs to its end.
    second = controller(second_log, "--duration", "100s")
    try:
        code = second.wait(600)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait(30)
    text = second_log.read_text()
    assert code == 0, text
    assert "reconcile: reconciled scale.up to 4: the request had reached the platform" in text, text
    records = _records(store_url, target)
    assert [(r["action"], r["result"], r["intent"]["to"]) for r in records] == [("scale.up", "ok", 4)], records
    both = first_log.read_text() + text
    assert both.count("starting a broker") == 1, both  # never a second broker for the one change
    alive = alive_brokers()
    assert len(alive) == 4 and set(before) < set(alive), alive
    found = DevCluster.find(name)
    assert found is not None, name
    admin = ConnectionProfile(found.bootstrap).admin(timeout_s=30.0, request_timeout_s=30.0)
    try:
        holding = {b for t in admin.topics() for p in t.partitions for b in p.replicas}
        running = admin.reassignments()
    finally:
        admin.close()
    [new] = set(alive) - set(before)
    assert new in holding and not running, (new, holding, running)  # the rebalance onto it finished
