"""Triggers from the seed's table: severity, scope, threshold and action for synthetic snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest

from brokerscale.errors import BadInput
from brokerscale.model.snapshot import BrokerLoad, GroupLag, LagStatus, PartitionState, Snapshot, TopicLoad
from brokerscale.observe.capacity import BrokerCapacity, CapacityFile, from_brokers, from_ckus, utilization
from brokerscale.observe.rules import load_rules
from brokerscale.observe.triggers import evaluate, worst

MB = 1_000_000


def _snap(bytes_in: float, bytes_out: float = 0.0, **kw: object) -> Snapshot:
    parts = [PartitionState(partition=i, leader=1 + i % 3, replicas=[1, 2, 3], isr=[1, 2, 3]) for i in range(6)]
    brokers = [BrokerLoad(id=i, bytes_in_per_s=bytes_in / 3, bytes_out_per_s=bytes_out / 3, connections=10)
               for i in (1, 2, 3)]
    return Snapshot(cluster="c", source="test", taken_at=0.0, brokers=brokers,
                    topics=[TopicLoad(name="clinical.adt", partitions=parts, bytes_in_per_s=bytes_in)], **kw)


@pytest.mark.parametrize(("mb_s", "expected"), [(30, None), (36, "warning"), (43, "critical")])
def test_throughput_against_one_cku(mb_s: float, expected: str | None) -> None:
    rules = load_rules()
    cap = from_ckus(1)  # the seed's 50 MB/s (in + out) per CKU
    snap = _snap(mb_s * MB)
    found = [f for f in evaluate(snap, rules, utilization(snap, cap), cap) if f.rule == "throughput"]
    assert worst(found) == expected
    if expected:
        f = found[0]
        assert f.scope == "cluster"
        assert f.threshold == (70 if expected == "warning" else 85)
        assert f.value == pytest.approx(mb_s * 2)
        assert f.action == "add 1 CKU"


def test_cku_action_counts_the_ckus_needed() -> None:
    cap = from_ckus(2)
    snap = _snap(150 * MB)  # 150 % of 100 MB/s -> 5 CKUs bring it under 70 %  (2 * 150 / 70 = 4.3)
    f = next(f for f in evaluate(snap, load_rules(), utilization(snap, cap), cap) if f.rule == "throughput")
    assert f.action == "add 3 CKU"


def test_broker_capacity_file_gives_broker_scope() -> None:
    spec = CapacityFile(broker=BrokerCapacity(throughput_mb_s=10, connections=1000))
    snap = _snap(3 * 8 * MB)  # 8 MB/s per broker of 10 -> 80 %
    cap = from_brokers(spec, [1, 2, 3])
    found = [f for f in evaluate(snap, load_rules(), utilization(snap, cap), cap) if f.rule == "throughput"]
    scopes = {(f.scope, f.target, f.severity) for f in found}
    assert ("broker", "broker 2", "warning") in scopes
    assert ("cluster", "cluster", "warning") in scopes
    cluster = next(f for f in found if f.scope == "cluster")
    assert cluster.action == "add 1 broker"


def test_under_replicated_is_critical_fix_before_scaling() -> None:
    parts = [PartitionState(partition=0, leader=1, replicas=[1, 2, 3], isr=[1, 3])]
    snap = Snapshot(cluster="c", source="t", taken_at=0, brokers=[BrokerLoad(id=1), BrokerLoad(id=2, alive=False),
                                                                   BrokerLoad(id=3)],
                    topics=[TopicLoad(name="x", partitions=parts)])
    found = evaluate(snap, load_rules())
    f = next(f for f in found if f.rule == "under_replicated_partitions")
    assert f.severity == "critical"
    assert f.action == "under-replicated partitions: fix before scaling"
    assert "broker down: 2" in f.message


def test_latency_and_queue_time_per_broker() -> None:
    snap = Snapshot(cluster="c", source="t", taken_at=0,
                    brokers=[BrokerLoad(id=1, produce_p99_ms=60, request_queue_time_avg_ms=5),
                             BrokerLoad(id=2, produce_p99_ms=120, request_queue_time_avg_ms=55)])
    found = evaluate(snap, load_rules())
    got = {(f.rule, f.target, f.severity) for f in found}
    assert ("request_latency_p99_ms", "broker 1", "warning") in got
    assert ("request_latency_p99_ms", "broker 2", "critical") in got
    assert ("request_queue_time_ms", "broker 2", "critical") in got
    assert not any(f.rule == "request_queue_time_ms" and f.target == "broker 1" for f in found)


def test_lag_findings_carry_group_scope_and_action() -> None:
    groups = [GroupLag(group="billing-etl", members=1, lag_offsets=500, status=LagStatus.WARNING),
              GroupLag(group="adt-archive", members=0, lag_offsets=900, status=LagStatus.STOP),
              GroupLag(group="fine", lag_offsets=0, status=LagStatus.OK)]
    snap = _snap(1 * MB, groups=groups)
    found = {f.target: f for f in evaluate(snap, load_rules()) if f.rule == "consumer_lag"}
    assert found["billing-etl"].severity == "warning"
    assert found["billing-etl"].scope == "group"
    assert found["billing-etl"].action == "add consumers to group billing-etl"
    assert found["adt-archive"].severity == "critical"
    assert "fine" not in found


def test_lag_with_one_consumer_per_partition_asks_for_partitions() -> None:
    from brokerscale.model.snapshot import PartitionLag

    parts = [PartitionLag(topic="clinical.adt", partition=i, lag_offsets=10) for i in range(6)]
    g = GroupLag(group="billing-etl", members=6, lag_offsets=60, status=LagStatus.WARNING, partitions=parts)
    f = next(f for f in evaluate(_snap(MB, groups=[g]), load_rules()) if f.rule == "consumer_lag")
    assert f.scope == "topic" and f.target == "clinical.adt"
    assert f.action.startswith("add partitions to clinical.adt")


def test_topic_partition_throughput_asks_for_partitions() -> None:
    snap = _snap(6 * 12 * MB)  # 12 MB/s per partition over 6 partitions
    f = next(f for f in evaluate(snap, load_rules()) if f.rule == "partition_throughput_mb_s")
    assert (f.severity, f.scope, f.target, f.action) == ("critical", "topic", "clinical.adt",
                                                         "add partitions to clinical.adt")


def test_rules_file_overrides_one_field(tmp_path: Path) -> None:
    p = tmp_path / "rules.yaml"
    p.write_text("throughput:\n  warning: 20\n")
    rules = load_rules(p)
    assert rules.throughput.warning == 20 and rules.throughput.critical == 85
    assert rules.partitions.warning == 80


@pytest.mark.parametrize(("text", "needle"), [
    ("throughput:\n  warning: lots\n", "throughput.warning"),
    ("throughput:\n  warning: 90\n  critical: 80\n", "must not be above critical"),
    ("throughput:\n  warnng: 90\n", "unknown field"),
    ("consumer_lag:\n  critical_statuses: [BROKEN]\n", "consumer_lag.critical_statuses"),
    ("throughput: [1, 2\n", "not valid YAML"),
    ("- 1\n- 2\n", "must be a mapping"),
])
def test_bad_rules_are_one_line(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "rules.yaml"
    p.write_text(text)
    with pytest.raises(BadInput) as exc:
        load_rules(p)
    assert needle in str(exc.value)
    assert str(p) in str(exc.value)
    assert "\n" not in str(exc.value)


def test_the_shipped_rules_read_the_same_with_libyaml_and_pure_python() -> None:
    """The default rules are parsed with libyaml's loader where PyYAML has it: the same rules either way."""
    from importlib import resources

    import yaml

    from brokerscale.observe.rules import RuleSet

    text = resources.files("brokerscale").joinpath("data/rules/default.yaml").read_text(encoding="utf-8")
    assert load_rules() == RuleSet.model_validate(yaml.load(text, Loader=yaml.SafeLoader))
    assert hasattr(yaml, "CSafeLoader")  # the wheel CI installs carries libyaml: the fast path is the one tested
