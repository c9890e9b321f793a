"""Long-running verbs through an outage, without a cluster (a refused port stands for a cluster that is
down): each failed round is reported and tried again, and nothing piles up from one round to the next.

`benchmarks/soak.py` measures the same over a real broker's stop and restart."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from brokerscale.connect import ConnectionProfile
from brokerscale.errors import Unreachable
from brokerscale.observe.collect import Observer
from brokerscale.observe.rules import load_rules

BROKERSCALE = str(Path(sys.executable).parent / "brokerscale")


def test_observe_watch_reports_an_outage_each_round_and_keeps_watching(tmp_path: Path) -> None:
    """`observe --watch` used to end at the first round the cluster did not answer."""
    log = tmp_path / "stderr.log"
    env = {**os.environ, "BROKERSCALE_DATA_DIR": str(tmp_path / "data")}
    with log.open("w") as errf:
        proc = subprocess.Popen([BROKERSCALE, "observe", "--bootstrap", "127.0.0.1:1", "--watch", "--interval", "1s",
                                 "--format", "json"], env=env, stdout=subprocess.PIPE, stderr=errf, text=True)
    try:
        deadline = time.monotonic() + 120
        while log.read_text().count("observation failed: cannot reach Kafka at 127.0.0.1:1") < 2:
            assert proc.poll() is None, f"observe --watch exited {proc.returncode}: {log.read_text()}"
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert out == ""  # stdout stays JSON lines of rounds only
    assert "Traceback" not in log.read_text()


def _io_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("kafka-io"))


@pytest.mark.kafka
def test_the_dr_watcher_closes_each_client_a_failed_sample_drops(kafka_cluster: Any, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The watcher reconnects after every failed request (every 2 s sample, every 0.25 s probe): the
    client it drops must be closed, or each failure leaves a kafka-python I/O thread (and its sockets)
    running for good. The connection is real; only the request after it is made to fail."""
    from brokerscale.dr import positions
    from brokerscale.dr.topology import parse_topology
    from brokerscale.dr.watch import LastSeen, probe_source, sample_direction

    where = {"dev": kafka_cluster.name, "region": "us-east-1", "jurisdiction": "US"}
    topo = parse_topology({"clusters": {"primary": where, "dr": where},
                           "flows": {"f": {"source": "primary", "target": "dr", "topics": ["outage\\..*"]}}},
                          "topo.yaml")

    def refused(*_a: object, **_k: object) -> NoReturn:
        raise Unreachable("list offsets failed on primary: KafkaConnectionError")

    monkeypatch.setattr(positions, "end_offsets", refused)
    before = _io_threads()
    admins: dict[str, Any] = {}
    last = LastSeen(tmp_path / "source_last.json")
    for _ in range(3):
        out = sample_direction(topo, topo.flows["f"], "primary", "dr", [], admins)
        assert out["source_error"] == "list offsets failed on primary: KafkaConnectionError"
        probe_source(topo, "primary", "primary->dr", [], admins, last)
    assert admins == {}
    deadline = time.monotonic() + 30
    while _io_threads() > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _io_threads() == before, [t.name for t in threading.enumerate()]  # the old code: 6 more


class _FailingClient:
    """An admin client whose every request fails as `error` says; records whether it was closed."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def __getattr__(self, name: str) -> Any:
        def request(*_a: object, **_k: object) -> NoReturn:
            raise self.error

        return request


@pytest.mark.parametrize("error", [
    Unreachable("describe topics failed on x: NodeNotReadyError: No node_id provided"),
    RuntimeError("a client library's surprise during a broker's restart"),
], ids=["outage", "surprise"])
def test_a_failed_round_closes_the_admin_client_and_the_next_round_connects_afresh(
        error: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every long-running verb drives an Observer: a client kept after a failed round went on failing
    (kafka-python's reconnect backoff) long after the cluster was back; the old code connected once."""
    clients: list[_FailingClient] = []

    def connect(_profile: ConnectionProfile, **_kw: object) -> _FailingClient:
        clients.append(_FailingClient(error))
        return clients[-1]

    monkeypatch.setattr(ConnectionProfile, "admin", connect)
    obs = Observer(ConnectionProfile("127.0.0.1:1"), load_rules(), date_lag=False)
    for _ in range(2):
        with pytest.raises(type(error)):
            obs.sample()
    assert len(clients) == 2
    assert all(c.closed for c in clients)


def test_a_failed_check_between_rounds_closes_the_client_and_the_next_connects_afresh(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`scale run` reads the cluster's layout and its reassignments between rounds on the Observer's
    client; a failure there kept the client, so the round after it failed slowly on the dead client."""
    from brokerscale.scale.actuators.selfmanaged import SelfManagedActuator

    clients: list[_FailingClient] = []

    def connect(_profile: ConnectionProfile, **_kw: object) -> _FailingClient:
        clients.append(_FailingClient(Unreachable("list partition reassignments failed on x: KafkaTimeoutError")))
        return clients[-1]

    monkeypatch.setattr(ConnectionProfile, "admin", connect)
    profile = ConnectionProfile("127.0.0.1:1")
    observer = Observer(profile, load_rules(), date_lag=False)
    actuator = SelfManagedActuator(profile, observer, tmp_path, log=lambda _m: None)
    for check in (actuator.reassignment_running, actuator.units, observer.sample):
        with pytest.raises(Unreachable):
            check()
    assert len(clients) == 3
    assert all(c.closed for c in clients)


@pytest.fixture(scope="module")
def lone_broker() -> Iterator[Any]:
    """A 1-broker cluster of this module's own: its broker is stopped, which the shared cluster's other
    users must not see."""
    from brokerscale.dev.cluster import DevCluster

    cluster = DevCluster.up(f"pytest-outage-{os.getpid()}", brokers=1)
    try:
        yield cluster
    finally:
        cluster.down()


@pytest.mark.kafka
def test_observer_through_a_broker_stop_says_it_cannot_reach_kafka_and_recovers_at_the_restart(
        lone_broker: Any) -> None:
    """The exporter, `observe --watch`, `scale run` and the dashboard live through outages on one
    Observer. Its client kept from before the stop answered every round of the outage with
    `NodeNotReadyError: No node_id provided` (after ~20 s of retries), and went on failing after the
    broker was back; a round after a failed one connects afresh: "cannot reach Kafka at ...", and the
    first round after the restart succeeds."""
    obs = Observer(ConnectionProfile(lone_broker.bootstrap), load_rules(), date_lag=False)
    try:
        obs.sample()  # connected: the client is kept between rounds
        lone_broker.stop_broker(1, kill=True)
        with pytest.raises(Unreachable):
            obs.sample()  # the client from before the outage fails, however it says it
        with pytest.raises(Unreachable) as failed:
            obs.sample()
        assert failed.value.message.startswith(f"cannot reach Kafka at {lone_broker.bootstrap}"), failed.value.message
        lone_broker.start_broker(1)
        r = obs.sample()
        assert [b.id for b in r.snapshot.brokers if b.alive] == [1]
    finally:
        obs.close()


class _NotReadyClient(_FailingClient):
    """Every request refused as kafka-python does with all connections lost; counts the requests."""

    def __init__(self) -> None:
        from kafka.errors import NodeNotReadyError

        super().__init__(NodeNotReadyError("No node_id provided"))
        self.requests = 0

    def __getattr__(self, name: str) -> Any:
        request = super().__getattr__(name)

        def counted(*a: object, **k: object) -> NoReturn:
            self.requests += 1
            request(*a, **k)
            raise AssertionError("unreachable")

        return counted


def test_a_round_that_begins_as_the_cluster_goes_down_fails_after_a_few_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    """An observation round on a client whose every connection is gone: its reads (the cluster, the
    topics and the groups, side by side) each give up after `any_node`'s 4 tries of 25 requests (0.5 s of
    `paced`), not of 200 (4 s: the first failed round of the exporter or `scale run` took 11 s; 1,900
    requests here), and say so in one plain line."""
    from brokerscale.kafka import KafkaAdmin, fastpath

    monkeypatch.setattr(fastpath.time, "sleep", lambda _s: None)
    clients: list[_NotReadyClient] = []

    def connect(_profile: ConnectionProfile, **_kw: object) -> KafkaAdmin:
        clients.append(_NotReadyClient())
        return KafkaAdmin(clients[-1], "127.0.0.1:1")

    monkeypatch.setattr(ConnectionProfile, "admin", connect)
    obs = Observer(ConnectionProfile("127.0.0.1:1"), load_rules(), date_lag=False)
    with pytest.raises(Unreachable) as failed:
        obs.sample()
    assert clients[0].requests <= 4 * 4 * 25
    assert failed.value.message.endswith("NodeNotReadyError: No node_id provided"), failed.value.message
    assert "NodeNotReadyError: NodeNotReadyError" not in failed.value.message


@pytest.mark.kafka
def test_a_prometheus_outage_fails_the_round_but_keeps_the_kafka_client(bootstrap: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """With `--prometheus`, a round whose Prometheus does not answer fails (the broker rates come from
    there), but Kafka answered it: the client is kept, and the next round does not connect again (the
    old code connected afresh every round of a Prometheus outage)."""
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    real = ConnectionProfile.admin
    connects: list[str] = []

    def counted(profile: ConnectionProfile, **kw: Any) -> Any:
        connects.append(profile.bootstrap)
        return real(profile, **kw)

    monkeypatch.setattr(ConnectionProfile, "admin", counted)
    obs = Observer(ConnectionProfile(bootstrap), load_rules(), date_lag=False, prometheus_url=dead)
    try:
        for _ in range(2):
            with pytest.raises(Unreachable) as failed:
                obs.sample()
            assert failed.value.message.startswith(f"cannot query Prometheus at {dead}"), failed.value.message
        assert connects == [bootstrap]
    finally:
        obs.close()
