"""The main verbs over real secured clusters: SASL_SSL with SCRAM-SHA-512 and deny-by-default ACLs
(reads as the read-only principal, changes as admin), and mTLS (client certificate required).
One module-scoped 2-broker cluster per protocol, shared by these tests; Kafka's own tools (run with
the same client-properties files) are the independent check."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from brokerscale.dev.cluster import DevCluster, _pids_mentioning
from brokerscale.dev.tools import run_tool

pytestmark = pytest.mark.kafka
TOPIC = "adt.secured"
GROUP = "ehr-secured"


def _create_topic(c: DevCluster, name: str, *, partitions: int = 1, rf: int = 1,
                  on_broker_1: int | None = None, configs: dict[str, str] | None = None) -> None:
    """As admin, through librdkafka: setup only (a Kafka tool's JVM costs seconds per call on a busy
    machine; the tools stay where they are the check). `on_broker_1`: that many partitions, all on broker 1."""
    from confluent_kafka.admin import NewTopic

    new = (NewTopic(name, on_broker_1, replica_assignment=[[1]] * on_broker_1, config=configs or {}) if on_broker_1
           else NewTopic(name, partitions, rf, config=configs or {}))
    admin = AdminClient(c.client_conf())
    admin.create_topics([new], request_timeout=60)[name].result()
    deadline = time.monotonic() + 60  # until every partition has a leader: the next step writes or moves it
    while time.monotonic() < deadline:
        try:
            md = admin.list_topics(name, timeout=10).topics.get(name)
        except KafkaException:  # a slow answer on a busy machine: ask again until the deadline
            md = None
        if md is not None and md.error is None and md.partitions and all(p.leader >= 0 for p in md.partitions.values()):
            return
        time.sleep(0.2)
    raise AssertionError(f"{name}: no leader for every partition after 60 s")


def _seed_topic_and_group(c: DevCluster) -> None:
    """As admin: a topic; then 20 records produced and 5 consumed by a group."""
    _create_topic(c, TOPIC, partitions=2, rf=2)
    producer = Producer({**c.client_conf(), "acks": "all"})
    for i in range(20):
        producer.produce(TOPIC, key=f"patient-{i}", value=b"{}")
    assert producer.flush(60) == 0
    consumer = Consumer({**c.client_conf(), "group.id": GROUP, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([TOPIC])
    got = 0
    while got < 5:
        msg = consumer.poll(30)
        assert msg is not None and msg.error() is None
        got += 1
        consumer.commit(msg, asynchronous=False)
    consumer.close()


@pytest.fixture(scope="module")
def sasl_cluster() -> Iterator[DevCluster]:
    c = DevCluster.up("pytest-sasl", brokers=2, security="sasl_ssl", acls=True)
    try:
        _seed_topic_and_group(c)
        yield c
    finally:
        c.down()


@pytest.fixture(scope="module")
def mtls_cluster() -> Iterator[DevCluster]:
    c = DevCluster.up("pytest-mtls", brokers=2, security="mtls")
    try:
        _seed_topic_and_group(c)
        yield c
    finally:
        c.down()


def test_read_only_principal_observes_lags_checks_and_lists_over_sasl_ssl(sasl_cluster, cli) -> None:  # type: ignore[no-untyped-def]
    reader = ["--bootstrap", sasl_cluster.bootstrap, "--command-config",
              str(sasl_cluster.security.properties_file("reader"))]
    # a 1 s sampling window (default 5 s): these tests are about who may read, not about rates
    code, out, err = cli("observe", *reader, "--interval", "1s", "--format", "json")
    assert code == 0, err
    snap = json.loads(out)["snapshot"]
    assert [b["id"] for b in snap["brokers"]] == [1, 2] and TOPIC in [t["name"] for t in snap["topics"]]
    code, out, err = cli("lag", *reader, "--format", "json")
    assert code == 0, err
    assert GROUP in out and "lag > 0" in out  # 20 produced, 5 committed
    with_history = next(g for g in json.loads(out)["groups"] if g["group"] == GROUP)
    code, out, err = cli("lag", *reader, "--no-history", "--samples", "1", "--format", "json")  # no topic models
    assert code == 0, err
    g = next(g for g in json.loads(out)["groups"] if g["group"] == GROUP)
    offsets = [(p["partition"], p["committed_offset"], p["log_end_offset"]) for p in g["partitions"]]
    assert offsets == [(p["partition"], p["committed_offset"], p["log_end_offset"]) for p in with_history["partitions"]]
    assert g["lag_offsets"] == with_history["lag_offsets"] > 0 and g["max_lag_seconds"] is not None
    code, out, err = cli("check", *reader, "--no-history", "--interval", "1s")
    assert code in (0, 1, 2), out + err  # an answer, not UNKNOWN
    code, out, err = cli("topics", "list", *reader)
    assert code == 0 and TOPIC in out, err


def test_acls_deny_the_read_only_principal_what_it_was_not_granted(sasl_cluster) -> None:  # type: ignore[no-untyped-def]
    props = str(sasl_cluster.security.properties_file("reader"))
    res = run_tool("kafka-topics", ["--bootstrap-server", sasl_cluster.bootstrap, "--command-config", props,
                                    "--create", "--topic", "not.allowed", "--partitions", "1"], timeout=300)
    assert res.returncode != 0
    assert "authoriz" in (res.stdout + res.stderr).lower()


def test_without_credentials_a_sasl_ssl_cluster_is_not_readable(sasl_cluster, cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("observe", "--bootstrap", sasl_cluster.bootstrap)
    assert code != 0 and "Traceback" not in err
    assert len([ln for ln in err.splitlines() if ln.startswith("error:")]) == 1


def test_main_read_verbs_over_mtls_by_cluster_name(mtls_cluster, cli) -> None:  # type: ignore[no-untyped-def]
    name = ["--cluster", mtls_cluster.name]  # a secured dev cluster: its admin principal by default
    code, out, err = cli("observe", *name, "--interval", "1s", "--format", "json")
    assert code == 0, err
    snap = json.loads(out)["snapshot"]
    assert [b["id"] for b in snap["brokers"]] == [1, 2] and TOPIC in [t["name"] for t in snap["topics"]]
    code, out, err = cli("lag", *name, "--format", "json")
    assert code == 0 and GROUP in out, err
    code, out, err = cli("check", *name, "--no-history", "--interval", "1s")
    assert code in (0, 1, 2), out + err
    code, out, err = cli("topics", "list", *name)
    assert code == 0 and TOPIC in out, err


def test_mtls_refuses_a_client_without_a_certificate(mtls_cluster) -> None:  # type: ignore[no-untyped-def]
    conf = {"bootstrap.servers": mtls_cluster.bootstrap, "security.protocol": "SSL",
            "ssl.ca.location": str(mtls_cluster.security.ca_file), "socket.timeout.ms": 5000}
    with pytest.raises(KafkaException):
        AdminClient(conf).list_topics(timeout=10)
    assert AdminClient(mtls_cluster.client_conf()).list_topics(timeout=30).topics.get(TOPIC) is not None


def test_scram_passwords_are_in_no_command_line_no_log_and_no_output(sasl_cluster, cli) -> None:  # type: ignore[no-untyped-def]
    assert sasl_cluster.security.directory is not None
    secrets = list(json.loads((sasl_cluster.security.directory / "scram-passwords.json").read_text()).values())
    assert len(secrets) == 2 and all(len(s) >= 24 for s in secrets)
    reader = ["--bootstrap", sasl_cluster.bootstrap, "--command-config",
              str(sasl_cluster.security.properties_file("reader"))]
    outputs = [cli("dev", "status", "--name", sasl_cluster.name), cli("dev", "status", "--name", sasl_cluster.name,
                                                                      "--format", "json"),
               cli("observe", *reader, "--interval", "1s"), cli("lag", *reader),
               cli("observe", "--bootstrap", sasl_cluster.bootstrap)]
    pids = _pids_mentioning(sasl_cluster.marker)
    assert len(pids) == 3  # the controller and the two brokers
    cmdlines = [Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace") for pid in pids]
    logs = [f.read_text(errors="replace") for f in sasl_cluster.root.rglob("*.log*") if f.is_file()]
    assert logs and any("SASL_SSL" in text for text in logs)  # the logs are real and say how it listens
    for secret in secrets:
        assert not any(secret in out + err for _, out, err in outputs)
        assert not any(secret in c for c in cmdlines)
        assert not any(secret in text for text in logs)


# -- the client settings `plan --emit clients` writes for a PHI workload, on a real SASL_SSL cluster ----------

PHI_WORKLOAD = """\
name: clinic
requirements: [phi]
topics:
  - name: adt.emitted
    class: high-volume-clinical
    messages_per_second: 100
    message_bytes: 2KB
    key: patient_id
    producers: [adt-feed]
    consumers: [ehr-sync]
"""


def _grant_as_strimzi_would(c: DevCluster, users_yaml: Path) -> None:
    """What Strimzi's user operator does with the emitted KafkaUsers: exactly their ACLs, nothing more."""
    import yaml
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    bindings = []
    for doc in yaml.safe_load_all(users_yaml.read_text()):
        for rule in ((doc.get("spec") or {}).get("authorization") or {}).get("acls", []):
            res = rule["resource"]
            assert res["patternType"] == "literal"
            for op in rule["operations"]:
                bindings.append(AclBinding(ResourceType[res["type"].upper()], res["name"], ResourcePatternType.LITERAL,
                                           f"User:{doc['metadata']['name']}", "*", AclOperation[op.upper()],
                                           AclPermissionType.ALLOW))
    assert bindings
    admin = AdminClient(c.client_conf())  # kept alive until every result is in
    for future in admin.create_acls(bindings, request_timeout=60).values():
        future.result()


def test_a_sasl_ssl_cluster_accepts_the_client_settings_emitted_for_a_phi_workload(sasl_cluster, cli,  # type: ignore[no-untyped-def]
                                                                                   tmp_path: Path) -> None:
    import secrets

    from confluent_kafka import KafkaError
    from confluent_kafka.admin import NewTopic, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

    from brokerscale.connect import ConnectionProfile, read_properties
    from brokerscale.plan.emit_clients import CA_MOUNT, USERS_MOUNT

    wl = tmp_path / "clinic.yaml"
    wl.write_text(PHI_WORKLOAD)
    out = tmp_path / "deploy"
    code, _, err = cli("plan", wl, "--emit", "clients", "--emit", "strimzi", "--out", out, "--check",
                       "--format", "json")
    assert code == 0, err  # the emitted files pass the PHI lint, client settings included
    emitted = {p.stem: p.read_text() for p in (out / "clients").glob("*.properties")}
    assert set(emitted) == {"adt-feed", "ehr-sync"}
    for app, text in emitted.items():
        assert "security.protocol=SASL_SSL" in text and "sasl.mechanism=SCRAM-SHA-512" in text
        assert f"password=\"${{dir:{USERS_MOUNT}/{app}:password}}\"" in text  # a reference, never a secret
        assert f"ssl.truststore.location={CA_MOUNT}/ca.crt" in text

    # The operator's side, as admin: the topic, each application's SCRAM credential, the emitted ACLs.
    admin = AdminClient(sasl_cluster.client_conf())
    for future in admin.create_topics([NewTopic("adt.emitted", 1, 1)], request_timeout=60).values():
        future.result()
    passwords = {app: secrets.token_urlsafe(24) for app in emitted}
    upserts = [UserScramCredentialUpsertion(app, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), pw.encode())
               for app, pw in passwords.items()]
    for future in admin.alter_user_scram_credentials(upserts, request_timeout=60).values():
        future.result()
    _grant_as_strimzi_would(sasl_cluster, out / "strimzi" / "users.yaml")

    # The deployment's side: the KafkaUser Secrets and the CA "mounted" where the files expect them.
    mounts = tmp_path / "mounts"
    files: dict[str, Path] = {}
    for app, text in emitted.items():
        secret_dir = mounts / "users" / app
        secret_dir.mkdir(parents=True)
        (secret_dir / "password").write_text(passwords[app])  # as Strimzi's Secret holds it: no newline
        filled = (text.replace(USERS_MOUNT, str(mounts / "users"))
                  .replace(f"{CA_MOUNT}/ca.crt", str(sasl_cluster.security.ca_file))
                  .replace("clinic-kafka-bootstrap.event-broker.svc:9093", sasl_cluster.bootstrap))
        files[app] = tmp_path / f"{app}.properties"
        files[app].write_text(filled)
        assert passwords[app] not in filled

    # Kafka's own Java clients resolve the ${dir:...} reference themselves.
    res = run_tool("kafka-console-producer", ["--bootstrap-server", sasl_cluster.bootstrap, "--topic", "adt.emitted",
                                              "--producer.config", str(files["adt-feed"])],
                   stdin="".join(f"ADT^A0{i % 9 + 1} event {i}\n" for i in range(5)), timeout=300)
    assert res.returncode == 0, res.stderr[-1500:]
    # brokerscale's load generator (librdkafka) reads the same file through --command-config.
    code, out_json, err = cli("load", "-b", sasl_cluster.bootstrap, "--command-config", files["adt-feed"],
                              "--topic", "adt.emitted", "--count", "20", "--rate", "200", "--duration", "30s",
                              "--format", "json")
    assert code == 0, err
    assert json.loads(out_json)["acked"] == 20
    res = run_tool("kafka-console-consumer", ["--bootstrap-server", sasl_cluster.bootstrap, "--topic", "adt.emitted",
                                              "--consumer.config", str(files["ehr-sync"]), "--from-beginning",
                                              "--max-messages", "25", "--timeout-ms", "60000"], timeout=300)
    assert res.returncode == 0, res.stderr[-1500:]
    assert "Processed a total of 25 messages" in res.stderr, res.stderr[-1500:]
    assert all(f"ADT^A0{i % 9 + 1} event {i}" in res.stdout for i in range(5))

    # Least privilege holds: the consumer's principal may not write.
    conf = ConnectionProfile(sasl_cluster.bootstrap, read_properties(files["ehr-sync"])).confluent()
    producer = Producer({**conf, "message.timeout.ms": 15000})
    failures: list[KafkaError] = []
    producer.produce("adt.emitted", b"not allowed", on_delivery=lambda e, _m: failures.append(e) if e else None)
    producer.flush(30)
    assert failures and failures[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, failures


# ----- the other verbs over both secured clusters -------------------------------------------------
SECURED = ["sasl_cluster", "mtls_cluster"]
POLICY = """extends: default
classes:
  secured-test:
    description: a class a 2-broker cluster can meet (RF 2), for the secured-cluster tests
    prefixes: ["sec."]
    partition_class: low-volume-reference
    phi: false
    replication_factor: 2
    min_insync_replicas: 1
    retention_min_days: 7
    cleanup_policy: delete
"""


def _as_admin(c: DevCluster) -> list[str]:
    """Connection options of the admin principal: its properties file over SASL_SSL, the dev cluster's
    name over mTLS (which picks the admin certificate)."""
    if c.security.protocol == "sasl_ssl":
        return ["--bootstrap", c.bootstrap, "--command-config", str(c.security.properties_file("admin"))]
    return ["--cluster", c.name]


def _as_reader(c: DevCluster) -> list[str]:
    """The least-privileged principal the cluster has: `reader` under ACLs, else admin."""
    if c.security.acls:
        return ["--bootstrap", c.bootstrap, "--command-config", str(c.security.properties_file("reader"))]
    return _as_admin(c)


def _tool(c: DevCluster, tool: str, *args: str) -> str:
    """Run one of Kafka's own tools as admin over the secured listener; its stdout."""
    props = str(c.security.properties_file("admin"))
    res = run_tool(tool, ["--bootstrap-server", c.bootstrap, "--command-config", props, *args], timeout=300)
    assert res.returncode == 0, res.stderr[-800:]
    return res.stdout


def _tool_until(c: DevCluster, holds: Any, tool: str, *args: str, timeout: float = 120.0) -> str:
    """`_tool` until `holds(stdout)`: the broker answering may apply the controller's record of a change a
    moment after the change returned (seconds on a busy machine). Fails with what the tool last said."""
    deadline = time.monotonic() + timeout
    while True:
        out = _tool(c, tool, *args)
        if holds(out):
            return out
        assert time.monotonic() < deadline, f"{tool} {' '.join(args)} after {timeout:.0f} s:\n{out[-2000:]}"
        time.sleep(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("which", SECURED)
def test_exporter_serves_metrics_from_a_secured_cluster(which: str, request: pytest.FixtureRequest) -> None:
    c: DevCluster = request.getfixturevalue(which)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "brokerscale", "exporter", "--port", str(port), "--interval", "1s",
                             "--duration", "240s", *_as_reader(c)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        body = ""
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            except httpx.HTTPError:
                body = ""
            if "brokerscale_cluster_partitions{" in body:
                break
            time.sleep(1)
        assert proc.poll() is None, proc.communicate()[1][-800:]
        up = [ln for ln in body.splitlines() if ln.startswith("brokerscale_up{")]
        assert up and all(ln.endswith(" 1.0") for ln in up), body[-2000:]
        assert "brokerscale_cluster_partitions{" in body
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


@pytest.mark.parametrize("which", SECURED)
def test_topics_optimize_apply_over_a_secured_cluster(which: str, request: pytest.FixtureRequest, cli: Any,
                                                      tmp_path: Path) -> None:
    c: DevCluster = request.getfixturevalue(which)
    topic = f"sec.optimize.{c.security.protocol}"
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    _create_topic(c, topic, partitions=2, rf=2, configs={"retention.ms": str(86_400_000)})
    code, out, err = cli("topics", "optimize", *_as_admin(c), "--policy", policy, "--topic", topic,
                         "--window", "1s", "--source", "offsets", "--apply")
    assert code == 0, out + err
    _tool_until(c, lambda out: "PartitionCount: 6" in out, "kafka-topics", "--describe", "--topic", topic)
    _tool_until(c, lambda out: f"retention.ms={7 * 86_400_000}" in out,
                "kafka-configs", "--describe", "--entity-type", "topics", "--entity-name", topic)


@pytest.mark.parametrize("which", SECURED)
def test_rebalance_propose_and_execute_over_a_secured_cluster(which: str, request: pytest.FixtureRequest,
                                                              cli: Any, tmp_path: Path) -> None:
    c: DevCluster = request.getfixturevalue(which)
    topic = f"sec.moves.{c.security.protocol}"
    _create_topic(c, topic, on_broker_1=4)
    plan = tmp_path / "plan.json"
    code, out, err = cli("rebalance", "propose", *_as_reader(c), "--topics", re.escape(topic), "-o", plan)
    assert code == 0, out + err  # proposing only reads: the read-only principal may
    moves = {(p["topic"], p["partition"]): p["replicas"] for p in json.loads(plan.read_text())["partitions"]}
    assert any(2 in r for r in moves.values()), moves
    code, out, err = cli("rebalance", "execute", *_as_admin(c), "--proposal", plan, "--throttle", "10MB",
                         "--state", tmp_path / "state.json", "--poll", "0.5s", "--apply")
    assert code == 0, out + err

    def as_planned(described: str) -> bool:
        lines = {int(m.group(1)): ln for ln in described.splitlines() if (m := re.search(r"Partition: (\d+)\t", ln))}
        return all(f"Replicas: {','.join(map(str, replicas))}\t" in lines.get(partition, "")
                   for (_, partition), replicas in moves.items())

    _tool_until(c, as_planned, "kafka-topics", "--describe", "--topic", topic)
    _tool_until(c, lambda out: "throttled.rate" not in out,  # the throttle is gone
                "kafka-configs", "--describe", "--entity-type", "brokers")


@pytest.mark.parametrize("which", SECURED)
def test_load_verify_loses_nothing_over_a_secured_cluster(which: str, request: pytest.FixtureRequest,
                                                          cli: Any) -> None:
    c: DevCluster = request.getfixturevalue(which)
    code, out, err = cli("load", *_as_admin(c), "--topic", f"sec.load.{c.security.protocol}", "--count", "300",
                         "--rate", "300", "--size", "1KB", "--verify", "--format", "json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["acked"] == 300 and report["errors"] == 0
    assert report["verify"] == {"read_back": 300, "lost": 0, "corrupted": 0, "complete": True}


# ----- least privilege: what the read-only principal may not do, and `doctor` ---------------------
def _audit(action: str, target: str) -> list[dict[str, Any]]:
    from brokerscale.store import open_store

    store = open_store()
    try:
        return [r for r in store.audit_records(action_prefix=action, limit=500) if r["target"] == target]
    finally:
        store.close()


def _one_error_line(err: str) -> str:
    """The one `error:` line (progress lines such as "running plan …" may come before it)."""
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_read_only_principal_apply_attempts_fail_naming_the_missing_acl_and_change_nothing(
        sasl_cluster: DevCluster, cli: Any, tmp_path: Path) -> None:
    c = sasl_cluster
    topic = "sec.acl.denied"
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    _create_topic(c, topic, on_broker_1=4, configs={"retention.ms": str(86_400_000)})

    code, out, err = cli("topics", "optimize", *_as_reader(c), "--policy", policy, "--topic", topic,
                         "--window", "1s", "--source", "offsets", "--apply")
    assert code == 2, out + err
    line = _one_error_line(err)
    assert f"AlterConfigs on Topic:{topic}" in line and "nothing was changed" in line, line
    assert "PartitionCount: 4" in _tool(c, "kafka-topics", "--describe", "--topic", topic)
    assert "retention.ms=86400000" in _tool(c, "kafka-configs", "--describe", "--entity-type", "topics",
                                            "--entity-name", topic)
    records = _audit("topics.", topic)
    assert [r["result"] for r in records] == ["error"], records
    assert "AlterConfigs" in records[0]["error"]

    plan = tmp_path / "plan.json"
    code, out, err = cli("rebalance", "propose", *_as_reader(c), "--topics", re.escape(topic), "-o", plan)
    assert code == 0, out + err
    assert any(2 in p["replicas"] for p in json.loads(plan.read_text())["partitions"])  # moves to broker 2
    code, out, err = cli("rebalance", "execute", *_as_reader(c), "--proposal", plan, "--throttle", "10MB",
                         "--state", tmp_path / "state.json", "--apply")
    assert code == 2, out + err
    line = _one_error_line(err)
    for acl in ("Alter on Cluster:kafka-cluster", "AlterConfigs on Cluster:kafka-cluster",
                f"AlterConfigs on Topic:{topic}"):  # every ACL the run lacks, in one line
        assert acl in line, line
    assert "nothing was changed" in line, line
    assert "Replicas: 1\t" in _tool(c, "kafka-topics", "--describe", "--topic", topic)  # nothing moved
    assert "throttled" not in _tool(c, "kafka-configs", "--describe", "--entity-type", "brokers")
    refused = [r for r in _audit("rebalance.execute", c.bootstrap) if "NotAuthorized" in (r["error"] or "")]
    assert len(refused) == 1 and refused[0]["result"] == "error", refused
    assert "Alter on Cluster:kafka-cluster" in refused[0]["error"]


def test_doctor_names_what_the_read_only_principal_lacks(sasl_cluster: DevCluster, cli: Any) -> None:
    code, out, err = cli("doctor", *_as_reader(sasl_cluster), "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["principal"] == "User:reader" and doc["security_protocol"] == "SASL_SSL"
    assert doc["broker_versions"] == {"1": "4.1", "2": "4.1"}
    verbs = {v["verb"]: v for v in doc["verbs"]}
    for read_only in ("observe, check, exporter, web", "lag", "rebalance propose, status"):
        assert verbs[read_only]["can_run"] is True, verbs[read_only]
    topics_apply = verbs["topics optimize --apply, topics apply"]
    assert topics_apply["can_run"] is False
    assert {"AlterConfigs on Topic:*", "Alter on Topic:*"} <= set(topics_apply["missing"])
    execute = verbs["rebalance execute --apply, cancel --apply"]
    assert execute["can_run"] is False
    assert {"Alter on Cluster:kafka-cluster", "AlterConfigs on Cluster:kafka-cluster"} <= set(execute["missing"])
    assert [e["answers"] for e in doc["metrics_endpoints"]] == [True, True], doc["metrics_endpoints"]
    code, out, err = cli("doctor", *_as_reader(sasl_cluster))
    assert code == 0 and "User:reader" in out and "Alter on Cluster:kafka-cluster" in out, err


def test_doctor_finds_every_verb_open_to_the_mtls_admin(mtls_cluster: DevCluster, cli: Any) -> None:
    code, out, err = cli("doctor", "--cluster", mtls_cluster.name, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["principal"] == "User:admin" and doc["security_protocol"] == "SSL"
    assert all(v["can_run"] is True for v in doc["verbs"]), doc["verbs"]
    assert all(p["allowed"] is True for p in doc["permissions"]), doc["permissions"]


# ----- secrets nowhere ---------------------------------------------------------------------------------
def _encrypted_key_properties(c: DevCluster, tmp_path: Path, password: str) -> Path:
    """The admin certificate with its key encrypted under `password` (ssl.key.password), as a security
    team would hand it out."""
    from cryptography.hazmat.primitives import serialization

    assert c.security.directory is not None
    key = serialization.load_pem_private_key((c.security.directory / "admin-key.pem").read_bytes(), None)
    locked = tmp_path / "admin-locked-key.pem"
    locked.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.BestAvailableEncryption(password.encode())))
    props = tmp_path / "admin-locked.properties"
    props.write_text(f"security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={c.security.ca_file}\n"
                     f"ssl.certificate.location={c.security.directory / 'admin-cert.pem'}\n"
                     f"ssl.key.location={locked}\nssl.key.password={password}\n")
    props.chmod(0o600)
    return props


def test_no_secret_anywhere_after_every_verb_that_touches_one(sasl_cluster: DevCluster, mtls_cluster: DevCluster,
                                                              cli: Any, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    import logging
    import os
    import secrets as random_secrets

    from cloud_fixtures import cli_env, running_emulator

    caplog.set_level(logging.DEBUG)
    assert sasl_cluster.security.directory is not None
    scram = list(json.loads((sasl_cluster.security.directory / "scram-passwords.json").read_text()).values())
    key_password = "keypw-" + random_secrets.token_urlsafe(18)
    locked = _encrypted_key_properties(mtls_cluster, tmp_path, key_password)
    work = tmp_path / "generated"
    work.mkdir()
    outputs: list[tuple[int, str, str]] = []
    reader = _as_reader(sasl_cluster)
    admin = _as_admin(sasl_cluster)
    topic = "sec.secrets"
    _create_topic(sasl_cluster, topic, on_broker_1=4)
    for args in (["observe", *reader, "--interval", "1s", "--format", "json"], ["check", *reader, "--interval", "1s"],
                 ["lag", *reader],
                 ["topics", "list", *reader], ["doctor", *reader], ["doctor", *reader, "--format", "json"],
                 ["load", *admin, "--topic", f"{topic}.load", "--count", "50", "--rate", "100", "--size", "1KB",
                  "--verify"],
                 ["topics", "optimize", *admin, "--topic", topic, "--window", "1s", "--source", "offsets",
                  "-o", work / "topics-plan.json"],
                 ["rebalance", "propose", *reader, "--topics", re.escape(topic), "-o", work / "plan.json"],
                 ["rebalance", "execute", *admin, "--proposal", work / "plan.json", "--state", work / "state.json",
                  "--throttle", "10MB", "--apply"],
                 ["rebalance", "status", *admin, "--state", work / "state.json", "--format", "json"],
                 ["observe", "--bootstrap", mtls_cluster.bootstrap, "--command-config", locked, "--interval", "1s"],
                 ["doctor", "--bootstrap", mtls_cluster.bootstrap, "--command-config", locked, "--format", "json"],
                 ["lag", "--bootstrap", mtls_cluster.bootstrap, "--command-config", locked],
                 ["audit", "--format", "json"],
                 ["dev", "status", "--name", sasl_cluster.name, "--format", "json"]):
        outputs.append(cli(*args))
        assert outputs[-1][0] == 0 or (args[0] == "check" and outputs[-1][0] in (1, 2)), (args, outputs[-1])
    # the encrypted key really was used: a wrong key password is refused
    wrong = tmp_path / "wrong.properties"
    wrong.write_text(locked.read_text().replace(key_password, "not-the-password"))
    outputs.append(cli("observe", "--bootstrap", mtls_cluster.bootstrap, "--command-config", wrong))
    assert outputs[-1][0] != 0 and "Traceback" not in outputs[-1][2]

    with running_emulator(tmp_path) as emu:  # Confluent Cloud API secret (emulator)
        cli_env(monkeypatch, emu)
        cloud_secret = emu.creds.secret
        for args in (["cloud", "cluster", "list"], ["cloud", "cluster", "resize", "--cku", "3", "--apply",
                                                    "--poll", "0.1s"], ["cloud", "metrics", "--format", "json"]):
            outputs.append(cli(*args))
            assert outputs[-1][0] == 0, (args, outputs[-1])

    # the exporter, as its own process: its /metrics and its command line
    port = _free_port()
    exporter = subprocess.Popen([sys.executable, "-m", "brokerscale", "exporter", "--port", str(port), "--interval",
                                 "1s", "--duration", "120s", *reader], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    metrics = ""
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "brokerscale_up{" not in metrics and exporter.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            time.sleep(1)
        cmdlines = {f"exporter {exporter.pid}": Path(f"/proc/{exporter.pid}/cmdline").read_bytes()}
    finally:
        exporter.terminate()
        exp_out, exp_err = exporter.communicate(timeout=60)
    assert "brokerscale_up{" in metrics
    for c in (sasl_cluster, mtls_cluster):
        pids = _pids_mentioning(c.marker)
        assert len(pids) == 3
        cmdlines |= {f"{c.name} {pid}": Path(f"/proc/{pid}/cmdline").read_bytes() for pid in pids}

    secrets = [*scram, key_password, cloud_secret]
    texts = {"stdout/stderr": "\n".join(o + e for _, o, e in outputs) + exp_out + exp_err,
             "log records": "\n".join(r.getMessage() for r in caplog.records), "/metrics": metrics}
    data = Path(os.environ["BROKERSCALE_DATA_DIR"])
    # the test's own inputs, and the emulator's state (it is Confluent Cloud's side, which knows its keys)
    own_inputs = {locked, wrong, tmp_path / "admin-locked-key.pem", tmp_path / "emulator-state.json"}
    # files written to hold a secret on purpose: 0600, in a cluster's security/ dir or a node's config
    holders: list[Path] = []
    searched = 0
    for f in [*data.rglob("*"), *tmp_path.rglob("*")]:
        if not f.is_file() or f in own_inputs:
            continue
        searched += 1
        raw = f.read_bytes()
        hits = [s for s in secrets if s.encode() in raw]
        if not hits:
            continue
        holders.append(f)
        assert f.stat().st_mode & 0o077 == 0, f"{f} holds a secret and is readable by others"
        assert f.parent.name == "security" or f.name == "server.properties", f"{f} holds a secret"
    assert searched > 50 and any(f.suffix == ".db" for f in data.rglob("*.db"))  # the store was searched
    assert {f.name for f in holders} >= {"scram-passwords.json", "admin.properties", "server.properties"}
    for where, text in texts.items():
        for s in secrets:
            assert s not in text, f"a secret in {where}"
    for where, raw in cmdlines.items():
        for s in secrets:
            assert s.encode() not in raw, f"a secret in the command line of {where}"


API_VERSIONS = b"\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00"
"""Kafka's ApiVersions request, version 0, correlation id 1: every Kafka listener answers it."""


@pytest.mark.parametrize("which", SECURED)
def test_the_controller_listener_is_tls_and_takes_only_a_broker_certificate(which: str,
                                                                          request: pytest.FixtureRequest) -> None:
    import ssl

    c: DevCluster = request.getfixturevalue(which)
    assert c.security.directory is not None
    assert "listener.security.protocol.map=CONTROLLER:SSL" in (c.root / "controller" / "server.properties").read_text()

    def ask(tls: bool, cert: Path | None = None) -> bytes:
        """ApiVersions to the controller's port; the first bytes of the answer (b"" if refused)."""
        try:
            with socket.create_connection(("127.0.0.1", c.controller.port), timeout=30) as raw:
                sock: socket.socket = raw
                if tls:
                    ctx = ssl.create_default_context(cafile=str(c.security.ca_file))
                    if cert is not None:
                        ctx.load_cert_chain(str(cert))
                    sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
                sock.sendall(API_VERSIONS)
                return sock.recv(8)
        except (ssl.SSLError, OSError):
            return b""

    answer = ask(True, c.security.directory / "broker.pem")
    assert answer[4:8] == b"\x00\x00\x00\x01"  # the brokers' certificate: a Kafka answer (correlation id 1)
    assert ask(True)[4:8] != b"\x00\x00\x00\x01"  # TLS without a client certificate: refused
    assert ask(False)[4:8] != b"\x00\x00\x00\x01"  # PLAINTEXT: no Kafka answer
