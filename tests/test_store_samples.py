from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from brokerscale.store import Sample, Store, open_store
from store_backends import BACKENDS, store_url


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    for url in store_url(request.param, tmp_path):
        s = open_store(url)
        yield s
        s.close()


def _bytes_in(ts: float, value: float, broker: str) -> Sample:
    return Sample(ts=ts, cluster="local", metric="bytes_in", value=value, labels={"broker": broker})


def test_samples_round_trip_in_time_order(store: Store) -> None:
    store.write_samples([_bytes_in(30, 3.0, "1"), _bytes_in(10, 1.0, "1"), _bytes_in(20, 2.5, "2")])
    got = store.read_samples("local", "bytes_in")
    assert [(s.ts, s.value, s.labels) for s in got] == [
        (10, 1.0, {"broker": "1"}), (20, 2.5, {"broker": "2"}), (30, 3.0, {"broker": "1"})]
    assert all(s.cluster == "local" and s.metric == "bytes_in" for s in got)


def test_time_window_is_inclusive(store: Store) -> None:
    store.write_samples([_bytes_in(t, t, "1") for t in range(0, 100, 10)])
    assert [s.ts for s in store.read_samples("local", "bytes_in", since=20, until=50)] == [20, 30, 40, 50]
    assert [s.ts for s in store.read_samples("local", "bytes_in", since=85)] == [90]
    assert [s.ts for s in store.read_samples("local", "bytes_in", until=5)] == [0]


def test_labels_filter_is_a_subset_match(store: Store) -> None:
    store.write_samples([
        Sample(1, "local", "lag", 5, {"group": "ehr", "topic": "adt"}),
        Sample(2, "local", "lag", 7, {"group": "ehr", "topic": "oru"}),
        Sample(3, "local", "lag", 9, {"group": "billing", "topic": "adt"}),
    ])
    assert [s.value for s in store.read_samples("local", "lag", labels={"group": "ehr"})] == [5, 7]
    assert [s.value for s in store.read_samples("local", "lag", labels={"topic": "adt"})] == [5, 9]
    assert store.read_samples("local", "lag", labels={"group": "nobody"}) == []


def test_other_clusters_and_metrics_are_kept_apart(store: Store) -> None:
    store.write_samples([Sample(1, "a", "m", 1), Sample(1, "b", "m", 2), Sample(1, "a", "n", 3)])
    assert [s.value for s in store.read_samples("a", "m")] == [1]
    assert [s.value for s in store.read_samples("b", "m")] == [2]
    assert store.read_samples("c", "m") == []


def test_empty_write_is_a_no_op(store: Store) -> None:
    store.write_samples([])
    assert store.read_samples("local", "bytes_in") == []


def test_old_samples_can_be_pruned_per_cluster(store: Store) -> None:
    store.write_samples([Sample(t, c, "m", t) for t in (1, 2, 3, 4) for c in ("a", "b")])
    assert store.prune_samples(older_than=3, cluster="a") == 2
    assert [s.ts for s in store.read_samples("a", "m")] == [3, 4]
    assert [s.ts for s in store.read_samples("b", "m")] == [1, 2, 3, 4]
    assert store.prune_samples(older_than=10) == 6
    assert store.read_samples("a", "m") == store.read_samples("b", "m") == []
