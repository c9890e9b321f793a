"""`plan --emit clients`: each application's Kafka client settings (PHI: TLS, its own principal, the
secret read from a mounted Secret through a config provider), the lint of client-properties files, and
brokerscale's own resolution of Kafka's config-provider references in `--command-config` files.
The real-cluster proof (a SASL_SSL dev cluster accepts the emitted settings) is in
test_dev_security_kafka.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from brokerscale.connect import read_properties
from brokerscale.errors import BadInput
from brokerscale.plan.lint import lint_paths

PHI = """\
name: clinic
requirements: [phi]
deploy:
  client_authentication: {auth}
topics:
  - name: adt.in
    class: high-volume-clinical
    messages_per_second: 100
    message_bytes: 2KB
    key: patient_id
    producers: [adt-feed]
    consumers: [ehr-sync, adt-feed]
"""

Cli = Callable[..., tuple[int, str, str]]


def _emit(cli: Cli, tmp_path: Path, text: str) -> dict[str, str]:
    wl = tmp_path / "wl.yaml"
    wl.write_text(text)
    code, _, err = cli("plan", wl, "--emit", "clients", "--out", tmp_path / "out", "--format", "json")
    assert code == 0, err
    return {p.stem: p.read_text() for p in (tmp_path / "out" / "clients").glob("*.properties")}


def _props(text: str, tmp_path: Path) -> dict[str, str]:
    from brokerscale.connect import parse_properties

    f = tmp_path / "x.properties"
    f.write_text(text)
    return parse_properties(f)


def test_phi_scram_settings_use_tls_their_own_principal_and_no_written_secret(cli: Cli, tmp_path: Path) -> None:
    files = _emit(cli, tmp_path, PHI.format(auth="scram-sha-512"))
    assert set(files) == {"adt-feed", "ehr-sync"}
    feed = _props(files["adt-feed"], tmp_path)
    assert feed["security.protocol"] == "SASL_SSL" and feed["sasl.mechanism"] == "SCRAM-SHA-512"
    assert feed["sasl.jaas.config"] == ('org.apache.kafka.common.security.scram.ScramLoginModule required '
                                        'username="adt-feed" password="${dir:/etc/kafka/users/adt-feed:password}";')
    assert feed["config.providers"] == "dir"
    assert feed["config.providers.dir.class"] == "org.apache.kafka.common.config.provider.DirectoryConfigProvider"
    assert feed["ssl.truststore.type"] == "PEM" and feed["ssl.truststore.location"] == "/etc/kafka/cluster-ca/ca.crt"
    assert feed["ssl.endpoint.identification.algorithm"] == "https"
    assert feed["bootstrap.servers"] == "clinic-kafka-bootstrap.event-broker.svc:9093"
    # adt-feed produces and consumes: both sections; ehr-sync only consumes
    assert feed["acks"] == "all" and feed["enable.idempotence"] == "true" and feed["group.id"] == "adt-feed"
    sync = _props(files["ehr-sync"], tmp_path)
    assert "acks" not in sync and sync["group.id"] == "ehr-sync" and sync["enable.auto.commit"] == "false"
    assert "Requirements: phi" in files["ehr-sync"] and "ehr-sync" in files["ehr-sync"].splitlines()[0]
    findings, kinds = lint_paths([tmp_path / "out"], ["phi"])
    assert findings == [] and kinds == ["clients"]


def test_phi_certificate_settings_read_the_keystore_password_from_the_secret(cli: Cli, tmp_path: Path) -> None:
    feed = _props(_emit(cli, tmp_path, PHI.format(auth="tls"))["adt-feed"], tmp_path)
    assert feed["security.protocol"] == "SSL" and "sasl.jaas.config" not in feed
    assert feed["ssl.keystore.type"] == "PKCS12"
    assert feed["ssl.keystore.location"] == "/etc/kafka/users/adt-feed/user.p12"
    assert feed["ssl.keystore.password"] == "${dir:/etc/kafka/users/adt-feed:user.password}"
    assert lint_paths([tmp_path / "out"], ["phi"])[0] == []


def test_non_phi_settings_stay_plain_and_say_so(cli: Cli, tmp_path: Path) -> None:
    text = PHI.format(auth="scram-sha-512").replace("requirements: [phi]\n", "")
    files = _emit(cli, tmp_path, text)
    feed = _props(files["adt-feed"], tmp_path)
    assert feed["security.protocol"] == "PLAINTEXT" and feed["bootstrap.servers"].endswith(":9092")
    assert "Requirements: none declared" in files["adt-feed"]
    rules = {f.rule for f in lint_paths([tmp_path / "out"], ["phi"])[0]}
    assert "client-tls" in rules  # the lint is not a rubber stamp: plain settings fail it


def test_a_workload_without_applications_is_refused_with_the_way_out(cli: Cli, tmp_path: Path) -> None:
    text = PHI.format(auth="tls").replace("    producers: [adt-feed]\n", "").replace(
        "    consumers: [ehr-sync, adt-feed]\n", "")
    wl = tmp_path / "wl.yaml"
    wl.write_text(text)
    code, _, err = cli("plan", wl, "--emit", "clients", "--out", tmp_path / "out")
    assert code == 2 and "names no applications" in err and "topics[].producers" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


GOOD = """\
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
config.providers=dir
config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="a" \
password="${dir:/run/secrets/a:password}";
ssl.truststore.type=PEM
ssl.truststore.location=/etc/ca.pem
acks=all
"""
CLIENT_BREAKS = {
    "plaintext": (("security.protocol=SASL_SSL", "security.protocol=PLAINTEXT"), {"client-tls"}),
    "no hostname check": (("acks=all", "acks=all\nssl.endpoint.identification.algorithm="),
                          {"client-hostname-verification"}),
    "literal password": (('password="${dir:/run/secrets/a:password}"', 'password="hunter2"'),
                         {"client-literal-secret"}),
    "literal keystore password": (("acks=all", "acks=all\nssl.keystore.password=hunter2"),
                                  {"client-literal-secret"}),
    "acks 1": (("acks=all", "acks=1"), {"client-acks"}),
    "SSL without a certificate": (("security.protocol=SASL_SSL", "security.protocol=SSL"), {"client-auth"}),
}


@pytest.mark.parametrize("breakage", sorted(CLIENT_BREAKS))
def test_lint_catches_each_unsafe_client_setting(tmp_path: Path, breakage: str) -> None:
    f = tmp_path / "app.properties"
    f.write_text(GOOD)
    assert lint_paths([f], ["phi"])[0] == []
    (old, new), rules = CLIENT_BREAKS[breakage]
    f.write_text(GOOD.replace(old, new))
    findings = lint_paths([f], ["phi"])[0]
    assert {x.rule for x in findings} == rules
    assert "hunter2" not in " ".join(x.message for x in findings)


# -- Kafka's config providers in --command-config files ---------------------------------------------------


def test_directory_file_and_env_references_are_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "users" / "a").mkdir(parents=True)
    (tmp_path / "users" / "a" / "password").write_text("dir-secret")
    (tmp_path / "creds.properties").write_text("truststore.password=file-secret\n")
    monkeypatch.setenv("KEY_PASSWORD", "env-secret")
    f = tmp_path / "client.properties"
    f.write_text("config.providers=d,f,e\n"
                 "config.providers.d.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider\n"
                 "config.providers.f.class=org.apache.kafka.common.config.provider.FileConfigProvider\n"
                 "config.providers.e.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider\n"
                 f'sasl.jaas.config=x required username="a" password="${{d:{tmp_path}/users/a:password}}";\n'
                 f"ssl.truststore.password=${{f:{tmp_path}/creds.properties:truststore.password}}\n"
                 "ssl.key.password=${e:KEY_PASSWORD}\n"
                 "client.id=${other:not-a-declared-provider}\n")
    p = read_properties(f)
    assert p["sasl.jaas.config"] == 'x required username="a" password="dir-secret";'
    assert p["ssl.truststore.password"] == "file-secret" and p["ssl.key.password"] == "env-secret"
    assert p["client.id"] == "${other:not-a-declared-provider}"  # as Kafka: undeclared providers stay text
    assert not any(k.startswith("config.providers") for k in p)


@pytest.mark.parametrize(("line", "reason"), [
    ("config.providers.d.class=com.example.VaultProvider", "config.providers.d.class: com.example.VaultProvider"),
    ("sasl.password=${d:/nonexistent/dir:password}", "sasl.password: cannot read /nonexistent/dir/password"),
    ("sasl.password=${d:password}", "sasl.password: a directory reference needs a path"),
    ("sasl.password=${d:/tmp:../etc/passwd}", "is not a file name inside /tmp"),
])
def test_a_reference_that_cannot_be_resolved_is_one_line_naming_the_file_and_property(
        tmp_path: Path, line: str, reason: str) -> None:
    f = tmp_path / "client.properties"
    f.write_text("config.providers=d\n"
                 "config.providers.d.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider\n"
                 + line + "\n")
    with pytest.raises(BadInput) as exc:
        read_properties(f)
    assert str(f) in exc.value.message and reason in exc.value.message
    assert "\n" not in exc.value.message
