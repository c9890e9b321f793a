"""The one Kafka admin adapter: every admin-API read and write brokerscale makes, in typed values.

observe, topics, balance and the demos all go through `KafkaAdmin`; nothing else in brokerscale imports
kafka-python (the data-plane load generator uses confluent-kafka). It reads metadata only — names,
offsets, sizes, configs, group positions — never a record. Errors leave as one line (`errors.py`).
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from brokerscale.errors import BadInput, OperationFailed, Unreachable
from brokerscale.kafka import fastpath
from brokerscale.kafka.errors import describe, is_outage, kafka_call, kafka_error_types, translate
from brokerscale.kafka.internal_topics import is_internal
from brokerscale.kafka.types import (
    TP,
    BrokerInfo,
    BrokerLogDirs,
    ClusterInfo,
    GroupInfo,
    LogDirs,
    PartitionInfo,
    Reassignment,
    ReplicaLog,
    TopicInfo,
)

if TYPE_CHECKING:
    from brokerscale.connect import ConnectionProfile

LATEST = -1
EARLIEST = -2
_SPECS = {"LATEST": LATEST, "EARLIEST": EARLIEST}

# Kafka's replication throttle: a rate per broker, and per topic the replicas it applies to.
THROTTLE_RATES = ("leader.replication.throttled.rate", "follower.replication.throttled.rate")
THROTTLE_REPLICAS = ("leader.replication.throttled.replicas", "follower.replication.throttled.replicas")

UNKNOWN_TOPIC_OR_PARTITION = 3

#: How long a request to a cluster that did answer may take, unless the caller says otherwise. Connecting
#: gives up after the caller's short `timeout_s` (an unreachable cluster is an outage, said in seconds), but
#: a live broker that is busy — a GC pause, a coordinator loading its offsets after a restart, a restarted
#: broker catching up — can take longer than that to answer DescribeLogDirs or ListOffsets, and reporting
#: that as a failure turned a slow cluster into UNKNOWN (CI at load average 10-30 saw it).
REQUEST_TIMEOUT_S = 30.0


def _timestamp(answer: Any) -> int:
    """The record time of a ListOffsets answer (-1: none, as on the wire)."""
    ts = getattr(answer, "timestamp", None)
    return -1 if ts is None else int(ts)


def _spec(spec: str | int) -> int:
    if isinstance(spec, int):
        return spec
    return _SPECS[spec.upper()]


def _admin_client(**config: Any) -> Any:
    """`KafkaAdminClient(**config)`, its network thread stopped when it cannot bootstrap.

    kafka-python 3 starts the client's I/O thread in `__init__` and then bootstraps; a bootstrap that
    fails raises out of `__init__` with that thread still running and reconnecting to the brokers that
    refused it. The exporter, `check --interval` and `scale run` connect again every interval while a
    cluster is down: without this, one more thread (and socket retries) each time, for as long as the
    outage lasts.

    The sockets of the refused connection attempts are not closed by kafka-python either: each stays
    open in a reference cycle (the failed attempt's exception, its traceback, the frame holding the
    socket) until the cyclic garbage collector's next full pass, which a quiet process waiting out an
    outage may not reach for a long time (the dr watcher held 9 more sockets after 80 s of one). So a
    failed bootstrap ends with that pass: tens of milliseconds, only when the cluster did not answer.
    """
    from kafka import KafkaAdminClient

    client = KafkaAdminClient.__new__(KafkaAdminClient)
    try:
        client.__init__(**config)
    except BaseException:
        if getattr(client, "_net", None) is not None and not hasattr(client, "_closed"):
            client._closed = False  # what close() checks; __init__ sets it only after the bootstrap
            with contextlib.suppress(Exception):
                client.close()
        del client
        gc.collect()
        raise
    return client


class KafkaAdmin:
    """A connected admin client. `where` names the cluster in error messages (never a secret)."""

    def __init__(self, client: Any, where: str) -> None:
        self.client = client
        self.where = where

    @classmethod
    def connect(cls, profile: ConnectionProfile, *, timeout_s: float = 10.0,
                request_timeout_s: float | None = None) -> KafkaAdmin:
        """Connect with the profile's security settings; no broker answering within `timeout_s` is one
        `Unreachable` line. Requests wait `request_timeout_s` (default: the longer of `timeout_s` and
        `REQUEST_TIMEOUT_S`); a broker that is down refuses the connection at once, so only a live but
        slow cluster ever waits that long."""
        from kafka.errors import KafkaError, KafkaTimeoutError

        request_s = max(timeout_s, REQUEST_TIMEOUT_S) if request_timeout_s is None else request_timeout_s
        try:
            client = _admin_client(client_id="brokerscale", request_timeout_ms=int(request_s * 1000),
                                   bootstrap_timeout_ms=int(timeout_s * 1000), **profile.kafka_python())
        except KafkaTimeoutError:
            raise Unreachable(f"cannot reach Kafka at {profile.bootstrap}: no broker answered "
                              f"within {timeout_s:.0f}s") from None
        except KafkaError as exc:
            raise Unreachable(f"cannot connect to Kafka at {profile.bootstrap}: {type(exc).__name__}") from None
        except ValueError as exc:
            raise BadInput(f"--bootstrap: {profile.bootstrap!r} is not HOST:PORT ({exc})") from None
        return cls(client, profile.label)

    def close(self) -> None:
        with contextlib.suppress(*kafka_error_types()):  # closing a dead cluster's client must not mask an error
            self.client.close()

    def __enter__(self) -> KafkaAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- cluster and topics --------------------------------------------------------------------
    def cluster(self) -> ClusterInfo:
        """DescribeCluster: brokers (fenced ones included, marked), racks, the cluster id."""
        with kafka_call("describe cluster", self.where):
            raw = fastpath.any_node(self.client.describe_cluster)
        brokers = [BrokerInfo(id=int(b["broker_id"]), host=b.get("host"), port=b.get("port"), rack=b.get("rack"),
                              fenced=bool(b.get("is_fenced", False))) for b in raw.get("brokers", [])]
        controller = raw.get("controller_id")
        return ClusterInfo(cluster_id=raw.get("cluster_id"),
                           controller_id=int(controller) if controller is not None and controller >= 0 else None,
                           brokers=sorted(brokers, key=lambda b: b.id))

    def broker_versions(self, brokers: Iterable[int]) -> dict[int, str]:
        """Each broker's Apache Kafka version as its ApiVersions answer shows it ("4.1"); brokers that do
        not answer are left out."""
        out: dict[int, str] = {}
        for b in brokers:
            with contextlib.suppress(*kafka_error_types()):
                version = self.client.get_broker_version_data(b).broker_version
                out[b] = ".".join(str(v) for v in version)
        return out

    def refresh(self, brokers: Iterable[int] | None = None) -> None:
        """Make the client's own broker list current (all brokers, or until it lists `brokers`), so
        brokers added since it connected are addressable. Without the private API, nothing to do."""
        with contextlib.suppress(*fastpath.FASTPATH_UNAVAILABLE), kafka_call("refresh metadata", self.where):
            if brokers is None:
                self.client._manager.run(self.client._manager.cluster.refresh_metadata)
            else:
                fastpath.know_brokers(self.client, set(brokers))

    def topics(self, names: list[str] | None = None, *, include_internal: bool = True) -> list[TopicInfo]:
        """Metadata: partitions with leader, replicas (assignment order), ISR, offline replicas.

        Topics that do not exist (or error) are left out; `names=None` reads every topic."""
        with kafka_call("describe topics", self.where):
            try:
                found = fastpath.any_node(fastpath.metadata, self.client, names) \
                    if fastpath.available(self.client) else fastpath.any_node(self._topics_public, names)
            except fastpath.FASTPATH_UNAVAILABLE:
                found = self._topics_public(names)
        if not include_internal:
            found = [t for t in found if not t.internal]
        return sorted(found, key=lambda t: t.name)

    def _topics_public(self, names: list[str] | None) -> list[TopicInfo]:
        out: list[TopicInfo] = []
        for t in self.client.describe_topics(names):
            if t.get("error_code") or not t.get("name"):
                continue
            parts = [PartitionInfo(partition=int(p["partition_index"]),
                                   leader=int(p["leader_id"]) if int(p.get("leader_id", -1)) >= 0 else None,
                                   replicas=[int(r) for r in p["replica_nodes"]],
                                   isr=[int(r) for r in p.get("isr_nodes", [])],
                                   offline=[int(r) for r in p.get("offline_replicas") or []])
                     for p in sorted(t["partitions"], key=lambda p: p["partition_index"])]
            out.append(TopicInfo(t["name"], is_internal(t["name"], bool(t.get("is_internal"))), parts))
        return out

    def topic_names(self, *, include_internal: bool = False) -> list[str]:
        return [t.name for t in self.topics(include_internal=include_internal)]

    def missing_topics(self, names: Iterable[str]) -> list[str]:
        """Which of `names` the cluster reports as unknown (as opposed to not yet having a leader)."""
        wanted = sorted(set(names))
        if not wanted:
            return []
        with kafka_call("describe topics", self.where):
            raw = self.client.describe_topics(wanted)
        return sorted(t["name"] for t in raw if t.get("error_code") == UNKNOWN_TOPIC_OR_PARTITION)

    def wait_for_topics(self, names: list[str], timeout_s: float = 20.0) -> None:
        """Until every partition of `names` has a leader (right after a create, some have none)."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = {t.name: t for t in self.topics(names)}
            if all(n in found and found[n].partitions and all(p.leader is not None for p in found[n].partitions)
                   for n in names):
                return
            if time.monotonic() > deadline:
                raise Unreachable(f"topics {', '.join(names)} have no leaders on {self.where} after {timeout_s:.0f}s")
            time.sleep(0.2)

    # -- configs -----------------------------------------------------------------------------
    def topic_configs(self, names: list[str], keys: Iterable[str] | None = None, *,
                      only_set: bool = False) -> dict[str, dict[str, str]]:
        """Effective topic configs (defaults included unless `only_set`), restricted to `keys`."""
        return {str(k): v for k, v in self._configs("TOPIC", names, keys, only_set).items()}

    def broker_configs(self, brokers: list[int], keys: Iterable[str] | None = None, *,
                       only_set: bool = False) -> dict[int, dict[str, str]]:
        return {int(k): v for k, v in self._configs("BROKER", [str(b) for b in brokers], keys, only_set).items()}

    def _configs(self, kind: str, names: list[str], keys: Iterable[str] | None,
                 only_set: bool) -> dict[str, dict[str, str]]:
        from kafka.admin import ConfigResource, ConfigResourceType

        if not names:
            return {}
        wanted = None if keys is None else list(keys)
        rtype = getattr(ConfigResourceType, kind)
        resources = [ConfigResource(rtype, n, dict.fromkeys(wanted) if wanted is not None else None)
                     for n in sorted(set(names))]
        with kafka_call("describe configs", self.where):
            raw = fastpath.any_node(self.client.describe_configs, resources,
                                    config_filter="modified" if only_set else "all")
        by_name = raw.get(kind.lower(), {})
        out: dict[str, dict[str, str]] = {}
        for name in names:
            cfg = by_name.get(str(name), {})
            out[name] = {k: str(v.get("value") if isinstance(v, dict) else v) for k, v in cfg.items()
                         if (v.get("value") if isinstance(v, dict) else v) is not None
                         and (wanted is None or k in wanted)}
        return out

    def throttle_configs(self, brokers: list[int], topics: list[str]) -> dict[str, dict[str, str]]:
        """Replication-throttle configs currently set, keyed 'broker 1' / 'topic x' (empty: none set)."""
        out: dict[str, dict[str, str]] = {}
        for b, cfg in self.broker_configs(brokers, THROTTLE_RATES, only_set=True).items():
            if cfg:
                out[f"broker {b}"] = cfg
        for t, cfg in self.topic_configs(topics, THROTTLE_REPLICAS, only_set=True).items():
            if cfg:
                out[f"topic {t}"] = cfg
        return out

    # -- log dirs ----------------------------------------------------------------------------
    def log_dirs(self, brokers: Iterable[int], topics: Iterable[str] | None = None) -> LogDirs:
        """DescribeLogDirs, one request per broker: a broker that fails is reported with its error (its
        replicas are unknown, never 0 bytes) and does not hide the others' answers."""
        wanted = None if topics is None else sorted(set(topics))
        brokers = list(brokers)
        self.refresh(brokers)
        out = LogDirs()
        for b in brokers:
            if wanted is not None and not wanted:
                out.brokers[b] = BrokerLogDirs(broker=b)
                continue
            asked = time.time()
            try:
                entries = fastpath.paced(self.client.describe_log_dirs, wanted, [b])
            except kafka_error_types() as exc:
                out.brokers[b] = BrokerLogDirs(broker=b, error=describe(exc))
                continue
            out.brokers[b] = _parse_log_dirs(b, entries, (asked + time.time()) / 2)
        return out

    # -- offsets -----------------------------------------------------------------------------
    def offsets(self, tps: Iterable[TP], spec: str | int = "LATEST") -> dict[TP, int]:
        """ListOffsets with the library's routing (it finds the leaders): for a few partitions."""
        from kafka import TopicPartition
        from kafka.errors import LeaderNotAvailableError, NotLeaderForPartitionError, UnknownTopicOrPartitionError

        req = {TopicPartition(t, p): _spec(spec) for t, p in tps}
        if not req:
            return {}
        # A leader that has not yet applied the metadata of a just-created topic (or a just-moved leader)
        # answers UNKNOWN_TOPIC_OR_PARTITION / NOT_LEADER for a moment: ask again before giving up.
        transient = (UnknownTopicOrPartitionError, LeaderNotAvailableError, NotLeaderForPartitionError)
        with kafka_call("list offsets", self.where):
            for attempt in range(6):
                try:
                    res = fastpath.paced(self.client.list_partition_offsets, req)
                    break
                except transient:
                    if attempt == 5:
                        raise
                    time.sleep(0.25 * (attempt + 1))
        return {(tp.topic, tp.partition): int(v.offset) for tp, v in res.items()}

    def leader_offsets(self, by_leader: dict[int, list[TP]], specs: tuple[str | int, ...],
                       ) -> tuple[list[dict[TP, int]], dict[int, str]]:
        """ListOffsets for many partitions whose leaders are known: one request per leader and spec, all
        at once. Returns the offsets per spec, and the leaders that did not answer (their partitions are
        absent). Partitions whose leadership moved are asked again through the library's routing."""
        queries = [{leader: dict.fromkeys(tps, _spec(s)) for leader, tps in by_leader.items() if tps}
                   for s in specs]
        offsets, unanswered, _times = self._list_offsets(queries, with_times=False)
        return offsets, unanswered

    def offsets_for_times(self, queries: list[dict[int, dict[TP, int]]],
                          ) -> tuple[list[dict[TP, tuple[int, int] | None]], dict[int, str]]:
        """For each query (leader -> {partition: time in ms}), the earliest record appended at or after
        that time, as (offset, its timestamp in ms); None when every record is older. Metadata only
        (ListOffsets by timestamp); one request per leader and query, all pipelined, so several probes of
        the same partition cost one round trip."""
        offsets, unanswered, times = self._list_offsets(queries)
        return [{tp: ((o, t.get(tp, -1)) if o >= 0 else None) for tp, o in q.items()}
                for q, t in zip(offsets, times, strict=True)], unanswered

    def _list_offsets(self, queries: list[dict[int, dict[TP, int]]], *, with_times: bool = True,
                      ) -> tuple[list[dict[TP, int]], dict[int, str], list[dict[TP, int]]]:
        if not any(queries):
            return [{} for _ in queries], {}, [{} for _ in queries]
        self.refresh({leader for q in queries for leader in q})
        with kafka_call("list offsets", self.where):
            try:
                if not fastpath.available(self.client):
                    raise AttributeError("no private connection manager")
                answer = fastpath.paced(fastpath.list_offsets, self.client, queries, with_times=with_times)
            except fastpath.FASTPATH_UNAVAILABLE:
                answer = fastpath.OffsetsAnswer([{} for _ in queries], [{} for _ in queries],
                                                moved=[{tp: ts for specs in q.values() for tp, ts in specs.items()}
                                                       for q in queries])
            for i, moved in enumerate(answer.moved):
                if moved:  # leadership moved: one call, the library finds the new leaders
                    for tp, (off, ts) in self._routed_offsets(moved).items():
                        answer.offsets[i][tp] = off
                        answer.timestamps[i][tp] = ts
        return answer.offsets, answer.unanswered, answer.timestamps

    def _routed_offsets(self, specs: dict[TP, int]) -> dict[TP, tuple[int, int]]:
        """Offsets of partitions whose leadership moved. A partition that still answers with a retriable
        error is left out (unknown for now, as for a leader that does not answer): e.g. a new leader
        whose ISR is below min.insync.replicas answers OFFSET_NOT_AVAILABLE for as long as that lasts
        (Kafka 4's eligible leader replicas do not advance its high watermark), and one such partition
        must not make every other partition's offsets unknown."""
        from kafka import TopicPartition
        from kafka.errors import KafkaError

        asked = {TopicPartition(t, p): ts for (t, p), ts in specs.items()}
        try:
            res = fastpath.paced(self.client.list_partition_offsets, asked)
        except KafkaError as exc:
            if not exc.retriable:
                raise
            res = {}
            for tp, ts in asked.items():  # find which partitions answer
                try:
                    res.update(fastpath.paced(self.client.list_partition_offsets, {tp: ts}))
                except KafkaError as one:
                    if not one.retriable:
                        raise
        return {(tp.topic, tp.partition): (int(v.offset), _timestamp(v)) for tp, v in res.items()}

    # -- consumer groups ---------------------------------------------------------------------
    def consumer_groups(self, brokers: Iterable[int] | None = None) -> list[str]:
        """Groups using Kafka's consumer protocol (ListGroups on every broker, or on `brokers`). A broker
        that does not answer is skipped when others do: its groups' coordinators move to live brokers."""
        with kafka_call("list groups", self.where):
            try:
                listed = fastpath.paced(self._list_groups, list(brokers) if brokers is not None else None)
            except kafka_error_types() as exc:
                if not is_outage(exc):
                    raise
                ids = sorted(brokers) if brokers is not None else sorted(self.cluster().live())
                listed, silent = [], []
                for b in ids:
                    try:
                        listed.extend(fastpath.paced(self._list_groups, [b]))
                    except kafka_error_types() as one:
                        if not is_outage(one):
                            raise
                        silent.append(b)
                if len(silent) == len(ids):
                    raise
        return sorted({g["group_id"] for g in listed if g.get("protocol_type", "consumer") in ("consumer", "")})

    def _list_groups(self, brokers: list[int] | None) -> list[dict[str, Any]]:
        if fastpath.available(self.client):
            with contextlib.suppress(*fastpath.FASTPATH_UNAVAILABLE):
                return fastpath.list_groups(self.client, brokers)
        listed: list[dict[str, Any]] = self.client.list_groups(*([brokers] if brokers is not None else []))
        return listed

    def _describe_groups(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if fastpath.available(self.client):
            with contextlib.suppress(*fastpath.FASTPATH_UNAVAILABLE):
                return fastpath.describe_groups(self.client, ids)
        described: dict[str, dict[str, Any]] = self.client.describe_groups(ids)
        return described

    def describe_groups(self, ids: list[str]) -> dict[str, GroupInfo]:
        if not ids:
            return {}
        with kafka_call("describe groups", self.where):
            try:
                described = fastpath.paced(self._describe_groups, ids)
            except kafka_error_types() as exc:  # a coordinator that died: the others' groups still answer
                if len(ids) == 1:
                    raise
                described = {}
                for gid in ids:
                    with contextlib.suppress(*kafka_error_types()):
                        described.update(fastpath.paced(self.client.describe_groups, [gid]))
                if not described:
                    raise exc from None
        out: dict[str, GroupInfo] = {}
        for gid in ids:
            d = (described.get(gid) if isinstance(described, dict) else None) or {}
            members = d.get("members")
            assigned: dict[str, int] = defaultdict(int)
            for m in members or []:
                for topic in _assigned_topics(m.get("member_assignment")):
                    assigned[topic] += 1
            out[gid] = GroupInfo(group=gid, state=d.get("group_state") or d.get("state"),
                                 members=len(members) if members is not None else None,
                                 protocol_type=d.get("protocol_type"), assigned=dict(assigned))
        return out

    def group_offsets(self, ids: list[str]) -> tuple[dict[str, dict[TP, int | None]], dict[str, str]]:
        """Committed offsets per group (None: nothing committed), batched per coordinator. A group whose
        OffsetFetch fails is retried alone and, if it fails again, reported in the second dict."""
        if not ids:
            return {}, {}
        errors: dict[str, str] = {}
        asked, alone = ids, len(ids) == 1
        fast: dict[str, dict[TP, int | None]] = {}
        with contextlib.suppress(*fastpath.FASTPATH_UNAVAILABLE, *kafka_error_types()):
            if fastpath.available(self.client):
                fast, ids = fastpath.paced(fastpath.group_offsets, self.client, ids)
        if not ids:  # every group answered through the fast path; the others are asked as before
            return {gid: fast[gid] for gid in asked if gid in fast}, errors
        try:
            raw = fastpath.paced(self.client.list_group_offsets, ids)
        except kafka_error_types() as exc:
            if is_outage(exc) and alone:
                raise translate(exc, "fetch group offsets", self.where) from None
            raw = {}
            for gid in ids:  # one bad group must not hide the others
                try:
                    raw.update(fastpath.paced(self.client.list_group_offsets, [gid]))
                except kafka_error_types() as one:
                    errors[gid] = type(one).__name__
        out = {gid: {(tp.topic, tp.partition): (int(om.offset) if om.offset is not None and om.offset >= 0 else None)
                     for tp, om in tps.items()} for gid, tps in raw.items()}
        fast.update(out)
        return {gid: fast[gid] for gid in asked if gid in fast}, errors

    # -- reassignments -----------------------------------------------------------------------
    def reassignments(self) -> dict[TP, Reassignment]:
        """Partition reassignments in flight (controller-routed)."""
        raw = self._to_controller("list partition reassignments", self.client.list_partition_reassignments)
        return {(tp.topic, tp.partition): Reassignment(list(v.get("replicas", [])), list(v.get("adding_replicas", [])),
                                                       list(v.get("removing_replicas", [])))
                for tp, v in raw.items()}

    def _to_controller(self, what: str, fn: Any, *args: Any, write: bool = False, **kw: Any) -> Any:
        """Controller-routed calls: a cached controller that died is forgotten and the call retried once."""
        try:
            return fn(*args, **kw)
        except kafka_error_types():
            fastpath.forget_controller(self.client)
        with kafka_call(what, self.where, write=write):
            return fn(*args, **kw)

    # -- writes ------------------------------------------------------------------------------
    def create_topic(self, name: str, partitions: int | None = None, replication: int | None = None, *,
                     assignment: dict[int, list[int]] | None = None, configs: dict[str, str] | None = None) -> bool:
        """CreateTopics; False if the topic already exists (used as it is)."""
        from kafka.errors import TopicAlreadyExistsError

        spec: dict[str, Any] = {"configs": dict(configs or {})}
        if assignment:
            spec["assignments"] = {int(p): list(r) for p, r in assignment.items()}
        else:
            spec["num_partitions"] = partitions if partitions is not None else -1
            spec["replication_factor"] = replication if replication is not None else -1
        with kafka_call(f"create topic {name}", self.where, write=True):
            try:
                fastpath.paced(self.client.create_topics, {name: spec})
            except TopicAlreadyExistsError:
                return False
        return True

    def alter_group_offsets(self, group: str, offsets: dict[TP, int]) -> dict[TP, str]:
        """OffsetCommit on behalf of an empty group (a group with live members refuses it): the error
        name per partition that was not committed, empty when all were."""
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        if not offsets:
            return {}
        req = {TopicPartition(t, p): OffsetAndMetadata(o, "", None) for (t, p), o in offsets.items()}
        with kafka_call(f"{group}: commit offsets", self.where, write=True):
            res = fastpath.paced(self.client.alter_group_offsets, group, req)
        return {(tp.topic, tp.partition): err.__name__ for tp, err in res.items()
                if getattr(err, "errno", 0) != 0}

    def create_partitions(self, topic: str, count: int) -> None:
        with kafka_call(f"{topic}: CreatePartitions to {count}", self.where, write=True):
            fastpath.paced(self.client.create_partitions, {topic: count})

    def alter_configs(self, *, brokers: dict[int, dict[str, str | None]] | None = None,
                      topics: dict[str, dict[str, str | None]] | None = None, check_keys: bool = False) -> None:
        """IncrementalAlterConfigs: a None value deletes the key (back to the default). `check_keys`
        refuses keys that are not dynamic configs before sending anything."""
        from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType

        def ops(cfg: dict[str, str | None]) -> dict[str, Any]:
            return {k: ((AlterConfigOp.DELETE, None) if v is None else (AlterConfigOp.SET, v)) for k, v in cfg.items()}

        resources = [ConfigResource(ConfigResourceType.BROKER, str(b), ops(cfg)) for b, cfg in
                     sorted((brokers or {}).items())]
        resources += [ConfigResource(ConfigResourceType.TOPIC, t, ops(cfg))
                      for t, cfg in sorted((topics or {}).items())]
        if not resources:
            return
        what = "IncrementalAlterConfigs"
        try:
            with kafka_call(what, self.where, write=True):
                result = None
                if not check_keys and fastpath.available(self.client):
                    with contextlib.suppress(*fastpath.FASTPATH_UNAVAILABLE):
                        result = fastpath.paced(fastpath.alter_configs, self.client, resources)
                if result is None:
                    result = fastpath.paced(self.client.alter_configs, resources, raise_on_unknown=check_keys,
                                            incremental=True)
        except ValueError as exc:  # an unknown or read-only key, found by `check_keys`
            raise OperationFailed(f"{what} failed on {self.where}: {exc}") from None
        bad = [f"{kind} {name}: {res}" for kind, by_name in result.items() for name, res in by_name.items()
               if res != "OK"]
        if bad:
            raise OperationFailed(f"{what} failed on {self.where}: {bad[0]}")

    def alter_reassignments(self, changes: dict[TP, list[int] | None]) -> dict[TP, str]:
        """Start (a replica list) or cancel (None) reassignments; returns the partitions refused, with why."""
        from kafka import TopicPartition

        if not changes:
            return {}
        result = self._to_controller("alter partition reassignments", self.client.alter_partition_reassignments,
                                     {TopicPartition(t, p): r for (t, p), r in changes.items()}, write=True)
        return {(tp.topic, tp.partition): err.__name__ for tp, err in result.items() if err is not None}

    def elect_preferred(self, partitions: list[TP]) -> bool:
        """Preferred-leader election; False if it failed (harmless: the controller's automatic leader
        rebalance elects preferred leaders later)."""
        if not partitions:
            return True
        by_topic: dict[str, list[int]] = defaultdict(list)
        for t, p in partitions:
            by_topic[t].append(p)
        try:
            fastpath.paced(self.client.elect_leaders, 0, dict(by_topic), raise_errors=False)
        except kafka_error_types():
            return False
        return True


def _parse_log_dirs(broker: int, entries: list[dict[str, Any]], read_at: float) -> BrokerLogDirs:
    out = BrokerLogDirs(broker=broker, read_at=read_at)
    total = usable = 0
    dirs = 0
    for entry in entries:
        for d in entry.get("log_dirs", []):
            path = str(d.get("log_dir", ""))
            if d.get("error_code"):
                out.failed_dirs.append(path)
                continue
            dirs += 1
            if (d.get("total_bytes") or -1) > 0:
                total += int(d["total_bytes"])
            if (d.get("usable_bytes") or -1) >= 0:
                usable += int(d["usable_bytes"])
            for t in d.get("topics", []):
                for p in t.get("partitions", []):
                    rep = ReplicaLog(topic=t["name"], partition=int(p["partition_index"]), broker=broker,
                                     size=int(p.get("partition_size", 0)), offset_lag=int(p.get("offset_lag", 0)),
                                     future=bool(p.get("is_future_key")), log_dir=path)
                    (out.future if rep.future else out.replicas).append(rep)
    if out.failed_dirs and not dirs:
        out.error = f"every log dir failed ({', '.join(out.failed_dirs)})"
    out.total_bytes = total or None
    out.usable_bytes = usable if total else None
    return out


def _assigned_topics(assignment: Any) -> list[str]:
    if assignment is None:
        return []
    parts = getattr(assignment, "assigned_partitions", None) or getattr(assignment, "partitions", None)
    if parts is None and isinstance(assignment, dict):
        parts = assignment.get("assigned_partitions") or assignment.get("partitions")
    topics: list[str] = []
    for item in parts or []:
        name = getattr(item, "topic", None) or (item.get("topic") if isinstance(item, dict) else None)
        if name is None and isinstance(item, (tuple, list)) and item:
            name = item[0]
        if isinstance(name, str):
            topics.append(name)
    return topics
