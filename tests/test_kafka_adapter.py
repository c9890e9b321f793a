"""The Kafka admin adapter against the real cluster: every read and write, checked against Kafka's own
tools or the data plane (confluent-kafka), the private fast paths against their public fallbacks, and
a broker killed just before DescribeLogDirs."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from brokerscale.connect import ConnectionProfile
from brokerscale.errors import OperationFailed, Unreachable
from brokerscale.kafka import KafkaAdmin, is_internal
from cluster_health import wait_healthy

pytestmark = pytest.mark.kafka


def _tool(name: str, *args: str) -> str:
    from brokerscale.dev.tools import run_tool

    res = run_tool(name, list(args), timeout=180)
    assert res.returncode == 0, res.stderr[-1500:]
    return res.stdout


def _produce(bootstrap: str, topic: str, per_partition: dict[int, int], *, size: int = 1000,
             timestamp_ms: int | None = None) -> None:
    """Synthetic records through the data plane (no PHI), acknowledged by all in-sync replicas."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for part, n in per_partition.items():
        for i in range(n):
            p.produce(topic, b"x" * size, key=str(i).encode(), partition=part,
                      **({"timestamp": timestamp_ms + i} if timestamp_ms is not None else {}))
    assert p.flush(60) == 0


def _commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        for attempt in range(30):  # the first commit of a session creates __consumer_offsets
            try:
                c.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
                return
            except KafkaException:
                if attempt == 29:
                    raise
                time.sleep(1)
    finally:
        c.close()


class NoFastPath:
    """The same kafka-python client with its private connection manager hidden: the adapter must fall
    back to the public API and give the same answers."""

    def __init__(self, client: Any) -> None:
        self._inner = client

    def __getattr__(self, name: str) -> Any:
        if name == "_manager":
            raise AttributeError(name)
        return getattr(self._inner, name)


@pytest.fixture(scope="module")
def admin(kafka_cluster: Any) -> Iterator[KafkaAdmin]:
    with ConnectionProfile(kafka_cluster.bootstrap).admin() as a:
        yield a


@pytest.fixture(scope="module")
def topic(admin: KafkaAdmin, kafka_cluster: Any) -> Iterator[str]:
    """3 partitions with an explicit assignment, 50/30/0 records of 1 KB."""
    name = "adapter.reads"
    assert admin.create_topic(name, assignment={0: [1, 2, 3], 1: [2, 3, 1], 2: [3, 1, 2]},
                              configs={"retention.ms": str(7 * 86_400_000)})
    admin.wait_for_topics([name])
    _produce(kafka_cluster.bootstrap, name, {0: 50, 1: 30})
    yield name
    admin.client.delete_topics([name])


def test_cluster_id_brokers_and_racks(admin: KafkaAdmin, bootstrap: str) -> None:
    info = admin.cluster()
    assert info.cluster_id == _tool("kafka-cluster", "cluster-id", "--bootstrap-server", bootstrap).split()[-1]
    racks = {b.id: b.rack for b in info.brokers}
    assert {1: "a", 2: "b", 3: "c"}.items() <= racks.items()
    assert {1, 2, 3} <= info.live()


def test_topics_replicas_leaders_and_isr_match_kafka_topics(admin: KafkaAdmin, topic: str, bootstrap: str) -> None:
    (t,) = admin.topics([topic])
    assert [p.replicas for p in t.partitions] == [[1, 2, 3], [2, 3, 1], [3, 1, 2]]  # assignment order kept
    described = _tool("kafka-topics", "--bootstrap-server", bootstrap, "--describe", "--topic", topic)
    for p in t.partitions:
        line = next(ln for ln in described.splitlines() if re.search(rf"Partition:\s+{p.partition}\s", ln))
        assert f"Leader: {p.leader}" in line
        isr = re.search(r"Isr: ([\d,]+)", line)
        assert isr is not None and sorted(map(int, isr.group(1).split(","))) == sorted(p.isr)
    assert topic in admin.topic_names()
    assert is_internal("__consumer_offsets") and is_internal("_schemas") and not is_internal(topic)


def test_metadata_and_offsets_fast_paths_equal_their_fallbacks(admin: KafkaAdmin, topic: str) -> None:
    slow = KafkaAdmin(NoFastPath(admin.client), "no fast path")
    assert slow.topics([topic]) == admin.topics([topic])
    by_leader: dict[int, list[tuple[str, int]]] = {}
    for p in admin.topics([topic])[0].partitions:
        assert p.leader is not None
        by_leader.setdefault(p.leader, []).append((topic, p.partition))
    fast, silent = admin.leader_offsets(by_leader, ("LATEST", "EARLIEST"))
    assert silent == {}
    assert fast == slow.leader_offsets(by_leader, ("LATEST", "EARLIEST"))[0]
    assert fast[0] == {(topic, 0): 50, (topic, 1): 30, (topic, 2): 0}
    assert fast[1] == dict.fromkeys(fast[0], 0)
    assert admin.offsets(list(fast[0])) == fast[0]  # the library's own routing agrees


def test_log_dirs_size_every_replica(admin: KafkaAdmin, topic: str) -> None:
    dirs = admin.log_dirs([1, 2, 3], [topic])
    assert dirs.failed == {}
    for b in (1, 2, 3):
        d = dirs.brokers[b]
        assert d.total_bytes and d.total_bytes > 0 and d.future == []
        sizes = dirs.size_on(b)
        assert set(sizes) == {(topic, 0), (topic, 1), (topic, 2)}  # RF 3 over 3 brokers
        assert sizes[(topic, 2)] == 0
    largest = dirs.largest_copy()
    assert largest[(topic, 0)] > 50 * 1000 and largest[(topic, 1)] > 30 * 1000
    assert largest[(topic, 0)] > largest[(topic, 1)]


def test_offsets_for_times_finds_the_first_record_at_or_after(admin: KafkaAdmin, kafka_cluster: Any) -> None:
    name = "adapter.times"
    admin.create_topic(name, 1, 1)
    admin.wait_for_topics([name])
    base = int(time.time() * 1000) - 3_600_000
    _produce(kafka_cluster.bootstrap, name, {0: 10}, size=100, timestamp_ms=base)  # record i at base + i ms
    leader = admin.topics([name])[0].partitions[0].leader
    assert leader is not None
    tp = (name, 0)
    found, silent = admin.offsets_for_times([{leader: {tp: base + 4}}, {leader: {tp: base - 10_000}},
                                             {leader: {tp: base + 60_000}}])
    assert silent == {}
    # at/after base+4 ms; before all; after all (None); each with the found record's own time
    assert found == [{tp: (4, base + 4)}, {tp: (0, base)}, {tp: None}]
    admin.client.delete_topics([name])


def test_groups_and_committed_offsets(admin: KafkaAdmin, topic: str, bootstrap: str) -> None:
    _commit(bootstrap, "adapter-group", topic, {0: 20, 1: 30})
    assert "adapter-group" in admin.consumer_groups()
    assert "__consumer_offsets" in admin.topic_names(include_internal=True)
    assert "__consumer_offsets" not in admin.topic_names()
    info = admin.describe_groups(["adapter-group"])["adapter-group"]
    assert info.members == 0 and info.state == "Empty"
    committed, errors = admin.group_offsets(["adapter-group"])
    assert errors == {}
    assert committed["adapter-group"] == {(topic, 0): 20, (topic, 1): 30}
    # the fast path (every coordinator's OffsetFetch at once, read by kafka.wire) and the library's agree,
    # also for a group with nothing committed and a group that does not exist
    slow = KafkaAdmin(NoFastPath(admin.client), "no fast path")
    everyone = [*admin.consumer_groups(), "adapter-no-such-group"]
    assert admin.group_offsets(everyone) == slow.group_offsets(everyone)
    assert admin.group_offsets(["adapter-no-such-group"]) == ({"adapter-no-such-group": {}}, {})
    described = _tool("kafka-consumer-groups", "--bootstrap-server", bootstrap, "--describe", "--group",
                      "adapter-group")
    row = next(ln.split() for ln in described.splitlines() if ln.split()[:3] == ["adapter-group", topic, "0"])
    assert row[3:6] == ["20", "50", "30"]  # committed, log end, lag: the same figures Kafka's tool shows


def test_topic_configs_set_and_delete(admin: KafkaAdmin, topic: str, bootstrap: str) -> None:
    admin.alter_configs(topics={topic: {"retention.ms": "3600000", "min.insync.replicas": "2"}})
    want = {"retention.ms": "3600000", "min.insync.replicas": "2", "cleanup.policy": "delete"}
    got: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while got != want and time.monotonic() < deadline:  # brokers apply the controller's record shortly after
        got = admin.topic_configs([topic], list(want))[topic]
        time.sleep(0.2)
    assert got == want
    shown = _tool("kafka-configs", "--bootstrap-server", bootstrap, "--describe", "--entity-type", "topics",
                  "--entity-name", topic)
    assert "retention.ms=3600000" in shown
    admin.alter_configs(topics={topic: {"min.insync.replicas": None}})  # back to the broker's default
    deadline = time.monotonic() + 30
    while admin.topic_configs([topic], ["min.insync.replicas"], only_set=True)[topic] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert admin.topic_configs([topic], ["min.insync.replicas"], only_set=True)[topic] == {}
    with pytest.raises(OperationFailed, match="IncrementalAlterConfigs failed"):
        admin.alter_configs(topics={topic: {"retention.mss": "1"}}, check_keys=True)


def test_broker_configs_all_in_flight_answer_like_the_librarys_one_by_one(admin: KafkaAdmin, topic: str) -> None:
    """The fast path sends every broker's IncrementalAlterConfigs at once: per resource, the same answer
    as kafka-python's requests one after another, a refused value included (validate-only: nothing set)."""
    from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType

    from brokerscale.kafka import fastpath

    def resources() -> list[Any]:
        rate = {"leader.replication.throttled.rate": (AlterConfigOp.SET, "10000000")}
        return [ConfigResource(ConfigResourceType.BROKER, "1", rate),
                ConfigResource(ConfigResourceType.BROKER, "2", {"leader.replication.throttled.rate":
                                                                (AlterConfigOp.SET, "-5")}),
                ConfigResource(ConfigResourceType.BROKER, "3", rate),
                ConfigResource(ConfigResourceType.TOPIC, topic, {"follower.replication.throttled.replicas":
                                                                 (AlterConfigOp.SET, "0:1")})]

    fast = fastpath.alter_configs(admin.client, resources(), validate_only=True)
    slow = admin.client.alter_configs(resources(), validate_only=True, raise_on_unknown=False, incremental=True)
    assert fast == slow
    assert fast["broker"]["1"] == fast["broker"]["3"] == "OK" and fast["topic"][topic] == "OK"
    assert fast["broker"]["2"] != "OK"
    for where in (admin, KafkaAdmin(NoFastPath(admin.client), "no fast path")):
        with pytest.raises(OperationFailed, match=r"IncrementalAlterConfigs failed .*broker 2"):
            where.alter_configs(brokers={2: {"leader.replication.throttled.rate": "-5"}})
    assert admin.throttle_configs([1, 2, 3], [topic]) == {}


def test_create_partitions_and_its_refusal(admin: KafkaAdmin, kafka_cluster: Any) -> None:
    name = "adapter.grow"
    assert admin.create_topic(name, 2, 2)
    assert not admin.create_topic(name, 2, 2)  # exists: used as it is
    admin.wait_for_topics([name])
    admin.create_partitions(name, 5)
    deadline = time.monotonic() + 30
    while len(admin.topics([name])[0].partitions) != 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(admin.topics([name])[0].partitions) == 5
    with pytest.raises(OperationFailed, match="InvalidPartitionsError"):
        admin.create_partitions(name, 3)
    assert admin.missing_topics([name, "adapter.never-created"]) == ["adapter.never-created"]
    admin.client.delete_topics([name])


def test_throttles_reassignment_in_flight_cancel_and_election(admin: KafkaAdmin, kafka_cluster: Any) -> None:
    name = "adapter.move"
    admin.create_topic(name, assignment={0: [1, 2]})
    admin.wait_for_topics([name])
    _produce(kafka_cluster.bootstrap, name, {0: 300}, size=1000)
    admin.alter_configs(brokers={b: {"leader.replication.throttled.rate": "1000",
                                     "follower.replication.throttled.rate": "1000"} for b in (1, 2, 3)},
                        topics={name: {"leader.replication.throttled.replicas": "*",
                                       "follower.replication.throttled.replicas": "*"}})
    try:
        shown: dict[str, dict[str, str]] = {}
        deadline = time.monotonic() + 30
        while len(shown) < 4 and time.monotonic() < deadline:
            shown = admin.throttle_configs([1, 2, 3], [name])
            time.sleep(0.2)
        assert shown["broker 1"] == {"leader.replication.throttled.rate": "1000",
                                     "follower.replication.throttled.rate": "1000"}
        assert shown[f"topic {name}"]["follower.replication.throttled.replicas"] == "*"
        assert admin.alter_reassignments({(name, 0): [3, 2]}) == {}
        moving = admin.reassignments()[(name, 0)]  # 300 KB at 1 KB/s: still in flight
        assert moving.adding == [3] and moving.removing == [1] and set(moving.replicas) == {1, 2, 3}
        assert admin.alter_reassignments({(name, 0): None}) == {}  # cancel
        deadline = time.monotonic() + 30
        while (name, 0) in admin.reassignments() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (name, 0) not in admin.reassignments()
        assert sorted(admin.topics([name])[0].partitions[0].replicas) == [1, 2]  # Kafka may reorder them
        assert admin.elect_preferred([(name, 0)])
    finally:
        admin.alter_configs(brokers={b: dict.fromkeys(("leader.replication.throttled.rate",
                                                       "follower.replication.throttled.rate")) for b in (1, 2, 3)},
                            topics={name: dict.fromkeys(("leader.replication.throttled.replicas",
                                                         "follower.replication.throttled.replicas"))})
    deadline = time.monotonic() + 30
    while admin.throttle_configs([1, 2, 3], [name]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert admin.throttle_configs([1, 2, 3], [name]) == {}
    admin.client.delete_topics([name])


def test_unreachable_cluster_is_one_outage_line() -> None:
    with pytest.raises(Unreachable, match=r"127\.0\.0\.1:1") as info:
        ConnectionProfile("127.0.0.1:1").admin(timeout_s=2)
    assert info.value.exit_code == 69


@pytest.fixture(scope="module")
def extra_broker(kafka_cluster: Any) -> Iterator[Callable[[], int]]:
    """A fourth broker for this module, added on first use (the kill test kills and removes it)."""
    added: list[int] = []

    def get() -> int:
        if not added:
            added.append(kafka_cluster.add_broker())
        return added[0]

    try:
        yield get
    finally:
        if added and added[0] in [b.id for b in kafka_cluster.brokers]:
            kafka_cluster.stop_broker(added[0])
            kafka_cluster.remove_broker(added[0])
        if added:
            wait_healthy(kafka_cluster)


def test_exporter_picks_up_an_added_broker_without_errors(kafka_cluster: Any, extra_broker: Callable[[], int],
                                                          admin: KafkaAdmin) -> None:
    """The exporter's client connected before the broker existed; a topic led by the new broker must be
    observed without 'observation failed' (UnknownBrokerIdError) and without a restart."""
    import threading

    import httpx

    from brokerscale.observe.collect import Observer
    from brokerscale.observe.exporter import serve
    from brokerscale.observe.rules import load_rules

    obs = Observer(ConnectionProfile(kafka_cluster.bootstrap), load_rules())
    obs.admin()  # connected before the topic on the new broker exists
    stop = threading.Event()
    collector, server = serve(obs, 0, 0.5, stop)
    port = server.server_address[1]
    name = "adapter.on-new-broker"
    try:
        deadline = time.monotonic() + 180  # rounds take seconds each on a busy machine
        while collector.latest is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert collector.latest is not None, collector.last_error
        new = extra_broker()  # `dev add-broker` while the exporter runs
        admin.refresh([new])
        admin.create_topic(name, assignment={0: [new], 1: [new]})
        admin.wait_for_topics([name])
        errors: list[str] = []
        seen = False
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not seen:
            if collector.last_error:
                errors.append(collector.last_error)
            r = collector.latest
            assert r is not None
            topic = next((t for t in r.snapshot.topics if t.name == name), None)
            seen = topic is not None and all(p.log_end_offset is not None for p in topic.partitions) and any(
                b.id == new and b.disk_used_bytes is not None for b in r.snapshot.brokers)
            time.sleep(0.2)
        assert seen and errors == [], (seen, errors, collector.latest.snapshot.brokers if collector.latest else None)
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert 'brokerscale_up{cluster="' in body and '"} 1.0' in body
    finally:
        stop.set()
        server.shutdown()
        obs.close()
        admin.client.delete_topics([name])


def test_a_killed_broker_is_reported_not_sized_zero_and_check_says_critical(
        admin: KafkaAdmin, kafka_cluster: Any, extra_broker: Callable[[], int], cli: Any) -> None:
    """Kill a broker that holds replicas: DescribeLogDirs reports it (its replicas unknown, never 0 bytes),
    the others still size theirs, and `check`, polled once a second from the kill until the controller
    has long fenced it, answers CRITICAL naming the broker every time — never UNKNOWN."""
    from brokerscale.balance.live import model_from_admin
    from brokerscale.observe.kafka_source import collect

    extra = extra_broker()
    name, alone = "adapter.down", "adapter.down-alone"
    try:
        admin.refresh()
        admin.create_topic(name, assignment={0: [extra, 1], 1: [1, extra]})
        admin.create_topic(alone, assignment={0: [extra]})
        admin.wait_for_topics([name, alone])
        _produce(kafka_cluster.bootstrap, name, {0: 40, 1: 40})
        _produce(kafka_cluster.bootstrap, alone, {0: 40})
        kafka_cluster.stop_broker(extra, kill=True)
        killed_at = time.monotonic()
        dirs = admin.log_dirs([1, 2, 3, extra], [name, alone])
        assert set(dirs.failed) == {extra}
        assert dirs.brokers[extra].used_bytes is None  # unknown, not 0
        assert dirs.largest_copy()[(name, 0)] > 40 * 1000  # the other copy still sizes the partition
        assert (alone, 0) not in dirs.largest_copy()

        # Before the controller fences the silent broker (6 s) and after: at least three answers, the
        # last one begun well after fencing (a busy machine makes each check slower than a second).
        answers: list[tuple[float, int, str]] = []
        while len(answers) < 3 or answers[-1][0] < 10:
            started = time.monotonic()
            assert started - killed_at < 180, answers
            code, out, _ = cli("check", "-b", kafka_cluster.bootstrap, "--no-history", "--interval", "1s")
            answers.append((round(started - killed_at, 1), code, out.splitlines()[0] if out else ""))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        for at, code, line in answers:
            assert code == 2 and line.startswith("CRITICAL") and f"broker {extra}" in line, (at, code, line)

        model = model_from_admin(admin, topics=re.escape(name))
        assert all(s > 40 * 1000 for s in model.sizes)
        with pytest.raises(Unreachable, match=rf"{re.escape(alone)}-0 is unknown.*broker {extra}"):
            model_from_admin(admin, topics=re.escape(alone))
        view = collect(admin, configs=False, groups=False)
        down = next(b for b in view.brokers if b.id == extra)
        assert not down.alive and down.disk_used_bytes is None
        assert next(b for b in view.brokers if b.id == 1).disk_used_bytes
    finally:
        admin.client.delete_topics([name, alone])
        kafka_cluster.remove_broker(extra)
        wait_healthy(kafka_cluster)
