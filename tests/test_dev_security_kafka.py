"""The main read verbs over real secured clusters: SASL_SSL with SCRAM-SHA-512 and deny-by-default
ACLs (as the read-only principal), and mTLS (client certificate required). One module-scoped cluster
per protocol, shared by these tests; Kafka's own tools are the independent check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from brokerscale.dev.cluster import DevCluster, _pids_mentioning
from brokerscale.dev.tools import run_tool

pytestmark = pytest.mark.kafka
TOPIC = "adt.secured"
GROUP = "ehr-secured"


def _seed_topic_and_group(c: DevCluster) -> None:
    """As admin, with Kafka's own tool: a topic; then 20 records produced and 5 consumed by a group."""
    props = str(c.security.properties_file("admin"))
    res = run_tool("kafka-topics", ["--bootstrap-server", c.bootstrap, "--command-config", props, "--create",
                                    "--topic", TOPIC, "--partitions", "2", "--replication-factor", "1"], timeout=300)
    assert res.returncode == 0, res.stderr[-500:]
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
    c = DevCluster.up("pytest-sasl", brokers=1, security="sasl_ssl", acls=True)
    try:
        _seed_topic_and_group(c)
        yield c
    finally:
        c.down()


@pytest.fixture(scope="module")
def mtls_cluster() -> Iterator[DevCluster]:
    c = DevCluster.up("pytest-mtls", brokers=1, security="mtls")
    try:
        _seed_topic_and_group(c)
        yield c
    finally:
        c.down()


def test_read_only_principal_observes_lags_checks_and_lists_over_sasl_ssl(sasl_cluster, cli) -> None:  # type: ignore[no-untyped-def]
    reader = ["--bootstrap", sasl_cluster.bootstrap, "--command-config",
              str(sasl_cluster.security.properties_file("reader"))]
    code, out, err = cli("observe", *reader, "--format", "json")
    assert code == 0, err
    snap = json.loads(out)["snapshot"]
    assert [b["id"] for b in snap["brokers"]] == [1] and TOPIC in [t["name"] for t in snap["topics"]]
    code, out, err = cli("lag", *reader, "--format", "json")
    assert code == 0, err
    assert GROUP in out and "lag > 0" in out  # 20 produced, 5 committed
    code, out, err = cli("check", *reader, "--no-history")
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
    code, out, err = cli("observe", *name, "--format", "json")
    assert code == 0, err
    snap = json.loads(out)["snapshot"]
    assert [b["id"] for b in snap["brokers"]] == [1] and TOPIC in [t["name"] for t in snap["topics"]]
    code, out, err = cli("lag", *name, "--format", "json")
    assert code == 0 and GROUP in out, err
    code, out, err = cli("check", *name, "--no-history")
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
               cli("observe", *reader), cli("lag", *reader), cli("observe", "--bootstrap", sasl_cluster.bootstrap)]
    pids = _pids_mentioning(sasl_cluster.marker)
    assert len(pids) == 2  # the controller and the broker
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
