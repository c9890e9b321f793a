"""The doctor's findings: who we are on the cluster, which verbs that principal can run, versions, and
whether the brokers' metrics endpoints answer.

Security teams grant a tool the least it needs and then ask why it fails; the answer should be one
command away, in their own vocabulary (Kafka ACLs: an operation on a resource), not in a stack trace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from brokerscale.connect import ConnectionProfile
from brokerscale.kafka.permissions import Permission

READS = ("describe-cluster", "describe-topics")
OBSERVE = (*READS, "describe-configs-cluster", "describe-configs-topics", "describe-groups")

VERB_NEEDS: dict[str, tuple[str, ...]] = {
    "observe, check, exporter, web": OBSERVE,
    "lag": (*READS, "describe-groups"),
    "topics list, hot, optimize (dry run)": (*READS, "describe-configs-topics"),
    "rebalance propose, status": (*READS, "describe-configs-cluster"),
    "topics optimize --apply, topics apply": (*READS, "describe-configs-topics", "alter-configs-topics",
                                              "alter-topics"),
    "rebalance execute --apply, cancel --apply": (*READS, "alter-cluster", "alter-configs-cluster",
                                                  "alter-configs-topics"),
    "load (creating its topic)": (*READS, "create-topics"),
}
"""Which permissions each verb needs (keys of PERMISSIONS). `load` also writes and reads its topic
(Write, Read on the topic; Read on its group): Kafka has no request that asks that harmlessly."""

LOAD_NOTE = ("load also needs Write on its topic (and Read on the topic and its group for --verify or "
             "--consume): Kafka cannot be asked that without writing, so it is not probed")


@dataclass
class VerbAccess:
    verb: str
    can_run: bool | None
    missing: list[str]
    unknown: list[str]

    def to_json(self) -> dict[str, object]:
        return {"verb": self.verb, "can_run": self.can_run, "missing": self.missing, "unknown": self.unknown}


@dataclass
class Endpoint:
    broker: int
    url: str
    answers: bool
    detail: str = ""


@dataclass
class Report:
    cluster: str
    bootstrap: str
    security_protocol: str
    principal: str
    cluster_id: str | None = None
    brokers: list[int] = field(default_factory=list)
    broker_versions: dict[int, str] = field(default_factory=dict)
    client_versions: dict[str, str] = field(default_factory=dict)
    permissions: list[Permission] = field(default_factory=list)
    verbs: list[VerbAccess] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"cluster": self.cluster, "bootstrap": self.bootstrap, "security_protocol": self.security_protocol,
                "principal": self.principal, "cluster_id": self.cluster_id, "brokers": self.brokers,
                "broker_versions": {str(k): v for k, v in self.broker_versions.items()},
                "client_versions": self.client_versions,
                "permissions": [p.to_json() for p in self.permissions],
                "verbs": [v.to_json() for v in self.verbs],
                "metrics_endpoints": [{"broker": e.broker, "url": e.url, "answers": e.answers, "detail": e.detail}
                                      for e in self.endpoints],
                "notes": self.notes}


def verb_access(permissions: list[Permission]) -> list[VerbAccess]:
    """Per verb: runnable (every permission granted), not (the missing ACLs named), or unknown."""
    by_key = {p.key: p for p in permissions}
    out = []
    for verb, needs in VERB_NEEDS.items():
        missing = [by_key[k].acl for k in needs if k in by_key and by_key[k].allowed is False]
        unknown = [by_key[k].acl for k in needs if k not in by_key or by_key[k].allowed is None]
        can: bool | None = False if missing else (None if unknown else True)
        out.append(VerbAccess(verb, can, missing, unknown))
    return out


def principal_of(profile: ConnectionProfile) -> str:
    """The principal the cluster will see, as far as the client settings say (never a secret)."""
    props = profile.properties
    proto = props.get("security.protocol", "PLAINTEXT").upper()
    if proto.startswith("SASL"):
        user, _ = profile._sasl_credentials()
        return f"User:{user}" if user else "User:(from the SASL mechanism)"
    cert = props.get("ssl.certificate.location") or (
        props.get("ssl.keystore.location") if props.get("ssl.keystore.type", "").upper() == "PEM" else None)
    if proto == "SSL" and cert:
        cn = _certificate_cn(Path(cert))
        return f"User:{cn}" if cn else "User:(the client certificate's subject)"
    return "User:ANONYMOUS"


def _certificate_cn(path: Path) -> str | None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        text = path.read_bytes()
    except OSError:
        return None
    m = re.search(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.S)
    if m is None:
        return None
    try:
        cert = x509.load_pem_x509_certificate(m.group(0))
    except ValueError:
        return None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def client_versions() -> dict[str, str]:
    import confluent_kafka

    from brokerscale import __version__

    return {"brokerscale": __version__, "kafka-python": metadata.version("kafka-python"),
            "confluent-kafka": confluent_kafka.version()[0], "librdkafka": confluent_kafka.libversion()[0]}
