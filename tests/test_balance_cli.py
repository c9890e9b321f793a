"""`brokerscale rebalance propose` offline: Kafka's reassignment format, summary, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brokerscale.balance.synthetic import add_empty_brokers, skewed_cluster


@pytest.fixture()
def cluster_file(tmp_path: Path) -> Path:
    m = skewed_cluster(brokers=6, racks=3, partitions=120, rf=3, seed=5, topics=4)
    add_empty_brokers(m, 1)
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(m.to_dict()))
    return path


def test_propose_json_has_kafka_reassignment_and_summary(cli, cluster_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "plan.json"
    kafka_file = tmp_path / "reassign.json"
    code, stdout, _ = cli("rebalance", "propose", "--cluster-file", cluster_file, "--mode", "add-brokers",
                          "--brokers", "7", "--format", "json", "-o", out, "--reassignment-file", kafka_file)
    assert code == 0
    doc = json.loads(stdout)
    assert doc == json.loads(out.read_text())
    # the proposal file is Kafka's reassignment format itself, sizes riding along in an extra field
    ra = doc
    assert ra["version"] == 1 and ra["partitions"]
    kafka_only = json.loads(kafka_file.read_text())
    assert kafka_only == {"version": 1, "partitions": [
        {k: p[k] for k in ("topic", "partition", "replicas")} for p in ra["partitions"]]}
    sizes = {(p["topic"], p["partition"]): p["size_bytes"] for p in json.loads(cluster_file.read_text())["partitions"]}
    for p in ra["partitions"]:
        assert set(p) == {"topic", "partition", "replicas", "size_bytes"}
        assert p["size_bytes"] == sizes[(p["topic"], p["partition"])]
        assert len(set(p["replicas"])) == len(p["replicas"])
    s = doc["summary"]
    for key in ("bytes_moved", "lower_bound_bytes", "replica_moves", "leader_moves", "per_broker"):
        assert key in s
    assert s["bytes_moved"] >= s["lower_bound_bytes"] > 0
    new = next(r for r in s["per_broker"] if r["broker"] == 7)
    assert new["replicas_before"] == 0 and new["replicas_after"] > 0 and new["disk_bytes_after"] > 0
    # the summary agrees with the reassignment applied to the input
    src = json.loads(cluster_file.read_text())
    assign = {(p["topic"], p["partition"]): p["replicas"] for p in src["partitions"]}
    for p in ra["partitions"]:
        assign[(p["topic"], p["partition"])] = p["replicas"]
    assert sum(7 in r for r in assign.values()) == new["replicas_after"]


def test_propose_table_for_people(cli, cluster_file: Path) -> None:  # type: ignore[no-untyped-def]
    code, stdout, _ = cli("rebalance", "propose", "--cluster-file", cluster_file, "--mode", "remove-brokers",
                          "--brokers", "2")
    assert code == 0
    assert "lower bound" in stdout and "removed" in stdout


@pytest.mark.parametrize(("content", "args", "expect"), [
    ("{not json", [], "not valid JSON"),
    ('{"brokers": [{"id": 1, "rck": "a"}]}', [], "brokers[0].rck: unknown field"),
    ('{"brokers": [{"id": 1}], "partitions": [{"topic": "x", "partition": 0, "replicas": [1, 2]}]}', [],
     "unknown broker id 2"),
    ('{"brokers": [{"id": 1}], "partitions": [{"topic": "x", "partition": 0, "replicas": [1],'
     ' "size_bytes": -5}]}', [], "partitions[0].size_bytes"),
    (None, ["--mode", "add-brokers", "--brokers", "42"], "unknown broker id 42"),
    (None, ["--mode", "remove-brokers", "--brokers", "1,2,3,4,5"], "would remain"),
    (None, ["--mode", "add-brokers", "--brokers", "four"], "not a comma-separated list"),
    (None, ["--disk-threshold", "1.5"], "threshold disk"),
])
def test_bad_input_is_one_line_exit_2(cli, cluster_file: Path, tmp_path: Path, content: str | None,  # type: ignore[no-untyped-def]
                                      args: list[str], expect: str) -> None:
    path = cluster_file
    if content is not None:
        path = tmp_path / "bad.json"
        path.write_text(content)
    code, stdout, stderr = cli("rebalance", "propose", "--cluster-file", path, *args)
    assert code == 2
    assert expect in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert "Traceback" not in stderr + stdout


def test_missing_file_is_one_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, stderr = cli("rebalance", "propose", "--cluster-file", tmp_path / "nope.json")
    assert code == 2 and stderr.strip() == f"error: {tmp_path / 'nope.json'}: no such file"


def test_a_file_that_is_not_utf8_is_one_line_not_a_traceback(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'{"brokers": [{"id": 1, "rack": "s\xfcd"}]}')  # written by a tool in Latin-1
    for args in (("propose", "--cluster-file", bad), ("execute", "--proposal", bad, "-b", "127.0.0.1:1")):
        code, stdout, stderr = cli("rebalance", *args)
        assert code == 2, (args, stderr)
        assert stderr.strip() == f"error: {bad}: line 1: not UTF-8 text", stderr
        assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stdout + stderr
