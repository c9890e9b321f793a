"""`brokerscale topics` against the real 3-broker cluster: optimize, apply, refusals, hot partitions."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from brokerscale.plan.partitions import partition_target
from brokerscale.topics.policy import DAY_MS

pytestmark = pytest.mark.kafka
#: A short offsets-only measurement: enough for tests that do not look at traffic.
FAST = ("--window", "1s", "--source", "offsets")


def _admin(bootstrap: str) -> Any:
    from kafka import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=bootstrap)


_CREATED: set[str] = set()


@pytest.fixture(autouse=True)
def _drop_topics(bootstrap: str) -> Iterator[None]:
    """Delete what a test created, so later tests on the shared cluster have fewer partitions to carry."""
    yield
    if _CREATED:
        admin = _admin(bootstrap)
        try:
            admin.delete_topics(sorted(_CREATED))
        except Exception:  # cleanup is best effort; the session cluster is torn down anyway
            pass
        finally:
            admin.close()
            _CREATED.clear()


def _create(bootstrap: str, name: str, partitions: int, **configs: str) -> None:
    _CREATED.add(name)
    admin = _admin(bootstrap)
    try:
        admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 3, "configs": configs}},
                            wait_for_metadata=True)
    finally:
        admin.close()


def _describe(bootstrap: str, name: str) -> tuple[int, dict[str, str]]:
    """Partition count and the policy-relevant configs, read with plain kafka-python (not brokerscale).

    Each broker learns new metadata on its own schedule, so an answer without partitions is retried."""
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = _admin(bootstrap)
    try:
        deadline = time.monotonic() + 60
        while True:
            topic = admin.describe_topics([name])[0]
            if not topic.get("error_code") and topic["partitions"]:
                break
            assert time.monotonic() < deadline, f"{name}: no partitions in metadata after 60 s: {topic}"
            time.sleep(0.2)
        keys = ["retention.ms", "min.insync.replicas", "cleanup.policy", "max.message.bytes"]
        raw = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name, keys)], config_filter="all")
        return len(topic["partitions"]), {k: v["value"] for k, v in raw["topic"][name].items()}
    finally:
        admin.close()


def _described_as(bootstrap: str, name: str, want: Any, timeout: float = 60) -> tuple[int, dict[str, str]]:
    """`_describe` once `want(partitions, configs)` holds: the broker answering may apply the controller's
    record of a change a moment after the change returned (seconds on a busy machine). Fails naming what
    it last saw."""
    deadline = time.monotonic() + timeout
    while True:
        seen = _describe(bootstrap, name)
        if want(*seen):
            return seen
        assert time.monotonic() < deadline, f"{name} after {timeout:.0f} s: {seen}"
        time.sleep(0.5)


@contextmanager
def _load(bootstrap: str, topic: str, seconds: float, keys: list[str], weights: list[float] | None = None,
          size: int = 400) -> Iterator[dict[str, Any]]:
    """Synthetic records with the given key distribution, in a background thread, for `seconds` at most
    (until the block ends: give it time to spare, the measurement inside may be slow on a busy machine)."""
    from confluent_kafka import Producer

    stats: dict[str, Any] = {"bytes": 0, "partition_of": {}, "per_key": Counter(), "elapsed": 0.0}
    # bytes the brokers acknowledged (not merely queued in the producer), and when
    stats.update(delivered=0, first_ack=None, last_ack=None)
    stop = threading.Event()

    def run() -> None:
        rng = random.Random(42)
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 10})

        def delivered(err: Any, msg: Any) -> None:
            if err is None:
                stats["partition_of"][msg.key().decode()] = msg.partition()
                stats["delivered"] += len(msg.value())
                now = time.monotonic()
                stats["first_ack"] = stats["first_ack"] or now
                stats["last_ack"] = now

        t0 = time.monotonic()
        while not stop.is_set() and time.monotonic() - t0 < seconds:
            for k in rng.choices(keys, weights, k=100):
                try:
                    producer.produce(topic, key=k, value=b"x" * size, on_delivery=delivered)
                except BufferError:  # the local queue is full: the cluster is slower than us, wait
                    producer.poll(0.1)
                    continue
                stats["bytes"] += size
                stats["per_key"][k] += 1
            producer.poll(0)
            time.sleep(0.05)  # about 2,000 records/s at most: light load, the queue stays short
        producer.flush(10)
        stats["elapsed"] = time.monotonic() - t0

    th = threading.Thread(target=run, daemon=True)
    th.start()
    try:
        deadline = time.monotonic() + 60  # producer connected and flowing before measuring
        while stats["first_ack"] is None:
            assert th.is_alive() and time.monotonic() < deadline, f"no record acknowledged on {topic} in 60 s"
            time.sleep(0.1)
        yield stats
    finally:
        stop.set()
        th.join(30)


def _audit(action: str, target: str) -> list[dict[str, Any]]:
    from brokerscale.store import open_store

    store = open_store()
    try:
        return [r for r in store.audit_records(action_prefix=action, limit=200) if r["target"] == target]
    finally:
        store.close()


def test_dry_run_changes_nothing_and_apply_fixes_retention_and_min_isr(cli: Any, bootstrap: str) -> None:
    topic = "clinical.results.it"
    _create(bootstrap, topic, 24, **{"retention.ms": str(DAY_MS), "min.insync.replicas": "1"})
    before = _describe(bootstrap, topic)

    code, out, err = cli("topics", "optimize", "-b", bootstrap, "--topic", topic, *FAST,
                         "--format", "json")
    assert code == 0, err
    review = json.loads(out)["topics"][0]
    assert {"retention-below-policy", "min-isr-below-policy"} <= {f["code"] for f in review["findings"]}
    assert _describe(bootstrap, topic) == before  # a dry run changes nothing

    code, out, err = cli("topics", "optimize", "-b", bootstrap, "--topic", topic, *FAST, "--apply")
    assert code == 0, err
    parts, configs = _described_as(bootstrap, topic, lambda _p, c: int(c["min.insync.replicas"]) == 2)
    assert parts == 24
    assert int(configs["retention.ms"]) >= 30 * DAY_MS
    records = _audit("topics.alter_config", topic)
    assert len(records) == 1 and records[0]["result"] == "ok"
    assert records[0]["before"]["retention.ms"] == str(DAY_MS)
    assert records[0]["after"]["min.insync.replicas"] == "2"

    # converged: a second run finds nothing to change
    code, out, _ = cli("topics", "optimize", "-b", bootstrap, "--topic", topic, *FAST, "--format", "json")
    assert code == 0 and json.loads(out)["topics"][0]["config_changes"] == []


def test_keyed_topic_under_load_gets_rule_target_refused_without_remap_then_applied(cli: Any,
                                                                                    bootstrap: str) -> None:
    topic = "clinical.labs.it"
    _create(bootstrap, topic, 3)
    patients = [f"patient-{i}" for i in range(300)]
    with _load(bootstrap, topic, 120.0, patients) as stats:
        code, out, err = cli("topics", "optimize", "-b", bootstrap, "--topic", topic, "--window", "2s",
                             "--source", "offsets", "--format", "json")
    assert code == 0, err
    review = json.loads(out)["topics"][0]
    rate = review["rate"]
    produced_rate = stats["delivered"] / (stats["last_ack"] - stats["first_ack"])
    assert rate["source"].startswith("offset deltas")
    assert 0.2 * produced_rate < rate["bytes_in_per_s"] < 5 * produced_rate
    expected = partition_target(rate["throughput_mb_s"], "high-volume-clinical")
    assert review["partitions"]["target"] == expected.partitions == expected.floor  # light load: the floor
    assert review["partitions"]["needs_key_remap"] is True

    code, out, err = cli("topics", "optimize", "-b", bootstrap, "--topic", topic, *FAST, "--apply")
    assert code == 2
    flat = " ".join(err.split())
    assert "per-patient ordering breaks" in flat and "nothing was changed" in flat
    assert _describe(bootstrap, topic)[0] == 3
    assert _audit("topics.", topic) == []

    code, out, err = cli("topics", "optimize", "-b", bootstrap, "--topic", topic, *FAST, "--apply",
                         "--allow-key-remap")
    assert code == 0, err
    _described_as(bootstrap, topic, lambda p, _c: p == expected.partitions)
    records = _audit("topics.create_partitions", topic)
    assert len(records) == 1
    assert records[0]["result"] == "ok" and records[0]["before"] == {"partitions": 3}
    assert records[0]["after"] == {"partitions": expected.partitions}
    assert records[0]["intent"]["partitions"] == expected.partitions


def test_decrease_is_reported_and_not_attempted(cli: Any, bootstrap: str) -> None:
    topic = "reference.loinc.it"
    _create(bootstrap, topic, 9)
    code, out, err = cli("topics", "optimize", "-b", bootstrap, "--topic", topic, *FAST, "--apply")
    assert code == 0, err
    assert "never attempted" in " ".join(out.split())
    assert _describe(bootstrap, topic)[0] == 9
    assert _audit("topics.create_partitions", topic) == []


def test_phi_compaction_is_a_finding_without_apply(cli: Any, bootstrap: str) -> None:
    topic = "patient.demographics.it"
    _create(bootstrap, topic, 24, **{"cleanup.policy": "compact", "min.insync.replicas": "2",
                                     "retention.ms": str(40 * DAY_MS)})
    code, out, _ = cli("topics", "list", "-b", bootstrap, "--topic", topic, "--format", "json")
    assert code == 0
    row = json.loads(out)[0]
    assert row["class"] == "clinical" and "phi-compacted" in {f["code"] for f in row["findings"]}
    assert _describe(bootstrap, topic)[1]["cleanup.policy"] == "compact"


def test_zipf_skewed_key_makes_a_flagged_hot_partition(cli: Any, bootstrap: str) -> None:
    topic = "device.vitals.it"
    _create(bootstrap, topic, 6)
    devices = [f"monitor-{i}" for i in range(200)]
    weights = [1 / (rank + 1) ** 1.6 for rank in range(200)]  # Zipf, s = 1.6: monitor-0 dominates
    with _load(bootstrap, topic, 120.0, devices, weights) as stats:
        code, out, err = cli("topics", "hot", "-b", bootstrap, "--topic", topic, "--window", "2s",
                             "--format", "json")
    assert code == 0, err
    hot = json.loads(out)["hot_partitions"]
    assert hot, "expected a hot partition"
    busiest_key = stats["per_key"].most_common(1)[0][0]
    assert hot[0]["partition"] == stats["partition_of"][busiest_key]
    assert hot[0]["share"] > 0.3 and "more partitions will not" in hot[0]["suggestion"]


def test_reviewed_plan_file_is_applied_exactly_and_refused_after_the_cluster_changed(cli: Any, bootstrap: str,
                                                                                    tmp_path: Any) -> None:
    from brokerscale.dev.tools import run_tool

    keyed, plain = "clinical.plan.it", "ops.plan.it"
    _create(bootstrap, keyed, 6, **{"retention.ms": str(DAY_MS), "min.insync.replicas": "1"})
    _create(bootstrap, plain, 12, **{"retention.ms": str(DAY_MS)})
    plan = tmp_path / "plan.json"
    code, out, err = cli("topics", "optimize", "-b", bootstrap, "--topic", keyed, "--topic", plain, *FAST,
                         "-o", plan)
    assert code == 0, err
    doc = json.loads(plan.read_text())
    by_topic = {t["topic"]: t for t in doc["topics"]}
    assert by_topic[keyed]["partitions"]["current"] == 6 and by_topic[keyed]["partitions"]["target"] > 6
    assert {c["key"] for c in by_topic[keyed]["configs"]} >= {"retention.ms", "min.insync.replicas"}
    assert _describe(bootstrap, keyed)[0] == 6, "writing a plan changes nothing"

    # the keyed increase needs the operator's consent, as with optimize --apply; nothing is half-applied
    code, _, err = cli("topics", "apply", str(plan), "-b", bootstrap)
    assert code == 2 and "--allow-key-remap" in err and "nothing was changed" in " ".join(err.split())
    parts, configs = _describe(bootstrap, keyed)
    assert parts == 6 and configs["retention.ms"] == str(DAY_MS) and configs["min.insync.replicas"] == "1"
    assert _audit("topics.", keyed) == [] and _audit("topics.", plain) == []

    # someone changes a planned topic with Kafka's own tool: the stale plan is refused, naming the change
    res = run_tool("kafka-configs", ["--bootstrap-server", bootstrap, "--entity-type", "topics", "--entity-name",
                                     plain, "--alter", "--add-config", f"retention.ms={2 * DAY_MS}"], timeout=60)
    assert res.returncode == 0, res.stderr
    code, _, err = cli("topics", "apply", str(plan), "-b", bootstrap, "--allow-key-remap")
    flat = " ".join(err.split())
    assert code == 2
    assert f"{plain} retention.ms is {2 * DAY_MS} (the plan was made at {DAY_MS})" in flat
    assert _describe(bootstrap, keyed)[0] == 6 and _audit("topics.", keyed) == []

    # reviewed again, then applied: exactly the file's changes, audited
    code, _, err = cli("topics", "optimize", "-b", bootstrap, "--topic", keyed, "--topic", plain, *FAST, "-o", plan)
    assert code == 0, err
    reviewed = {t["topic"]: t for t in json.loads(plan.read_text())["topics"]}
    code, out, err = cli("topics", "apply", str(plan), "-b", bootstrap, "--allow-key-remap", "--format", "json")
    assert code == 0, err
    applied = json.loads(out)["applied"]
    assert {(a["topic"], a["action"]) for a in applied} == (
        {(t, "topics.alter_config") for t, r in reviewed.items() if r["configs"]}
        | {(t, "topics.create_partitions") for t, r in reviewed.items() if r.get("partitions")})

    def as_reviewed() -> bool:  # a broker answering describe may learn the new configs a moment later
        parts, configs = _describe(bootstrap, keyed)
        return (parts == reviewed[keyed]["partitions"]["target"]
                and all(configs[c["key"]] == c["target"] for c in reviewed[keyed]["configs"])
                and int(_describe(bootstrap, plain)[1]["retention.ms"]) >= 7 * DAY_MS)

    deadline = time.monotonic() + 30
    while not as_reviewed():
        assert time.monotonic() < deadline, (_describe(bootstrap, keyed), _describe(bootstrap, plain), applied)
        time.sleep(0.5)
    records = _audit("topics.create_partitions", keyed)
    assert len(records) == 1 and records[0]["result"] == "ok" and records[0]["before"] == {"partitions": 6}
