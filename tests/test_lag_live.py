"""Consumer lag on the real cluster: a consumer slower than the producer is WARNING with a time lag
within 20 % of the truth from record timestamps; killed it is STOP; caught up it is OK."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from traffic import paced_producer, slow_consumer

CLI = Callable[..., tuple[int, str, str]]


def _lag(cli: CLI, bootstrap: str, group: str, samples: int) -> dict[str, Any]:
    code, out, err = cli("lag", "-b", bootstrap, "--group", group, "--samples", str(samples), "--interval", "1s",
                         "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert [g["group"] for g in doc["groups"]] == [group]
    return doc


def _retry(fn: Callable[[], object], attempts: int = 30) -> None:
    """The first group on a fresh cluster creates __consumer_offsets: its coordinator comes up late."""
    from kafka.errors import KafkaError

    for i in range(attempts):
        try:
            fn()
            return
        except KafkaError:
            if i == attempts - 1:
                raise
            time.sleep(1)


def _record_timestamp(bootstrap: str, topic: str, offset: int) -> float:
    """Create time of our own synthetic record at `offset` (the next one the group has to read)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex[:6]}",
                  "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, 0, offset)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            m = c.poll(1.0)
            if m is not None and not m.error():
                assert m.offset() == offset
                return m.timestamp()[1] / 1000.0
        raise AssertionError(f"{topic}-0 offset {offset}: not readable within 60 s")
    finally:
        c.close()


def _group_state(bootstrap: str, group: str) -> str:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        return str(admin.describe_groups([group])[group].get("group_state"))
    finally:
        admin.close()


@pytest.mark.kafka
def test_slow_consumer_warning_killed_stop_caught_up_ok(kafka_cluster: Any, cli: CLI) -> None:
    from kafka import KafkaAdminClient, TopicPartition
    from kafka.admin import NewTopic
    from kafka.structs import OffsetAndMetadata

    bootstrap = kafka_cluster.bootstrap
    topic = f"lag.t.{uuid.uuid4().hex[:6]}"
    group = f"billing-etl-{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.wait_for_topics([topic], timeout_ms=20000)
    # The group exists (offset 0 committed) before traffic starts, as for a deployed application, so the
    # history of its partition's log-end offsets starts with the first sample.
    _retry(lambda: admin.alter_group_offsets(group, {TopicPartition(topic, 0): OffsetAndMetadata(0, "", -1)}))
    admin.close()

    producer = paced_producer(bootstrap, topic, bytes_per_s=5_000, size=100)  # 50 records/s
    consumer = None
    try:
        # Start the history (log-end offsets in the store) now: time lag is read off it later.
        code, _, err = cli("lag", "-b", bootstrap, "--samples", "1")
        assert code == 0, err
        time.sleep(1)  # a backlog first, so the consumer never catches up
        consumer = slow_consumer(bootstrap, topic, group, 15)
        time.sleep(4)
        doc = _lag(cli, bootstrap, group, samples=6)
        g = doc["groups"][0]
        p = g["partitions"][0]
        assert g["status"] == "WARNING", g
        assert p["status"] == "WARNING" and p["lag_offsets"] > 0
        assert not p["lag_seconds_lower_bound"]
        truth = doc["taken_at"] - _record_timestamp(bootstrap, topic, p["committed_offset"])
        assert truth > 1.0
        assert abs(p["lag_seconds"] - truth) <= 0.2 * truth, (p["lag_seconds"], truth)

        consumer.send_signal(signal.SIGKILL)
        consumer.wait(10)
        consumer = None
        # The coordinator notices the killed member after its session timeout (6 s); slower on a busy machine.
        deadline = time.monotonic() + 120
        while (state := _group_state(bootstrap, group)) != "Empty":
            assert time.monotonic() < deadline, f"group {group} still {state} 120 s after its member was killed"
            time.sleep(1)
        g = _lag(cli, bootstrap, group, samples=3)["groups"][0]
        assert g["status"] == "STOP", g
    finally:
        producer.kill()
        producer.wait(10)
        if consumer is not None:
            consumer.kill()

    import confluent_kafka
    from confluent_kafka import Consumer

    # Catch the group up to the (now fixed) end of the log: read until the position reaches the high
    # watermark, however long joining the group and fetching take on a busy machine, then commit it.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    try:
        tp = confluent_kafka.TopicPartition(topic, 0)
        end = c.get_watermark_offsets(tp, timeout=30)[1]
        position, deadline = c.committed([tp], timeout=30)[0].offset, time.monotonic() + 120
        c.subscribe([topic])
        read = 0
        while position < end:
            assert time.monotonic() < deadline, f"caught up to offset {position} of {end} in 120 s"
            m = c.poll(0.5)
            if m is not None and not m.error():
                position, read = m.offset() + 1, read + 1
        if read:
            c.commit(asynchronous=False)
    finally:
        c.close()
    g = _lag(cli, bootstrap, group, samples=3)["groups"][0]
    assert g["status"] == "OK", g
    assert g["lag_offsets"] == 0
