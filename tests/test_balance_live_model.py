"""The live-cluster loader's parsing of admin-API answers (no cluster: a recorded-shape fake admin)."""

from __future__ import annotations

from typing import Any

import pytest
from kafka import TopicPartition

from brokerscale.balance.live import model_from_admin as _model_from_admin
from brokerscale.balance.model import ClusterModel
from brokerscale.errors import BadInput
from brokerscale.kafka import KafkaAdmin


def model_from_admin(client: Any, **kw: Any) -> ClusterModel:
    """The loader over the adapter, the adapter over a fake kafka-python client (public-API fallbacks)."""
    return _model_from_admin(KafkaAdmin(client, "fake"), **kw)


class FakeAdmin:
    def __init__(self, moving: dict[Any, Any] | None = None) -> None:
        self.moving = moving or {}

    def describe_cluster(self) -> dict[str, Any]:
        return {"brokers": [{"broker_id": 1, "host": "h", "port": 1, "rack": "a"},
                            {"broker_id": 2, "host": "h", "port": 2, "rack": "b"}]}

    def describe_topics(self, topics: Any = None) -> list[dict[str, Any]]:
        part = lambda i, reps: {"partition_index": i, "replica_nodes": reps, "isr_nodes": reps,  # noqa: E731
                                "leader_id": reps[0], "error_code": 0}
        return [
            {"name": "adt", "is_internal": False, "error_code": 0,
             "partitions": [part(1, [2, 1]), part(0, [1, 2])]},
            {"name": "__consumer_offsets", "is_internal": True, "error_code": 0, "partitions": [part(0, [1])]},
            {"name": "oru", "is_internal": False, "error_code": 0, "partitions": [part(0, [2, 3])]},
        ]

    def describe_log_dirs(self, topics: Any, brokers: list[int]) -> list[dict[str, Any]]:
        (b,) = brokers
        sizes = {1: {("adt", 0): 100, ("adt", 1): 90}, 2: {("adt", 0): 95, ("adt", 1): 120, ("oru", 0): 7}}[b]
        by_topic: dict[str, list[dict[str, Any]]] = {}
        for (t, p), s in sizes.items():
            if t in topics:
                by_topic.setdefault(t, []).append({"partition_index": p, "partition_size": s, "offset_lag": 0,
                                                   "is_future_key": False})
        return [{"broker": b, "log_dirs": [{"error_code": 0, "log_dir": "/d", "total_bytes": 1000 * b,
                                            "usable_bytes": 10, "topics": [{"name": t, "partitions": ps}
                                                                           for t, ps in by_topic.items()]}]}]

    def list_partition_reassignments(self) -> dict[Any, Any]:
        return self.moving


def test_replicas_sizes_racks_and_capacity() -> None:
    m = model_from_admin(FakeAdmin())
    assert m.topics == ["adt", "adt", "oru"] and m.partitions == [0, 1, 0]
    assert m.replicas == [[1, 2], [2, 1], [2, 3]]  # assignment order kept: first is the preferred leader
    assert m.sizes == [100, 120, 7]  # the largest copy counts
    assert m.brokers[1].rack == "a" and m.brokers[1].disk_bytes == 1000
    assert m.brokers[3].rack is None  # offline broker still holding a replica


def test_topic_filter_and_internal_topics() -> None:
    assert set(model_from_admin(FakeAdmin(), topics="oru").topics) == {"oru"}
    assert "__consumer_offsets" in model_from_admin(FakeAdmin(), include_internal=True).topics
    with pytest.raises(BadInput, match="not a regular expression"):
        model_from_admin(FakeAdmin(), topics="(")


def test_in_flight_reassignments_are_refused() -> None:
    fake = FakeAdmin({TopicPartition("adt", 0): {"replicas": [1, 2, 3], "adding_replicas": [3],
                                                 "removing_replicas": [2]}})
    with pytest.raises(BadInput, match="being reassigned"):
        model_from_admin(fake)
    assert len(model_from_admin(fake, allow_moving=True)) == 3


class GrowingAdmin(FakeAdmin):
    """adt-0 grows by 500 bytes between the two log-dir reads; the others stay put."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: dict[int, int] = {}

    def describe_log_dirs(self, topics: Any, brokers: list[int]) -> list[dict[str, Any]]:
        out = super().describe_log_dirs(topics, brokers)
        (b,) = brokers
        self.reads[b] = self.reads.get(b, 0) + 1
        if self.reads[b] == 2:
            for t in out[0]["log_dirs"][0]["topics"]:
                for p in t["partitions"]:
                    if t["name"] == "adt" and p["partition_index"] == 0:
                        p["partition_size"] += 500
        return out


def test_rate_window_turns_log_growth_into_bytes_in() -> None:
    m = model_from_admin(GrowingAdmin(), rate_window_s=0.05)
    rates = dict(zip(zip(m.topics, m.partitions, strict=True), m.bytes_in, strict=True))
    assert rates[("adt", 0)] == pytest.approx(500 / 0.05)
    assert rates[("adt", 1)] == 0 and rates[("oru", 0)] == 0
    assert m.sizes[0] == 600  # the later, larger size
