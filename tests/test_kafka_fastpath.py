"""The ListOffsets fast path builds its requests without kafka-python's per-field constructor: the bytes
it sends must be exactly the library's own, for every version it uses."""

from __future__ import annotations

import pytest

from brokerscale.kafka.fastpath import LIST_OFFSETS_MAX_VERSION, _partition_builder


@pytest.mark.parametrize("version", range(1, LIST_OFFSETS_MAX_VERSION + 1))
def test_list_offsets_requests_encode_as_the_librarys_own(version: int) -> None:
    from kafka.protocol.consumer.offsets import ListOffsetsRequest

    topic = ListOffsetsRequest.ListOffsetsTopic
    part = topic.ListOffsetsPartition
    build = _partition_builder(part)
    specs = [(0, -1), (7, -2), (12, 1_700_000_000_123), (2_147_483_647, 0)]
    ours = ListOffsetsRequest(isolation_level=1, topics=[
        topic(name="adt.inbound", partitions=[build(p, ts) for p, ts in specs]),
        topic(name="oru", partitions=[build(3, -1)])])
    theirs = ListOffsetsRequest(isolation_level=1, topics=[
        topic(name="adt.inbound", partitions=[part(partition_index=p, timestamp=ts) for p, ts in specs]),
        topic(name="oru", partitions=[part(partition_index=3, timestamp=-1)])])
    assert ours.encode(version=version) == theirs.encode(version=version)


def test_a_field_the_library_renamed_fails_before_any_request_is_built() -> None:
    class Renamed:
        __slots__ = ("_version", "partition", "tags", "timestamp", "unknown_tags")

    with pytest.raises(AttributeError):
        _partition_builder(Renamed)
