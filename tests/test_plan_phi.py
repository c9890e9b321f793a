"""PHI-safe deployment files: what the emitters produce for a PHI workload (validated against the Strimzi
CRDs, the Kubernetes schemas of the kubernetes-validate package and `terraform fmt`), and the lint that
catches each unsafe setting in anyone's files."""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from brokerscale.errors import BadInput
from brokerscale.model.limits import load_limits
from brokerscale.model.workload import Workload, load_workload, parse_workload
from brokerscale.plan.emit_kubernetes import (
    kafka_users,
    render_statefulset,
    render_strimzi,
    statefulset_resources,
    strimzi_resources,
    tls_secret,
)
from brokerscale.plan.emit_terraform import render_terraform
from brokerscale.plan.lint import lint_paths
from brokerscale.plan.model import Plan
from brokerscale.plan.sizing import plan_workload
from strimzi_crds import CRD_FILES, CRDS
from strimzi_crds import validator as crd_validator

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
K8S_VERSION = "1.33.0"


def _planned(name: str = "health-system", limits: str = "design-doc", **changes: Any) -> tuple[Workload, Plan]:
    wl = load_workload(EXAMPLES / f"{name}.yaml")
    if changes:
        doc = wl.model_dump(by_alias=True)
        for k, v in changes.items():
            if k == "deploy":
                doc["deploy"].update(v)
            else:
                doc[k] = v
        wl = parse_workload(doc)
    return wl, plan_workload(wl, load_limits(limits))


def _write(tmp: Path, files: dict[str, str]) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (tmp / name).write_text(text)
    return tmp


def _rules(path: Path, reqs: tuple[str, ...] = ("phi", "private-networking")) -> set[str]:
    return {f.rule for f in lint_paths([path], reqs)[0]}


# ---- Strimzi ---------------------------------------------------------------------------------------

@pytest.mark.skipif(not CRDS.is_dir(), reason="shared Strimzi CRDs not present")
def test_phi_strimzi_is_tls_only_authenticated_authorized_rack_aware_and_validates() -> None:
    wl, plan = _planned()
    files = strimzi_resources(plan, wl)
    docs = [d for ds in files.values() for d in ds]
    for d in docs:
        if d["kind"] in CRD_FILES:
            crd_validator(d["kind"], d["apiVersion"].split("/")[1]).validate(d)
    k = next(d for d in docs if d["kind"] == "Kafka")["spec"]["kafka"]
    assert k["listeners"] == [{"name": "tls", "port": 9093, "type": "internal", "tls": True,
                               "authentication": {"type": "scram-sha-512"}}]
    assert k["authorization"] == {"type": "simple", "superUsers": ["brokerscale-admin"]}
    assert k["rack"] == {"topologyKey": "topology.kubernetes.io/zone"}
    assert k["config"]["default.replication.factor"] == 3 and k["config"]["min.insync.replicas"] == 2
    assert k["config"]["unclean.leader.election.enable"] is False
    for t in files["topics.yaml"]:
        assert t["spec"]["replicas"] == 3 and t["spec"]["config"]["min.insync.replicas"] == 2
        assert t["spec"]["config"]["unclean.leader.election.enable"] is False


def test_kafka_users_have_least_privilege_acls_checked_field_by_field() -> None:
    # The shared reference has no KafkaUser CRD: check each field against Strimzi's KafkaUser (v1) API.
    wl, _ = _planned()
    users = {u["metadata"]["name"]: u for u in kafka_users(wl)}
    named = {a for t in wl.topics for a in (*t.producers, *t.consumers)}
    assert set(users) == named | {"brokerscale-admin"}
    for u in users.values():
        assert u["apiVersion"] == "kafka.strimzi.io/v1" and u["kind"] == "KafkaUser"
        assert u["metadata"]["labels"] == {"strimzi.io/cluster": wl.name}
        assert set(u["spec"]) <= {"authentication", "authorization", "quotas", "template"}
        assert u["spec"]["authentication"]["type"] in ("tls", "tls-external", "scram-sha-512")
        for acl in u["spec"].get("authorization", {}).get("acls", []):
            assert set(acl) <= {"resource", "type", "host", "operations"}
            assert acl["resource"]["type"] in ("topic", "group", "cluster", "transactionalId")
            assert acl["resource"]["patternType"] == "literal" and acl["resource"]["name"] != "*"
            assert set(acl["operations"]) <= {"Read", "Write", "Describe"}
    assert "authorization" not in users["brokerscale-admin"]["spec"]  # a super user needs no ACLs
    engine = users["hl7-interface-engine"]["spec"]["authorization"]["acls"]
    assert {(a["resource"]["name"], tuple(a["operations"])) for a in engine} == {
        ("clinical.adt", ("Write", "Describe")), ("clinical.oru", ("Write", "Describe"))}
    beds = users["bed-management"]["spec"]["authorization"]["acls"]
    assert {(a["resource"]["type"], a["resource"]["name"], tuple(a["operations"])) for a in beds} == {
        ("topic", "clinical.adt", ("Read", "Describe")), ("topic", "scheduling.events", ("Read", "Describe")),
        ("group", "bed-management", ("Read",))}


def test_non_phi_workload_keeps_the_simple_output_and_says_which_requirements_it_meets() -> None:
    wl, plan = _planned("small-clinic")
    assert wl.requirements == []
    files = strimzi_resources(plan, wl)
    k = files["kafka.yaml"][0]["spec"]["kafka"]
    assert [lst["name"] for lst in k["listeners"]] == ["plain", "tls"] and "authorization" not in k
    assert "users.yaml" not in files
    assert "secrets.yaml" not in render_statefulset(plan, wl)
    rendered = {**render_strimzi(plan, wl), **render_statefulset(plan, wl), **render_terraform(plan, wl)}
    for name, text in rendered.items():
        assert "# Requirements: none declared" in text, name
    wl, plan = _planned()
    rendered = {**render_strimzi(plan, wl), **render_statefulset(plan, wl), **render_terraform(plan, wl)}
    for name, text in rendered.items():
        assert "# Requirements: phi, private-networking" in text, name
        assert "#   phi: " in text and "#   private-networking: " in text, name


# ---- StatefulSet -----------------------------------------------------------------------------------

def test_phi_statefulset_pdb_and_secret_validate_against_the_kubernetes_schemas() -> None:
    wl, plan = _planned()
    docs = [*statefulset_resources(plan, wl), tls_secret(wl)]
    kinds = [d["kind"] for d in docs]
    assert {"StatefulSet", "PodDisruptionBudget", "Secret", "Service"} <= set(kinds)
    for d in docs:
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] == "CLIENT:SSL,CONTROLLER:SSL,INTERNAL:SSL"
    assert env["KAFKA_SSL_CLIENT_AUTH"] == "required"
    assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
    assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3" and env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    assert 'KAFKA_BROKER_RACK="$(cat /etc/kafka/rack/zone)"' in pod["containers"][0]["command"][-1]
    pdb = next(d for d in docs if d["kind"] == "PodDisruptionBudget")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "kafka"}}}
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert secret["data"] == {}  # never key material in a generated file


def test_the_validator_is_not_a_rubber_stamp() -> None:
    wl, plan = _planned()
    sts = copy.deepcopy(next(d for d in statefulset_resources(plan, wl) if d["kind"] == "StatefulSet"))
    sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0][
        "topologyKeys"] = "zone"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(sts, K8S_VERSION, strict=True)


# ---- Terraform -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("limits", "changes", "network"), [
    ("design-doc", {}, "confluent_private_link_access"),
    ("design-doc", {"deploy": {"private_network": "peering"}}, "confluent_peering"),
    ("design-doc", {"deploy": {"cloud": "AZURE", "region": "eastus"}}, "confluent_private_link_access"),
    ("confluent-2026", {}, "confluent_private_link_attachment_connection"),
])
def test_phi_private_terraform_has_the_network_and_its_access_and_passes_fmt_and_lint(
        tmp_path: Path, limits: str, changes: dict[str, Any], network: str) -> None:
    wl, plan = _planned(limits=limits, **changes)
    files = render_terraform(plan, wl)
    text = "".join(files.values())
    assert f'resource "{network}" "main"' in text
    assert "standard {}" not in text and "basic {}" not in text
    out = _write(tmp_path / "tf", files)
    assert _rules(out) == set()
    if shutil.which("terraform"):
        proc = subprocess.run(["terraform", "fmt", "-check", "-diff", str(out)], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_terraform_refuses_private_networking_on_a_tier_that_cannot_have_it(tmp_path: Path) -> None:
    wl, plan = _planned("regional-hospital", requirements=["phi", "private-networking"])
    assert plan.confluent.tier == "standard"
    with pytest.raises(BadInput, match="private-networking cannot be met by a standard cluster"):
        render_terraform(plan, wl)


def test_plan_check_refusal_writes_nothing(cli: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    wl_file = tmp_path / "w.yaml"
    doc = yaml.safe_load((EXAMPLES / "regional-hospital.yaml").read_text())
    doc["requirements"] = ["phi", "private-networking"]
    wl_file.write_text(yaml.safe_dump(doc))
    code, _, err = cli("plan", str(wl_file), "--emit", "strimzi", "--emit", "terraform", "--out",
                       str(tmp_path / "out"), "--check")
    assert code == 2 and "private-networking cannot be met" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_plan_emit_check_passes_for_the_phi_example(cli: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    code, out, err = cli("plan", str(EXAMPLES / "health-system.yaml"), "--emit", "terraform", "--emit", "strimzi",
                         "--emit", "statefulset", "--out", str(tmp_path), "--check", "--format", "json")
    assert code == 0, out + err
    assert "PHI lint: OK (terraform, strimzi, kubernetes files meet phi, private-networking)" in err


# ---- the lint catches each unsafe setting -----------------------------------------------------------

def _phi_files(tmp: Path) -> dict[str, Path]:
    wl, plan = _planned()
    return {"terraform": _write(tmp / "terraform", render_terraform(plan, wl)),
            "strimzi": _write(tmp / "strimzi", render_strimzi(plan, wl)),
            "statefulset": _write(tmp / "statefulset", render_statefulset(plan, wl))}


def _edit_yaml(path: Path, kind: str, fn: Callable[[dict[str, Any]], None]) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for d in docs:
        if d["kind"] == kind:
            fn(d)
            break
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def _kafka(d: dict[str, Any]) -> dict[str, Any]:
    return d["spec"]["kafka"]


def _env(d: dict[str, Any], name: str, value: str | None) -> None:
    env = d["spec"]["template"]["spec"]["containers"][0]["env"]
    env[:] = [e for e in env if e["name"] != name] + ([{"name": name, "value": value}] if value is not None else [])


def _pod(d: dict[str, Any]) -> dict[str, Any]:
    return d["spec"]["template"]["spec"]


STRIMZI_BREAKS: dict[str, tuple[str, str, Callable[[dict[str, Any]], None]]] = {
    "plain listener": ("kafka.yaml", "Kafka", lambda d: _kafka(d)["listeners"].append(
        {"name": "plain", "port": 9092, "type": "internal", "tls": False})),
    "no authentication": ("kafka.yaml", "Kafka", lambda d: _kafka(d)["listeners"][0].pop("authentication")),
    "no authorization": ("kafka.yaml", "Kafka", lambda d: _kafka(d).pop("authorization")),
    "no super users": ("kafka.yaml", "Kafka", lambda d: _kafka(d)["authorization"].pop("superUsers")),
    "no rack": ("kafka.yaml", "Kafka", lambda d: _kafka(d).pop("rack")),
    "RF 2": ("kafka.yaml", "Kafka", lambda d: _kafka(d)["config"].update({"default.replication.factor": 2})),
    "min ISR 1": ("kafka.yaml", "Kafka", lambda d: _kafka(d)["config"].update({"min.insync.replicas": 1})),
    "unclean on": ("kafka.yaml", "Kafka", lambda d: _kafka(d)["config"].update(
        {"unclean.leader.election.enable": True})),
    "All ACL": ("users.yaml", "KafkaUser", lambda d: d["spec"].update({"authorization": {"type": "simple", "acls": [
        {"resource": {"type": "topic", "name": "*", "patternType": "literal"}, "operations": ["All"]}]}})),
    "topic RF 2": ("topics.yaml", "KafkaTopic", lambda d: d["spec"].update({"replicas": 2})),
    "topic compacted": ("topics.yaml", "KafkaTopic", lambda d: d["spec"]["config"].update(
        {"cleanup.policy": "compact"})),
    "topic kept forever": ("topics.yaml", "KafkaTopic", lambda d: d["spec"]["config"].update({"retention.ms": -1})),
}
STRIMZI_RULES = {"plain listener": {"strimzi-listener-tls", "strimzi-listener-auth"},
                 "no authentication": {"strimzi-listener-auth"}, "no authorization": {"strimzi-authorization"},
                 "no super users": {"strimzi-authorization"}, "no rack": {"strimzi-rack"},
                 "RF 2": {"strimzi-replication", "strimzi-min-isr"}, "min ISR 1": {"strimzi-min-isr"},
                 "unclean on": {"strimzi-unclean"}, "All ACL": {"strimzi-user-acl"},
                 "topic RF 2": {"strimzi-topic-replicas", "strimzi-topic-min-isr"},
                 "topic compacted": {"strimzi-topic-compact"}, "topic kept forever": {"strimzi-topic-retention"}}


@pytest.mark.parametrize("breakage", sorted(STRIMZI_BREAKS))
def test_lint_catches_each_unsafe_strimzi_setting(tmp_path: Path, breakage: str) -> None:
    files = _phi_files(tmp_path)
    assert _rules(files["strimzi"]) == set()
    name, kind, fn = STRIMZI_BREAKS[breakage]
    _edit_yaml(files["strimzi"] / name, kind, fn)
    assert _rules(files["strimzi"]) == STRIMZI_RULES[breakage]


def test_lint_wants_kafka_users_beside_the_kafka(tmp_path: Path) -> None:
    files = _phi_files(tmp_path)
    (files["strimzi"] / "users.yaml").unlink()
    assert _rules(files["strimzi"]) == {"strimzi-users"}


STS_BREAKS: dict[str, tuple[str, Callable[[dict[str, Any]], None]]] = {
    "plaintext": ("StatefulSet", lambda d: _env(d, "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                                                 "CLIENT:PLAINTEXT,CONTROLLER:SSL,INTERNAL:SSL")),
    "no keystore mount": ("StatefulSet", lambda d: _pod(d).update(
        {"volumes": [v for v in _pod(d)["volumes"] if v["name"] != "tls"] + [{"name": "tls", "emptyDir": {}}]})),
    "no client auth": ("StatefulSet", lambda d: _env(d, "KAFKA_SSL_CLIENT_AUTH", "none")),
    "no authorizer": ("StatefulSet", lambda d: _env(d, "KAFKA_AUTHORIZER_CLASS_NAME", None)),
    "no rack": ("StatefulSet", lambda d: _pod(d)["containers"][0]["command"].__setitem__(
        -1, _pod(d)["containers"][0]["command"][-1].replace("KAFKA_BROKER_RACK", "X"))),
    "no anti-affinity": ("StatefulSet", lambda d: [_pod(d).pop("affinity"), _pod(d).pop("topologySpreadConstraints")]),
    "PDB of 2": ("PodDisruptionBudget", lambda d: d["spec"].update({"maxUnavailable": 2})),
    "RF 1": ("StatefulSet", lambda d: _env(d, "KAFKA_DEFAULT_REPLICATION_FACTOR", "1")),
    "min ISR 1": ("StatefulSet", lambda d: _env(d, "KAFKA_MIN_INSYNC_REPLICAS", "1")),
    "unclean on": ("StatefulSet", lambda d: _env(d, "KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE", "true")),
}
STS_RULES = {"plaintext": {"sts-listener-plaintext"}, "no keystore mount": {"sts-keystore"},
             "no client auth": {"sts-authentication"}, "no authorizer": {"sts-authorization"},
             "no rack": {"sts-rack"}, "no anti-affinity": {"sts-anti-affinity"}, "PDB of 2": {"sts-pdb"},
             "RF 1": {"sts-replication", "sts-min-isr"}, "min ISR 1": {"sts-min-isr"}, "unclean on": {"sts-unclean"}}


@pytest.mark.parametrize("breakage", sorted(STS_BREAKS))
def test_lint_catches_each_unsafe_statefulset_setting(tmp_path: Path, breakage: str) -> None:
    files = _phi_files(tmp_path)
    assert _rules(files["statefulset"]) == set()
    kind, fn = STS_BREAKS[breakage]
    _edit_yaml(files["statefulset"] / "statefulset.yaml", kind, fn)
    assert _rules(files["statefulset"]) == STS_RULES[breakage]


def test_lint_catches_a_private_key_in_a_secret(tmp_path: Path) -> None:
    files = _phi_files(tmp_path)
    _edit_yaml(files["statefulset"] / "secrets.yaml", "Secret",
               lambda d: d.update({"stringData": {"keystore.pem": "-----BEGIN PRIVATE KEY-----\nMIIE\n"}}))
    assert _rules(files["statefulset"]) == {"k8s-secret-in-file"}


TF_BREAKS: dict[str, tuple[Callable[[str], str], set[str]]] = {
    "standard cluster": (lambda t: t.replace("dedicated {\n    cku = 5\n  }", "standard {}"), {"tf-private-tier"}),
    "no network on the cluster": (lambda t: t.replace("  network {\n    id = confluent_network.private.id\n  }\n\n"
                                                      "  lifecycle", "  lifecycle", 1), {"tf-network"}),
    "no access resource": (lambda t: t[:t.index('# Who may open')] , {"tf-network-access"}),
    "public network": (lambda t: t.replace('["PRIVATELINK"]', '["PUBLIC"]'), {"tf-network"}),
}


@pytest.mark.parametrize("breakage", sorted(TF_BREAKS))
def test_lint_catches_each_missing_terraform_network_piece(tmp_path: Path, breakage: str) -> None:
    files = _phi_files(tmp_path)
    main = files["terraform"] / "main.tf"
    fn, rules = TF_BREAKS[breakage]
    changed = fn(main.read_text())
    assert changed != main.read_text()
    main.write_text(changed)
    assert _rules(files["terraform"]) == rules


def test_lint_catches_unsafe_terraform_topics_and_literal_secrets(tmp_path: Path) -> None:
    files = _phi_files(tmp_path)
    topics = files["terraform"] / "topics.tf"
    text = topics.read_text()
    text = text.replace('"min.insync.replicas" = "2"', '"min.insync.replicas" = "1"', 1)
    text = text.replace('"cleanup.policy"      = "delete"', '"cleanup.policy"      = "compact"', 1)
    text = text.replace("key    = var.kafka_api_key", 'key    = "ABCDEF123"', 1)
    topics.write_text(text)
    assert _rules(files["terraform"]) == {"topic-min-isr", "topic-compact", "tf-secret-literal"}


def test_lint_cli_exit_codes_and_one_line_errors(cli: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    files = _phi_files(tmp_path)
    code, out, _ = cli("lint", str(tmp_path))
    assert code == 0 and "PHI lint: OK" in out
    _edit_yaml(files["strimzi"] / "kafka.yaml", "Kafka", lambda d: _kafka(d).pop("rack"))
    code, out, _ = cli("lint", str(files["strimzi"]), "--format", "json")
    import json

    doc = json.loads(out)
    assert code == 1 and not doc["ok"] and [f["rule"] for f in doc["findings"]] == ["strimzi-rack"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    code, _, err = cli("lint", str(bad))
    assert code == 2 and f"{bad}: line 2: not valid YAML" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("lint", str(tmp_path / "missing"))
    assert code == 2 and "no such file or directory" in err
    code, _, err = cli("lint", str(tmp_path), "--requirements", "hipaa")
    assert code == 2 and "--requirements: hipaa is not one of: phi, private-networking" in err
