"""`dev up` against real JVMs when things go wrong: lost port races, a start that cannot succeed,
Ctrl-C, a start killed outright, an existing name, two starts at the same moment."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from brokerscale.dev import cluster as cluster_mod
from brokerscale.dev.cluster import DevCluster, _pids_mentioning
from brokerscale.dev.ports import PortSource, quiet_port
from brokerscale.errors import OperationFailed

pytestmark = pytest.mark.kafka


@pytest.fixture()
def held_port() -> Iterator[int]:
    """A port another process holds (a listening socket on 127.0.0.1) while the test runs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def _all_ports(c: DevCluster) -> list[int]:
    return [p for n in [c.controller, *c.nodes.values()] for p in (n.port, n.metrics_port)]


def _cluster_dir(name: str) -> Path:
    return DevCluster.clusters_dir() / name


def _wait(predicate: Callable[[], bool], timeout: float = 240.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _brokerscale(*args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "brokerscale", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)  # type: ignore[call-overload]


def test_a_collision_with_a_held_port_is_retried_with_fresh_distinct_ports(held_port: int) -> None:
    # The allocator is forced to hand out a port another process holds, twice in a row (the second
    # time it must refuse the duplicate); the controller then cannot bind it, and the start is retried.
    factories_made: list[int] = []

    def per_attempt() -> PortSource:
        factories_made.append(1)
        first = iter([held_port, held_port] if len(factories_made) == 1 else [])
        return lambda: next(first, 0) or quiet_port()

    progress: list[str] = []
    c = DevCluster.up("pytest-collide", brokers=1, port_source=per_attempt, on_progress=progress.append)
    try:
        ports = _all_ports(c)
        assert len(set(ports)) == len(ports) and held_port not in ports
        assert len(factories_made) == 2
        assert any("controller 100 lost a port race (attempt 1 of" in m for m in progress)
        md = AdminClient({"bootstrap.servers": c.bootstrap}).list_topics(timeout=30)
        assert md.cluster_id == c.cluster_id and set(md.brokers) == {1}
        saved = DevCluster.find("pytest-collide")
        assert saved is not None and _all_ports(saved) == ports and saved.started
    finally:
        c.down()
    assert _pids_mentioning(c.marker) == []


def test_a_start_that_loses_every_port_race_cleans_up_and_names_the_node(
        held_port: int, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # The first port of every attempt is the held one: each attempt's controller cannot bind.
    last: list[int] = [0]

    def held_first_then_free() -> int:
        last[0] = held_port if last[0] != held_port else quiet_port()
        return last[0]

    monkeypatch.setattr(cluster_mod, "quiet_port", held_first_then_free)
    monkeypatch.setattr(cluster_mod, "START_ATTEMPTS", 2)
    code, out, err = cli("dev", "up", "--name", "pytest-doomed", "--brokers", "1")
    assert code == 1, err
    assert "Traceback" not in err
    assert err.count("controller 100 lost a port race (attempt 1 of 2); retrying with fresh ports") == 1
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1
    line = errors[0]
    assert "controller 100 of dev cluster 'pytest-doomed'" in line
    assert f"ports {held_port} and" in line
    assert "server.log" in line and "Address already in use" in line  # quotes the node's own log
    assert "a port was taken by another process on 2 attempts" in line
    root = _cluster_dir("pytest-doomed")
    assert not root.exists()
    assert _pids_mentioning(f"{root}/") == []
    assert DevCluster.find("pytest-doomed") is None
    code, out, _ = cli("dev", "list", "--format", "json")
    assert code == 0 and "pytest-doomed" not in out


def test_ctrl_c_during_dev_up_stops_everything_and_lists_nothing() -> None:
    name = "pytest-sigint"
    root = _cluster_dir(name)
    proc = _brokerscale("dev", "up", "--name", name, "--brokers", "1")
    # interrupt once a node's JVM is running: the worst moment, half started
    assert _wait(lambda: any(p != proc.pid for p in _pids_mentioning(f"{root}/")) or proc.poll() is not None)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"dev cluster {name!r} was not created" in err and "Traceback" not in err
    assert not root.exists()
    assert _pids_mentioning(f"{root}/") == []
    listed = subprocess.run([sys.executable, "-m", "brokerscale", "dev", "list", "--format", "json"],
                            capture_output=True, text=True, check=True)
    assert name not in listed.stdout


def test_killed_start_is_recovered_then_an_existing_name_is_resumed_exactly_or_refused(cli) -> None:  # type: ignore[no-untyped-def]
    name = "pytest-again"
    root = _cluster_dir(name)
    # 1. `dev up` killed outright (SIGKILL: no cleanup possible) while starting
    proc = _brokerscale("dev", "up", "--name", name, "--brokers", "2", start_new_session=True)
    assert _wait(lambda: len([p for p in _pids_mentioning(f"{root}/") if p != proc.pid]) >= 2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    left = DevCluster.find(name)
    assert left is not None and not left.started
    # 2. the next `dev up` recognises the unfinished start, removes it, and starts afresh
    code, out, err = cli("dev", "up", "--name", name, "--brokers", "2", "--format", "json")
    assert code == 0, err
    assert "a previous start did not finish" in err
    c = DevCluster.find(name)
    assert c is not None
    try:
        assert c.started and c.cluster_id != left.cluster_id
        assert json.loads(out)["bootstrap"] == c.bootstrap
        pids = {n.id: n.pid for n in c.nodes.values()}
        # 3. options that describe another cluster are refused, with the way out
        code, _, err = cli("dev", "up", "--name", name, "--brokers", "3")
        assert code == 2
        assert "already exists" in err and "2 brokers" in err and f"dev down --name {name}" in err
        code, _, err = cli("dev", "up", "--name", name, "--racks", "x,y")
        assert code == 2 and "racks" in err
        # 4. the same name alone resumes exactly that cluster: nothing restarted, nothing added
        code, _, err = cli("dev", "up", "--name", name)
        assert code == 0 and "resuming it as it was (2 brokers, data kept)" in err
        again = DevCluster.find(name)
        assert again is not None and {n.id: n.pid for n in again.nodes.values()} == pids
        # 5. a stopped broker is started again on its own port, in the same cluster
        port2 = c.nodes[2].port
        c.stop_broker(2)
        code, _, err = cli("dev", "up", "--name", name)
        assert code == 0, err
        again = DevCluster.find(name)
        assert again is not None and again.nodes[2].port == port2 and all(b.alive for b in again.brokers)
        md = AdminClient({"bootstrap.servers": again.bootstrap}).list_topics(timeout=30)
        assert md.cluster_id == c.cluster_id and set(md.brokers) == {1, 2}
    finally:
        c.down()
    assert _pids_mentioning(f"{root}/") == []


def test_two_dev_up_at_the_same_moment_do_not_interfere() -> None:
    procs = {n: _brokerscale("dev", "up", "--name", n, "--brokers", "1", "--format", "json")
             for n in ("pytest-twin-a", "pytest-twin-b")}
    docs = {}
    try:
        for n, p in procs.items():
            out, err = p.communicate(timeout=600)
            assert p.returncode == 0, f"{n}: {err}"
            docs[n] = json.loads(out)
        a, b = (DevCluster.find(n) for n in procs)
        assert a is not None and b is not None
        assert set(_all_ports(a)).isdisjoint(_all_ports(b))
        assert a.cluster_id != b.cluster_id
        for c in (a, b):
            md = AdminClient({"bootstrap.servers": c.bootstrap}).list_topics(timeout=30)
            assert md.cluster_id == c.cluster_id
    finally:
        for n in procs:
            c = DevCluster.find(n)
            if c is not None:
                c.down()


def test_add_broker_loses_a_port_race_then_gives_up_cleanly(kafka_cluster, held_port: int) -> None:  # type: ignore[no-untyped-def]
    before = {i: (n.port, n.pid) for i, n in kafka_cluster.nodes.items()}

    def held_first() -> PortSource:
        first = iter([held_port])
        return lambda: next(first, 0) or quiet_port()

    try:
        with pytest.raises(OperationFailed, match=r"broker 4 of dev cluster .*taken by another process on 1 attempt\)"):
            kafka_cluster.add_broker(attempts=1, port_source=held_first)
    finally:  # the cluster is shared: a broker wrongly taken as started must not fail every later test
        for extra in sorted(set(kafka_cluster.nodes) - set(before)):
            with contextlib.suppress(Exception):
                kafka_cluster.remove_broker(extra)
    saved = DevCluster.find(kafka_cluster.name)
    assert saved is not None and sorted(saved.nodes) == [1, 2, 3]
    assert not (kafka_cluster.root / "broker-4").exists()
    assert {i: (n.port, n.pid) for i, n in saved.nodes.items()} == before
    assert all(b.alive for b in saved.brokers)
    # nor in the cluster's metadata: the broker had registered (fenced) before it failed to bind its port
    from brokerscale.connect import ConnectionProfile

    deadline = time.monotonic() + 60
    with ConnectionProfile(kafka_cluster.bootstrap).admin() as admin:
        while (listed := [(b.id, b.fenced) for b in admin.cluster().brokers if b.id not in before]):
            assert time.monotonic() < deadline, f"brokers still registered after the failed add: {listed}"
            time.sleep(0.5)


def test_a_broker_counts_as_started_only_when_our_kafka_answers_on_its_own_port(kafka_cluster,  # type: ignore[no-untyped-def]
                                                                                  held_port: int) -> None:
    # A broker registers (and on a busy machine may be unfenced) before it binds its listener: being listed
    # in the metadata while another process's socket answers on the port once passed for "started".
    from dataclasses import replace

    real = kafka_cluster.nodes[min(kafka_cluster.nodes)]
    assert kafka_cluster._serves_own_port(real)
    assert not kafka_cluster._serves_own_port(replace(real, port=held_port))  # something listens, but not Kafka
    assert not kafka_cluster._serves_own_port(replace(real, port=quiet_port()))  # nothing listens
