"""Multi-region on real clusters: two local Apache Kafka clusters (one broker each, to spare the
machine), MirrorMaker 2 from Kafka's own jars between them, managed by `brokerscale dr`.

Truth is measured with tools brokerscale did not write: Kafka's GetOffsetShell for log-end offsets,
record timestamps read by a librdkafka consumer (synthetic records only), and the producer's own
delivery reports for what was acknowledged.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from brokerscale.dev.cluster import DevCluster
from brokerscale.dev.tools import run_tool
from brokerscale.dr.process import FlowProcess

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[DevCluster, DevCluster]]:
    east = DevCluster.up(f"drt-east-{os.getpid()}", brokers=1, racks=["a"])
    try:
        west = DevCluster.up(f"drt-west-{os.getpid()}", brokers=1, racks=["a"])
    except BaseException:
        east.down()
        raise
    try:
        yield east, west
    finally:
        from brokerscale.dr.flows import saved_topology_path
        from brokerscale.dr.process import known_flows

        for f in known_flows():
            f.stop(timeout=10)
        # Forget the started topology as `dr down` does: later tests share this data dir, and `check`
        # and the dashboard judge the flows of a started topology.
        saved_topology_path().unlink(missing_ok=True)
        west.down()
        east.down()


def _topology(tmp: Path, name: str, east: DevCluster, west: DevCluster, *, src: str, dst: str,
              west_jurisdiction: str, flow: str, topics: list[str], extra: str = "") -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(f"""version: 1
clusters:
  {src}: {{dev: {east.name}, region: us-east-1, jurisdiction: US}}
  {dst}: {{dev: {west.name}, region: elsewhere-1, jurisdiction: {west_jurisdiction}}}
flows:
  {flow}:
    source: {src}
    target: {dst}
    topics: {json.dumps(topics)}
    groups: ['.*']
    replication_factor: 1
{extra}""")
    return path


def _create(cluster: DevCluster, topic: str, partitions: int = 3) -> None:
    from brokerscale.connect import ConnectionProfile

    with ConnectionProfile(cluster.bootstrap).admin() as admin:
        admin.create_topic(topic, partitions, 1)
        admin.wait_for_topics([topic])


def _produce(cluster: DevCluster, topic: str, count: int) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "enable.idempotence": True})
    for i in range(count):
        p.produce(topic, key=f"SYN{i % 50}".encode(), value=b"x" * 200)
    assert p.flush(60) == 0


def _ends(cluster: DevCluster, topic: str) -> dict[int, int]:
    """Log-end offsets per partition, by Kafka's own GetOffsetShell."""
    res = run_tool("kafka-get-offsets", ["--bootstrap-server", cluster.bootstrap, "--topic", topic], timeout=120)
    out = {}
    for line in res.stdout.split():
        t, p, o = line.rsplit(":", 2)
        if t == topic:
            out[int(p)] = int(o)
    return out


def _read_to_end(consumer: Any, partitions: int) -> tuple[dict[int, int], dict[int, int], int, set[int]]:
    """Read with `consumer` (enable.partition.eof on) until it reports the end of `partitions` partitions
    or 120 s pass, then close it: the first and last offset read per partition, how many records, and the
    partitions whose end it reached."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    got = 0
    at_end: set[int] = set()
    deadline = time.monotonic() + 120
    while len(at_end) < partitions and time.monotonic() < deadline:
        msg = consumer.poll(2)
        if msg is None:
            continue
        if msg.error() is not None:
            at_end.add(msg.partition())
            continue
        first.setdefault(msg.partition(), msg.offset())
        last[msg.partition()] = msg.offset()
        got += 1
    consumer.close()
    return first, last, got, at_end


def _records_between(cluster: DevCluster, topic: str, start: dict[int, int], end: dict[int, int]) -> list[int]:
    """The numbers (in the value: synthetic records) of the records at offsets start..end-1 per partition."""
    from confluent_kafka import Consumer, TopicPartition

    todo = {p: (start.get(p, 0), e) for p, e in end.items() if e > start.get(p, 0)}
    out: list[int] = []
    if not todo:
        return out
    c = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "drt-truth", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, p, s) for p, (s, _) in todo.items()])
        left = {p: e - s for p, (s, e) in todo.items()}
        deadline = time.monotonic() + 120
        while any(left.values()):
            assert time.monotonic() < deadline, f"read only part of the records only on {cluster.name}: {left}"
            msg = c.poll(2)
            if msg is None or msg.error() is not None or msg.offset() >= todo[msg.partition()][1]:
                continue
            out.append(int(msg.value()[:9]))
            left[msg.partition()] -= 1
    finally:
        c.close()
    return out


def _topics(cluster: DevCluster) -> set[str]:
    from brokerscale.connect import ConnectionProfile

    with ConnectionProfile(cluster.bootstrap).admin() as admin:
        return set(admin.topic_names())


def _until(what: str, check: Any, timeout: float = 180.0, every: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def test_phi_topic_into_disallowed_jurisdiction_is_refused_before_anything_starts(
        clusters: tuple[DevCluster, DevCluster], tmp_path: Path, cli: Any) -> None:
    east, west = clusters
    _create(east, "clinical.refused-adt", 1)
    topo = _topology(tmp_path, "eu", east, west, src="usa", dst="europe", west_jurisdiction="EU",
                     flow="to-eu", topics=["clinical\\..*", "ops\\..*"],
                     extra="data_sovereignty:\n  phi_jurisdictions: [US]\n")
    code, out, err = cli("dr", "up", "--topology", topo, "--apply")
    assert code == 2, (out, err)
    assert "clinical.refused-adt" in err and "PHI class clinical" in err and "jurisdiction EU" in err
    assert "nothing was started" in err
    assert not FlowProcess("to-eu").root.exists() and not FlowProcess("to-eu").mm2_alive()
    assert not any(t.startswith("mm2-") for t in _topics(west))


def test_a_stopped_flow_blocks_the_autoscalers_scale_down_of_its_source(
        clusters: tuple[DevCluster, DevCluster], healthy_cluster: Any, tmp_path: Path, cli: Any) -> None:
    """The session's 3-broker cluster is the source of a flow whose MirrorMaker is not running (as
    `dr status` shows): a dry run of `scale run` over a cost cap of 1 broker decides a scale-down and
    logs the "replication healthy" pre-check failing, and the cluster keeps its brokers."""
    _east, west = clusters
    shared = healthy_cluster.name
    topo = _topology(tmp_path, "guard", healthy_cluster, west, src="clinic", dst="drsite", west_jurisdiction="US",
                     flow="clinic-dr", topics=["clinical\\..*"])
    code, out, err = cli("dr", "status", "--topology", topo, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["flows"][0]["state"] == "stopped"
    policy = tmp_path / "policy.yaml"
    policy.write_text("unit: broker\nmin_units: 1\nmax_units: 1\n")
    alive = sorted(b.id for b in healthy_cluster.brokers if b.alive)
    code, out, err = cli("scale", "run", "--target", "selfmanaged", "--cluster", shared, "--policy", policy,
                         "--topology", topo, "--interval", "2s", "--duration", "1s")
    assert code == 0, (out, err)
    assert "replication: clinic-dr (clinic -> drsite, stopped) of " in out, out
    assert "pre-check replication healthy: FAIL (critical: replication flow clinic-dr (clinic -> drsite) is " \
           "stopped: the target falls behind. No scale-down" in out, out
    assert "would not act: pre-checks failed (replication healthy)" in out, out
    assert re.search(r"broker (\d+): down \1 -> \d+: above the cost cap of 1 brokers \(dry run\)", out), out
    assert sorted(b.id for b in healthy_cluster.brokers if b.alive) == alive  # a dry run: nothing changed


def test_phi_topic_created_later_is_not_mirrored_and_is_reported(
        clusters: tuple[DevCluster, DevCluster], tmp_path: Path, cli: Any) -> None:
    east, west = clusters
    topo = _topology(tmp_path, "analytics", east, west, src="hq", dst="analytics", west_jurisdiction="EU",
                     flow="hq-analytics", topics=["ops\\.late.*", "fhir\\.late.*"],
                     extra="data_sovereignty:\n  phi_jurisdictions: [US]\n")
    code, out, err = cli("dr", "up", "--topology", topo, "--apply")
    assert code == 0, (out, err)
    try:
        _create(east, "fhir.late-observations", 1)
        _create(east, "ops.late-metrics", 1)
        _produce(east, "fhir.late-observations", 50)
        _produce(east, "ops.late-metrics", 50)
        _until("ops.late-metrics mirrored", lambda: _ends(west, "ops.late-metrics").get(0) == 50)
        time.sleep(12)  # two more topic refreshes of MirrorMaker: the PHI topic had every chance to appear
        assert "fhir.late-observations" not in _topics(west)
        code, out, err = cli("dr", "status", "--topology", topo, "--format", "json")
        assert code == 0, err
        doc = json.loads(out)["flows"][0]
        assert [r["topic"] for r in doc["refused_topics"]] == ["fhir.late-observations"]
        assert doc["refused_topics"][0]["class"] == "fhir" and doc["refused_topics"][0]["jurisdiction"] == "EU"
        assert [t["topic"] for t in doc["topics"]] == ["ops.late-metrics"]
        # the dashboard's DR page reads the same status
        from fastapi.testclient import TestClient

        from brokerscale.observe.rules import load_rules
        from brokerscale.store import open_store
        from brokerscale.web.app import WebConfig, create_app

        store = open_store()
        try:
            web = TestClient(create_app(WebConfig(clusters=[east.name], rules=load_rules(), store=store)))
            api = web.get("/api/dr").json()
        finally:
            store.close()
        assert api["available"] is True
        assert [r["topic"] for r in api["flows"][0]["refused_topics"]] == ["fhir.late-observations"], \
            (api["flows"][0]["state"], api["flows"][0]["notes"])
    finally:
        assert cli("dr", "down", "--topology", topo)[0] == 0
    assert not FlowProcess("hq-analytics").mm2_alive()


class _Producer(threading.Thread):
    """Steady acks=all producer keeping, per partition, the highest offset the broker acknowledged, and
    which records (numbered in their value: synthetic) were acknowledged."""

    def __init__(self, bootstrap: str, topic: str, rate: float) -> None:
        super().__init__(daemon=True)
        from confluent_kafka import Producer

        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                                  "message.timeout.ms": 15000, "linger.ms": 5})
        self.topic, self.rate = topic, rate
        self.acked: dict[int, int] = {}
        self.acked_numbers: set[int] = set()
        self.stop = threading.Event()

    def _delivered(self, error: Any, msg: Any) -> None:
        if error is None:
            self.acked[msg.partition()] = max(self.acked.get(msg.partition(), -1), msg.offset())
            self.acked_numbers.add(int(msg.value()[:9]))

    def run(self) -> None:
        i = 0
        due = time.monotonic()
        while not self.stop.is_set():
            self.producer.produce(self.topic, key=f"SYN{i % 97}".encode(), value=f"{i:09d}".encode() + b"y" * 503,
                                  on_delivery=self._delivered)
            i += 1
            self.producer.poll(0)
            # Never catch up after a stall (a busy machine): the rate stays steady, never bursts.
            due = max(due + 1 / self.rate, time.monotonic())
            ahead = due - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        self.producer.flush(30)
        self.producer.purge()  # records left queued when the primary was killed: reported failed, not acknowledged
        self.producer.flush(5)

    def acked_ends(self) -> dict[int, int]:
        return {p: o + 1 for p, o in self.acked.items()}


def _oldest_unmirrored_age(east: DevCluster, topic: str, mirrored: dict[int, int], src_end: dict[int, int]) -> float:
    """Seconds since the oldest record not yet on the target was written (its CreateTime timestamp)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": east.bootstrap, "group.id": "drt-truth", "enable.auto.commit": False})
    stamps = []
    try:
        for p, m in mirrored.items():
            if m >= src_end.get(p, 0):
                continue
            c.assign([TopicPartition(topic, p, m)])
            msg = c.poll(30)  # returns at the first record; 30 s only on a busy machine
            assert msg is not None and msg.error() is None, (p, m, msg and msg.error())
            stamps.append(msg.timestamp()[1] / 1000)
    finally:
        c.close()
    return time.time() - min(stamps) if stamps else 0.0


@pytest.mark.timeout(600)
def test_planned_failover_with_the_primary_alive_loses_and_duplicates_nothing(
        clusters: tuple[DevCluster, DevCluster], tmp_path: Path, cli: Any) -> None:
    """A planned failover while an application still writes to the primary: the fence refuses every
    write from then on, so what the producer had acknowledged is all on the DR cluster (0 losses), the
    RPO is reported as exactly 0, and the synced group resumes on DR exactly at its commit (0 duplicates).
    The failover starts right after the commit: its own drain is what brings the rest across."""
    from confluent_kafka import Consumer, TopicPartition

    east, west = clusters
    topic = "clinical.planned-orders"
    _create(east, topic, 2)
    topo = _topology(tmp_path, "planned", east, west, src="main", dst="standby", west_jurisdiction="US",
                     flow="main-standby", topics=["clinical\\.planned-.*"])
    code, out, err = cli("dr", "up", "--topology", topo, "--apply")
    assert code == 0, (out, err)
    producer = _Producer(east.bootstrap, topic, rate=100)
    report: dict[str, Any] = {}
    try:
        producer.start()
        # The application reads 300 records on the primary and commits (its partitions assigned directly:
        # no group rebalance to wait for), then stops.
        c = Consumer({"bootstrap.servers": east.bootstrap, "group.id": "planned-app", "enable.auto.commit": False})
        c.assign([TopicPartition(topic, p, 0) for p in (0, 1)])
        seen, deadline = 0, time.monotonic() + 120
        while seen < 300:
            assert time.monotonic() < deadline, f"planned-app read only {seen} of 300 records in 120 s"
            msg = c.poll(2)
            if msg is not None and msg.error() is None:
                seen += 1
        c.commit(asynchronous=False)
        committed = {tp.partition: tp.offset for tp in c.committed(c.assignment(), timeout=30) if tp.offset >= 0}
        c.close()
        assert sum(committed.values()) == 300, committed
        code, out, err = cli("dr", "failover", "--flow", "main-standby", "--topology", topo, "--apply",
                             "--format", "json")
        assert code == 0, err
        report = json.loads(out)
    finally:
        producer.stop.set()
        producer.join(60)
    try:
        acked = producer.acked_ends()
        dr_ends = _ends(west, topic)
        assert report["rpo_exact"] is True and report["rpo_records"] == 0 and not report["rpo_seconds"], report
        assert [s["step"] for s in report["steps"]][1:3] == ["fence writes on source", "drain replication lag"]
        assert report["bootstrap"] == west.bootstrap
        losses = sum(max(0, acked[p] - dr_ends.get(p, 0)) for p in acked)
        assert losses == 0, (acked, dr_ends)
        assert sum(acked.values()) > sum(committed.values())  # the producer was writing when the fence went up

        [group] = [g for s in report["steps"] for g in s.get("groups", []) if g["group"] == "planned-app"]
        assert group["committed"] and set(group["translation"].values()) == {"exact"}, group
        # The application resumes on the DR cluster from the group's offsets there.
        c = Consumer({"bootstrap.servers": west.bootstrap, "group.id": "planned-app",
                      "enable.auto.commit": False, "enable.partition.eof": True})
        translated = {tp.partition: tp.offset for tp in c.committed(
            [TopicPartition(topic, p) for p in acked], timeout=30)}
        c.assign([TopicPartition(topic, p, max(0, translated[p])) for p in acked])
        first, _, got, at_end = _read_to_end(c, len(acked))
        assert at_end == set(acked), f"the group did not reach the end of every partition on DR: {at_end}"
        duplicates = sum(committed[p] - first[p] for p in committed if p in first)
        assert {p: translated[p] for p in committed} == committed  # resumes exactly where it stopped
        assert duplicates == 0 and all(first.get(p, committed[p]) == committed[p] for p in committed)
        # every acknowledged record it had not processed on the primary, and nothing else, on DR
        assert got == sum(acked.values()) - sum(committed.get(p, 0) for p in acked)
    finally:
        # Back as the other tests expect: the flow down (and forgotten), the primary's topic writable again.
        assert cli("dr", "down", "--topology", topo)[0] == 0
        from brokerscale.connect import ConnectionProfile

        with ConnectionProfile(east.bootstrap).admin() as admin:
            admin.alter_configs(topics={t: {"max.message.bytes": v} for t, v in (report.get("fenced") or {}).items()})


@pytest.mark.timeout(1500)  # two MirrorMaker starts, a stall, a kill, failover and failback: ~9 min alone
def test_lag_within_20_percent_then_failover_with_primary_killed(
        clusters: tuple[DevCluster, DevCluster], tmp_path: Path, cli: Any) -> None:
    from confluent_kafka import Consumer

    east, west = clusters
    topic = "clinical.drt-adt"
    _create(east, topic, 3)
    topo = _topology(tmp_path, "dr", east, west, src="primary", dst="drsite", west_jurisdiction="US",
                     flow="primary-dr", topics=["clinical\\.drt.*"])
    code, out, err = cli("dr", "up", "--topology", topo, "--apply")
    assert code == 0, (out, err)
    producer = _Producer(east.bootstrap, topic, rate=150)
    producer.start()
    try:
        _until("records mirrored", lambda: sum(_ends(west, topic).values()) > 300 if topic in _topics(west) else 0)
        # A consumer group consumes on the primary and commits, then leaves (the group is empty).
        c = Consumer({"bootstrap.servers": east.bootstrap, "group.id": "drt-app", "auto.offset.reset": "earliest",
                      "enable.auto.commit": False})
        c.subscribe([topic])
        seen = 0
        deadline = time.monotonic() + 300
        while seen < 600:
            assert time.monotonic() < deadline, f"drt-app read only {seen} of 600 records in 300 s"
            msg = c.poll(5)
            if msg is not None and msg.error() is None:
                seen += 1
        c.commit(asynchronous=False)
        committed = {tp.partition: tp.offset for tp in c.committed(c.assignment(), timeout=30) if tp.offset >= 0}
        c.close()
        assert sum(committed.values()) >= 600

        # Lag: MirrorMaker stalls while the producer goes on; dr status against the truth.
        FlowProcess("primary-dr").stop(watcher=False)
        # Until ~2,000 records wait (~13 s at 150/s; longer when a busy machine slows the producer).
        deadline = time.monotonic() + 180
        while True:
            src0, dst0 = _ends(east, topic), _ends(west, topic)
            if sum(src0.values()) - sum(dst0.values()) > 2000 or time.monotonic() > deadline:
                break
            time.sleep(1)
        age0 = _oldest_unmirrored_age(east, topic, dst0, src0)
        code, out, err = cli("dr", "status", "--topology", topo, "--format", "json")
        src1, dst1 = _ends(east, topic), _ends(west, topic)
        age1 = _oldest_unmirrored_age(east, topic, dst1, src1)
        assert code == 0, err
        st = json.loads(out)["flows"][0]
        assert st["state"] == "stopped"
        truth0 = sum(src0.values()) - sum(dst0.values())
        truth1 = sum(src1.values()) - sum(dst1.values())
        assert truth0 > 1000, (src0, dst0)
        assert 0.8 * truth0 <= st["lag_records"] <= 1.2 * truth1, (truth0, st["lag_records"], truth1)
        assert 0.8 * age0 <= st["lag_seconds"] <= 1.2 * age1, (age0, st["lag_seconds"], age1)
        assert st["topics"][0]["topic"] == topic and st["topics"][0]["lag_records"] == st["lag_records"]

        # Replication resumes and catches up; checkpoints of the group reach the target.
        code, out, err = cli("dr", "restart", "--topology", topo)
        assert code == 0, (out, err)

        def caught_up() -> bool:
            code, out, _ = cli("dr", "status", "--topology", topo, "--format", "json")
            doc = json.loads(out)["flows"][0]
            groups = {g["group"]: g for g in doc["groups"]}
            return (code == 0 and doc["lag_records"] < 300 and "drt-app" in groups
                    and groups["drt-app"]["lag_records"] == 0)
        _until("MirrorMaker caught up and checkpointed drt-app", caught_up, timeout=240, every=3)
        time.sleep(4)  # a couple of watcher samples at the current rate

        # The link between the regions stalls (MirrorMaker stops; its watcher goes on), so the primary dies
        # with a backlog the DR cluster never gets: what the failover must count exactly.
        FlowProcess("primary-dr").stop(watcher=False)
        _until("a backlog of 200 records on the primary",
               lambda: sum(_ends(east, topic).values()) - sum(_ends(west, topic).values()) >= 200, every=0.5)

        # Kill every broker of the primary while the producer writes.
        for b in east.brokers:
            east.stop_broker(b.id, kill=True)
    finally:
        producer.stop.set()
        producer.join(60)
    acked = producer.acked_ends()
    code, out, err = cli("dr", "failover", "--flow", "primary-dr", "--topology", topo, "--apply",
                         "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    # The primary's brokers are dead but their log directories (the dev cluster's own) can be read: the RPO
    # is read from the log segments, exact.
    assert report["rpo_exact"] is True, report.get("rpo_note")
    assert report["rpo_source"].startswith("log directories of primary: ") and str(east.root) in report["rpo_source"]
    assert report["bootstrap"] == west.bootstrap
    assert report["rto_seconds"] > 0 and [s["step"] for s in report["steps"]][-1] == "target ready"
    dr_ends = _ends(west, topic)
    losses = sum(max(0, acked[p] - dr_ends.get(p, 0)) for p in acked)
    assert report["rpo_watcher_floor"] <= report["rpo_records"]  # the watcher's last look: a floor
    assert losses >= 200, (acked, dr_ends)

    # The group resumes on the DR cluster from the translated offsets: nothing it had not processed is
    # skipped (MirrorMaker translates conservatively: at or before the committed offset), and it re-reads
    # the records between the translated and the committed offset (duplicates, counted).
    from confluent_kafka import TopicPartition

    c = Consumer({"bootstrap.servers": west.bootstrap, "group.id": "drt-app", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    translated = {tp.partition: max(0, tp.offset) for tp in c.committed(
        [TopicPartition(topic, p) for p in acked], timeout=30)}
    c.subscribe([topic])
    first, last, _, _ = _read_to_end(c, len(acked))
    for p, off in committed.items():
        assert 0 < translated[p] <= off, (p, translated[p], off)
        if p in first:
            assert first[p] == translated[p]  # the group resumed exactly where the translation put it
    processed_on_primary = {p: committed.get(p, 0) for p in acked}
    seen_on_dr = {p: last[p] + 1 if p in last else translated[p] for p in acked}
    duplicates = sum(max(0, processed_on_primary[p] - translated[p]) for p in acked)
    # Translated against every offset sync (not MirrorMaker's thinned-out checkpoints, which put this idle
    # group ~600 records back): exact where the syncs show a one-to-one copy, else at most offset.lag.max
    # records back. Identity offsets here (the mirror started at 0), so "exact" means no duplicate at all.
    from brokerscale.dr.mm2 import OFFSET_LAG_MAX

    [drt_app] = [g for s in report["steps"] for g in s.get("groups", []) if g["group"] == "drt-app"]
    how = {int(k.rsplit(":", 1)[1]): v for k, v in drt_app["translation"].items()}
    assert set(how) == set(committed), drt_app
    for p in committed:
        bound = 0 if how[p] == "exact" else OFFSET_LAG_MAX
        assert processed_on_primary[p] - translated[p] <= bound, (p, how[p], processed_on_primary, translated)
    never_seen = sum(max(0, acked[p] - max(seen_on_dr[p], processed_on_primary[p])) for p in acked)
    assert never_seen == losses  # what the group never got is exactly what the DR cluster never got
    print(f"RPO reported {report['rpo_records']} records / {report['rpo_seconds']} s, losses {losses}, "
          f"duplicates {duplicates}, RTO {report['rto_seconds']} s")

    # Meanwhile applications write to the DR cluster; then the old primary comes back and takes over again.
    _produce(west, topic, 90)
    dr_before = _ends(west, topic)
    for b in east.brokers:
        east.start_broker(b.id)
    # What the old primary serves after its own recovery beyond what DR got: the records the failover lost.
    # Each is either acknowledged (a loss) or was written in the instant of the kill with its
    # acknowledgement lost with the broker (on disk, committed, but the producer was never told: normally
    # none). The RPO failover read from the dead broker's disk must be exactly their number.
    def serving() -> dict[int, int] | None:
        found = _ends(east, topic)
        return found if set(found) == set(acked) else None
    old_ends = _until("the old primary serving every partition again", serving, timeout=240)
    only_on_old = _records_between(east, topic, dr_ends, old_ends)
    acked_only_old = [n for n in only_on_old if n in producer.acked_numbers]
    assert len(acked_only_old) == losses, (len(acked_only_old), losses)
    written_unacked = len(only_on_old) - losses
    assert report["rpo_records"] == len(only_on_old) == losses + written_unacked, (report["rpo_note"], losses)
    assert written_unacked <= 20
    assert report["rpo_by_topic"] == {topic: report["rpo_records"]}
    code, out, err = cli("dr", "failback", "--flow", "primary-dr", "--topology", topo, "--apply", "--format", "json")
    assert code == 0, err
    back = json.loads(out)
    # The exact RPO, measured from the old primary: the records the producer had acknowledged there that
    # the DR cluster never got (plus any written in the instant of the kill whose acknowledgement was lost
    # with the broker: on disk, never acknowledged, so not a loss — normally none).
    exact = back["failover_rpo_records_exact"]
    assert exact == report["rpo_records"] == back["failover_rpo_reported"], (losses, exact, report["rpo_records"])
    # Nothing DR took is lost: its 90 new records (and only those) were appended on the old primary.
    primary_now = _ends(east, topic)
    only_old = {int(k.rsplit(":", 1)[1]): n for k, n in back["records_only_on_old_primary"].items()}
    appended = sum(primary_now[p] - dr_ends.get(p, 0) - only_old.get(p, 0) for p in primary_now)
    assert appended == sum(dr_before.values()) - sum(dr_ends.values()) == 90
    assert back["bootstrap"] == east.bootstrap and FlowProcess("primary-dr").mm2_alive()
    assert not FlowProcess("primary-dr-failback").mm2_alive()
    print(f"failover: RPO reported {report['rpo_records']} records (exact, from the dead broker's log "
          f"directory; the watcher's floor was {report['rpo_watcher_floor']}) / {report['rpo_seconds']} s, "
          f"RTO {report['rto_seconds']} s, acknowledged and lost {losses}, written but unacknowledged at the kill "
          f"{written_unacked}, duplicates {duplicates}; failback: exact RPO {exact} records "
          f"(acknowledged and lost: {losses}), RTO {back['rto_seconds']} s; failover steps "
          f"{[(s['step'], s['at']) for s in report['steps']]}", file=sys.stderr, flush=True)
