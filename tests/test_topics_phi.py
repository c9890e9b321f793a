"""PHI-safe topics: replica placement for a raised replication factor (pure), and the trial's topics on the
real cluster — reported with reasons, configs fixed by `optimize --apply`, replication raised by the
reassignment optimize writes, checked with Kafka's own kafka-topics tool."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from brokerscale.balance.model import Broker, ClusterModel
from brokerscale.errors import BadInput
from brokerscale.topics.replication import raise_replication, reassignment_json


def _model(racks: dict[int, str | None]) -> ClusterModel:
    return ClusterModel({b: Broker(b, r) for b, r in racks.items()})


def test_added_replicas_keep_existing_ones_and_the_leader_and_go_to_a_new_rack() -> None:
    m = _model({1: "a", 2: "a", 3: "b", 4: "c"})
    m.add("fhir.x", 0, [1, 3], 100)  # racks a, b: the third copy goes to rack c although 4 holds data
    m.add("fhir.x", 1, [3, 4], 100)  # racks b, c: rack a, and of brokers 1 and 2 the one with fewer bytes
    m.add("other", 0, [1, 2, 3], 10_000)
    m.add("other", 1, [1], 100)
    moves = raise_replication(m, {"fhir.x": 3})
    assert moves == {("fhir.x", 0): [1, 3, 4], ("fhir.x", 1): [3, 4, 2]}


def test_added_replicas_go_to_the_brokers_with_fewest_bytes_when_racks_do_not_decide() -> None:
    m = _model({1: None, 2: None, 3: None, 4: None})
    m.add("big", 0, [1, 2], 1_000)
    for p in range(4):
        m.add("clinical.y", p, [1], 10)
    moves = raise_replication(m, {"clinical.y": 2})
    assert [moves[("clinical.y", p)] for p in range(4)] == [[1, 3], [1, 4], [1, 3], [1, 4]]


def test_replication_needs_enough_brokers() -> None:
    m = _model({1: "a", 2: "b"})
    m.add("fhir.x", 0, [1], 0)
    with pytest.raises(BadInput, match="needs 3 brokers, the cluster has 2"):
        raise_replication(m, {"fhir.x": 3})


def test_reassignment_json_is_kafkas_format() -> None:
    doc = reassignment_json({("b", 1): [2, 3, 1], ("a", 0): [1, 2, 3]})
    assert doc == {"version": 1, "partitions": [{"topic": "a", "partition": 0, "replicas": [1, 2, 3]},
                                                {"topic": "b", "partition": 1, "replicas": [2, 3, 1]}]}


# ---- the trial's topics on the real cluster --------------------------------------------------------

FHIR, ADT = "fhir.observation.icu", "clinical.adt"


def _admin(bootstrap: str) -> Any:
    from kafka import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=bootstrap)


@pytest.fixture()
def trial_topics(bootstrap: str) -> Iterator[str]:
    """The topics as the platform team created them: FHIR at RF 2 kept forever, ADT with unclean election."""
    from kafka.admin import NewTopic

    admin = _admin(bootstrap)
    try:
        admin.delete_topics([FHIR, ADT])
        time.sleep(1)
    except Exception:  # not there: fine
        pass
    try:
        admin.create_topics([NewTopic(FHIR, 6, 2, topic_configs={"retention.ms": "-1"}),
                             NewTopic(ADT, 24, 3, topic_configs={"unclean.leader.election.enable": "true",
                                                                 "retention.ms": str(30 * 86_400_000)})])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until metadata shows both topics with their partitions
            described = {t["topic"] if "topic" in t else t["name"]: t for t in admin.describe_topics([FHIR, ADT])}
            if all(not t.get("error_code") and t.get("partitions") for t in described.values()):
                break
            time.sleep(0.3)
    finally:
        admin.close()
    yield bootstrap
    admin = _admin(bootstrap)
    try:
        admin.delete_topics([FHIR, ADT])
    except Exception:  # best effort: the session cluster is torn down anyway
        pass
    finally:
        admin.close()


def _kafka_topics_describe(bootstrap: str, *topics: str) -> dict[str, tuple[int, dict[str, str], list[list[int]]]]:
    """Replication factor, explicitly set configs and replica lists per topic, from Kafka's own kafka-topics."""
    from brokerscale.dev.tools import run_tool

    pattern = "|".join(re.escape(t) for t in topics)
    res = run_tool("kafka-topics", ["--bootstrap-server", bootstrap, "--describe", "--topic", pattern], timeout=180)
    assert res.returncode == 0, res.stderr
    out: dict[str, tuple[int, dict[str, str], list[list[int]]]] = {}
    for line in res.stdout.splitlines():
        name = re.search(r"Topic:\s*(\S+)", line)
        if name is None:
            continue
        if "PartitionCount" in line:
            rf = int(re.findall(r"ReplicationFactor:\s*(\d+)", line)[0])
            text = re.search(r"Configs:\s*(\S*)", line)
            configs = dict(kv.split("=", 1) for kv in (text.group(1) if text else "").split(",") if "=" in kv)
            out[name.group(1)] = (rf, configs, [])
        elif (reps := re.search(r"Replicas:\s*([\d,]+)", line)) is not None:
            out[name.group(1)][2].append([int(x) for x in reps.group(1).split(",")])
    assert set(out) == set(topics), res.stdout
    return out


@pytest.mark.kafka
def test_trial_topics_are_reported_with_reasons_and_fixed(cli: Any, trial_topics: str, tmp_path: Path,
                                                          kafka_cluster: Any) -> None:
    bootstrap = trial_topics
    plan_file = tmp_path / "rf.json"
    base = ("topics", "optimize", "--bootstrap", bootstrap, "--topic", FHIR, "--topic", ADT, "--window", "1s",
            "--source", "offsets", "--reassignment-out", str(plan_file), "--format", "json")

    code, out, err = cli(*base)
    assert code == 0, err
    doc = json.loads(out)
    found = {t["topic"]: {f["code"]: f for f in t["findings"]} for t in doc["topics"]}
    fhir, adt = found[FHIR], found[ADT]
    assert {t["topic"]: t["topic_class"] for t in doc["topics"]} == {FHIR: "fhir", ADT: "clinical"}
    assert "loses acknowledged data" in fhir["replication-below-policy"]["message"]
    assert "data minimisation" in fhir["retention-infinite"]["message"]
    # min.insync.replicas is whatever the cluster default is (1 or 2): either way it is reported and never
    # raised to the replica count while RF is 2 (that would stop acks=all writes with one broker down)
    assert {"min-isr-below-policy", "min-isr-not-below-rf"} & set(fhir)
    fhir_changes = {c["key"] for t in doc["topics"] if t["topic"] == FHIR for c in t["config_changes"]}
    assert "min.insync.replicas" not in fhir_changes
    assert "acknowledged events it never received are lost" in adt["unclean-leader-election"]["message"]
    assert all(f["severity"] == "critical" for f in (fhir["replication-below-policy"], fhir["retention-infinite"],
                                                     adt["unclean-leader-election"]))
    # the exact command for the replication factor, and the file it runs
    rep = doc["replication"]
    assert rep["topics"] == [FHIR] and rep["partitions"] == 6 and rep["file"] == str(plan_file)
    assert rep["command"].startswith(f"brokerscale rebalance execute --bootstrap {bootstrap} --proposal ")
    proposal = json.loads(plan_file.read_text())
    assert len(proposal["partitions"]) == 6 and all(len(p["replicas"]) == 3 for p in proposal["partitions"])
    code, out, err = cli("topics", "list", "--bootstrap", bootstrap, "--topic", FHIR, "--format", "json")
    assert code == 0 and json.loads(out)[0]["replication_factor"] == 2  # a dry run changes nothing

    code, out, err = cli(*base, "--apply", "--configs-only")
    assert code == 0, err
    applied = {(a["topic"], k): v for a in json.loads(out)["applied"] for k, v in a["after"].items()}
    assert applied[(FHIR, "retention.ms")] == str(90 * 86_400_000)
    assert applied[(ADT, "unclean.leader.election.enable")] == "false"

    # the replication factor goes through the rebalance machinery, exactly as printed
    args = rep["command"].split()[1:]
    code, out, err = cli(*args)
    assert code == 0, out + err

    seen = _kafka_topics_describe(bootstrap, FHIR, ADT)
    rf, fhir_configs, replicas = seen[FHIR]
    assert rf == 3 and len(replicas) == 6 and all(len(r) == 3 for r in replicas)
    assert fhir_configs.get("retention.ms") == str(90 * 86_400_000)
    racks = {b.id: b.rack for b in kafka_cluster.brokers}
    if len(set(racks.values())) >= 3:
        assert all(len({racks[b] for b in r}) == 3 for r in replicas), replicas  # one copy per rack
    assert seen[ADT][1].get("unclean.leader.election.enable") == "false"

    # with three replicas, min.insync.replicas can be raised to 2 (if the cluster default left it lower)
    code, out, err = cli(*base, "--apply", "--configs-only")
    assert code == 0, err
    # and now nothing PHI-related is left for either topic
    code, out, err = cli(*base[:-2], "--format", "json")
    assert code == 0, err
    after = json.loads(out)
    left = {t["topic"]: {f["code"] for f in t["findings"]} - {"partitions-below-target", "key-remap"}
            for t in after["topics"]}
    assert left == {FHIR: set(), ADT: set()}
    assert after["replication"] is None


@pytest.mark.kafka
def test_unmanaged_topics_are_listed_with_a_finding(cli: Any, bootstrap: str) -> None:
    from kafka.admin import NewTopic

    name = "team-x.events"
    admin = _admin(bootstrap)
    try:
        admin.create_topics([NewTopic(name, 1, 3)])
    finally:
        admin.close()
    try:
        deadline = time.monotonic() + 60
        while True:  # each broker learns of a new topic on its own schedule
            code, out, err = cli("topics", "optimize", "--bootstrap", bootstrap, "--topic", name, "--window", "1s",
                                 "--source", "offsets", "--format", "json")
            if code == 0 or "does not exist" not in err or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert code == 0, err
        doc = json.loads(out)
        assert doc["unmanaged"] == [name]
        assert [f["code"] for f in doc["topics"][0]["findings"]] == ["unmanaged"]
        code, out, err = cli("topics", "list", "--bootstrap", bootstrap, "--topic", name)
        assert code == 0, err
        assert "no class" in out
        code, out, err = cli("topics", "optimize", "--bootstrap", bootstrap, "--topic", name, "--window", "1s",
                             "--source", "offsets")
        assert code == 0, err
        assert "no class: set one in the policy" in " ".join(out.split())
    finally:
        admin = _admin(bootstrap)
        try:
            admin.delete_topics([name])
        finally:
            admin.close()


@pytest.mark.kafka
def test_a_three_broker_dev_clusters_defaults_meet_the_phi_replication_rules(cli: Any, bootstrap: str) -> None:
    """`dev up` (3 brokers) gives new topics RF 3, min.insync.replicas 2 and no unclean election by default, so
    a clinical topic created with no overrides is not flagged for replication; only deliberate mistakes are."""
    from brokerscale.dev.tools import run_tool

    name = "fhir.dev-defaults"
    res = run_tool("kafka-topics", ["--bootstrap-server", bootstrap, "--create", "--topic", name,
                                    "--partitions", "12"], timeout=180)  # no --replication-factor, no --config
    assert res.returncode == 0, res.stderr
    try:
        rf, configs, _ = _kafka_topics_describe(bootstrap, name)[name]
        assert rf == 3, (rf, configs)  # the cluster's default, not 1
        res = run_tool("kafka-configs", ["--bootstrap-server", bootstrap, "--entity-type", "topics", "--entity-name",
                                         name, "--describe", "--all"], timeout=180)
        assert res.returncode == 0, res.stderr
        effective = dict(re.findall(r"^\s*([a-z.]+)=(\S*) sensitive", res.stdout, re.M))
        assert effective["min.insync.replicas"] == "2" and effective["unclean.leader.election.enable"] == "false"
        deadline = time.monotonic() + 60
        while True:
            code, out, err = cli("topics", "optimize", "--bootstrap", bootstrap, "--topic", name, "--window", "1s",
                                 "--source", "offsets", "--format", "json")
            if code == 0 or "does not exist" not in err or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert code == 0, err
        topic = json.loads(out)["topics"][0]
        assert topic["topic_class"] == "fhir"
        codes = {f["code"] for f in topic["findings"]}
        assert not codes & {"replication-below-policy", "min-isr-below-policy", "min-isr-not-below-rf",
                            "unclean-leader-election"}, topic["findings"]
        assert "min.insync.replicas" not in {c["key"] for c in topic["config_changes"]}
    finally:
        admin = _admin(bootstrap)
        try:
            admin.delete_topics([name])
        finally:
            admin.close()
