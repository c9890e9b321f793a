"""One connection profile for both Kafka clients.

Users describe a cluster once, in Apache Kafka's client-properties convention (`--command-config`
file: `security.protocol`, `sasl.mechanism`, `sasl.jaas.config`, `ssl.*`), or by name from a
`brokerscale.yaml`, or as a local dev cluster. This module turns that into settings for kafka-python
(admin API) and for confluent-kafka (data plane), so PLAINTEXT, SASL_SSL and mTLS clusters —
Confluent Cloud included — work the same way everywhere. Secrets never leave this object in
`repr()` or error messages.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from brokerscale.errors import BadInput, from_validation_error

if TYPE_CHECKING:
    from brokerscale.kafka.admin import KafkaAdmin

SECRET_KEYS = ("sasl.jaas.config", "sasl.password", "ssl.key.password", "ssl.keystore.password",
               "ssl.truststore.password", "basic.auth.user.info")
_JAAS_RE = re.compile(r'(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"')


_LOG_SECRETS: set[str] = set()


def _redact_logs(secret: str | None) -> None:
    """Keep `secret` out of every log record from now on. kafka-python logs its whole configuration
    (SASL password included) at DEBUG when a client starts; a record factory masks it before any
    handler sees the record."""
    if not secret or len(secret) < 4 or secret in _LOG_SECRETS:
        return
    if not _LOG_SECRETS:
        import logging

        make = logging.getLogRecordFactory()

        def redacted(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make(*args, **kwargs)
            text = record.getMessage()
            if any(s in text for s in _LOG_SECRETS):
                for s in _LOG_SECRETS:
                    text = text.replace(s, "***")
                record.msg, record.args = text, None
            return record

        logging.setLogRecordFactory(redacted)
    _LOG_SECRETS.add(secret)


def read_properties(path: Path) -> dict[str, str]:
    """Read a Java .properties file, with Kafka's config-provider references (`${dir:...}`) resolved."""
    return resolve_config_providers(path, parse_properties(path))


def parse_properties(path: Path) -> dict[str, str]:
    """Parse a Java .properties file (key=value or key: value, # and ! comments) as written."""
    from brokerscale.model.files import read_text

    text = read_text(path)
    props: dict[str, str] = {}
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith(("#", "!"))):
            continue
        if line.endswith("\\"):
            logical += line[:-1]
            continue
        logical += line
        m = re.match(r"([^=:\s]+)\s*[=:]?\s*(.*)", logical)
        if m:
            props[m.group(1)] = m.group(2)
        logical = ""
    return props


# Apache Kafka's config providers (KIP-297/KIP-421/KIP-887): `config.providers=dir` with
# `config.providers.dir.class=...DirectoryConfigProvider`, then `${dir:/mounted/secret:password}` in any value.
# Resolving them here lets one client-properties file serve Kafka's Java clients and brokerscale alike,
# with the secret left in the mounted file or the environment instead of the properties file.
_PROVIDER_KINDS = {
    "org.apache.kafka.common.config.provider.FileConfigProvider": "file",
    "org.apache.kafka.common.config.provider.DirectoryConfigProvider": "directory",
    "org.apache.kafka.common.config.provider.EnvVarConfigProvider": "env",
}
_VARIABLE = re.compile(r"\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}")  # Kafka's ConfigTransformer pattern


def resolve_config_providers(path: Path, props: dict[str, str]) -> dict[str, str]:
    """Replace `${provider:[path:]key}` references by what the declared provider reads. Errors name the
    file, the property and the reason, never a value."""
    names = [n.strip() for n in props.get("config.providers", "").split(",") if n.strip()]
    if not names:
        return props
    kinds: dict[str, str] = {}
    for name in names:
        cls = props.get(f"config.providers.{name}.class", "")
        if cls not in _PROVIDER_KINDS:
            raise BadInput(f"{path}: config.providers.{name}.class: {cls or '(missing)'!s} is not a provider "
                           f"brokerscale can resolve ({', '.join(sorted(_PROVIDER_KINDS))})")
        kinds[name] = _PROVIDER_KINDS[cls]
    out: dict[str, str] = {}
    for key, value in props.items():
        if key == "config.providers" or key.startswith("config.providers."):
            continue

        def one(m: re.Match[str], key: str = key) -> str:
            provider, where, item = m.group(1), m.group(2), m.group(3)
            kind = kinds.get(provider)
            if kind is None:
                return m.group(0)  # not a declared provider: Kafka leaves the text as it is too
            return _provided(path, key, kind, where, item)

        out[key] = _VARIABLE.sub(one, value)
    return out


def _provided(path: Path, key: str, kind: str, where: str | None, item: str) -> str:
    if kind == "env":
        if item not in os.environ:
            raise BadInput(f"{path}: {key}: environment variable {item} is not set")
        return os.environ[item]
    if not where:
        raise BadInput(f"{path}: {key}: a {kind} reference needs a path: ${{provider:PATH:KEY}}")
    if kind == "directory":
        target = Path(where) / item
        if "/" in item or item in ("", ".", ".."):
            raise BadInput(f"{path}: {key}: {item!r} is not a file name inside {where}")
        try:
            return target.read_text()
        except OSError as exc:
            raise BadInput(f"{path}: {key}: cannot read {target} ({exc.strerror})") from None
    values = parse_properties(Path(where))  # as Kafka's FileConfigProvider: no references inside
    if item not in values:
        raise BadInput(f"{path}: {key}: {where} has no key {item!r}")
    return values[item]


@dataclass(frozen=True)
class ConnectionProfile:
    """Where a cluster is and how to authenticate to it."""

    bootstrap: str
    properties: dict[str, str] = field(default_factory=dict)
    name: str = ""

    def __repr__(self) -> str:
        shown = {k: ("***" if k in SECRET_KEYS else v) for k, v in self.properties.items()}
        return f"ConnectionProfile(bootstrap={self.bootstrap!r}, name={self.name!r}, properties={shown})"

    __str__ = __repr__

    @property
    def label(self) -> str:
        return self.name or self.bootstrap

    def _sasl_credentials(self) -> tuple[str | None, str | None]:
        jaas = self.properties.get("sasl.jaas.config", "")
        found = dict(_JAAS_RE.findall(jaas))
        user = self.properties.get("sasl.username") or found.get("username")
        password = self.properties.get("sasl.password") or found.get("password")
        _redact_logs(password)
        _redact_logs(jaas)
        return user, password

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python clients (KafkaAdminClient, KafkaConsumer)."""
        p = self.properties
        kw: dict[str, Any] = {"bootstrap_servers": self.bootstrap.split(",")}
        proto = p.get("security.protocol", "PLAINTEXT").upper()
        kw["security_protocol"] = proto
        if proto.startswith("SASL"):
            user, password = self._sasl_credentials()
            kw["sasl_mechanism"] = p.get("sasl.mechanism", "PLAIN").upper()
            kw["sasl_plain_username"] = user
            kw["sasl_plain_password"] = password
        if proto.endswith("SSL"):
            ca = p.get("ssl.ca.location") or (
                p.get("ssl.truststore.location") if p.get("ssl.truststore.type", "").upper() == "PEM" else None)
            if ca:
                kw["ssl_cafile"] = ca
            cert = p.get("ssl.certificate.location") or (
                p.get("ssl.keystore.location") if p.get("ssl.keystore.type", "").upper() == "PEM" else None)
            if cert:
                kw["ssl_certfile"] = cert
            if p.get("ssl.key.location"):
                kw["ssl_keyfile"] = p["ssl.key.location"]
            if p.get("ssl.key.password"):
                kw["ssl_password"] = p["ssl.key.password"]
                _redact_logs(p["ssl.key.password"])
            if p.get("ssl.endpoint.identification.algorithm", "https") == "":
                kw["ssl_check_hostname"] = False
        return kw

    def confluent(self) -> dict[str, Any]:
        """Configuration for confluent-kafka (librdkafka) Producer/Consumer/AdminClient."""
        p = self.properties
        conf: dict[str, Any] = {"bootstrap.servers": self.bootstrap}
        proto = p.get("security.protocol", "PLAINTEXT").upper()
        conf["security.protocol"] = proto
        if proto.startswith("SASL"):
            user, password = self._sasl_credentials()
            conf["sasl.mechanisms"] = p.get("sasl.mechanism", "PLAIN").upper()
            if user is not None:
                conf["sasl.username"] = user
            if password is not None:
                conf["sasl.password"] = password
        if proto.endswith("SSL"):
            mapping = {"ssl.ca.location": "ssl.ca.location", "ssl.certificate.location": "ssl.certificate.location",
                       "ssl.key.location": "ssl.key.location", "ssl.key.password": "ssl.key.password"}
            for src, dst in mapping.items():
                if p.get(src):
                    conf[dst] = p[src]
            if p.get("ssl.truststore.type", "").upper() == "PEM" and p.get("ssl.truststore.location"):
                conf["ssl.ca.location"] = p["ssl.truststore.location"]
            if p.get("ssl.endpoint.identification.algorithm") == "":
                conf["ssl.endpoint.identification.algorithm"] = "none"
        return conf

    def admin(self, *, timeout_s: float = 10.0, request_timeout_s: float | None = None) -> KafkaAdmin:
        """The Kafka admin adapter for this cluster; an unreachable cluster is a one-line `Unreachable`."""
        from brokerscale.kafka.admin import KafkaAdmin

        return KafkaAdmin.connect(self, timeout_s=timeout_s, request_timeout_s=request_timeout_s)


def _config_file() -> Path | None:
    env = os.environ.get("BROKERSCALE_CONFIG")
    if env:
        return Path(env)
    local = Path("brokerscale.yaml")
    return local if local.exists() else None


class NamedCluster(BaseModel):
    """One entry under `clusters:` in brokerscale.yaml."""

    model_config = ConfigDict(extra="forbid")

    bootstrap: str = Field(min_length=1)
    command_config: Path | None = None
    properties: dict[str, str | int | float | bool] = Field(default_factory=dict)


class ConfigFile(BaseModel):
    """brokerscale.yaml: named clusters. A key it does not know is an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid")

    clusters: dict[str, NamedCluster] = Field(default_factory=dict)


def load_config_file(path: Path) -> ConfigFile:
    from brokerscale.model.files import read_yaml

    doc = read_yaml(path)
    if doc is None:
        return ConfigFile()
    if not isinstance(doc, dict):
        raise BadInput(f"{path}: (top level): must be a mapping with clusters:")
    try:
        return ConfigFile.model_validate(doc)
    except ValidationError as exc:
        raise from_validation_error(str(path), exc, ConfigFile) from None


def _named_cluster(name: str) -> ConnectionProfile | None:
    path = _config_file()
    if path is None or not path.exists():
        return None
    entry = load_config_file(path).clusters.get(name)
    if entry is None:
        return None
    props: dict[str, str] = {}
    if entry.command_config is not None:
        props.update(read_properties(entry.command_config))
    props.update({str(k): str(v) for k, v in entry.properties.items()})
    return ConnectionProfile(bootstrap=entry.bootstrap, properties=props, name=name)


def resolve(bootstrap: str | None = None, command_config: Path | None = None,
            cluster: str | None = None) -> ConnectionProfile:
    """Find the cluster a command should talk to.

    Order: `--cluster NAME` (brokerscale.yaml, then a local dev cluster of that name); `--bootstrap`
    (or BROKERSCALE_BOOTSTRAP); otherwise the running local dev cluster named `local`.
    """
    props = read_properties(command_config) if command_config else {}
    if cluster:
        named = _named_cluster(cluster)
        if named is not None:
            return ConnectionProfile(named.bootstrap, {**named.properties, **props}, cluster)
        from brokerscale.dev.cluster import DevCluster

        dev = DevCluster.find(cluster)
        if dev is None:
            raise BadInput(f"--cluster: no cluster named {cluster!r} in brokerscale.yaml or among dev clusters")
        # a secured dev cluster: its admin principal unless --command-config names another
        return ConnectionProfile(dev.bootstrap, props or dev.client_properties(), cluster)
    if bootstrap:
        if not re.fullmatch(r"[^\s:,]+:\d{1,5}(,[^\s:,]+:\d{1,5})*", bootstrap):
            raise BadInput(f"--bootstrap: {bootstrap!r} is not HOST:PORT[,HOST:PORT...]")
        return ConnectionProfile(bootstrap, props)
    from brokerscale.dev.cluster import DevCluster

    dev = DevCluster.find("local")
    if dev is not None:
        return ConnectionProfile(dev.bootstrap, props or dev.client_properties(), "local")
    raise BadInput("no cluster given: pass --bootstrap HOST:PORT or --cluster NAME "
                   "(or start one with `brokerscale dev up`)")
