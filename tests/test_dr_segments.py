"""Reading a dead source's committed log-end offsets from its log segments (dr/segments.py), and the
replication triggers' bootstrap matching and unresolvable flows (dr/triggers.py).

Segment files are built here byte by byte to Kafka's v2 record-batch layout and checked with Kafka's
own `kafka-dump-log` (DumpLogSegments, from the jars): what it calls valid, and where it finds invalid
bytes, is what the reader must agree with. A real broker's segments are read in test_dr_kafka.py.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from brokerscale.dr.segments import (
    ReplicaEnd,
    batches,
    check_log_dir,
    committed_ends,
    partition_end,
    read_hw_checkpoint,
    read_log_dir,
    timestamp_at,
)
from brokerscale.errors import BadInput
from brokerscale.kafka.records import crc32c

T0 = 1_700_000_000_000


def _varint(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([b])
        out += bytes([b | 0x80])


def _batch(base: int, count: int, ts: int = T0, value: bytes = b"synthetic-payload-0123456789") -> bytes:
    """One uncompressed v2 record batch of `count` records (DefaultRecordBatch / DefaultRecord layout)."""
    records = b""
    for i in range(count):
        body = b"\x00" + _varint(i) + _varint(i) + _varint(-1) + _varint(len(value)) + value + _varint(0)
        records += _varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, count - 1, ts, ts + count - 1, -1, -1, -1, count) + records
    rest = struct.pack(">ibI", 0, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", base, len(rest)) + rest


def _log_dir(root: Path, node: int = 1, hw: dict[tuple[str, int], int] | None = None) -> Path:
    d = root / f"broker-{node}"
    d.mkdir(parents=True)
    (d / "meta.properties").write_text(f"version=1\nnode.id={node}\ncluster.id=abc\n")
    if hw is not None:
        lines = ["0", str(len(hw)), *(f"{t} {p} {o}" for (t, p), o in hw.items())]
        (d / "replication-offset-checkpoint").write_text("\n".join(lines) + "\n")
    return d


def _segment(d: Path, base: int, data: bytes) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{base:020d}.log"
    path.write_bytes(data)
    return path


def test_crc32c_is_kafkas_castagnoli() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value of CRC-32C


def test_log_end_is_the_last_complete_batch_plus_one_across_segments(tmp_path: Path) -> None:
    d = _log_dir(tmp_path)
    part = d / "clinical.adt-0"
    _segment(part, 0, _batch(0, 3) + _batch(3, 2))
    _segment(part, 5, _batch(5, 4, ts=T0 + 1000) + _batch(9, 1, ts=T0 + 2000))
    end = partition_end(part)
    assert (end.end, end.max_timestamp, end.torn_bytes) == (10, T0 + 2000, 0)
    assert timestamp_at(part, 7) == T0 + 1000 and timestamp_at(part, 1) == T0 and timestamp_at(part, 10) is None


def test_a_torn_last_batch_is_not_counted(tmp_path: Path) -> None:
    part = _log_dir(tmp_path) / "t-0"
    whole = _batch(0, 3) + _batch(3, 2) + _batch(5, 4)
    # killed mid-write: the last batch's length runs past the end of the file
    _segment(part, 0, whole[:-30])
    end = partition_end(part)
    assert end.end == 5 and end.torn_bytes == len(_batch(5, 4)) - 30
    # only part of a header on disk
    _segment(part, 0, whole[:len(_batch(0, 3)) + len(_batch(3, 2)) + 20])
    assert (partition_end(part).end, partition_end(part).torn_bytes) == (5, 20)
    # the header is whole but the body never reached the disk (zeros): the CRC says so
    last = _batch(5, 4)
    _segment(part, 0, whole[:-len(last)] + last[:61] + bytes(len(last) - 61))
    assert (partition_end(part).end, partition_end(part).torn_bytes) == (5, len(last))


def test_an_empty_partition_ends_at_its_segments_base_offset(tmp_path: Path) -> None:
    d = _log_dir(tmp_path)
    _segment(d / "fresh-0", 0, b"")
    _segment(d / "rolled-2", 42, b"")  # everything before 42 deleted by retention, nothing written since
    ends = {(r.topic, r.partition): r.end for r in read_log_dir(d)}
    assert ends == {("fresh", 0): 0, ("rolled", 2): 42}


def test_log_dir_skips_deleted_and_future_dirs_and_reads_the_hw_checkpoint(tmp_path: Path) -> None:
    d = _log_dir(tmp_path, node=3, hw={("a-b", 1): 4})
    _segment(d / "a-b-1", 0, _batch(0, 5))
    _segment(d / "a-b-0.7f3e2c9d1e8b4a6f9c0d1e2f3a4b5c6d-delete", 0, _batch(0, 9))
    _segment(d / "a-b-2.7f3e2c9d1e8b4a6f9c0d1e2f3a4b5c6d-future", 0, _batch(0, 9))
    [r] = read_log_dir(d)
    assert (r.topic, r.partition, r.end, r.node_id, r.high_watermark) == ("a-b", 1, 5, 3, 4)
    assert read_hw_checkpoint(tmp_path) == {}  # none there: nothing, not an error


def test_with_replicas_the_least_end_of_the_in_sync_ones_counts(tmp_path: Path) -> None:
    def rep(node: int, end: int, hw: int | None) -> ReplicaEnd:
        return ReplicaEnd("t", 0, node, tmp_path, end, T0 + end, 0, hw)

    # leader at 120, a follower at 118 (in sync, fetched up to there), one far behind the checkpointed HW
    ends = committed_ends([rep(1, 120, 100), rep(2, 118, 95), rep(3, 40, 40)])
    assert (ends[("t", 0)].end, ends[("t", 0)].replicas, ends[("t", 0)].in_sync) == (118, 3, 2)
    # no checkpoint yet: every replica is taken as in sync
    assert committed_ends([rep(1, 7, None), rep(2, 5, None)])[("t", 0)].end == 5


@pytest.mark.parametrize(("make", "reason"), [
    (lambda p: p / "absent", "no such directory"),
    (lambda p: (p / "file").write_text("") or p / "file", "not a directory"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "not a Kafka log directory (no meta.properties)"),
])
def test_a_bad_log_dir_is_one_line_naming_the_option_and_why(tmp_path: Path, make: object, reason: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(BadInput) as exc:
        check_log_dir(path)
    assert exc.value.message == f"--source-log-dirs: {path}: {reason}" and exc.value.exit_code == 2


def test_failover_refuses_a_bad_source_log_dir_before_doing_anything(tmp_path: Path, cli: object) -> None:
    from brokerscale.dr.failover import state_path

    topo = tmp_path / "t.yaml"
    topo.write_text("version: 1\nclusters:\n  a: {dev: gone-a, region: r1, jurisdiction: US}\n"
                    "  b: {dev: gone-b, region: r2, jurisdiction: US}\n"
                    "flows:\n  a-b: {source: a, target: b, topics: ['x.*']}\n")
    code, out, err = cli("dr", "failover", "--flow", "a-b", "--topology", topo, "--apply",  # type: ignore[operator]
                         "--source-log-dirs", f"{tmp_path}/nope")
    assert code == 2 and out == ""
    assert err.strip() == f"error: --source-log-dirs: {tmp_path}/nope: no such directory", err
    assert not state_path("a-b").exists()


@pytest.mark.kafka  # Kafka's own DumpLogSegments, from the jars (no cluster)
def test_the_reader_agrees_with_kafka_dump_log(tmp_path: Path) -> None:
    from brokerscale.dev.tools import run_tool

    good = _batch(0, 3) + _batch(3, 2, ts=T0 + 5) + _batch(5, 4, ts=T0 + 9)
    torn = good[:-40]
    last = _batch(5, 4, ts=T0 + 9)
    corrupt = bytearray(good)
    corrupt[-5] ^= 0xFF  # a payload byte of the last batch: its CRC no longer matches
    files = [_segment(tmp_path / name, 0, data) for name, data in
             (("good-0", good), ("torn-0", torn), ("corrupt-0", bytes(corrupt)))]
    res = run_tool("kafka-dump-log", ["--files", ",".join(str(f) for f in files)], timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    dumps = re.split(r"^Dumping ", res.stdout, flags=re.M)[1:]
    assert len(dumps) == 3, res.stdout
    for f, dump in zip(files, dumps, strict=True):
        valid = [(int(m[1]), int(m[2])) for m in
                 re.finditer(r"baseOffset: (\d+) lastOffset: (\d+) .*isvalid: true", dump)]
        invalid_bytes = re.search(r"Found (\d+) invalid bytes at the end", dump)
        kafka_end = max(last for _, last in valid) + 1
        ours = batches(f)
        end = partition_end(f.parent)
        if f.parent.name == "corrupt-0":
            # dump-log lists the damaged batch as not valid; the reader drops it (the broker's recovery would)
            assert re.search(r"baseOffset: 5 lastOffset: 8 .*isvalid: false", dump), dump
            kafka_end = 5
        assert [(b.base_offset, b.last_offset) for b in ours][:len(valid)] == valid[:len(ours)]
        assert end.end == kafka_end, (f, dump)
        if invalid_bytes:
            assert end.torn_bytes == int(invalid_bytes.group(1)) == len(last) - 40


def test_exact_rpo_counts_what_the_target_lacks_of_the_mirrored_partitions_and_dates_it(tmp_path: Path) -> None:
    from brokerscale.dr.dead_source import exact_rpo, oldest_unreplicated_ms, read_disk_ends
    from brokerscale.dr.status import evaluate
    from brokerscale.dr.topology import Flow

    d = _log_dir(tmp_path)
    adt0, adt1 = ("clinical.adt", 0), ("clinical.adt", 1)
    torn = _batch(10, 3, ts=T0 + 9500)
    _segment(d / "clinical.adt-0", 0, _batch(0, 5) + _batch(5, 5, ts=T0 + 4000) + torn[:-7])
    _segment(d / "clinical.adt-1", 0, _batch(0, 4, ts=T0 + 9000))
    _segment(d / "clinical.secret-0", 0, _batch(0, 6))  # excluded (the sovereignty rule, say)
    _segment(d / "ops.metrics-0", 0, _batch(0, 9))  # not selected
    _segment(d / "__consumer_offsets-0", 0, _batch(0, 2))
    flow = Flow(source="east", target="west", topics=["clinical\\..*", "__.*"])
    disk = read_disk_ends([d], flow, ["clinical\\.secret.*"])
    assert {tp: e.end for tp, e in disk.ends.items()} == {adt0: 10, adt1: 4}
    assert disk.torn == {adt0: len(torn) - 7}
    st = evaluate("east-west", "east", "west", now=T0 / 1000 + 60, source_end={adt0: 10, adt1: 4},
                  target_end={adt0: 6, adt1: 4}, remote={adt0: adt0, adt1: adt1}, syncs={}, samples=[],
                  state="stopped", mm2_pid=None, watcher=False, source_seen_at=None)
    oldest = oldest_unreplicated_ms(disk, st)
    assert oldest == T0 + 4000  # offset 6 is in the batch written at T0 + 4 s
    got = exact_rpo(st, disk, {adt0, adt1}, oldest, "given with --source-log-dirs")
    assert got["rpo_exact"] is True and got["rpo_records"] == 4 and got["rpo_by_topic"] == {"clinical.adt": 4}
    # from the oldest record DR lacks to the last write the source took (T0 + 9 s + 3 ms: partition 1)
    assert got["rpo_seconds"] == 5.003
    assert got["rpo_by_partition"] == {"clinical.adt:0": 4, "clinical.adt:1": 0}
    assert f"torn last batch ({len(torn) - 7:,} bytes)" in got["rpo_note"] and str(d) in got["rpo_source"]


@pytest.mark.kafka
def test_a_real_brokers_replicas_read_as_kafka_reports_them(healthy_cluster: object) -> None:
    """Records written with acks=all to a replication-3 topic of the session's cluster, in many batches:
    every broker's log directory holds a replica, and the reader's committed end per partition is the
    log-end offset Kafka's GetOffsetShell reports; the first batch's timestamp is the first record's."""
    import os
    import time

    from confluent_kafka import Consumer, Producer, TopicPartition

    from brokerscale.connect import ConnectionProfile
    from brokerscale.dev.tools import run_tool

    cluster = healthy_cluster
    topic = f"segments-{os.getpid()}"
    boot = cluster.bootstrap  # type: ignore[attr-defined]
    with ConnectionProfile(boot).admin() as admin:
        admin.create_topic(topic, 2, 3)
        admin.wait_for_topics([topic], timeout_s=120)
    try:
        p = Producer({"bootstrap.servers": boot, "acks": "all", "enable.idempotence": True, "linger.ms": 2})
        for i in range(400):
            p.produce(topic, partition=i % 2, value=b"z" * 100)
            if i % 40 == 39:
                assert p.flush(60) == 0  # a batch boundary
        assert p.flush(60) == 0
        res = run_tool("kafka-get-offsets", ["--bootstrap-server", boot, "--topic", topic], timeout=180)
        kafka_ends = {int(line.rsplit(":", 2)[1]): int(line.rsplit(":", 1)[1]) for line in res.stdout.split()
                      if line.startswith(f"{topic}:")}
        assert kafka_ends == {0: 200, 1: 200}, res.stdout + res.stderr[-1000:]
        dirs = [cluster.node_dir(n) / "data" for n in cluster.nodes.values()]  # type: ignore[attr-defined]

        def read() -> dict[int, tuple[int, int, int]]:
            got = committed_ends([r for d in dirs for r in read_log_dir(d, {topic})])
            return {tp[1]: (e.end, e.replicas, e.in_sync) for tp, e in got.items()}
        deadline = time.monotonic() + 120
        while (got := read()) != {0: (200, 3, 3), 1: (200, 3, 3)}:  # followers fetch within moments
            assert time.monotonic() < deadline, got
            time.sleep(1)
        part = next(d / f"{topic}-0" for d in dirs if (d / f"{topic}-0").exists())
        assert len(batches(next(part.glob("*.log")))) >= 5
        c = Consumer({"bootstrap.servers": boot, "group.id": f"segments-{os.getpid()}", "enable.auto.commit": False})
        try:
            c.assign([TopicPartition(topic, 0, 0)])
            msg = c.poll(60)
            assert msg is not None and msg.error() is None and msg.offset() == 0
            assert timestamp_at(part, 0) == msg.timestamp()[1]
        finally:
            c.close()
    finally:
        with ConnectionProfile(boot).admin() as admin:
            admin.client.delete_topics([topic])


def test_without_readable_log_dirs_failover_keeps_the_floor_and_says_why(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from brokerscale.dr.dead_source import known_log_dirs
    from brokerscale.dr.failover import _rpo_from_disks
    from brokerscale.dr.status import DirectionStatus, PartitionLag
    from brokerscale.dr.topology import load_topology

    monkeypatch.setenv("BROKERSCALE_DATA_DIR", str(tmp_path / "data"))
    topo_file = tmp_path / "t.yaml"
    topo_file.write_text("version: 1\nclusters:\n  a: {config: east, region: r1, jurisdiction: US}\n"
                         "  d: {dev: gone, region: r2, jurisdiction: US}\n"
                         "flows:\n  a-d: {source: a, target: d, topics: ['clinical\\..*']}\n")
    topo = load_topology(topo_file)
    dirs, why = known_log_dirs(topo, "a", None)
    assert dirs is None and "--source-log-dirs" in why and "not known here" in why
    assert known_log_dirs(topo, "d", None) == (None, "no dev cluster named 'gone' on this machine")
    status = DirectionStatus("a-d", "a", "d", "source-unreachable", None, True, 7, None, None, None,
                             partitions=[PartitionLag("clinical.adt", p, 10, 5, 5, None) for p in (0, 1)])
    got, why = _rpo_from_disks(topo, "a-d", _no_phi_policy(), status, None)
    assert got is None and "--source-log-dirs" in why
    # the disks given hold partition 0 only: the figure would miss partition 1, so it is not claimed exact
    d = _log_dir(tmp_path)
    _segment(d / "clinical.adt-0", 0, _batch(0, 10))
    got, why = _rpo_from_disks(topo, "a-d", _no_phi_policy(), status, [d])
    assert got is None and why.startswith("1 mirrored partition(s) are in none of the log directories read "
                                          "(clinical.adt:1)")


def _no_phi_policy() -> object:
    from brokerscale.topics.policy import load_policy

    return load_policy(None)
