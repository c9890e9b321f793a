"""One cluster, one history, whichever way it is named (issue 17 item 7): retained bytes, per-topic sizes
and load are kept under the cluster id Kafka reports, and a name finds them through the id it stood for
— also after the cluster is gone, and still reading rows written under the name before ids were used."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CLI = Callable[..., tuple[int, str, str]]


@pytest.fixture()
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    monkeypatch.setenv("BROKERSCALE_STORE_URL", url)
    monkeypatch.setenv("BROKERSCALE_CONFIG", str(tmp_path / "absent.yaml"))  # forecast: no cluster to ask
    return url


def test_two_names_of_one_cluster_read_one_history_and_old_name_rows_still_count(cli: CLI, store_url: str) -> None:
    from brokerscale.observe.history_keys import identity_sample, keys_for, read_history
    from brokerscale.store import Sample, open_store

    now = time.time()
    day = 86400.0
    store = open_store(store_url)
    rows = [Sample(now - 9 * day, "trial1", "retained_bytes", 1e9, {})]  # before ids were used: by name
    for d in range(8, 4, -1):  # observed as trial1
        rows += [identity_sample(now - d * day, "trial1", "kafka-cluster-id:AbC"),
                 Sample(now - d * day, "kafka-cluster-id:AbC", "retained_bytes", (10 - d) * 1e9, {})]
    for d in range(4, 0, -1):  # the same cluster observed by its address
        rows += [identity_sample(now - d * day, "10.0.0.7:9092", "kafka-cluster-id:AbC"),
                 Sample(now - d * day, "kafka-cluster-id:AbC", "retained_bytes", (10 - d) * 1e9, {})]
    store.write_samples(rows)
    try:
        assert keys_for(store, "trial1") == ["kafka-cluster-id:AbC", "trial1"]
        by_name = read_history(store, "trial1", "retained_bytes")
        by_address = read_history(store, "10.0.0.7:9092", "retained_bytes")
        assert [s.ts for s in by_name] == sorted(s.ts for s in by_name) and len(by_name) == 9
        assert [s.value for s in by_address] == [s.value for s in by_name[1:]]  # no name rows under the address
        assert keys_for(store, "never-seen") == ["never-seen"]
    finally:
        store.close()
    docs = []
    for args in (["-c", "trial1"], ["-b", "10.0.0.7:9092"]):
        code, out, err = cli("forecast", "storage", *args, "--disk", "100GB", "--format", "json")
        assert code == 0, err
        docs.append(json.loads(out))
    assert docs[0]["samples"] == 9 and docs[1]["samples"] == 8
    assert docs[0]["current_bytes"] == docs[1]["current_bytes"] == pytest.approx(9e9)


def test_a_dev_cluster_recreated_under_the_same_name_does_not_inherit_the_old_history(store_url: str) -> None:
    from brokerscale.observe.history_keys import identity_sample, read_history
    from brokerscale.store import Sample, open_store

    now = time.time()
    store = open_store(store_url)
    store.write_samples([identity_sample(now - 100, "local", "kafka-cluster-id:old"),
                         Sample(now - 100, "kafka-cluster-id:old", "retained_bytes", 5e9, {}),
                         identity_sample(now - 10, "local", "kafka-cluster-id:new"),
                         Sample(now - 10, "kafka-cluster-id:new", "retained_bytes", 1e6, {})])
    try:
        assert [s.value for s in read_history(store, "local", "retained_bytes")] == [1e6]
    finally:
        store.close()


@pytest.mark.kafka
def test_check_by_name_and_by_address_build_one_history_that_forecast_reads_either_way(
        kafka_cluster: Any, cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reported case: `check -c trial1` and `check -b host:port` kept two histories. Now every round of
    either lands in the history of the cluster id Kafka reports, and `forecast` finds all of it by either
    name — from the store alone."""
    from brokerscale.store import open_store

    url = f"sqlite:///{tmp_path / 'live.db'}"
    monkeypatch.setenv("BROKERSCALE_STORE_URL", url)
    name, bootstrap = kafka_cluster.name, kafka_cluster.bootstrap
    for args in (["-c", name], ["-b", bootstrap], ["-c", name]):
        code, out, err = cli("check", *args, "--interval", "1s")
        assert code in (0, 1, 2), out + err  # an answer (OK/WARNING/CRITICAL), not UNKNOWN
    store = open_store(url)
    try:
        from brokerscale.observe.history_keys import keys_for

        key = keys_for(store, name)[0]
        assert key.startswith("kafka-cluster-id:") and keys_for(store, bootstrap)[0] == key
        rows = store.read_samples(key, "retained_bytes")
        assert len(rows) == 6  # three runs of two rounds, all under the one id
        assert store.read_samples(name, "retained_bytes") == store.read_samples(bootstrap, "retained_bytes") == []
    finally:
        store.close()
    samples = []
    for args in (["-c", name], ["-b", bootstrap]):
        code, out, err = cli("forecast", "storage", *args, "--min-samples", "2", "--format", "json")
        assert code == 0, err
        samples.append(json.loads(out)["samples"])
    assert samples == [6, 6]
