"""ListOffsets encoded and decoded by hand (kafka.wire) must be byte for byte what kafka-python's own
schema encoder writes and reads, for every version the fast path uses."""

from __future__ import annotations

import uuid

import pytest

from brokerscale.kafka import wire

TOPICS = [("adt.inbound", [(0, -1), (7, -2), (12, 1_700_000_000_123), (2_147_483_647, 0)]),
          ("oru.résultats", [(3, -1)]),  # a non-ASCII name: lengths are in bytes
          ("empty", [])]


def columns(topics: list[tuple[str, list[tuple[int, int]]]]) -> list[tuple[str, list[int], list[int]]]:
    """(topic, [(partition, timestamp)]) as encode_request takes it: partitions and timestamps apart."""
    return [(name, [p for p, _ts in parts], [ts for _p, ts in parts]) for name, parts in topics]


@pytest.mark.parametrize("version", range(wire.MIN_VERSION, wire.MAX_VERSION + 1))
@pytest.mark.parametrize("isolation", [0, 1])
def test_requests_encode_as_the_librarys_own(version: int, isolation: int) -> None:
    from kafka.protocol.consumer.offsets import ListOffsetsRequest

    topic = ListOffsetsRequest.ListOffsetsTopic
    part = topic.ListOffsetsPartition
    theirs = ListOffsetsRequest(replica_id=-1, isolation_level=isolation, topics=[
        topic(name=name, partitions=[part(partition_index=p, timestamp=ts) for p, ts in parts])
        for name, parts in TOPICS])
    assert wire.encode_request(version, columns(TOPICS), isolation) == theirs.encode(version=version)


@pytest.mark.parametrize("version", range(wire.MIN_VERSION, wire.MAX_VERSION + 1))
def test_responses_decode_as_the_library_encodes_them(version: int) -> None:
    from kafka.protocol.consumer.offsets import ListOffsetsResponse

    topic = ListOffsetsResponse.ListOffsetsTopicResponse
    part = topic.ListOffsetsPartitionResponse
    answers = [("adt.inbound", [(0, 0, 1_700_000_000_123, 42), (7, 6, -1, -1), (9, 0, -1, 2 ** 62)]),
               ("oru.résultats", [(3, 0, 5, 0)]), ("empty", [])]
    raw = ListOffsetsResponse(throttle_time_ms=250, topics=[
        topic(name=name, partitions=[part(partition_index=p, error_code=e, timestamp=ts, offset=off)
                                     for p, e, ts, off in parts]) for name, parts in answers]).encode(version=version)
    assert wire.decode_response(version, raw) == answers
    assert wire.throttle_time_ms(version, raw) == (250 if version >= 2 else 0)


def test_a_truncated_or_overlong_response_is_refused_not_misread() -> None:
    raw = wire.encode_request(1, [])  # any bytes: a response header claiming more than it holds
    body = (b"\x00\x00\x00\x01" + b"\x00\x01t" + b"\x00\x00\x00\x02" + b"\x00" * 22)
    with pytest.raises(wire.WireError, match="truncated"):
        wire.decode_response(1, body)
    with pytest.raises(wire.WireError, match="truncated"):
        wire.decode_response(3, b"\x00\x00")
    with pytest.raises(ValueError, match="past its last topic"):
        wire.decode_response(1, b"\x00\x00\x00\x00" + raw)


@pytest.mark.parametrize("version", [0, 4])
def test_versions_with_another_layout_are_refused(version: int) -> None:
    with pytest.raises(ValueError, match="version"):
        wire.encode_request(version, columns(TOPICS))
    with pytest.raises(ValueError, match="version"):
        wire.decode_response(version, b"")


def _metadata_response(version: int, topics: list[wire.MetadataTopic]) -> bytes:
    from kafka.protocol.metadata import MetadataResponse

    broker, topic = MetadataResponse.MetadataResponseBroker, MetadataResponse.MetadataResponseTopic
    part = topic.MetadataResponsePartition
    return bytes(MetadataResponse(
        throttle_time_ms=7, cluster_id="kraft-clüster", controller_id=100, error_code=0,
        brokers=[broker(node_id=1, host="b1.hospital.local", port=9092, rack="a"),
                 broker(node_id=2, host="b2", port=9093, rack=None)],
        topics=[topic(error_code=error, name=name, topic_id=uuid.UUID(int=i + 1), is_internal=internal, partitions=[
            part(error_code=p_error, partition_index=index, leader_id=leader, leader_epoch=3, replica_nodes=replicas,
                 isr_nodes=isr, offline_replicas=offline)
            for p_error, index, leader, replicas, isr, offline in parts])
            for i, (error, name, internal, parts) in enumerate(topics)]).encode(version=version))


METADATA: list[wire.MetadataTopic] = [
    (0, "adt.inbound", False, [(0, 0, 1, [1, 2, 3], [1, 2, 3], []), (0, 1, -1, [2, 3], [], [2, 3]),
                               (9, 2, 3, list(range(200)), [3], [])]),  # 200 replicas: a two-byte array length
    (0, "__consumer_offsets", True, []), (3, "ghost", False, [])]


@pytest.mark.parametrize("version", range(wire.METADATA_MIN_VERSION, wire.METADATA_MAX_VERSION + 1))
def test_metadata_decodes_as_the_library_encodes_it(version: int) -> None:
    assert wire.decode_metadata(version, _metadata_response(version, METADATA)) == METADATA


def test_metadata_with_bytes_past_its_last_field_is_refused_and_old_versions_are_not_read() -> None:
    raw = _metadata_response(13, METADATA)
    with pytest.raises(ValueError, match="bytes left"):
        wire.decode_metadata(13, raw + b"\x00")
    with pytest.raises(wire.WireError, match="truncated"):
        wire.decode_metadata(13, raw[:-40])
    with pytest.raises(ValueError, match="version 8"):
        wire.decode_metadata(8, raw)


def _offset_fetch_response(groups: list[tuple[str, int, list[tuple[str, list[tuple[int, int, str | None, int]]]]]],
                           ) -> bytes:
    from kafka.protocol.consumer.group import OffsetFetchResponse

    group = OffsetFetchResponse.OffsetFetchResponseGroup
    topic = group.OffsetFetchResponseTopics
    part = topic.OffsetFetchResponsePartitions
    return bytes(OffsetFetchResponse(throttle_time_ms=3, groups=[
        group(group_id=gid, error_code=error, topics=[
            topic(name=name, partitions=[part(partition_index=p, committed_offset=off, committed_leader_epoch=7,
                                              metadata=meta, error_code=p_error) for p, off, meta, p_error in parts])
            for name, parts in topics]) for gid, error, topics in groups]).encode(version=wire.OFFSET_FETCH_VERSION))


def test_offset_fetch_decodes_as_the_library_encodes_it() -> None:
    # Entries with empty or null metadata take the one-struct shortcut; a metadata string (any entry of
    # a topic) sends the topic through the field-by-field reader: both must read the same answer.
    raw = _offset_fetch_response([
        ("billing-etl", 0, [("adt.inbound", [(0, 42, "", 0), (1, -1, None, 0), (2, 2 ** 40, "", 0)]),
                            ("oru.résultats", [(5, 7, "", 0), (6, 8, "checkpoint ✓", 0), (7, 9, None, 0)])]),
        ("loading", 14, []),  # a group-level error (coordinator loading)
        ("half-bad", 0, [("adt.inbound", [(0, 1, "", 0), (1, -1, "", 3)])]),  # a partition-level error
        ("", 0, [("empty", [])]),
    ])
    assert wire.decode_offset_fetch(wire.OFFSET_FETCH_VERSION, raw) == [
        ("billing-etl", 0, {("adt.inbound", 0): 42, ("adt.inbound", 1): None, ("adt.inbound", 2): 2 ** 40,
                            ("oru.résultats", 5): 7, ("oru.résultats", 6): 8, ("oru.résultats", 7): 9}, 0),
        ("loading", 14, {}, 0),
        ("half-bad", 0, {("adt.inbound", 0): 1, ("adt.inbound", 1): None}, 3),
        ("", 0, {}, 0),
    ]


def test_offset_fetch_refuses_other_versions_and_garbled_bytes() -> None:
    raw = _offset_fetch_response([("g", 0, [("t", [(0, 1, "", 0), (1, 2, "meta", 0)])])])
    with pytest.raises(wire.WireError, match="version"):
        wire.decode_offset_fetch(7, raw)
    with pytest.raises(wire.WireError, match="truncated"):
        wire.decode_offset_fetch(wire.OFFSET_FETCH_VERSION, raw[:-9])
    with pytest.raises(wire.WireError, match="left after"):
        wire.decode_offset_fetch(wire.OFFSET_FETCH_VERSION, raw + b"\x00")


def test_a_long_life_of_topics_created_and_dropped_keeps_the_name_caches_bounded_and_exact(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The exporter runs for months while topics come and go: the name caches start again past their
    limit instead of growing, and what is encoded and decoded stays exact across the restart."""
    from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse

    monkeypatch.setattr(wire, "NAME_CACHE_LIMIT", 8)
    monkeypatch.setattr(wire, "_NAMES_OUT", {})
    monkeypatch.setattr(wire, "_NAMES_IN", {})
    req_topic = ListOffsetsRequest.ListOffsetsTopic
    resp_topic = ListOffsetsResponse.ListOffsetsTopicResponse
    for i in range(50):
        name = f"clinical.adt.{i}.{uuid.uuid4().hex[:6]}"
        theirs = ListOffsetsRequest(replica_id=-1, isolation_level=0, topics=[req_topic(
            name=name, partitions=[req_topic.ListOffsetsPartition(partition_index=0, timestamp=-1)])])
        assert wire.encode_request(3, [(name, [0], [-1])]) == theirs.encode(version=3)
        raw = ListOffsetsResponse(throttle_time_ms=0, topics=[resp_topic(name=name, partitions=[
            resp_topic.ListOffsetsPartitionResponse(partition_index=0, error_code=0, timestamp=-1, offset=i)])]
        ).encode(version=3)
        assert wire.decode_response(3, raw) == [(name, [(0, 0, -1, i)])]
        assert len(wire._NAMES_OUT) <= 8 and len(wire._NAMES_IN) <= 8
