"""`check` and `observe` on the real cluster: what a monitoring system and a script are told.

A consumer group that stopped with lag (no members, offsets frozen) must be reported by the very first
`check`, with or without history; `observe --format json` reports the capacity it measured against.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CLI = Callable[..., tuple[int, str, str]]

# The machine's own latency must not decide these tests.
RULES = """request_latency_p99_ms: {enabled: false}
request_queue_time_ms: {enabled: false}
request_handler_idle_percent: {enabled: false}
"""


def _stopped_group_with_lag(bootstrap: str, records: int) -> tuple[str, str]:
    """A topic with `records` records and a group that committed offset 0 and left (0 members)."""
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"check.lag.{uuid.uuid4().hex[:6]}"
    group = f"ehr-inbox-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 3)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for i in range(records):
        producer.produce(topic, b"synthetic %d" % i)
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        for attempt in range(60):  # the offsets topic's coordinator may still be electing on a fresh cluster
            try:
                consumer.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
                break
            except KafkaException:
                assert attempt < 59, f"group {group} could not commit offset 0 in 60 attempts"
                time.sleep(1)
    finally:
        consumer.close()
    return topic, group


@pytest.mark.kafka
def test_stopped_group_with_lag_is_critical_on_the_first_check(kafka_cluster: Any, cli: CLI, tmp_path: Path) -> None:
    bootstrap = kafka_cluster.bootstrap
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    _, group = _stopped_group_with_lag(bootstrap, 4200)
    for history in (["--no-history"], []):  # --no-history, and a first run that writes history
        code, out, err = cli("check", "-b", bootstrap, *history, "--rules", str(rules), "--interval", "1s",
                             "--format", "json")
        doc = json.loads(out)
        assert code == 2 and doc["status"] == "CRITICAL", (history, doc, err)
        f = next((f for f in doc["findings"] if f["rule"] == "consumer_lag" and f["target"] == group), None)
        assert f is not None, (history, doc["findings"])
        assert f["severity"] == "critical" and f["value"] == 4200 and f["threshold"] is None
        assert "restart the consumers" in f["action"]
    code, out, _ = cli("check", "-b", bootstrap, "--no-history", "--rules", str(rules), "--interval", "1s")
    assert code == 2
    lines = out.splitlines()
    assert lines[0].startswith("CRITICAL - ") and "(>" not in lines[0]
    line = next(x for x in lines[1:] if group in x)
    assert line.startswith(f"CRITICAL: group {group}: ") and "4,200 offsets" in line


@pytest.mark.kafka
def test_observe_json_reports_the_capacity_file_it_measured_against(healthy_cluster: Any, cli: CLI,
                                                                     tmp_path: Path) -> None:
    cap = tmp_path / "brokers.yaml"
    cap.write_text("broker:\n  throughput_mb_s: 100\n  disk: 2TB\n")
    code, out, err = cli("observe", "-b", healthy_cluster.bootstrap, "--no-history", "--capacity", str(cap),
                         "--interval", "1s", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["capacity"] is not None
    assert doc["capacity"]["unit"] == "broker" and doc["capacity"]["units"] == 3
    assert doc["capacity"]["disk_bytes"] == 3 * 2 * 10**12
