"""One connection profile configures both Kafka clients, and never shows its secrets."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from brokerscale.connect import ConnectionProfile, read_properties, resolve
from brokerscale.errors import BadInput, Unreachable

SECRET = "s3cr3t-Pa55"


def _write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "client.properties"
    f.write_text(text)
    return f


def test_sasl_ssl_plain_maps_to_both_clients(tmp_path: Path) -> None:
    f = _write(tmp_path, f"""
# Confluent Cloud style
security.protocol=SASL_SSL
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\
    username="KEY123" password="{SECRET}";
""")
    p = resolve("pkc-1.us-east-1.aws.confluent.cloud:9092", f, None)
    kp = p.kafka_python()
    assert kp["security_protocol"] == "SASL_SSL"
    assert kp["sasl_mechanism"] == "PLAIN"
    assert (kp["sasl_plain_username"], kp["sasl_plain_password"]) == ("KEY123", SECRET)
    ck = p.confluent()
    assert ck["sasl.mechanisms"] == "PLAIN"
    assert (ck["sasl.username"], ck["sasl.password"]) == ("KEY123", SECRET)
    assert ck["bootstrap.servers"] == "pkc-1.us-east-1.aws.confluent.cloud:9092"
    assert SECRET not in repr(p) and SECRET not in str(p)


def test_scram_and_mtls(tmp_path: Path) -> None:
    f = _write(tmp_path, "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
                         "sasl.username=svc\nsasl.password=pw\nssl.ca.location=/etc/ca.pem\n")
    p = resolve("k:9093", f, None)
    assert p.kafka_python()["sasl_mechanism"] == "SCRAM-SHA-512"
    assert p.kafka_python()["ssl_cafile"] == "/etc/ca.pem"
    assert p.confluent()["sasl.mechanisms"] == "SCRAM-SHA-512"
    f = _write(tmp_path, "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location=/ca.pem\n"
                         "ssl.keystore.type=PEM\nssl.keystore.location=/client.pem\nssl.key.location=/client.key\n")
    p = resolve("k:9093", f, None)
    assert p.kafka_python()["ssl_certfile"] == "/client.pem"
    assert p.kafka_python()["ssl_keyfile"] == "/client.key"
    assert p.confluent()["ssl.ca.location"] == "/ca.pem"
    assert "sasl.mechanisms" not in p.confluent()


def test_properties_parsing_comments_and_colons(tmp_path: Path) -> None:
    f = _write(tmp_path, "! comment\n# another\nsecurity.protocol: SSL\n  a.b = c d \n")
    assert read_properties(f) == {"security.protocol": "SSL", "a.b": "c d"}


def test_named_cluster_from_brokerscale_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "brokerscale.yaml"
    cfg.write_text("clusters:\n  prod:\n    bootstrap: broker1:9092\n    properties:\n      security.protocol: SSL\n")
    monkeypatch.setenv("BROKERSCALE_CONFIG", str(cfg))
    p = resolve(None, None, "prod")
    assert p.bootstrap == "broker1:9092" and p.name == "prod"
    assert p.confluent()["security.protocol"] == "SSL"
    with pytest.raises(BadInput, match="no cluster named 'nope'"):
        resolve(None, None, "nope")


def test_bad_inputs_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BadInput, match="--bootstrap"):
        resolve("not a host", None, None)
    with pytest.raises(BadInput, match=r"missing\.properties: no such file"):
        resolve("h:1", tmp_path / "missing.properties", None)
    monkeypatch.delenv("BROKERSCALE_BOOTSTRAP", raising=False)
    with pytest.raises(BadInput, match="no cluster given"):
        resolve(None, None, None)


def test_unreachable_cluster_is_reported_not_hung() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(Unreachable, match=f"127.0.0.1:{port}"):
        ConnectionProfile(f"127.0.0.1:{port}").admin(timeout_s=2)


def test_an_outage_is_not_bad_input(cli: Any) -> None:
    """Scripts must tell "fix your input" (2) from "the cluster did not answer" (69, EX_UNAVAILABLE)."""
    assert not issubclass(Unreachable, BadInput)
    code, out, err = cli("lag", "-b", "127.0.0.1:1", "--no-history")
    assert code == 69 and "cannot reach Kafka at 127.0.0.1:1" in err and "Traceback" not in err + out
    code, _, err = cli("lag", "-b", "not a host:port")
    assert code == 2 and "--bootstrap" in err
    code, out, _ = cli("check", "-b", "127.0.0.1:1", "--no-history")
    assert code == 3 and out.startswith("UNKNOWN - cannot reach Kafka")  # monitoring convention unchanged


def test_kafka_pythons_debug_log_of_its_configuration_carries_no_password(caplog) -> None:  # type: ignore[no-untyped-def]
    import contextlib
    import logging

    from brokerscale.errors import BrokerscaleError

    caplog.set_level(logging.DEBUG)
    secret = "pw-" + "x7Qk2LmN9vRt4"
    jaas = f'org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="{secret}";'
    prof = ConnectionProfile("127.0.0.1:9", {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
                                             "sasl.jaas.config": jaas})
    with contextlib.suppress(BrokerscaleError):  # nobody listens there: only the log matters
        prof.admin(timeout_s=1).close()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Starting KafkaAdminClient with configuration" in text  # kafka-python did log its configuration
    assert secret not in text and "***" in text


def test_status_paths_connect_fast_but_wait_for_a_busy_clusters_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """observe/check/lag give up connecting after 6 s (an outage is UNKNOWN in seconds), but a live broker busy
    loading a coordinator or catching up may take longer than that to answer: requests wait 30 s (CI saw a
    6 s request timeout turn a busy cluster into UNKNOWN). An explicit request timeout is kept as given."""
    import kafka

    from brokerscale.observe.collect import Observer
    from brokerscale.observe.rules import load_rules

    made: list[dict[str, Any]] = []

    class Recorder:
        def __init__(self, **config: Any) -> None:
            made.append(config)

        def close(self) -> None:
            pass

    monkeypatch.setattr(kafka, "KafkaAdminClient", Recorder)
    Observer(ConnectionProfile("127.0.0.1:9"), load_rules()).admin()
    ConnectionProfile("127.0.0.1:9").admin(timeout_s=5, request_timeout_s=15)
    assert [(c["bootstrap_timeout_ms"], c["request_timeout_ms"]) for c in made] == [(6000, 30000), (5000, 15000)]


def test_a_refused_connection_leaves_no_client_thread_behind() -> None:
    """The exporter, `check --interval` and `scale run` reconnect every interval while a cluster is down:
    each refused connect must leave nothing running (kafka-python starts its I/O thread before it
    bootstraps)."""
    def io_threads() -> int:
        return sum(1 for t in threading.enumerate() if t.name.startswith("kafka-io"))

    before = io_threads()
    for _ in range(3):
        with pytest.raises(Unreachable, match=r"127\.0\.0\.1:1\b"):
            ConnectionProfile("127.0.0.1:1").admin(timeout_s=0.5)
    deadline = time.monotonic() + 10
    while io_threads() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert io_threads() == before, [t.name for t in threading.enumerate()]


def test_a_refused_connection_leaves_no_socket_open_behind(caplog: pytest.LogCaptureFixture) -> None:
    """kafka-python leaves each refused attempt's socket in a reference cycle: open until the garbage
    collector's next full pass, which a process waiting out an outage may not reach for a long time. With
    the collector off (as a quiet process may as well be), five refused connects must not keep sockets."""
    import gc
    import logging
    import os

    def sockets() -> int:
        n = 0
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                n += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        return n

    caplog.set_level(logging.CRITICAL, logger="kafka")  # captured records would hold the failures' tracebacks
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        before = sockets()
        for _ in range(5):
            with pytest.raises(Unreachable, match=r"127\.0\.0\.1:1\b"):
                ConnectionProfile("127.0.0.1:1").admin(timeout_s=0.5)
        after = sockets()
    finally:
        if was_enabled:
            gc.enable()
    assert after - before <= 2, (before, after)  # the old code: two or more per connect
