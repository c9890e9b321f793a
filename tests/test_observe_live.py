"""observe/check on the real cluster: load past a small capacity file's thresholds, a stopped broker,
the exporter's /metrics, and failure paths (bad rules, unreachable cluster)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cluster_health import wait_healthy
from traffic import paced_producer

CLI = Callable[..., tuple[int, str, str]]

QUIET_RULES = """# Only what the test is about: the machine's own latency and other groups do not count here.
request_latency_p99_ms: {enabled: false}
request_queue_time_ms: {enabled: false}
request_handler_idle_percent: {enabled: false}
consumer_lag: {enabled: false}
"""


def _create_topic(bootstrap: str, name: str, partitions: int = 3, rf: int = 3) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        admin.create_topics([NewTopic(name, partitions, rf)])
        admin.wait_for_topics([name], timeout_ms=20000)
    finally:
        admin.close()


class _Producer:
    """`rate` bytes/s of 10 KB records, one partition per broker taking the same share."""

    def __init__(self, bootstrap: str, topic: str, rate: float, parts: int = 3) -> None:
        self.proc = paced_producer(bootstrap, topic, bytes_per_s=rate, size=10_000, parts=parts)
        time.sleep(3)  # a steady rate before the first sample

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture()
def quiet_rules(tmp_path: Path) -> Path:
    p = tmp_path / "rules.yaml"
    p.write_text(QUIET_RULES)
    return p


def _check(cli: CLI, bootstrap: str, *args: str) -> tuple[int, list[str], dict[str, Any] | None]:
    code, out, _err = cli("check", "-b", bootstrap, "--no-history", *args)
    if "--format" in args:
        return code, [], json.loads(out)
    return code, out.splitlines(), None


@pytest.mark.kafka
def test_load_past_capacity_warns_then_goes_critical_then_clears(
        healthy_cluster: Any, cli: CLI, tmp_path: Path, quiet_rules: Path) -> None:
    """Each leader takes a third of the load only while the leaders are spread one per broker and nothing is
    under-replicated: hence the healthy cluster (a broker an earlier test restarted still catching up
    made this CRITICAL where WARNING was due)."""
    bootstrap = healthy_cluster.bootstrap
    topic = f"obs.load.{uuid.uuid4().hex[:6]}"
    _create_topic(bootstrap, topic)
    cap = tmp_path / "capacity.yaml"
    cap.write_text("broker:\n  throughput_mb_s: 0.05   # 50 KB/s per broker, 150 KB/s for three\n")
    common = ("--capacity", str(cap), "--rules", str(quiet_rules), "--interval", "8s")

    prod = _Producer(bootstrap, topic, rate=115_000)  # ~77 % of 150 KB/s
    try:
        code, _, doc = _check(cli, bootstrap, *common, "--format", "json")
        assert doc is not None
        assert code == 1 and doc["status"] == "WARNING", (doc["utilization"], doc["findings"], doc["window_s"])
        assert doc["summary"].startswith("WARNING - ")
        f = next(f for f in doc["findings"] if f["rule"] == "throughput" and f["scope"] == "cluster")
        assert f["severity"] == "warning" and f["threshold"] == 70 and 70 < f["value"] <= 85, f
        assert f["action"] == "add 1 broker"
    finally:
        prod.stop()

    prod = _Producer(bootstrap, topic, rate=200_000)  # ~133 %
    try:
        code, _, doc = _check(cli, bootstrap, *common, "--format", "json")
        assert doc is not None
        assert code == 2 and doc["status"] == "CRITICAL", (doc["utilization"], doc["findings"], doc["window_s"])
        f = next(f for f in doc["findings"] if f["rule"] == "throughput" and f["scope"] == "cluster")
        assert f["severity"] == "critical" and f["threshold"] == 85 and f["value"] > 85
        assert f["action"].startswith("add ") and f["action"].endswith("brokers")
        per_broker = [f for f in doc["findings"] if f["rule"] == "throughput" and f["scope"] == "broker"]
        assert {f["target"] for f in per_broker} == {"broker 1", "broker 2", "broker 3"}
    finally:
        prod.stop()

    code, lines, _ = _check(cli, bootstrap, *common)  # the table form: the summary line comes first
    assert code == 0, lines
    assert lines[0] == "OK - no scaling triggers fired"


@pytest.mark.kafka
def test_stopped_broker_is_under_replicated_and_critical(
        healthy_cluster: Any, cli: CLI, quiet_rules: Path) -> None:
    kafka_cluster = healthy_cluster
    topic = f"obs.urp.{uuid.uuid4().hex[:6]}"
    _create_topic(kafka_cluster.bootstrap, topic)
    kafka_cluster.stop_broker(3)
    try:
        bootstrap = kafka_cluster.bootstrap
        code, _, doc = _check(cli, bootstrap, "--rules", str(quiet_rules), "--interval", "1s", "--format", "json")
        assert doc is not None and code == 2, doc
        f = next(f for f in doc["findings"] if f["rule"] == "under_replicated_partitions")
        assert f["severity"] == "critical"
        assert f["action"] == "under-replicated partitions: fix before scaling"
        assert f["value"] >= 3 and "broker down: 3" in f["message"]
        code, out, _ = cli("observe", "-b", bootstrap, "--no-history", "--interval", "1s", "--format", "json")
        snap = json.loads(out)["snapshot"]
        assert next(b for b in snap["brokers"] if b["id"] == 3)["alive"] is False
        t = next(t for t in snap["topics"] if t["name"] == topic)
        assert all(3 not in p["isr"] for p in t["partitions"])
    finally:
        kafka_cluster.start_broker(3)
        wait_healthy(kafka_cluster)


@pytest.mark.kafka
def test_exporter_serves_utilization_findings_and_lag(kafka_cluster: Any, tmp_path: Path) -> None:
    from brokerscale.connect import ConnectionProfile
    from brokerscale.observe.capacity import from_ckus
    from brokerscale.observe.collect import Observer, dev_metrics_urls
    from brokerscale.observe.exporter import serve
    from brokerscale.observe.rules import load_rules

    bootstrap = kafka_cluster.bootstrap
    obs = Observer(ConnectionProfile(bootstrap), load_rules(), capacity=from_ckus(1),
                   metrics_urls=dev_metrics_urls(bootstrap))
    stop = threading.Event()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _collector, server = serve(obs, port, 1.0, stop)
    try:
        body = ""
        deadline = time.time() + 60
        while time.time() < deadline:
            body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            if 'dimension="throughput",scope="cluster"' in body:  # the second round has rates
                break
            time.sleep(1)
        assert 'brokerscale_up{cluster="' in body and '"} 1.0' in body
        assert 'dimension="throughput",scope="cluster"' in body
        assert 'brokerscale_findings{cluster=' in body and 'severity="critical"' in body
        assert "brokerscale_cluster_partitions{" in body
    finally:
        stop.set()
        server.shutdown()  # type: ignore[attr-defined]
        obs.close()


def test_bad_rules_file_is_one_line_exit_2_and_check_unknown(cli: CLI, tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("throughput:\n  warning: 90\n  critical: eighty\n")
    code, out, err = cli("observe", "-b", "127.0.0.1:9", "--rules", str(bad))
    assert code == 2
    assert "throughput.critical" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, out, err = cli("check", "-b", "127.0.0.1:9", "--rules", str(bad))
    assert code == 3
    assert out.splitlines()[0].startswith("UNKNOWN - ") and "throughput.critical" in out


def test_unreachable_cluster_is_one_line(cli: CLI) -> None:
    code, out, err = cli("check", "-b", "127.0.0.1:9", "--no-history")
    assert code == 3
    assert out.startswith("UNKNOWN - cannot reach Kafka at 127.0.0.1:9")
    code, out, err = cli("lag", "-b", "127.0.0.1:9", "--no-history")
    assert code == 69 and "cannot reach Kafka" in err and "Traceback" not in err


def test_capacity_and_ckus_are_exclusive(cli: CLI, tmp_path: Path) -> None:
    cap = tmp_path / "c.yaml"
    cap.write_text("broker:\n  throughput_mb_s: -1\n")
    code, _, err = cli("observe", "-b", "127.0.0.1:9", "--capacity", str(cap))
    assert code == 2 and "broker.throughput_mb_s" in err
    code, _, err = cli("observe", "-b", "127.0.0.1:9", "--capacity", str(cap), "--ckus", "2")
    assert code == 2 and "give one" in err


