"""kafka-python's private API, in one place, each use with its public fallback.

What the public admin API makes slow or fragile at the scale of a hospital cluster:
- Metadata: `describe_topics` turns every partition into a dict first (a third of a lag snapshot's time
  on 20,000 partitions); here the response is read directly.
- ListOffsets: `list_partition_offsets` re-reads the whole cluster's metadata on every call to route the
  partitions; we already know the leaders, so one request per leader (and per spec) is built and all of
  them are pipelined at once. A leader that does not answer is reported, not fatal. Versions 1-3,
  encoded and decoded by `kafka.wire` (one `struct` call per topic, not one library object per
  partition each way; the answer's bytes are decoded by the caller, off kafka-python's network thread);
  the flexible versions' tagged fields add nothing read here (leader epochs).
- IncrementalAlterConfigs: a broker's own configs (a replication throttle rate) must be sent to that
  broker, and the library sends one broker's request after another; each waits for the controller to
  commit the change (~40 ms on an idle dev cluster, more under load), so setting a throttle on 4 brokers
  and 1 topic took ~0.2 s at the start of every rebalance and again at its end. Here all of them are in
  flight at once.
- The controller: kafka-python caches its id, and in KRaft that is just some broker; if it died, every
  controller-routed call would fail forever. `forget_controller` makes the next call look it up again.

Everything here uses `client._manager` (kafka-python >= 3.0). When that is missing, or the library's
private shape changed, the callers in `admin.py` use the public method instead.
"""

from __future__ import annotations

import math
import struct
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, TypeVar

from brokerscale.kafka import wire
from brokerscale.kafka.internal_topics import is_internal
from brokerscale.kafka.types import TP, PartitionInfo, TopicInfo

T = TypeVar("T")

# Up to this many partitions of one topic in one answer are read one by one; more go in as columns.
# A dating round asks one to three partitions of most topics (~7,700 topic entries in 44 answers for
# 1,000 partitions): building four columns and two zips cost ~3 us a topic, reading the rows ~0.5 us.
SMALL_TOPIC = 8
IN_FLIGHT = 4  # requests pipelined to one broker at a time (kafka-python allows 5 per connection)

# What the fast paths raise when the private API is not what this module expects, or an answer is not
# what kafka.wire reads: the caller falls back to the library's public method.
FASTPATH_UNAVAILABLE = (AttributeError, ImportError, TypeError, wire.WireError)


def available(client: Any) -> bool:
    return hasattr(client, "_manager") and hasattr(client._manager, "send")


PACE_S = 0.02  # paced(): the wait between tries
PACE_TRIES = 200  # ... and how many (4 s)
# Tries for "nothing to send to" (see `quick_outage`); PACE_TRIES outside it.
_NO_NODE_TRIES: ContextVar[int] = ContextVar("no_node_tries", default=PACE_TRIES)


def paced(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call an admin method; when a connection has its 5 requests in flight, wait a moment and retry
    (kafka-python refuses a 6th rather than queueing it), for up to 4 s."""
    from kafka.errors import NodeNotReadyError

    for attempt in range(PACE_TRIES):
        try:
            return fn(*args, **kwargs)
        except NodeNotReadyError as exc:
            if attempt == PACE_TRIES - 1 or (attempt + 1 >= _NO_NODE_TRIES.get() and _no_broker_ready(exc)):
                raise
            time.sleep(PACE_S)
    raise AssertionError("unreachable")


def _no_broker_ready(exc: BaseException) -> bool:
    """kafka-python's NodeNotReadyError for "nothing to send to" (no node, or a node id in reconnect
    backoff), as opposed to a connection at its in-flight limit ("Node paused: ..."). A shape not known
    here counts as the in-flight limit."""
    what = exc.args[0] if exc.args else None
    return what == "No node_id provided" or (isinstance(what, int) and not isinstance(what, bool))


@contextmanager
def quick_outage(seconds: float = 0.5) -> Iterator[None]:
    """Within the block (this thread), "nothing to send to" is retried for `seconds`, not 4 s.

    kafka-python raises the same NodeNotReadyError for a connection at its in-flight limit and when no
    broker can take a request at all (every connection lost). `paced` waits out both for 4 s and
    `any_node` tries 4 times, so an observation round that began as its cluster went down took 11 s to
    fail. A read-only round (`Observer.sample`: the exporter, `observe --watch`, the dashboard, `scale
    run`'s observing) gives up sooner: a dropped connection that comes back does so in kafka-python's
    50 ms reconnect backoff. The rebalance executor keeps the full wait: while a destination broker dies
    mid-move, those seconds are what lets the controller fence it, so the executor reports the broker
    offline rather than a refused connection."""
    token = _NO_NODE_TRIES.set(max(1, math.ceil(seconds / PACE_S)))
    try:
        yield
    finally:
        _NO_NODE_TRIES.reset(token)


def any_node(fn: Callable[..., T], *args: Any, attempts: int = 4, **kwargs: Any) -> T:
    """A request any broker can answer (Metadata, DescribeCluster, DescribeConfigs): when the broker the
    library picked does not answer (killed, not yet fenced by the controller), the library marks it
    backed off and the retry goes to another one. Only when none answers does the error leave."""
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError

    outage = (KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError, OSError)
    for attempt in range(attempts):
        try:
            return paced(fn, *args, **kwargs)
        except outage:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def metadata(client: Any, names: list[str] | None) -> list[TopicInfo]:
    """One Metadata request, read straight from the response; topics that error are left out. Versions
    9-13 are decoded by kafka.wire from the answer's bytes; an older broker's by the library."""
    from kafka.protocol.metadata import MetadataRequest, MetadataResponse

    req_topics = None if names is None else [MetadataRequest.MetadataRequestTopic(name=t) for t in names]
    request = MetadataRequest(topics=req_topics, allow_auto_topic_creation=False)
    version = client._manager.broker_version_data.api_version(MetadataRequest, max_version=wire.METADATA_MAX_VERSION)
    raw = version >= wire.METADATA_MIN_VERSION
    sent: Any = _RawRequest(wire.METADATA_API_KEY, version, request.encode(version=version), flexible=True,
                            response_class=MetadataResponse) if raw else request

    async def run() -> Any:
        return await client._manager.send(sent)

    response = client._manager.run(run)
    out: list[TopicInfo] = []
    if raw:
        for error, name, internal, parts in wire.decode_metadata(response.version, response.data):
            if error or not name:
                continue
            parts.sort(key=_by_index)  # Kafka's order, nearly always already
            out.append(TopicInfo(name=name, internal=is_internal(name, internal), partitions=[
                PartitionInfo(index, leader if leader >= 0 else None, replicas, isr, offline)
                for _error, index, leader, replicas, isr, offline in parts]))
        return out
    for t in response.topics:
        if t.error_code or not t.name:
            continue
        infos = [PartitionInfo(partition=p.partition_index, leader=p.leader_id if p.leader_id >= 0 else None,
                               replicas=list(p.replica_nodes), isr=list(p.isr_nodes),
                               offline=list(p.offline_replicas or []))
                 for p in sorted(t.partitions, key=lambda p: p.partition_index)]
        out.append(TopicInfo(name=t.name, internal=is_internal(t.name, bool(t.is_internal)), partitions=infos))
    return out


class _RawRequest:
    """A request whose body is already encoded (kafka.wire, or the library's encoder for the body alone),
    shaped as kafka-python's connection expects of a request (header, framed encoding, API version); its
    answer is kept as bytes (`_RawAnswer`) for kafka.wire to decode."""

    def __init__(self, api_key: int, version: int, body: bytes, *, flexible: bool, response_class: Any) -> None:
        self.API_KEY = api_key
        self.API_VERSION = version
        self.body = body
        self.flexible = flexible  # flexible request versions take header version 2, the others version 1
        self.response_class = response_class
        self.header: _RawHeader | None = None

    def with_header(self, correlation_id: int = 0, client_id: str = "kafka-python") -> None:
        from kafka.protocol.api_header import RequestHeader

        inner = RequestHeader(request_api_key=self.API_KEY, request_api_version=self.API_VERSION,
                              correlation_id=correlation_id, client_id=client_id)
        self.header = _RawHeader(inner, self)

    def encode(self, version: int | None = None, header: bool = False, framed: bool = False) -> bytes:
        assert self.header is not None and header and framed  # as the connection sends every request
        payload = self.header.inner.encode(flexible=self.flexible) + self.body
        return struct.pack(">i", len(payload)) + payload

    def expect_response(self) -> bool:
        return True

    def __str__(self) -> str:  # the library's debug log
        return f"{self.response_class.__name__}_v{self.API_VERSION}(raw request, {len(self.body)} bytes)"


class _RawHeader:
    """The request header, answering the connection's question "how is the response decoded?"."""

    def __init__(self, inner: Any, request: _RawRequest) -> None:
        self.inner = inner
        self.request = request
        self.correlation_id = inner.correlation_id
        self.api_key, self.api_version = request.API_KEY, request.API_VERSION

    def get_response_class(self) -> _RawAnswer:
        return _RawAnswer(self.request.response_class, self.request.API_VERSION)


class _RawAnswer:
    """Stands in for kafka-python's response class: the header as the library reads it, the body kept as
    bytes for kafka.wire (decoded by the caller, not on the network thread)."""

    def __init__(self, response_class: Any, version: int) -> None:
        self.response_class = response_class
        self.version = version
        self.data = b""
        self.throttle_time_ms = 0

    def parse_header(self, buf: Any) -> Any:
        return self.response_class.parse_header(buf, version=self.version)

    def decode(self, buf: Any) -> _RawAnswer:
        answer = _RawAnswer(self.response_class, self.version)
        answer.data = bytes(buf.read())
        # every version read here starts with the throttle time, except ListOffsets v1
        has_throttle = self.response_class.API_KEY != wire.API_KEY or self.version >= 2
        answer.throttle_time_ms = struct.unpack_from(">i", answer.data)[0] if has_throttle else 0
        return answer


def _by_index(part: wire.MetadataPartition) -> int:
    return part[1]


def _raw_list_offsets(version: int, body: bytes) -> _RawRequest:
    from kafka.protocol.consumer.offsets import ListOffsetsResponse

    return _RawRequest(wire.API_KEY, version, body, flexible=False, response_class=ListOffsetsResponse)


def _by_topic(specs: dict[TP, int]) -> list[tuple[str, list[int], list[int]]]:
    """{(topic, partition): timestamp} as (topic, partitions, timestamps) columns, topics in the order
    they first come; a topic that comes back later is merged with its first run.

    One plain pass: a dating round asks one to three partitions of each of hundreds of topics per leader
    and probe, where grouping runs in C (groupby, map) cost ~2 us a topic against ~0.7 here; on a whole
    cluster's 20,000 partitions the pass is no slower (~2.2 against ~2.8 ms)."""
    out: list[tuple[str, list[int], list[int]]] = []
    where: dict[str, int] = {}
    last: str | None = None
    parts: list[int] = []
    stamps: list[int] = []
    for key, stamp in specs.items():
        name = key[0]
        if name != last:
            at = where.get(name)
            if at is None:
                where[name] = len(out)
                parts, stamps = [], []
                out.append((name, parts, stamps))
            else:
                _name, parts, stamps = out[at]
            last = name
        parts.append(key[1])
        stamps.append(stamp)
    return out


@dataclass
class OffsetsAnswer:
    """ListOffsets answers: `offsets[i]` for the i-th query; `unanswered` leaders (their partitions have
    no answer); `moved` partitions whose leader changed (retriable errors): re-ask with fresh metadata."""

    offsets: list[dict[TP, int]]
    timestamps: list[dict[TP, int]]
    unanswered: dict[int, str] = field(default_factory=dict)
    moved: list[dict[TP, int]] = field(default_factory=list)


def list_offsets(client: Any, queries: list[dict[int, dict[TP, int]]], *, with_times: bool = True) -> OffsetsAnswer:
    """ListOffsets for many partitions: each query maps leader -> {partition: timestamp or spec}
    (-1 latest, -2 earliest, or a time in ms); one request per leader and query, all pipelined.
    `with_times=False` leaves `timestamps` empty (a log-end or log-start offset has no record time)."""
    from kafka.errors import for_code
    from kafka.protocol.consumer.offsets import ListOffsetsRequest

    version = client._manager.broker_version_data.api_version(ListOffsetsRequest, min_version=wire.MIN_VERSION,
                                                              max_version=wire.MAX_VERSION)
    plan: list[tuple[int, int, _RawRequest]] = []
    for i, by_leader in enumerate(queries):
        for leader, specs in by_leader.items():
            plan.append((i, leader, _raw_list_offsets(version, wire.encode_request(version, _by_topic(specs)))))

    async def run() -> list[Any]:
        # kafka-python refuses more than 5 requests in flight on one connection (NodeNotReadyError), so
        # requests go out in waves of at most IN_FLIGHT per broker; a refused one is sent again later.
        from kafka.errors import NodeNotReadyError

        answers: list[Any] = [None] * len(plan)
        todo = list(range(len(plan)))
        for _attempt in range(len(plan) + 3):
            if not todo:
                break
            per_node: dict[int, int] = defaultdict(int)
            wave: list[int] = []
            later: list[int] = []
            for k in todo:
                leader = plan[k][1]
                (wave if per_node[leader] < IN_FLIGHT else later).append(k)
                per_node[leader] += 1
            futures = [(k, client._manager.send(plan[k][2], node_id=plan[k][1])) for k in wave]
            for k, f in futures:
                try:
                    answers[k] = await f
                except NodeNotReadyError as exc:
                    answers[k] = exc
                    later.append(k)
                except Exception as exc:  # one dead leader must not hide the others' answers
                    answers[k] = exc
            todo = sorted(later)
        return answers

    answer = OffsetsAnswer([{} for _ in queries], [{} for _ in queries], moved=[{} for _ in queries])
    for (i, leader, _req), resp in zip(plan, client._manager.run(run), strict=True):
        if isinstance(resp, BaseException):
            answer.unanswered[leader] = type(resp).__name__
            continue
        # 40,000 partitions per lag snapshot: each answer is decoded once, straight into local dicts, a
        # large topic without errors (nearly always) in C loops (zip), not one Python step per partition;
        # a topic of a few partitions (SMALL_TOPIC) row by row
        offsets, stamps = answer.offsets[i], answer.timestamps[i]
        for name, parts in wire.decode_response(resp.version, resp.data):
            if len(parts) > SMALL_TOPIC:
                indexes, errors, times, found = zip(*parts, strict=True)
                if not any(errors):
                    keys = list(zip(repeat(name), indexes))
                    offsets.update(zip(keys, found, strict=True))
                    if with_times:
                        stamps.update(zip(keys, times, strict=True))
                    continue
            for index, error, stamp, offset in parts:
                key = (name, index)
                if error:
                    err = for_code(error)
                    if err.retriable:
                        answer.moved[i][key] = queries[i][leader][key]
                        continue
                    raise err(f"ListOffsets {name}[{index}]")
                if with_times:
                    stamps[key] = stamp
                offsets[key] = offset
    return answer


def _at_once(client: Any, requests: list[tuple[int, Any]]) -> list[Any]:
    """Send every (node, request) before awaiting any; each answer, or the exception it ended in, in order."""
    async def run() -> list[Any]:
        futures = [client._manager.send(req, node_id=node) for node, req in requests]
        answers: list[Any] = []
        for f in futures:  # every answer is awaited (none left dangling) before a failure is raised
            try:
                answers.append(await f)
            except Exception as exc:
                answers.append(exc)
        return answers

    answers: list[Any] = client._manager.run(run)
    return answers


def list_groups(client: Any, brokers: list[int] | None) -> list[dict[str, Any]]:
    """The library's `list_groups`, every broker asked at once (it asks one after another); the first
    failure is raised as the library raises it."""
    if brokers is None:
        brokers = [b.node_id for b in client._manager.cluster.brokers()]
    out: list[dict[str, Any]] = []
    for answer in _at_once(client, [(b, client._list_groups_request()) for b in brokers]):
        if isinstance(answer, BaseException):
            raise answer
        out.extend(client._list_groups_process_response(answer))
    return out


def describe_groups(client: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The library's `describe_groups`, every coordinator asked at once (it asks one after another)."""
    coordinators = client._manager.run(client._find_coordinator_ids, list(ids))
    by_node: dict[int, list[str]] = defaultdict(list)
    for gid in ids:
        by_node[coordinators[gid]].append(gid)
    out: dict[str, dict[str, Any]] = {}
    for answer in _at_once(client, [(node, client._describe_groups_request(gids)) for node, gids in by_node.items()]):
        if isinstance(answer, BaseException):
            raise answer
        out.update(client._describe_groups_process_response(answer))
    return out


def group_offsets(client: Any, ids: list[str]) -> tuple[dict[str, dict[TP, int | None]], list[str]]:
    """Every group's committed offsets (None: nothing committed): one OffsetFetch v8 per coordinator,
    all in flight at once (the library sends one coordinator's request after another and decodes each
    partition as objects on its network thread); the answers are read by kafka.wire. Returns the offsets
    and the groups to ask again through the library: those whose coordinator did not answer, or that
    answered with an error (group or partition), or were left out of the answer."""
    from kafka.protocol.consumer.group import OffsetFetchRequest, OffsetFetchResponse

    top = client._manager.broker_version_data.api_version(OffsetFetchRequest)
    if top < wire.OFFSET_FETCH_VERSION:
        raise wire.WireError(f"OffsetFetch version {top} cannot ask for several groups at once")
    coordinators = client._manager.run(client._find_coordinator_ids, list(ids))
    by_node: dict[int, list[str]] = defaultdict(list)
    again: list[str] = []
    for gid in ids:
        node = coordinators.get(gid)
        if node is None or node < 0:  # no coordinator yet: the library's path waits for one
            again.append(gid)
        else:
            by_node[node].append(gid)
    group = OffsetFetchRequest.OffsetFetchRequestGroup
    plan = [(node, gids, _RawRequest(wire.OFFSET_FETCH_API_KEY, wire.OFFSET_FETCH_VERSION,
                                     OffsetFetchRequest(groups=[group(group_id=g, topics=None) for g in gids])
                                     .encode(version=wire.OFFSET_FETCH_VERSION),
                                     flexible=True, response_class=OffsetFetchResponse))
            for node, gids in sorted(by_node.items())]

    out: dict[str, dict[TP, int | None]] = {}
    # one coordinator that does not answer must not hide the others' answers
    for (_node, gids, _req), resp in zip(plan, _at_once(client, [(node, req) for node, _gids, req in plan]),
                                         strict=True):
        if isinstance(resp, BaseException):
            again += gids
            continue
        for gid, error, offsets, partition_error in wire.decode_offset_fetch(resp.version, resp.data):
            if not error and not partition_error:
                out[gid] = offsets
        again += [g for g in gids if g not in out]
    return out, again


def alter_configs(client: Any, resources: list[Any], *, validate_only: bool = False) -> dict[str, dict[str, str]]:
    """IncrementalAlterConfigs with one request per broker (its own configs) and one for the rest, all in
    flight at once; the answer shaped like the library's `alter_configs` ({"broker": {"1": "OK"}, ...})."""
    by_broker, others = client._group_config_resources(resources)
    requests: list[tuple[int | None, Any]] = [(b, client._alter_configs_request(rs, validate_only, True))
                                              for b, rs in sorted(by_broker.items())]
    if others:
        requests.append((None, client._alter_configs_request(others, validate_only, True)))

    async def run() -> list[Any]:
        futures = [client._manager.send(req, node_id=node) for node, req in requests]
        answers: list[Any] = []
        failed: BaseException | None = None
        for f in futures:  # every answer is awaited (none left dangling) before the first failure is raised
            try:
                answers.extend((await f).responses)
            except Exception as exc:
                failed = failed or exc
        if failed is not None:
            raise failed
        return answers

    result: dict[str, dict[str, str]] = client._alter_configs_process_responses(client._manager.run(run))
    return result


def know_brokers(client: Any, ids: set[int]) -> None:
    """Requests addressed to a broker the library's cached metadata does not list fail with
    UnknownBrokerIdError (a broker added since the client connected): refresh its metadata first."""
    cluster = client._manager.cluster
    if ids - {b.node_id for b in cluster.brokers()}:
        client._manager.run(cluster.refresh_metadata)


def forget_controller(client: Any) -> None:
    """The next controller-routed call looks the controller up again."""
    if hasattr(client, "_controller_id"):
        client._controller_id = None
