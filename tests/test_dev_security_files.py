"""What a secured dev cluster generates, checked without starting Kafka: certificates that verify
against the cluster's own CA, secrets only in 0600 files, never on a command line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from brokerscale.connect import ConnectionProfile, read_properties
from brokerscale.dev.cluster import DevCluster, Node
from brokerscale.dev.jars import Runtime
from brokerscale.dev.security import Security


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _verify(cert: x509.Certificate, ca: x509.Certificate) -> None:
    key = ca.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", ["sasl_ssl", "mtls"])
def test_generated_files_are_private_and_certificates_chain_to_the_cluster_ca(tmp_path: Path, protocol: str) -> None:
    sec = Security(protocol, acls=True, directory=tmp_path / "security")
    sec.generate()
    ca = x509.load_pem_x509_certificate(sec.ca_file.read_bytes())
    broker = x509.load_pem_x509_certificates((tmp_path / "security" / "broker.pem").read_bytes())[0]
    _verify(broker, ca)
    san = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    assert _mode(tmp_path / "security") == 0o700
    for f in (tmp_path / "security").iterdir():
        if f.name not in ("ca.pem",) and not f.name.endswith("-cert.pem"):
            assert _mode(f) == 0o600, f  # keys, passwords, client properties
    assert sec.principals() == ("admin", "reader")
    for principal in sec.principals():
        props = read_properties(sec.properties_file(principal))
        profile = ConnectionProfile("127.0.0.1:9093", props)
        conf, kw = profile.confluent(), profile.kafka_python()
        assert conf["ssl.ca.location"] == str(sec.ca_file) and kw["ssl_cafile"] == str(sec.ca_file)
        if protocol == "sasl_ssl":
            assert conf["security.protocol"] == "SASL_SSL" and conf["sasl.mechanisms"] == "SCRAM-SHA-512"
            assert conf["sasl.username"] == principal and len(conf["sasl.password"]) >= 24
            assert kw["sasl_mechanism"] == "SCRAM-SHA-512"
        else:
            assert conf["security.protocol"] == "SSL"
            client = x509.load_pem_x509_certificate(Path(conf["ssl.certificate.location"]).read_bytes())
            _verify(client, ca)
            assert client.subject.rfc4514_string() == f"CN={principal}"
            assert kw["ssl_certfile"] and kw["ssl_keyfile"]


def test_scram_passwords_reach_the_format_tool_only_through_a_private_argument_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKERSCALE_DATA_DIR", str(tmp_path))
    root = DevCluster.clusters_dir() / "sec"
    sec = Security("sasl_ssl", acls=True, directory=root / "security")
    c = DevCluster("sec", root, "abcdefghijklmnopqrstuv", Node(100, "controller", 31000, 31001), security=sec)
    c.nodes[1] = Node(1, "broker", 32001, 33001, "a")
    sec.generate()
    c._write_configs(Runtime(tmp_path, "4.1.1"))
    passwords = [p.split('password="')[1].split('"')[0]
                 for p in (sec.properties_file(x).read_text() for x in sec.principals())]
    cmd = c._format_cmd(c.nodes[1], Runtime(tmp_path, "4.1.1"))
    assert cmd[0] == "java" and len(cmd) == 2 and cmd[1].startswith("@")
    argfile = Path(cmd[1][1:])
    assert _mode(argfile) == 0o600
    assert all(pw in argfile.read_text() for pw in passwords)
    assert not any(pw in " ".join(cmd) for pw in passwords)
    server = c.node_dir(c.nodes[1]) / "server.properties"
    assert _mode(server) == 0o600
    text = server.read_text()
    assert "listeners=SASL_SSL://127.0.0.1:32001" in text and "inter.broker.listener.name=SASL_SSL" in text
    assert "allow.everyone.if.no.acl.found=false" in text and "StandardAuthorizer" in text
    assert "super.users=User:admin;User:broker\n" in text


def test_acls_without_security_and_unknown_protocols_are_refused(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("dev", "up", "--name", "nope", "--acls")
    assert code == 2 and "--acls" in err and "sasl_ssl or mtls" in err
    code, _, err = cli("dev", "up", "--name", "nope", "--security", "kerberos")
    assert code == 2 and "--security" in err and "plaintext, sasl_ssl, mtls" in err
