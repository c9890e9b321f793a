"""The ListOffsets fast path frames its hand-encoded requests and reads the answers as kafka-python's own
connection would: the bytes on the wire must be exactly the library's, header and frame included."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest

from brokerscale.kafka import wire
from brokerscale.kafka.fastpath import _raw_list_offsets, _RawAnswer, _RawRequest

SPECS = [("adt.inbound", [(0, -1), (7, -2), (12, 1_700_000_000_123)]), ("oru", [(3, -1)])]


@pytest.mark.parametrize("version", range(wire.MIN_VERSION, wire.MAX_VERSION + 1))
def test_a_raw_request_is_framed_as_the_librarys_own(version: int) -> None:
    from kafka.protocol.consumer.offsets import ListOffsetsRequest

    topic = ListOffsetsRequest.ListOffsetsTopic
    part = topic.ListOffsetsPartition
    theirs = ListOffsetsRequest(replica_id=-1, isolation_level=0, topics=[
        topic(name=name, partitions=[part(partition_index=p, timestamp=ts) for p, ts in parts])
        for name, parts in SPECS])
    theirs.API_VERSION = version
    theirs.with_header(correlation_id=4711, client_id="brokerscale")
    columns = [(name, [p for p, _ts in parts], [ts for _p, ts in parts]) for name, parts in SPECS]
    ours = _raw_list_offsets(version, wire.encode_request(version, columns))
    ours.with_header(correlation_id=4711, client_id="brokerscale")
    assert ours.encode(framed=True, header=True) == theirs.encode(framed=True, header=True)
    assert ours.header is not None and ours.header.correlation_id == 4711 and ours.expect_response()


@pytest.mark.parametrize("version", range(wire.MIN_VERSION, wire.MAX_VERSION + 1))
def test_a_raw_answer_reads_the_header_and_keeps_the_body(version: int) -> None:
    from kafka.protocol.consumer.offsets import ListOffsetsResponse

    topic = ListOffsetsResponse.ListOffsetsTopicResponse
    part = topic.ListOffsetsPartitionResponse
    response = ListOffsetsResponse(throttle_time_ms=30, topics=[
        topic(name="adt.inbound", partitions=[part(partition_index=2, error_code=0, timestamp=9, offset=77)])])
    response.API_VERSION = version
    response.with_header(correlation_id=99)
    buf = io.BytesIO(response.encode(header=True))
    request = _raw_list_offsets(version, b"")
    request.with_header(correlation_id=99, client_id="brokerscale")
    assert request.header is not None
    reader = request.header.get_response_class()
    assert reader.parse_header(buf).correlation_id == 99  # as the library's parser checks it
    answer = reader.decode(buf)
    assert wire.decode_response(version, answer.data) == [("adt.inbound", [(2, 0, 9, 77)])]
    assert answer.throttle_time_ms == (30 if version >= 2 else 0)


@pytest.mark.parametrize("version", range(wire.METADATA_MIN_VERSION, wire.METADATA_MAX_VERSION + 1))
def test_a_raw_metadata_request_is_framed_and_answered_as_the_librarys_own(version: int) -> None:
    from kafka.protocol.metadata import MetadataRequest, MetadataResponse

    def request() -> MetadataRequest:
        return MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name="adt.inbound")],
                               allow_auto_topic_creation=False)

    theirs = request()
    theirs.API_VERSION = version
    theirs.with_header(correlation_id=12, client_id="brokerscale")
    ours = _RawRequest(3, version, request().encode(version=version), flexible=True, response_class=MetadataResponse)
    ours.with_header(correlation_id=12, client_id="brokerscale")
    assert ours.encode(framed=True, header=True) == theirs.encode(framed=True, header=True)

    response = MetadataResponse(throttle_time_ms=5, cluster_id="c", controller_id=1, brokers=[], topics=[])
    response.API_VERSION = version
    response.with_header(correlation_id=12)
    buf = io.BytesIO(response.encode(header=True))  # a flexible response header: tagged fields after the id
    assert ours.header is not None
    reader = ours.header.get_response_class()
    assert reader.parse_header(buf).correlation_id == 12
    answer = reader.decode(buf)
    assert answer.throttle_time_ms == 5 and wire.decode_metadata(version, answer.data) == []


def test_offsets_asked_are_grouped_by_topic_whatever_their_order() -> None:
    from brokerscale.kafka.fastpath import _by_topic

    specs = {("a", 0): -1, ("a", 1): -2, ("b", 5): 1_700_000_000_000, ("a", 7): -1, ("c", 0): 0}
    assert _by_topic(specs) == [("a", [0, 1, 7], [-1, -2, -1]), ("b", [5], [1_700_000_000_000]), ("c", [0], [0])]
    assert _by_topic({}) == []


class _FakeManager:
    """kafka-python's connection manager as `fastpath.list_offsets` uses it: every request answered at
    once with the ListOffsets response `answer(leader, body)` builds (the body as this module encoded it)."""

    def __init__(self, answer: Any, version: int = 3) -> None:
        self.answer, self.version = answer, version
        self.broker_version_data = self

    def api_version(self, _request: Any, *, min_version: int, max_version: int) -> int:
        return max(min_version, min(self.version, max_version))

    def send(self, request: Any, *, node_id: int) -> Any:
        async def answered() -> Any:
            reader = _RawAnswer(request.response_class, request.API_VERSION)
            return reader.decode(io.BytesIO(self.answer(node_id, request.body)))
        return answered()

    def run(self, fn: Any) -> Any:
        return asyncio.run(fn())


def _response(version: int, topics: list[tuple[str, list[tuple[int, int, int, int]]]]) -> bytes:
    from kafka.protocol.consumer.offsets import ListOffsetsResponse

    topic = ListOffsetsResponse.ListOffsetsTopicResponse
    part = topic.ListOffsetsPartitionResponse
    return bytes(ListOffsetsResponse(throttle_time_ms=0, topics=[
        topic(name=name, partitions=[part(partition_index=p, error_code=e, timestamp=ts, offset=off)
                                     for p, e, ts, off in parts]) for name, parts in topics]).encode(version=version))


def test_answers_of_one_partition_topics_and_of_larger_ones_are_read_alike_errors_included() -> None:
    """A dating round asks one partition of most topics (read without the per-topic columns); the offsets,
    record times, moved partitions (a retriable error) and a refused partition must come out as for a
    topic of many partitions."""
    from brokerscale.kafka import fastpath

    answers = {1: [("adt", [(0, 0, 1_700_000_000_001, 10), (1, 0, -1, 11)]), ("oru", [(4, 0, 77, 3)])],
               2: [("lab", [(2, 6, -1, -1)]),  # NOT_LEADER_OR_FOLLOWER: retriable, asked again elsewhere
                   ("adt", [(5, 0, 5, 50), (6, 6, -1, -1)])]}
    client = type("Client", (), {"_manager": _FakeManager(lambda node, _body: _response(3, answers[node]))})()
    queries = [{1: {("adt", 0): 1_700_000_000_000, ("adt", 1): -1, ("oru", 4): 0},
                2: {("lab", 2): 123, ("adt", 5): 4, ("adt", 6): 9}}]
    got = fastpath.list_offsets(client, queries)
    assert got.offsets == [{("adt", 0): 10, ("adt", 1): 11, ("oru", 4): 3, ("adt", 5): 50}]
    assert got.timestamps == [{("adt", 0): 1_700_000_000_001, ("adt", 1): -1, ("oru", 4): 77, ("adt", 5): 5}]
    assert got.moved == [{("lab", 2): 123, ("adt", 6): 9}] and got.unanswered == {}
    assert fastpath.list_offsets(client, queries, with_times=False).timestamps == [{}]

    refused = {1: [("oru", [(4, 42, -1, -1)])]}  # INVALID_REQUEST: not retriable, raised
    client._manager = _FakeManager(lambda node, _body: _response(3, refused[node]))
    with pytest.raises(Exception, match=r"oru\[4\]"):
        fastpath.list_offsets(client, [{1: {("oru", 4): 0}}])


class _NotReady:
    """An admin call that kafka-python refuses with NodeNotReadyError(`what`) `times` times, then answers."""

    def __init__(self, what: object, times: int) -> None:
        self.what, self.left, self.calls = what, times, 0

    def __call__(self) -> str:
        from kafka.errors import NodeNotReadyError

        self.calls += 1
        if self.left > 0:
            self.left -= 1
            raise NodeNotReadyError(self.what)
        return "answered"


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    from brokerscale.kafka import fastpath

    monkeypatch.setattr(fastpath.time, "sleep", lambda _s: None)


@pytest.mark.parametrize("what", ["No node_id provided", 1], ids=["no-node", "node-in-backoff"])
def test_an_observation_round_gives_up_soon_when_no_broker_can_take_the_request(what: object, no_sleep: None) -> None:
    """Every connection lost (an outage): inside `quick_outage` (an observation round) a few tries
    (0.5 s) ride out a reconnect and no more; elsewhere (the rebalance executor) the full 4 s."""
    from kafka.errors import NodeNotReadyError

    from brokerscale.kafka.fastpath import paced, quick_outage

    with quick_outage():
        down = _NotReady(what, times=1000)
        with pytest.raises(NodeNotReadyError):
            paced(down)
        assert down.calls == 25
        back = _NotReady(what, times=10)  # a reconnect inside the budget is not an error
        assert paced(back) == "answered" and back.calls == 11
    outside = _NotReady(what, times=1000)
    with pytest.raises(NodeNotReadyError):
        paced(outside)
    assert outside.calls == 200


def test_a_connection_at_its_in_flight_limit_is_waited_out_even_in_an_observation_round(no_sleep: None) -> None:
    from brokerscale.kafka.fastpath import paced, quick_outage

    with quick_outage():
        busy = _NotReady("Node paused: {'max_in_flight'}", times=60)
        assert paced(busy) == "answered" and busy.calls == 61
