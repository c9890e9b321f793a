"""`Snapshot.with_totals`: partition-derived figures are filled where unknown, and only there (a snapshot
that has them — `evaluate` asks a totalled snapshot again — is not walked partition by partition)."""

from __future__ import annotations

from brokerscale.model.snapshot import PartitionState, Snapshot, TopicLoad


def _snap(**known: int) -> Snapshot:
    topics = [
        TopicLoad(name="orders", min_insync_replicas=2, partitions=[
            PartitionState(partition=0, leader=1, replicas=[1, 2, 3], isr=[1, 2, 3]),
            PartitionState(partition=1, leader=2, replicas=[2, 3, 1], isr=[2]),  # under-replicated, below min ISR
            PartitionState(partition=2, leader=None, replicas=[3, 1, 2], isr=[]),  # offline
        ]),
        TopicLoad(name="audit", partitions=[PartitionState(partition=0, leader=1, replicas=[1], isr=[1])]),
    ]
    return Snapshot(cluster="c", source="test", taken_at=0.0, topics=topics, **known)


def test_partition_totals_are_counted_when_unknown() -> None:
    s = _snap().with_totals()
    assert (s.partition_count, s.under_replicated_partitions, s.offline_partitions, s.under_min_isr_partitions) \
        == (4, 2, 1, 2)


def test_a_single_unknown_total_is_still_counted() -> None:
    s = _snap(partition_count=4, under_replicated_partitions=2, offline_partitions=1).with_totals()
    assert s.under_min_isr_partitions == 2


def test_known_totals_are_kept_and_stable_when_asked_again() -> None:
    s = _snap(partition_count=40, under_replicated_partitions=0, offline_partitions=0,
              under_min_isr_partitions=0).with_totals()
    assert (s.partition_count, s.under_replicated_partitions, s.offline_partitions, s.under_min_isr_partitions) \
        == (40, 0, 0, 0)
    again = _snap().with_totals()
    assert again.with_totals() == again
