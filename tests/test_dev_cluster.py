"""`brokerscale dev` against real JVMs: start, crash a broker, heal, add/remove, and clean shutdown."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from brokerscale.dev.cluster import DevCluster, _pids_mentioning
from cluster_health import wait_healthy


def _under_replicated(bootstrap: str, topic: str) -> int | None:
    """Under-replicated partitions of `topic`, or None when no broker answered in time (a busy machine, a
    broker just killed): the callers poll until their count, so a slow answer is one more poll."""
    from confluent_kafka import KafkaException

    try:
        md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic=topic, timeout=30)
    except KafkaException:
        return None
    return sum(1 for p in md.topics[topic].partitions.values() if len(p.isrs) < len(p.replicas))


def _wait(predicate, timeout: float = 90.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def test_bad_input_is_one_line_and_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("dev", "up", "--brokers", "0")
    assert code == 2
    assert "--brokers" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("dev", "status", "--name", "no-such-cluster")
    assert code == 2 and "no dev cluster named" in err
    code, _, err = cli("dev", "up", "--name", "Bad Name!")
    assert code == 2 and "--name" in err


def test_version_and_help_list_verbs() -> None:
    res = subprocess.run([sys.executable, "-m", "brokerscale", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("brokerscale ")
    res = subprocess.run([sys.executable, "-m", "brokerscale", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "dev" in res.stdout


@pytest.mark.kafka
def test_kill_broker_makes_partitions_under_replicated_and_restart_heals(kafka_cluster) -> None:  # type: ignore[no-untyped-def]
    bootstrap = kafka_cluster.bootstrap
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic("dev.heal", 6, 3)]).values():
        f.result()
    assert _wait(lambda: _under_replicated(bootstrap, "dev.heal") == 0), _under_replicated(bootstrap, "dev.heal")
    kafka_cluster.stop_broker(2, kill=True)
    try:
        assert not next(b for b in kafka_cluster.brokers if b.id == 2).alive
        assert _wait(lambda: _under_replicated(kafka_cluster.bootstrap, "dev.heal") == 6), \
            _under_replicated(kafka_cluster.bootstrap, "dev.heal")
    finally:
        kafka_cluster.start_broker(2)
    try:
        assert _wait(lambda: _under_replicated(kafka_cluster.bootstrap, "dev.heal") == 0), \
            _under_replicated(kafka_cluster.bootstrap, "dev.heal")
    finally:
        wait_healthy(kafka_cluster)  # every topic in sync and preferred leaders back, for the tests after


@pytest.mark.kafka
def test_status_json_from_a_later_invocation(kafka_cluster) -> None:  # type: ignore[no-untyped-def]
    res = subprocess.run([sys.executable, "-m", "brokerscale", "dev", "status", "--name", kafka_cluster.name,
                          "--format", "json"], capture_output=True, text=True, check=True)
    doc = json.loads(res.stdout)
    assert [b["id"] for b in doc["brokers"]] == [1, 2, 3]
    assert [b["rack"] for b in doc["brokers"]] == ["a", "b", "c"]
    assert all(b["alive"] for b in doc["brokers"])
    # the JMX exporter answers on every broker with Kafka's metrics
    import httpx

    text = httpx.get(doc["brokers"][0]["metrics_url"], timeout=120).text  # a busy machine scrapes slowly
    assert "kafka_server_replicamanager_underreplicatedpartitions" in text


@pytest.mark.kafka
def test_second_cluster_side_by_side_add_remove_and_down_leaves_no_java(kafka_cluster) -> None:  # type: ignore[no-untyped-def]
    other = DevCluster.up("pytest-second", brokers=1)
    try:
        assert set(other.bootstrap.split(",")).isdisjoint(kafka_cluster.bootstrap.split(","))
        new_id = other.add_broker()
        assert new_id == 2
        md = AdminClient({"bootstrap.servers": other.bootstrap}).list_topics(timeout=60)
        assert set(md.brokers) == {1, 2}
        other.remove_broker(2)
        assert 2 not in DevCluster.find("pytest-second").nodes  # type: ignore[union-attr]
    finally:
        root = Path(other.root)
        other.down()
    assert _pids_mentioning(str(root)) == []
    assert DevCluster.find("pytest-second") is None
    # the session cluster is untouched
    assert all(b.alive for b in kafka_cluster.brokers)
