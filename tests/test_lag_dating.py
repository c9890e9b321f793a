"""Seconds behind for a group that stopped long before anyone observed it (defect: `lag` showed 33.7 s
where record timestamps gave 78-81 s, and the group summary dropped the lower-bound mark).

Records are produced with timestamps 400 s .. 210 s in the past, a group is committed at offset 5
(record 5 is 350 s old), and nothing has observed the cluster before: the offset history cannot date the
record, so brokerscale finds its append time with ListOffsets by timestamp (metadata only). The table,
the JSON, `check` and the exporter must each show a lag within 20 % of the truth, not marked as a bound.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.kafka

TOPIC = "lagdate.adt"
GROUP = "lagdate-ehr-inbox"
RECORD_5_AGE_S = 350.0


@pytest.fixture(scope="module")
def stopped_group(kafka_cluster: Any) -> float:
    """Returns the Unix time record 5 (the first one the group has not consumed) was appended."""
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

    from brokerscale.connect import ConnectionProfile

    bootstrap = kafka_cluster.bootstrap
    with ConnectionProfile(bootstrap).admin() as admin:
        admin.create_topic(TOPIC, 1, 3)
        admin.wait_for_topics([TOPIC])
    now_ms = int(time.time() * 1000)
    first_ms = now_ms - 400_000
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(20):  # synthetic records, one every 10 s of (past) producer time
        p.produce(TOPIC, b"MSH|^~\\&|SYNTHETIC", key=str(i).encode(), partition=0, timestamp=first_ms + i * 10_000)
    assert p.flush(60) == 0
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "enable.auto.commit": False})
    try:
        for attempt in range(30):
            try:
                c.commit(offsets=[TopicPartition(TOPIC, 0, 5)], asynchronous=False)
                break
            except KafkaException:
                if attempt == 29:
                    raise
                time.sleep(1)
    finally:
        c.close()
    return (first_ms + 5 * 10_000) / 1000


def _close(measured: float, appended_at: float, before: float, after: float) -> None:
    """Within 20 % of the truth at the moment of measurement (somewhere between `before` and `after`)."""
    low, high = before - appended_at, after - appended_at
    assert 0.8 * low <= measured <= 1.2 * high, (measured, low, high)


def test_lag_json_and_table_date_the_first_unconsumed_record(cli: Any, bootstrap: str, stopped_group: float) -> None:
    before = time.time()
    code, out, err = cli("lag", "-b", bootstrap, "--no-history", "--samples", "1", "--group", GROUP,
                         "--format", "json")
    after = time.time()
    assert code == 0, err
    (g,) = json.loads(out)["groups"]
    (p,) = g["partitions"]
    assert p["lag_offsets"] == 15 and not p["lag_seconds_lower_bound"] and not g["max_lag_seconds_lower_bound"]
    _close(g["max_lag_seconds"], stopped_group, before, after)
    _close(p["lag_seconds"], stopped_group, before, after)

    before = time.time()
    code, out, err = cli("lag", "-b", bootstrap, "--no-history", "--samples", "1", "--group", GROUP, "--partitions")
    after = time.time()
    assert code == 0, err
    row = next(ln for ln in out.splitlines() if ln.strip().startswith(f"│ {GROUP}") or f" {GROUP} " in ln)
    secs = re.findall(r"(\d+\.\d)(\+?)", row)
    assert secs and secs[0][1] == "", row  # no lower-bound mark
    _close(float(secs[0][0]), stopped_group, before, after)


def test_check_and_exporter_report_the_same_lag(cli: Any, bootstrap: str, stopped_group: float,
                                                tmp_path: Path) -> None:
    from prometheus_client import generate_latest
    from prometheus_client.registry import CollectorRegistry

    from brokerscale.connect import ConnectionProfile
    from brokerscale.observe.collect import Observer
    from brokerscale.observe.exporter import ObserveCollector
    from brokerscale.observe.rules import load_rules

    rules = tmp_path / "rules.yaml"
    rules.write_text("consumer_lag:\n  min_observations: 2\n")
    before = time.time()
    code, out, _ = cli("check", "-b", bootstrap, "--no-history", "--interval", "1s", "--rules", str(rules),
                       "--format", "json")
    after = time.time()
    assert code == 2, out  # the group has no members and its offset is frozen: STOP, critical
    doc = json.loads(out)
    finding = next(f for f in doc["findings"] if f["rule"] == "consumer_lag" and GROUP in f["message"])
    m = re.search(r"(at least )?([\d,.]+) s behind", finding["message"])
    assert m is not None and m.group(1) is None, finding["message"]
    _close(float(m.group(2).replace(",", "")), stopped_group, before, after)

    obs = Observer(ConnectionProfile(bootstrap), load_rules(rules), groups_only=True)
    collector = ObserveCollector("lagdate")
    registry = CollectorRegistry()
    registry.register(collector)
    try:
        before = time.time()
        collector.update(obs.sample())
        after = time.time()
    finally:
        obs.close()
    text = generate_latest(registry).decode()
    value = re.search(rf'brokerscale_consumer_group_max_lag_seconds{{cluster="lagdate",group="{GROUP}"}} (\S+)', text)
    bound = re.search(rf'brokerscale_consumer_group_max_lag_seconds_lower_bound{{cluster="lagdate",group="{GROUP}"}} '
                      r"(\S+)", text)
    assert value is not None and bound is not None and float(bound.group(1)) == 0.0
    _close(float(value.group(1)), stopped_group, before, after)


def test_without_dating_the_lag_is_marked_as_a_lower_bound_below_the_truth(bootstrap: str,
                                                                          stopped_group: float) -> None:
    """What the defect looked like, now honest: with the search off, the figure is flagged as a bound."""
    from brokerscale.connect import ConnectionProfile
    from brokerscale.observe.collect import Observer
    from brokerscale.observe.rules import load_rules

    obs = Observer(ConnectionProfile(bootstrap), load_rules(), groups_only=True, date_lag=False)
    try:
        r = obs.sample()
    finally:
        obs.close()
    g = next(g for g in r.snapshot.groups if g.group == GROUP)
    assert g.max_lag_seconds is not None and g.max_lag_seconds_lower_bound
    assert g.max_lag_seconds < time.time() - stopped_group


def test_one_history_whichever_way_the_cluster_is_named(cli: Any, bootstrap: str, stopped_group: float,
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`lag -b host:port` and `lag -c trial1` (the same cluster, named in brokerscale.yaml) build one offset
    history, keyed by the id Kafka reports: the second run sees the first run's observation."""
    config = tmp_path / "brokerscale.yaml"
    config.write_text(f"clusters:\n  trial1:\n    bootstrap: {bootstrap}\n")
    monkeypatch.setenv("BROKERSCALE_CONFIG", str(config))
    monkeypatch.setenv("BROKERSCALE_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    seen = []
    for how in (["-b", bootstrap], ["-c", "trial1"], ["-b", bootstrap.split(",")[-1]]):
        code, out, err = cli("lag", *how, "--samples", "1", "--group", GROUP, "--format", "json")
        assert code == 0, err
        (g,) = json.loads(out)["groups"]
        seen.append(g["partitions"][0]["reason"])
    assert "1 observation(s)" in seen[0] and "2 observation(s)" in seen[1]
    assert "observation(s)" not in seen[2] or "3 observation(s)" in seen[2]  # the third has enough to judge


def test_a_lag_round_without_history_models_no_topics_and_judges_the_same(bootstrap: str, stopped_group: float,
                                                                        tmp_path: Path) -> None:
    """`lag --no-history` reads offsets and leaders without building the 20,000 topic models it never
    shows: the same offsets in the same order, the same leaders, the same judgement of the group. With
    history on, the round still models the topics (lag writes per-topic history from them)."""
    from brokerscale.connect import ConnectionProfile
    from brokerscale.observe import kafka_source
    from brokerscale.observe.collect import TOPIC_REPLICATION, Observer
    from brokerscale.observe.lag_history import OffsetHistory, lag_snapshot
    from brokerscale.observe.rules import load_rules
    from brokerscale.store import open_store

    with ConnectionProfile(bootstrap).admin() as admin:
        full = kafka_source.collect(admin, sizes=False, configs=False)
        lean = kafka_source.collect(admin, sizes=False, configs=False, models=False)
    assert full.topics and not lean.topics
    mine = [tp for tp in full.log_end_offsets() if tp[0] == TOPIC]
    assert mine == [tp for tp in lean.log_end_offsets() if tp[0] == TOPIC] == [(TOPIC, 0)]
    assert lean.log_end_offsets()[(TOPIC, 0)] == full.log_end_offsets()[(TOPIC, 0)] == 20
    assert lean.log_start_offsets()[(TOPIC, 0)] == full.log_start_offsets()[(TOPIC, 0)] == 0
    leaders = full.partition_leaders({TOPIC})
    assert set(leaders) == {(TOPIC, 0)} and lean.partition_leaders({TOPIC}) == leaders
    lean.ts = full.ts  # judged at the same moment, the two views give the same group, field for field
    judged = []
    for view in (full, lean):
        history = OffsetHistory()
        history.add_view(view)
        judged.append(lag_snapshot(history, view, min_points=1, groups=[GROUP]))
    assert judged[0] == judged[1] and judged[0][0].lag_offsets == 15

    without = Observer(ConnectionProfile(bootstrap), load_rules(), groups_only=True)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with_history = Observer(ConnectionProfile(bootstrap), load_rules(), groups_only=True, store=store)
    try:
        r_without, r_with = without.sample(), with_history.sample()
        written = store.read_samples(with_history.offset_history_keys[0], TOPIC_REPLICATION, labels={"topic": TOPIC})
    finally:
        without.close()
        with_history.close()
        store.close()
    assert not r_without.snapshot.topics and r_with.snapshot.topic(TOPIC) is not None
    assert [s.value for s in written] == [3.0]
    g_without, g_with = (next(g for g in r.snapshot.groups if g.group == GROUP) for r in (r_without, r_with))
    assert g_without.lag_offsets == g_with.lag_offsets == 15 and g_without.status == g_with.status


def test_the_lag_program_writes_its_whole_json_before_it_ends(bootstrap: str, stopped_group: float) -> None:
    """`python -m brokerscale lag` ends without tearing the interpreter down: every group's JSON is out first."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "brokerscale", "lag", "-b", bootstrap, "--no-history", "--samples",
                          "1", "--format", "json"], capture_output=True, timeout=300)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert res.stdout.endswith(b"}\n")
    g = next(g for g in json.loads(res.stdout)["groups"] if g["group"] == GROUP)
    assert g["lag_offsets"] == 15 and g["partitions"][0]["committed_offset"] == 5
