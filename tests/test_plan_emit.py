"""Generated deployment files: Terraform parses and uses only real provider blocks; Strimzi resources
validate against the CRDs in the shared reference; the StatefulSet is KRaft and well-formed."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import jsonschema
import pytest
import yaml

from brokerscale.model.limits import load_limits
from brokerscale.model.workload import Workload, load_workload, parse_workload
from brokerscale.plan.emit_kubernetes import render_statefulset, render_strimzi, strimzi_resources
from brokerscale.plan.emit_terraform import render_terraform
from brokerscale.plan.model import Plan
from brokerscale.plan.sizing import plan_workload
from strimzi_crds import CRD_FILES, CRDS
from strimzi_crds import validator as crd_validator

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
EXAMPLE_NAMES = ["small-clinic", "regional-hospital", "health-system"]


def _planned(name: str, limits: str = "design-doc") -> tuple[Workload, Plan]:
    wl = load_workload(EXAMPLES / f"{name}.yaml")
    return wl, plan_workload(wl, load_limits(limits))


# ---- Terraform ----------------------------------------------------------------------------------

def _unq(v: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals and labels; strip them for comparison."""
    if isinstance(v, str) and len(v) >= 2 and v[0] == v[-1] == '"':
        return v[1:-1]
    if isinstance(v, dict):
        return {_unq(k): _unq(x) for k, x in v.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(v, list):
        return [_unq(x) for x in v]
    return v


def _resources(files: dict[str, str], rtype: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for text in files.values():
        for res in _unq(hcl2.loads(text)).get("resource", []):
            out.update(res.get(rtype, {}))
    return out


@pytest.mark.parametrize(("example", "limits", "block"), [
    ("small-clinic", "design-doc", "basic"), ("regional-hospital", "design-doc", "standard"),
    ("health-system", "design-doc", "dedicated"), ("health-system", "confluent-2026", "enterprise")])
def test_terraform_parses_and_uses_one_real_cluster_type_block(example: str, limits: str, block: str) -> None:
    wl, plan = _planned(example, limits)
    files = render_terraform(plan, wl)
    clusters = _resources(files, "confluent_kafka_cluster")
    assert list(clusters) == ["main"]
    cluster = clusters["main"]
    types = [k for k in ("basic", "standard", "enterprise", "dedicated", "freight") if k in cluster]
    assert types == [block]
    if block == "dedicated":
        assert cluster["dedicated"] == [{"cku": plan.confluent.ckus}]
    else:
        assert cluster[block] == [{}]
    allowed = {"display_name", "availability", "cloud", "region", "environment", "lifecycle", "network", block}
    assert set(cluster) <= allowed
    expected_av = {"enterprise": {"HIGH", "LOW"}}.get(block, {"MULTI_ZONE", "SINGLE_ZONE"})
    assert cluster["availability"] in expected_av
    assert "cku_auto_scaling" not in "".join(files.values())


def test_terraform_topics_match_the_plan_and_keep_secrets_in_variables() -> None:
    wl, plan = _planned("health-system")
    files = render_terraform(plan, wl)
    topics = _resources(files, "confluent_kafka_topic")
    by_name = {t["topic_name"]: t for t in topics.values()}
    assert {t.name: t.partitions.partitions for t in plan.topics} == {
        n: t["partitions_count"] for n, t in by_name.items()}
    adt = by_name["clinical.adt"]
    assert adt["config"]["retention.ms"] == str(30 * 86_400_000)
    assert adt["credentials"] == [{"key": "${var.kafka_api_key}", "secret": "${var.kafka_api_secret}"}]
    variables = _unq(hcl2.loads(files["variables.tf"]))["variable"]
    assert all(v[name]["sensitive"] is True for v in variables for name in v)


def test_terraform_max_ecku_only_when_asked_and_odd_topic_names_become_identifiers() -> None:
    wl = parse_workload({"name": "x", "availability": "single-zone", "deploy": {"max_ecku": 4},
                         "topics": [{"name": "9lab.results", "class": "low-volume-reference",
                                     "messages_per_second": 1, "message_bytes": 100},
                                    {"name": "9lab_results", "class": "low-volume-reference",
                                     "messages_per_second": 1, "message_bytes": 100}]})
    files = render_terraform(plan_workload(wl, load_limits()), wl)
    assert _resources(files, "confluent_kafka_cluster")["main"]["basic"] == [{"max_ecku": 4}]
    topics = _resources(files, "confluent_kafka_topic")
    assert sorted(t["topic_name"] for t in topics.values()) == ["9lab.results", "9lab_results"]
    assert len(topics) == 2 and all(k[0].isalpha() or k[0] == "_" for k in topics)


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform binary not installed")
def test_terraform_fmt_accepts_the_files(tmp_path: Path) -> None:
    wl, plan = _planned("health-system")
    for name, text in render_terraform(plan, wl).items():
        (tmp_path / name).write_text(text)
    proc = subprocess.run(["terraform", "fmt", "-check", "-diff", str(tmp_path)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---- Strimzi -------------------------------------------------------------------------------------

@pytest.mark.skipif(not CRDS.is_dir(), reason="shared Strimzi CRDs not present")
@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_strimzi_resources_validate_against_the_crds(example: str) -> None:
    wl, plan = _planned(example)
    docs = [d for file_docs in strimzi_resources(plan, wl).values() for d in file_docs]
    checked = 0
    for doc in docs:
        if doc["kind"] not in CRD_FILES:
            continue
        group, version = doc["apiVersion"].split("/")
        assert group == "kafka.strimzi.io"
        crd_validator(doc["kind"], version).validate(doc)
        checked += 1
    assert checked == 5  # Kafka, 2 node pools, 2 rebalance templates
    kafka = next(d for d in docs if d["kind"] == "Kafka")
    templates = {d["metadata"]["name"] for d in docs if d["kind"] == "KafkaRebalance"
                 and d["metadata"]["annotations"]["strimzi.io/rebalance-template"] == "true"}
    assert {r["template"]["name"] for r in kafka["spec"]["cruiseControl"]["autoRebalance"]} == templates
    brokers = next(d for d in docs if d["kind"] == "KafkaNodePool" and "broker" in d["spec"]["roles"])
    assert brokers["spec"]["replicas"] == plan.self_managed.brokers
    assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2


@pytest.mark.skipif(not CRDS.is_dir(), reason="shared Strimzi CRDs not present")
def test_strict_validation_catches_invented_fields() -> None:
    wl, plan = _planned("small-clinic")
    kafka = strimzi_resources(plan, wl)["kafka.yaml"][0]
    bad = copy.deepcopy(kafka)
    bad["spec"]["kafka"]["replicas"] = 3  # v1beta2-era field; v1 sizes brokers with node pools
    with pytest.raises(jsonschema.ValidationError):
        crd_validator("Kafka", "v1").validate(bad)
    bad = copy.deepcopy(kafka)
    bad["spec"]["zookeeper"] = {"replicas": 3}
    with pytest.raises(jsonschema.ValidationError):
        crd_validator("Kafka", "v1").validate(bad)


def test_kafka_topics_match_the_plan() -> None:
    # The shared reference has no KafkaTopic CRD, so check the fields the Topic Operator needs.
    wl, plan = _planned("health-system")
    topics = strimzi_resources(plan, wl)["topics.yaml"]
    assert len(topics) == len(plan.topics)
    for doc, t in zip(topics, plan.topics, strict=True):
        assert doc["apiVersion"] == "kafka.strimzi.io/v1" and doc["kind"] == "KafkaTopic"
        assert doc["metadata"]["labels"] == {"strimzi.io/cluster": wl.name}
        assert doc["spec"]["topicName"] == t.name
        assert doc["spec"]["partitions"] == t.partitions.partitions
        assert doc["spec"]["replicas"] == 3
        assert doc["spec"]["config"]["retention.ms"] == round(t.retention_days * 86_400_000)


def test_rendered_strimzi_yaml_round_trips() -> None:
    wl, plan = _planned("regional-hospital")
    rendered = render_strimzi(plan, wl)
    for name, docs in strimzi_resources(plan, wl).items():
        assert [d for d in yaml.safe_load_all(rendered[name]) if d] == docs


# ---- StatefulSet ---------------------------------------------------------------------------------

def test_statefulset_is_kraft_with_single_field_paths() -> None:
    wl, plan = _planned("regional-hospital")
    text = render_statefulset(plan, wl)["statefulset.yaml"]
    assert "ZOOKEEPER" not in text.upper()
    docs = [d for d in yaml.safe_load_all(text) if d]
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    assert sts["spec"]["replicas"] == plan.self_managed.brokers
    container = sts["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    for e in container["env"]:
        if "valueFrom" in e:
            assert set(e["valueFrom"]["fieldRef"]) == {"apiVersion", "fieldPath"}
    pod = sts["spec"]["template"]["spec"]
    every_env = [e for c in pod["containers"] + pod.get("initContainers", []) for e in c.get("env", [])]
    assert text.count("fieldPath") == sum("valueFrom" in e for e in every_env)
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"]["value"].count("@") == 3
    assert env["KAFKA_MIN_INSYNC_REPLICAS"]["value"] == "2"
    assert "KAFKA_PROCESS_ROLES=broker,controller" in container["command"][-1]
    assert len(env["CLUSTER_ID"]["value"]) == 22
    svc = next(d for d in docs if d["kind"] == "Service")
    assert svc["spec"]["clusterIP"] == "None"
    assert sts["spec"]["serviceName"] == svc["metadata"]["name"]
