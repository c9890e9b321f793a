"""Capacity from limits profiles and broker capacity files; utilization per dimension and scope."""

from __future__ import annotations

from pathlib import Path

import pytest

from brokerscale.errors import BadInput
from brokerscale.model.snapshot import BrokerLoad, PartitionState, Snapshot, TopicLoad
from brokerscale.observe.capacity import from_brokers, from_ckus, load_capacity_file, utilization


def _snap() -> Snapshot:
    parts = [PartitionState(partition=i, leader=1, replicas=[1, 2], isr=[1, 2]) for i in range(10)]
    return Snapshot(cluster="c", source="t", taken_at=0,
                    brokers=[BrokerLoad(id=1, bytes_in_per_s=30e6, bytes_out_per_s=90e6, connections=900,
                                        disk_used_bytes=60 * 10**9, partition_replicas=10),
                             BrokerLoad(id=2, bytes_in_per_s=0, bytes_out_per_s=0, connections=100,
                                        disk_used_bytes=60 * 10**9, partition_replicas=10),
                             BrokerLoad(id=3, alive=False)],
                    topics=[TopicLoad(name="t", partitions=parts, size_bytes=120 * 10**9)])


def test_confluent_profile_splits_ingress_and_egress() -> None:
    cap = from_ckus(1, "confluent-2026")  # 60 MB/s in, 180 MB/s out per CKU
    by = {u.dimension: u for u in utilization(_snap(), cap) if u.scope == "cluster"}
    assert by["ingress"].percent == pytest.approx(50.0)
    assert by["egress"].percent == pytest.approx(50.0)
    assert "throughput" not in by
    assert by["partitions"].used == 10  # CKU limits count partitions, not replicas


def test_capacity_file_sizes_overrides_and_scopes(tmp_path: Path) -> None:
    p = tmp_path / "cap.yaml"
    p.write_text("broker:\n  throughput_mb_s: 200\n  disk: 100GB\n  connections: 1000\n"
                 "  partition_replicas: 100\nbrokers:\n  2:\n    disk: 50GB\n")
    spec = load_capacity_file(p)
    cap = from_brokers(spec, [1, 2, 3])
    assert cap.disk_bytes == 250 * 10**9
    utils = {(u.scope, u.target, u.dimension): u for u in utilization(_snap(), cap)}
    assert utils[("broker", "broker 1", "throughput")].percent == pytest.approx(60.0)
    assert utils[("broker", "broker 1", "connections")].percent == pytest.approx(90.0)
    assert utils[("broker", "broker 2", "disk")].percent == pytest.approx(120.0)
    assert utils[("cluster", "cluster", "partitions")].used == 20  # replicas count against broker limits
    assert not any(u.target == "broker 3" for u in utils.values())  # a dead broker carries nothing


@pytest.mark.parametrize(("text", "needle"), [
    ("broker:\n  disk: lots\n", "broker.disk"),
    ("broker:\n  throughput_mb_s: 0\n", "broker.throughput_mb_s"),
    ("brokers:\n  1: {disk: 1GB}\n", "broker"),
    ("broker:\n  bandwidth: 10\n", "unknown field"),
    ("broker: [\n", "not valid YAML"),
])
def test_bad_capacity_file_is_one_line(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "cap.yaml"
    p.write_text(text)
    with pytest.raises(BadInput) as exc:
        load_capacity_file(p)
    assert needle in str(exc.value) and str(p) in str(exc.value)


def test_bad_ckus_and_limits() -> None:
    with pytest.raises(BadInput):
        from_ckus(0)
    with pytest.raises(BadInput):
        from_ckus(2, "no-such-profile")
