"""Secured local clusters: a CA of their own, broker and client certificates, SCRAM users, and one
client-properties file per principal.

Health systems run Kafka with TLS and authentication, so brokerscale has to be proven against such a
cluster, not only against PLAINTEXT. Everything is generated at `dev up` into the cluster's
`security/` directory: PEM files (Kafka reads PEM key stores directly), SCRAM-SHA-512 passwords
created at format time, and for each principal a properties file in Apache Kafka's client
convention for `--command-config`. Files holding a key or a password are mode 0600; passwords never
appear on a command line (the storage format reads them from a 0600 Java argument file).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PROTOCOLS = ("plaintext", "sasl_ssl", "mtls")
SCRAM = "SCRAM-SHA-512"
ADMIN = "admin"
"""The super user (also the brokers' identity between themselves over SASL_SSL)."""
READER = "reader"
"""A principal that may only describe: what an observing tool needs (ACLs granted by `--acls`)."""
BROKER = "broker"
"""The brokers' certificate principal under mTLS."""
CLIENT_PRINCIPALS = (ADMIN, READER)


def _write_private(path: Path, data: bytes | str) -> None:
    """Write a file only its owner can read (created 0600: never readable by others, not even briefly)."""
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(raw)
    os.chmod(path, 0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Security:
    """How a dev cluster is secured, and where its files are."""

    protocol: str = "plaintext"
    acls: bool = False
    directory: Path | None = None

    @property
    def secured(self) -> bool:
        return self.protocol != "plaintext"

    def to_json(self) -> dict[str, object]:
        return {"protocol": self.protocol, "acls": self.acls}

    @property
    def _dir(self) -> Path:
        assert self.directory is not None
        return self.directory

    @property
    def ca_file(self) -> Path:
        return self._dir / "ca.pem"

    def properties_file(self, principal: str) -> Path:
        return self._dir / f"{principal}.properties"

    def principals(self) -> tuple[str, ...]:
        return CLIENT_PRINCIPALS if self.acls else (ADMIN,)

    def _passwords(self) -> dict[str, str]:
        return dict(json.loads((self._dir / "scram-passwords.json").read_text()))

    # ----- generation ------------------------------------------------------------------------
    def generate(self) -> None:
        """The CA, the brokers' certificate, client certificates or SCRAM passwords, properties files."""
        if not self.secured:
            return
        self._dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self._dir, 0o700)
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"brokerscale dev CA {self._dir.parent.name}")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=825))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                           content_commitment=False, key_encipherment=False,
                                           data_encipherment=False, key_agreement=False,
                                           encipher_only=False, decipher_only=False), critical=True)
              .sign(ca_key, hashes.SHA256()))
        self.ca_file.write_bytes(_cert_pem(ca))
        _write_private(self._dir / "ca-key.pem", _key_pem(ca_key))

        def issue(cn: str, server: bool) -> tuple[bytes, bytes]:
            key = ec.generate_private_key(ec.SECP256R1())
            builder = (x509.CertificateBuilder()
                       .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                       .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                       .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=825))
                       .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                       .add_extension(x509.ExtendedKeyUsage(
                           [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                           if server else [ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
            if server:
                builder = builder.add_extension(x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            return _key_pem(key), _cert_pem(builder.sign(ca_key, hashes.SHA256()))

        key, cert = issue(BROKER, server=True)
        _write_private(self._dir / "broker.pem", key + cert + _cert_pem(ca))  # Kafka's PEM key store
        if self.protocol == "mtls":
            for p in self.principals():
                key, cert = issue(p, server=False)
                _write_private(self._dir / f"{p}.pem", key + cert)
                _write_private(self._dir / f"{p}-key.pem", key)
                (self._dir / f"{p}-cert.pem").write_bytes(cert)
        else:
            _write_private(self._dir / "scram-passwords.json",
                           json.dumps({p: secrets.token_urlsafe(24) for p in self.principals()}))
        for p in self.principals():
            _write_private(self.properties_file(p), self._client_properties(p))

    def _client_properties(self, principal: str) -> str:
        lines = [f"# {principal} of this dev cluster; pass it with --command-config (secret: keep it 0600)"]
        if self.protocol == "sasl_ssl":
            password = self._passwords()[principal]
            lines += ["security.protocol=SASL_SSL", f"sasl.mechanism={SCRAM}",
                      "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
                      f'username="{principal}" password="{password}";']
        else:
            lines += ["security.protocol=SSL", "ssl.keystore.type=PEM",
                      f"ssl.keystore.location={self._dir / f'{principal}.pem'}",
                      f"ssl.certificate.location={self._dir / f'{principal}-cert.pem'}",
                      f"ssl.key.location={self._dir / f'{principal}-key.pem'}"]
        lines += ["ssl.truststore.type=PEM", f"ssl.truststore.location={self.ca_file}"]
        return "\n".join(lines) + "\n"

    # ----- what the nodes and tools need ------------------------------------------------------
    def format_args(self) -> list[str]:
        """Extra `kafka-storage format` arguments: the SCRAM users (secrets: only ever in an argfile)."""
        if self.protocol != "sasl_ssl":
            return []
        return [a for p, pw in self._passwords().items() for a in ("--add-scram", f"{SCRAM}=[name={p},password={pw}]")]

    def broker_properties(self, port: int) -> dict[str, object]:
        if not self.secured:
            return {}
        name = "SASL_SSL" if self.protocol == "sasl_ssl" else "SSL"
        props: dict[str, object] = {
            "listeners": f"{name}://127.0.0.1:{port}",
            "advertised.listeners": f"{name}://127.0.0.1:{port}",
            "listener.security.protocol.map": f"{name}:{name},CONTROLLER:SSL",
            "inter.broker.listener.name": name,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": self._dir / "broker.pem",
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": self.ca_file,
        }
        if self.protocol == "sasl_ssl":
            password = self._passwords()[ADMIN]
            props |= {
                "sasl.enabled.mechanisms": SCRAM,
                "sasl.mechanism.inter.broker.protocol": SCRAM,
                "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
                    "org.apache.kafka.common.security.scram.ScramLoginModule required "
                    f'username="{ADMIN}" password="{password}";',
            }
        else:
            props |= {"ssl.client.auth": "required",
                      "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)$/$1/,DEFAULT"}
        props |= self.authorizer_properties(controller=False)
        return props

    def controller_properties(self, port: int) -> dict[str, object]:
        """The controller's listener is TLS with client certificates required: only the brokers (their
        certificate, principal `broker`) can reach the cluster's metadata quorum."""
        if not self.secured:
            return {}
        props: dict[str, object] = {
            "listeners": f"CONTROLLER://127.0.0.1:{port}",
            "listener.security.protocol.map": "CONTROLLER:SSL",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": self._dir / "broker.pem",
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": self.ca_file,
            "ssl.client.auth": "required",
            "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)$/$1/,DEFAULT",
        }
        return props | self.authorizer_properties(controller=True)

    def authorizer_properties(self, *, controller: bool) -> dict[str, object]:
        """StandardAuthorizer with deny-by-default. Brokers reach the controller over TLS with their
        certificate (principal `broker`), a super user like `admin`."""
        if not self.acls:
            return {}
        supers = [f"User:{ADMIN}", f"User:{BROKER}"]
        return {"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "allow.everyone.if.no.acl.found": "false", "super.users": ";".join(supers)}


def grant_read_only(admin_conf: dict[str, Any], principal: str) -> None:
    """ACLs for a principal that observes and proposes but changes nothing: Describe and
    DescribeConfigs on the cluster and every topic, Describe on every consumer group."""
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
    )

    grants = [(ResourceType.BROKER, "kafka-cluster", op) for op in (AclOperation.DESCRIBE,
                                                                     AclOperation.DESCRIBE_CONFIGS)]
    grants += [(ResourceType.TOPIC, "*", op) for op in (AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS)]
    grants += [(ResourceType.GROUP, "*", AclOperation.DESCRIBE)]
    bindings = [AclBinding(rt, name, ResourcePatternType.LITERAL, f"User:{principal}", "*", op,
                           AclPermissionType.ALLOW) for rt, name, op in grants]
    admin = AdminClient(dict(admin_conf))
    for future in admin.create_acls(bindings, request_timeout=60).values():
        future.result()
