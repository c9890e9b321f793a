"""The PHI lint: what a workload carrying patient data needs that deployment files lack.

Reads Terraform for the Confluent provider, Strimzi custom resources and plain Kubernetes manifests
(StatefulSet, PodDisruptionBudget, Secret) — brokerscale's own output or anyone's — and lists each gap
with the reason in words. The checks are pure functions over parsed documents; `lint_paths` is the one
place that reads files. brokerscale's emitters must pass it (tests hold them to that).
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from brokerscale.errors import BadInput

ZONE_KEY = "topology.kubernetes.io/zone"
PHI_RF = 3
PHI_MIN_ISR = 2
ALL_REQUIREMENTS = ("phi", "private-networking")


@dataclass(frozen=True)
class LintFinding:
    file: str
    resource: str
    rule: str
    message: str


# ---- helpers -------------------------------------------------------------------------------------

def _unq(v: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals and wraps blocks; make plain values of them."""
    if isinstance(v, str) and len(v) >= 2 and v[0] == v[-1] == '"':
        return v[1:-1]
    if isinstance(v, dict):
        return {_unq(k): _unq(x) for k, x in v.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(v, list):
        return [_unq(x) for x in v]
    return v


def _block(v: Any) -> dict[str, Any]:
    """A nested block (hcl2 gives a list of dicts) as one dict; {} when absent."""
    if isinstance(v, list):
        return v[0] if v and isinstance(v[0], dict) else {}
    return v if isinstance(v, dict) else {}


def _int(v: Any) -> int | None:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return None


def _ref(v: Any) -> str:
    """`${confluent_network.private.id}` or `confluent_network.private.id` -> `confluent_network.private`."""
    text = str(v).strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return text.rsplit(".", 1)[0] if text.endswith(".id") else text


# ---- Terraform ------------------------------------------------------------------------------------

def lint_terraform(files: Sequence[tuple[str, dict[str, Any]]], requirements: Iterable[str]) -> list[LintFinding]:
    """`files`: (path, python-hcl2 parse) of one Terraform module's .tf files."""
    reqs = set(requirements)
    resources: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
    for path, doc in files:
        for res in _unq(doc).get("resource", []):
            for rtype, named in res.items():
                for name, body in named.items():
                    resources.setdefault(rtype, {})[name] = (path, body)
    out: list[LintFinding] = []
    networks = resources.get("confluent_network", {})
    for name, (path, body) in resources.get("confluent_kafka_cluster", {}).items():
        rid = f"confluent_kafka_cluster.{name}"
        if "private-networking" not in reqs:
            continue
        tier = next((t for t in ("basic", "standard", "enterprise", "dedicated", "freight") if t in body), None)
        if tier in ("basic", "standard", None):
            out.append(LintFinding(path, rid, "tf-private-tier",
                                   f"a {tier or 'untyped'} cluster has only public endpoints: private networking "
                                   "needs a dedicated cluster on a confluent_network, or an enterprise cluster "
                                   "behind a private link attachment"))
            continue
        if tier == "enterprise":
            if not resources.get("confluent_private_link_attachment"):
                out.append(LintFinding(path, rid, "tf-network",
                                       "enterprise cluster without a confluent_private_link_attachment: it is "
                                       "reachable over the internet"))
            elif not resources.get("confluent_private_link_attachment_connection"):
                out.append(LintFinding(path, rid, "tf-network-access",
                                       "private link attachment without a "
                                       "confluent_private_link_attachment_connection: nothing can reach it"))
            continue
        net_ref = _ref(_block(body.get("network")).get("id", ""))
        net_name = net_ref.split(".", 1)[1] if net_ref.startswith("confluent_network.") else None
        if net_name is None or net_name not in networks:
            out.append(LintFinding(path, rid, "tf-network",
                                   "dedicated cluster without `network { id = confluent_network.<name>.id }`: it "
                                   "gets public endpoints; PHI traffic must stay on a private network"))
            continue
        npath, net = networks[net_name]
        types = {str(t).upper() for t in (net.get("connection_types") or [])}
        if not types & {"PRIVATELINK", "PEERING", "TRANSITGATEWAY"}:
            out.append(LintFinding(npath, f"confluent_network.{net_name}", "tf-network",
                                   f"connection_types {sorted(types) or '[]'} has no PRIVATELINK or PEERING"))
            continue
        access_types = {"PRIVATELINK": "confluent_private_link_access", "PEERING": "confluent_peering",
                        "TRANSITGATEWAY": "confluent_transit_gateway_attachment"}
        ok = any(_ref(_block(b.get("network")).get("id", "")) == f"confluent_network.{net_name}"
                 for t in types if t in access_types
                 for _, b in resources.get(access_types[t], {}).values())
        if not ok:
            want = " or ".join(access_types[t] for t in sorted(types) if t in access_types)
            out.append(LintFinding(npath, f"confluent_network.{net_name}", "tf-network-access",
                                   f"no {want} for this network: no account is allowed to connect, so clients "
                                   "cannot reach the cluster privately"))
    for name, (path, body) in resources.get("confluent_kafka_topic", {}).items():
        rid = f"confluent_kafka_topic.{name}"
        creds = _block(body.get("credentials"))
        for k in ("key", "secret"):
            v = str(creds.get(k, ""))
            if v and "var." not in v and "data." not in v and "." not in v.strip("${}"):
                out.append(LintFinding(path, rid, "tf-secret-literal",
                                       f"credentials.{k} is a literal: secrets belong in sensitive variables"))
        if "phi" not in reqs:
            continue
        config = body.get("config") or {}
        out += _topic_config_findings(path, rid, config, replicas=None)
    return out


def _topic_config_findings(path: str, rid: str, config: dict[str, Any], replicas: int | None) -> list[LintFinding]:
    out = []
    isr = _int(config.get("min.insync.replicas"))
    if isr is None or isr < PHI_MIN_ISR:
        out.append(LintFinding(path, rid, "topic-min-isr",
                               f"min.insync.replicas is {isr if isr is not None else 'unset (1)'}: an "
                               f"acknowledged PHI write must reach at least {PHI_MIN_ISR} replicas"))
    elif replicas is not None and isr >= replicas:
        out.append(LintFinding(path, rid, "topic-min-isr",
                               f"min.insync.replicas {isr} is not below the {replicas} replicas: one broker down "
                               "stops every acks=all write"))
    if replicas is not None and replicas < PHI_RF:
        out.append(LintFinding(path, rid, "topic-replicas",
                               f"{replicas} replicas: PHI topics need {PHI_RF} (one broker down and one "
                               "restarting must still leave a copy)"))
    cleanup = str(config.get("cleanup.policy", "delete"))
    if "compact" in cleanup:
        out.append(LintFinding(path, rid, "topic-compact",
                               f"cleanup.policy {cleanup}: compaction keeps the latest record per key forever, "
                               "past any retention; PHI must use delete"))
    if _int(config.get("retention.ms")) == -1:
        out.append(LintFinding(path, rid, "topic-retention",
                               "retention.ms -1 keeps PHI forever, against data minimisation"))
    if str(config.get("unclean.leader.election.enable", "false")).lower() == "true":
        out.append(LintFinding(path, rid, "topic-unclean",
                               "unclean.leader.election.enable true: an out-of-sync replica can become leader and "
                               "acknowledged clinical events are lost"))
    return out


# ---- Strimzi --------------------------------------------------------------------------------------

def _name(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name', '?')}"


def lint_strimzi(docs: Sequence[tuple[str, dict[str, Any]]]) -> list[LintFinding]:
    """Kafka, KafkaTopic and KafkaUser resources (kafka.strimzi.io) against the PHI needs."""
    out: list[LintFinding] = []
    kafkas = [(p, d) for p, d in docs if d.get("kind") == "Kafka"]
    users = [(p, d) for p, d in docs if d.get("kind") == "KafkaUser"]
    for path, doc in kafkas:
        rid = _name(doc)
        k = (doc.get("spec") or {}).get("kafka") or {}
        listeners = k.get("listeners") or []
        for lst in listeners:
            lname = lst.get("name", "?")
            if not lst.get("tls"):
                out.append(LintFinding(path, rid, "strimzi-listener-tls",
                                       f"listener {lname} (port {lst.get('port')}) has tls: false: PHI would cross "
                                       "the network in clear text"))
            if not (lst.get("authentication") or {}).get("type"):
                out.append(LintFinding(path, rid, "strimzi-listener-auth",
                                       f"listener {lname} has no authentication: anyone who reaches it can read "
                                       "and write (use scram-sha-512 or tls)"))
        authz = k.get("authorization") or {}
        if authz.get("type") != "simple":
            out.append(LintFinding(path, rid, "strimzi-authorization",
                                   "no `authorization: {type: simple}`: without an authorizer every authenticated "
                                   "client may read every PHI topic"))
        elif not authz.get("superUsers"):
            out.append(LintFinding(path, rid, "strimzi-authorization",
                                   "authorization has no superUsers: operators and brokerscale cannot manage the "
                                   "cluster"))
        if not (k.get("rack") or {}).get("topologyKey"):
            out.append(LintFinding(path, rid, "strimzi-rack",
                                   f"no rack.topologyKey ({ZONE_KEY}): replicas of a partition can all land in "
                                   "one zone and a zone outage loses them"))
        config = k.get("config") or {}
        rf = _int(config.get("default.replication.factor"))
        if rf is None or rf < PHI_RF:
            out.append(LintFinding(path, rid, "strimzi-replication",
                                   f"default.replication.factor is {rf if rf is not None else 'unset (1)'}: PHI "
                                   f"topics need {PHI_RF} replicas"))
        for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor"):
            v = _int(config.get(key))
            if v is not None and v < PHI_RF:
                out.append(LintFinding(path, rid, "strimzi-replication", f"{key} {v} is below {PHI_RF}"))
        out += [LintFinding(path, rid, f.rule.replace("topic-", "strimzi-"), f.message)
                for f in _topic_config_findings(path, rid, config, rf if rf is not None else 1)
                if f.rule in ("topic-min-isr", "topic-unclean")]
        if not users:
            out.append(LintFinding(path, rid, "strimzi-users",
                                   "no KafkaUser resources: each producer and consumer needs its own principal "
                                   "with least-privilege ACLs"))
    for path, doc in users:
        rid = _name(doc)
        spec = doc.get("spec") or {}
        if not (spec.get("authentication") or {}).get("type"):
            out.append(LintFinding(path, rid, "strimzi-user-auth",
                                   "KafkaUser without authentication: it gets no credentials"))
        for i, acl in enumerate((spec.get("authorization") or {}).get("acls") or []):
            res = acl.get("resource") or {}
            ops = set(acl.get("operations") or ([acl["operation"]] if acl.get("operation") else []))
            if "All" in ops:
                out.append(LintFinding(path, rid, "strimzi-user-acl",
                                       f"acls[{i}] grants All on {res.get('type')} {res.get('name', '*')}: "
                                       "grant only the operations the application uses"))
            if res.get("type") in ("topic", "group") and res.get("name") in (None, "*", ""):
                out.append(LintFinding(path, rid, "strimzi-user-acl",
                                       f"acls[{i}] covers every {res.get('type')}: name the topics and groups"))
    for path, doc in docs:
        if doc.get("kind") != "KafkaTopic":
            continue
        spec = doc.get("spec") or {}
        out += [LintFinding(f.file, f.resource, f.rule.replace("topic-", "strimzi-topic-"), f.message)
                for f in _topic_config_findings(path, _name(doc), spec.get("config") or {},
                                                _int(spec.get("replicas")) or 1)]
    return out


# ---- plain Kubernetes -----------------------------------------------------------------------------

def _matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    want = selector.get("matchLabels") or {}
    return bool(want) and all(labels.get(k) == v for k, v in want.items())


def lint_statefulset(docs: Sequence[tuple[str, dict[str, Any]]]) -> list[LintFinding]:
    """Kafka StatefulSets (and the PodDisruptionBudgets and Secrets beside them) against the PHI needs."""
    out: list[LintFinding] = []
    pdbs = [(p, d) for p, d in docs if d.get("kind") == "PodDisruptionBudget"]
    for path, doc in docs:
        if doc.get("kind") == "Secret":
            values = {**(doc.get("stringData") or {}), **(doc.get("data") or {})}
            for key, v in values.items():
                text = str(v)
                with contextlib.suppress(ValueError):
                    text += base64.b64decode(text, validate=True).decode("utf-8", "replace")
                if "PRIVATE KEY" in text:
                    out.append(LintFinding(path, _name(doc), "k8s-secret-in-file",
                                           f"{key} holds a private key in a manifest: create the Secret from files "
                                           "at deploy time, never commit key material"))
        if doc.get("kind") != "StatefulSet":
            continue
        rid = _name(doc)
        spec = doc.get("spec") or {}
        template = spec.get("template") or {}
        pod = template.get("spec") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        containers = pod.get("containers") or []
        kafka = next((c for c in containers if "kafka" in str(c.get("image", "")) or c.get("name") == "kafka"),
                     containers[0] if containers else {})
        env = {e.get("name"): e.get("value") for e in kafka.get("env") or [] if isinstance(e, dict)}
        command = " ".join(str(x) for x in (kafka.get("command") or []) + (kafka.get("args") or []))
        protocols = str(env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP") or "")
        plain = [p.split(":", 1)[0] for p in protocols.split(",") if p.endswith(("PLAINTEXT", ":PLAINTEXT"))]
        if not protocols or plain:
            out.append(LintFinding(path, rid, "sts-listener-plaintext",
                                   f"listeners {', '.join(plain) or '(unset: PLAINTEXT)'} are PLAINTEXT: PHI would "
                                   "cross the network in clear text; use SSL (or SASL_SSL) for every listener"))
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        secret_mounts = [m.get("mountPath", "") for m in kafka.get("volumeMounts") or []
                         if (volumes.get(m.get("name")) or {}).get("secret")]
        keystore = str(env.get("KAFKA_SSL_KEYSTORE_LOCATION") or "")
        if not keystore or not any(keystore.startswith(m.rstrip("/") + "/") for m in secret_mounts if m):
            out.append(LintFinding(path, rid, "sts-keystore",
                                   "no keystore mounted from a Secret (KAFKA_SSL_KEYSTORE_LOCATION under a secret "
                                   "volume): the brokers have no certificate to serve TLS with"))
        sasl = "SASL_SSL" in protocols
        if str(env.get("KAFKA_SSL_CLIENT_AUTH") or "").lower() != "required" and not sasl:
            out.append(LintFinding(path, rid, "sts-authentication",
                                   "clients are not authenticated (KAFKA_SSL_CLIENT_AUTH is not required and no "
                                   "SASL_SSL listener): anyone who reaches a broker can read PHI"))
        if not env.get("KAFKA_AUTHORIZER_CLASS_NAME"):
            out.append(LintFinding(path, rid, "sts-authorization",
                                   "no authorizer (KAFKA_AUTHORIZER_CLASS_NAME): every client may read every topic"))
        elif not env.get("KAFKA_SUPER_USERS"):
            out.append(LintFinding(path, rid, "sts-authorization",
                                   "authorizer without KAFKA_SUPER_USERS: the brokers' own principal is denied"))
        if "KAFKA_BROKER_RACK" not in env and "KAFKA_BROKER_RACK" not in command:
            out.append(LintFinding(path, rid, "sts-rack",
                                   "no broker.rack (KAFKA_BROKER_RACK from the node's zone): Kafka cannot place a "
                                   "partition's replicas in different zones"))
        aff = (pod.get("affinity") or {}).get("podAntiAffinity") or {}
        terms = list(aff.get("requiredDuringSchedulingIgnoredDuringExecution") or []) + [
            (t or {}).get("podAffinityTerm") or {} for t in aff.get("preferredDuringSchedulingIgnoredDuringExecution")
            or []]
        spread = [c for c in pod.get("topologySpreadConstraints") or [] if c.get("topologyKey") == ZONE_KEY]
        if not any(t.get("topologyKey") == ZONE_KEY for t in terms) and not spread:
            out.append(LintFinding(path, rid, "sts-anti-affinity",
                                   f"no pod anti-affinity (or spread) across {ZONE_KEY}: several brokers can run "
                                   "in one zone and a zone outage takes them together"))
        if not any(_matches((d.get("spec") or {}).get("selector") or {}, labels)
                   and (d.get("spec") or {}).get("maxUnavailable") == 1 for _, d in pdbs):
            out.append(LintFinding(path, rid, "sts-pdb",
                                   "no PodDisruptionBudget with maxUnavailable 1 for these pods: a node drain can "
                                   "stop two brokers at once and leave partitions below min.insync.replicas"))
        rf = _int(env.get("KAFKA_DEFAULT_REPLICATION_FACTOR"))
        if rf is None or rf < PHI_RF:
            out.append(LintFinding(path, rid, "sts-replication",
                                   f"KAFKA_DEFAULT_REPLICATION_FACTOR is {rf if rf is not None else 'unset (1)'}: "
                                   f"PHI topics need {PHI_RF}"))
        isr = _int(env.get("KAFKA_MIN_INSYNC_REPLICAS"))
        if isr is None or isr < PHI_MIN_ISR or (rf is not None and isr >= rf):
            out.append(LintFinding(path, rid, "sts-min-isr",
                                   f"KAFKA_MIN_INSYNC_REPLICAS is {isr if isr is not None else 'unset (1)'}: it "
                                   f"must be at least {PHI_MIN_ISR} and below the replication factor"))
        if str(env.get("KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE", "false")).lower() == "true":
            out.append(LintFinding(path, rid, "sts-unclean",
                                   "unclean leader election is on: acknowledged clinical events can be lost"))
    return out


# ---- files -----------------------------------------------------------------------------------------

STRIMZI_KINDS = {"Kafka", "KafkaTopic", "KafkaUser", "KafkaNodePool", "KafkaRebalance"}
_SECRET_PROPERTIES = ("sasl.password", "ssl.keystore.password", "ssl.key.password")
_LITERAL_JAAS_PASSWORD = re.compile(r'password\s*=\s*"(?!\$\{)[^"]*"')


def lint_client_properties(files: Sequence[tuple[str, dict[str, str]]]) -> list[LintFinding]:
    """Kafka client-properties files (as written, references unresolved) against the PHI needs: an
    encrypted, authenticated connection that verifies the broker, no secret written in the file, and a
    producer that waits for the replicas."""
    out: list[LintFinding] = []
    for path, p in files:
        rid = f"client {p.get('client.id') or Path(path).stem}"
        proto = p.get("security.protocol", "PLAINTEXT").upper()
        if proto not in ("SSL", "SASL_SSL"):
            out.append(LintFinding(path, rid, "client-tls",
                                   f"security.protocol is {proto}: PHI would cross the network in clear text "
                                   "(use SASL_SSL or SSL)"))
        if proto == "SSL" and not p.get("ssl.keystore.location") and not p.get("ssl.certificate.location"):
            out.append(LintFinding(path, rid, "client-auth",
                                   "SSL without a client certificate: the application is not authenticated, "
                                   "so ACLs cannot limit it to its own topics"))
        if p.get("ssl.endpoint.identification.algorithm", "https") == "":
            out.append(LintFinding(path, rid, "client-hostname-verification",
                                   "ssl.endpoint.identification.algorithm is empty: the broker's name is not "
                                   "checked, so any certificate of the CA can impersonate the cluster"))
        if _LITERAL_JAAS_PASSWORD.search(p.get("sasl.jaas.config", "")):
            out.append(LintFinding(path, rid, "client-literal-secret",
                                   "sasl.jaas.config holds a literal password: read it at start-up with a config "
                                   "provider (${dir:...}, ${file:...} or ${env:...}) from a mounted Secret"))
        for key in _SECRET_PROPERTIES:
            if p.get(key) and not p[key].startswith("${"):
                out.append(LintFinding(path, rid, "client-literal-secret",
                                       f"{key} is written in the file: read it with a config provider "
                                       "(${dir:...}, ${file:...} or ${env:...}) from a mounted Secret"))
        acks = p.get("acks")
        if acks is not None and acks.strip().lower() not in ("all", "-1"):
            out.append(LintFinding(path, rid, "client-acks",
                                   f"acks={acks}: a clinical event could be acknowledged before it is on "
                                   "min.insync.replicas brokers, and lost with one broker"))
    return out


K8S_KINDS = {"StatefulSet", "PodDisruptionBudget", "Secret", "Service", "ServiceAccount", "ClusterRole",
             "ClusterRoleBinding"}


def _files(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix in (".tf", ".yaml", ".yml", ".properties")
                          and f.is_file())
        elif p.is_file():
            out.append(p)
        else:
            raise BadInput(f"{p}: no such file or directory")
    if not out:
        raise BadInput(f"{', '.join(map(str, paths))}: no .tf, .yaml, .yml or .properties files to check")
    return out


def lint_paths(paths: Sequence[Path], requirements: Iterable[str] = ALL_REQUIREMENTS) -> tuple[list[LintFinding],
                                                                                             list[str]]:
    """Findings for the files (directories are searched), and the kinds of file recognised."""
    import hcl2

    reqs = list(requirements)
    tf: list[tuple[str, dict[str, Any]]] = []
    strimzi: list[tuple[str, dict[str, Any]]] = []
    k8s: list[tuple[str, dict[str, Any]]] = []
    clients: list[tuple[str, dict[str, str]]] = []
    for f in _files(paths):
        if f.suffix == ".properties":
            from brokerscale.connect import parse_properties

            clients.append((str(f), parse_properties(f)))
            continue
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"{f}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
        if f.suffix == ".tf":
            try:
                tf.append((str(f), hcl2.loads(text)))
            except Exception as exc:  # python-hcl2 raises lark errors of several kinds
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise BadInput(f"{f}: not valid Terraform ({first[:160]})") from None
            continue
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark is not None else ""
            raise BadInput(f"{f}: {where}not valid YAML") from None
        for i, d in enumerate(docs):
            if not isinstance(d, dict) or "kind" not in d:
                raise BadInput(f"{f}: document {i + 1}: kind: required field is missing (not a Kubernetes resource)")
            if str(d.get("apiVersion", "")).startswith("kafka.strimzi.io/") or d["kind"] in STRIMZI_KINDS:
                strimzi.append((str(f), d))
            else:
                k8s.append((str(f), d))
    findings = lint_terraform(tf, reqs) if tf else []
    if "phi" in reqs:
        findings += lint_strimzi(strimzi) + lint_statefulset(k8s) + lint_client_properties(clients)
    kinds = (["terraform"] if tf else []) + (["strimzi"] if strimzi else []) + (
        ["kubernetes"] if k8s else []) + (["clients"] if clients else [])
    return findings, kinds

