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
