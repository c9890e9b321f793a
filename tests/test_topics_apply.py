"""Apply and measure without a cluster: audit rows on success and failure, degraded measurement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from brokerscale.connect import ConnectionProfile
from brokerscale.errors import NotAuthorized, OperationFailed
from brokerscale.kafka import KafkaAdmin
from brokerscale.store import open_store
from brokerscale.topics.apply import apply_reviews
from brokerscale.topics.live import TopicsAdmin
from brokerscale.topics.model import TopicRate, TopicState
from brokerscale.topics.policy import DAY_MS, default_policy
from brokerscale.topics.review import review_topics

BAD = {"cleanup.policy": "delete", "retention.ms": str(DAY_MS), "min.insync.replicas": "1",
       "max.message.bytes": "1048588", "retention.bytes": "-1"}


class FakeCluster(TopicsAdmin):
    """Records what brokerscale asked the cluster to do; `fail_on` topics reject config changes."""

    def __init__(self, states: list[TopicState], fail_on: frozenset[str] | set[str] = frozenset(),
                 denied: frozenset[str] | set[str] = frozenset()) -> None:
        super().__init__(ConnectionProfile("127.0.0.1:9"))
        self.topics = {s.name: (s.partitions, dict(s.configs)) for s in states}
        self.fail_on = fail_on
        self.denied = denied
        self.calls: list[tuple[str, str]] = []

    def check_permitted(self, configs: dict[str, dict[str, str]], partitions: dict[str, int]) -> None:
        self.calls.append(("check", ",".join(sorted(set(configs) | set(partitions)))))
        for topic in sorted(set(configs) | set(partitions)):
            if topic in self.denied:
                raise NotAuthorized(f"topics --apply is not permitted: this principal lacks the ACL AlterConfigs "
                                    f"on Topic:{topic}")

    def alter_configs(self, topic: str, values: dict[str, str]) -> None:
        self.calls.append(("alter", topic))
        if topic in self.fail_on:
            raise OperationFailed(f"{topic}: IncrementalAlterConfigs failed: PolicyViolationError")
        self.topics[topic][1].update(values)

    def create_partitions(self, topic: str, count: int) -> None:
        self.calls.append(("partitions", topic))
        self.topics[topic] = (count, self.topics[topic][1])

    def configs(self, names: list[str]) -> dict[str, dict[str, str]]:
        return {n: dict(self.topics[n][1]) for n in names}

    def partitions(self, names: list[str]) -> dict[str, list[int]]:
        return {n: list(range(self.topics[n][0])) for n in names}


def _reviews(states: list[TopicState]) -> list[Any]:
    return review_topics(states, {s.name: TopicRate(1e5, 0, "test") for s in states}, default_policy())


def test_every_applied_change_has_intent_and_result(tmp_path: Path) -> None:
    states = [TopicState("clinical.labs", 3, 3, dict(BAD))]
    cluster = FakeCluster(states)
    store = open_store(str(tmp_path / "audit.db"))
    applied = apply_reviews(_reviews(states), cluster, store)
    assert [a.action for a in applied] == ["topics.alter_config", "topics.create_partitions"]
    assert cluster.calls == [("check", "clinical.labs"), ("alter", "clinical.labs"),
                             ("partitions", "clinical.labs")]  # permission asked once, then configs first
    records = {r["action"]: r for r in store.audit_records(action_prefix="topics.")}
    cfg = records["topics.alter_config"]
    assert cfg["result"] == "ok" and cfg["before"]["min.insync.replicas"] == "1"
    assert cfg["after"] == {"retention.ms": str(30 * DAY_MS), "min.insync.replicas": "2"}
    assert cfg["intent"]["set"] == cfg["after"]
    part = records["topics.create_partitions"]
    assert part["before"] == {"partitions": 3} and part["after"] == {"partitions": 24} and part["result"] == "ok"
    assert cfg["correlation_id"] == part["correlation_id"]  # one optimize run


def test_a_failed_change_is_audited_as_error_and_stops_the_run(tmp_path: Path) -> None:
    states = [TopicState(n, 24, 3, dict(BAD)) for n in ("clinical.a", "clinical.b", "clinical.c")]
    cluster = FakeCluster(states, fail_on={"clinical.b"})
    store = open_store(str(tmp_path / "audit.db"))
    with pytest.raises(OperationFailed, match=r"clinical\.b"):
        apply_reviews(_reviews(states), cluster, store)
    results = {r["target"]: r for r in store.audit_records(action_prefix="topics.")}
    assert results["clinical.a"]["result"] == "ok"
    assert results["clinical.b"]["result"] == "error" and "PolicyViolationError" in results["clinical.b"]["error"]
    assert "clinical.c" not in results and ("alter", "clinical.c") not in cluster.calls


class _Offsets:
    def __init__(self, offset: int) -> None:
        self.offset = offset


class FakeKafkaAdmin:
    """A kafka-python admin client that answers metadata and offsets, but denies groups and log dirs
    (as Confluent Cloud does for DescribeLogDirs and a read-only key does for groups)."""

    def __init__(self) -> None:
        self.end = 0

    def describe_topics(self, names: list[str] | None) -> list[dict[str, Any]]:
        return [{"name": "clinical.adt", "error_code": 0, "partitions": [
            {"partition_index": p, "leader_id": p + 1, "replica_nodes": [1, 2, 3]} for p in range(3)]}]

    def list_partition_offsets(self, req: dict[Any, Any]) -> dict[Any, Any]:
        self.end += 100
        return {tp: _Offsets(0 if int(spec) == -2 else self.end * (tp.partition + 1))
                for tp, spec in req.items()}

    def list_groups(self) -> list[Any]:
        from kafka.errors import GroupAuthorizationFailedError

        raise GroupAuthorizationFailedError("denied")

    def describe_cluster(self) -> dict[str, Any]:
        return {"cluster_id": "c", "brokers": [{"broker_id": b, "host": "h", "port": 1} for b in (1, 2, 3)]}

    def describe_log_dirs(self, names: list[str], brokers: list[int]) -> list[Any]:
        from kafka.errors import ClusterAuthorizationFailedError

        raise ClusterAuthorizationFailedError("denied")

    def close(self) -> None:
        pass


def test_measurement_degrades_without_group_or_log_dir_permissions() -> None:
    admin = TopicsAdmin(ConnectionProfile("127.0.0.1:9"))
    admin._admin = KafkaAdmin(FakeKafkaAdmin(), "fake")
    clock = iter(float(t) for t in range(100))
    m = admin.measure(["clinical.adt"], 4.0, clock=lambda: next(clock), sleep=lambda s: None, samples=2)
    rate = m.rates["clinical.adt"]
    assert rate.bytes_out_per_s == 0 and rate.bytes_in_per_s > 0
    assert "consumer-group offsets not readable" in m.note and "log-dir sizes not readable" in m.note
    # partition 2 grows three times as fast as partition 0
    assert m.partition_bytes_in[("clinical.adt", 2)] == pytest.approx(3 * m.partition_bytes_in[("clinical.adt", 0)])
    assert m.leaders == {("clinical.adt", p): p + 1 for p in range(3)}


def test_a_principal_missing_one_acl_changes_nothing_and_the_refusal_is_audited(tmp_path: Path) -> None:
    # clinical.b comes second: without the up-front check, clinical.a would have been changed already
    states = [TopicState(n, 24, 3, dict(BAD)) for n in ("clinical.a", "clinical.b")]
    cluster = FakeCluster(states, denied={"clinical.b"})
    store = open_store(str(tmp_path / "audit.db"))
    with pytest.raises(NotAuthorized, match=r"AlterConfigs on Topic:clinical\.b") as info:
        apply_reviews(_reviews(states), cluster, store)
    assert info.value.exit_code == 2
    assert [c for c in cluster.calls if c[0] != "check"] == []  # nothing applied
    assert cluster.topics["clinical.a"][1] == BAD
    records = store.audit_records(action_prefix="topics.")
    assert [r["result"] for r in records] == ["error"] and "NotAuthorized" in records[0]["error"]
