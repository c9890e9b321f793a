"""Kubernetes manifests for a self-managed cluster: Strimzi custom resources or a plain StatefulSet.

Strimzi (kafka.strimzi.io/v1, KRaft): a `Kafka` with Cruise Control and `autoRebalance` templates,
a controller and a broker `KafkaNodePool`, the two `KafkaRebalance` templates and one `KafkaTopic`
per planned topic. The StatefulSet is the scaling guide's, corrected: KRaft instead of ZooKeeper, a single
`fieldPath` per `fieldRef`, node ids derived from the pod ordinal, and the planned replica count.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import yaml

from brokerscale.model.workload import SECONDS_PER_DAY, Workload
from brokerscale.plan.model import Plan
from brokerscale.plan.requirements import (
    PHI_MIN_INSYNC_REPLICAS,
    PHI_REPLICATION_FACTOR,
    is_phi,
    requirements_header,
)

STRIMZI_API = "kafka.strimzi.io/v1"
CONTROLLERS = 3
VOTERS = 3  # StatefulSet: pods 0..2 are KRaft voters (the planner never gives fewer than 3 brokers)
CONTROLLER_DISK = "100Gi"
_K8S_NAME = re.compile(r"[^a-z0-9.-]")
ZONE_KEY = "topology.kubernetes.io/zone"
TLS_SECRET = "kafka-tls"
TLS_MOUNT = "/etc/kafka/tls"
RACK_MOUNT = "/etc/kafka/rack"


def k8s_name(name: str) -> str:
    """A DNS-1123 resource name for a topic (the real topic name goes in spec.topicName)."""
    n = _K8S_NAME.sub("-", name.lower()).strip(".-")[:253]
    return n or "topic"


def _gigabytes(n_bytes: int) -> str:
    return f"{-(-n_bytes // 10**9)}G"  # decimal, as the plan is; a valid Kubernetes quantity


def _dump_all(docs: list[dict[str, Any]], header: str) -> str:
    body = yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, explicit_start=True)
    return header + body


def _header(first: str, workload: Workload, kind: str, extra: list[str] | None = None) -> str:
    lines = [first, *requirements_header(workload, kind), *(extra or [])]
    return "".join(f"# {line}\n" for line in lines)


def _replication(plan: Plan, workload: Workload) -> tuple[int, int]:
    """RF and min ISR: the plan's, raised to the PHI defaults when the workload carries PHI."""
    s = plan.self_managed
    if is_phi(workload):
        return max(s.replication_factor, PHI_REPLICATION_FACTOR), max(s.min_insync_replicas, PHI_MIN_INSYNC_REPLICAS)
    return s.replication_factor, s.min_insync_replicas


def kafka_users(workload: Workload) -> list[dict[str, Any]]:
    """One KafkaUser per application the workload names, with exactly the ACLs its topics need.

    A producer may Write and Describe its topics; a consumer may Read and Describe its topics and Read
    its own consumer group (named after it). Nothing else: no wildcard names, no All operation. Super
    users get a KafkaUser for their credentials and no ACLs (the authorizer lets them through).
    """
    d = workload.deploy
    auth = {"type": d.client_authentication}
    labels = {"strimzi.io/cluster": workload.name}
    acls: dict[str, list[dict[str, Any]]] = {}
    for t in workload.topics:
        for app in t.producers:
            acls.setdefault(app, []).append({"resource": {"type": "topic", "name": t.name, "patternType": "literal"},
                                             "operations": ["Write", "Describe"]})
        for app in t.consumers:
            acls.setdefault(app, []).append({"resource": {"type": "topic", "name": t.name, "patternType": "literal"},
                                             "operations": ["Read", "Describe"]})
    for t in workload.topics:
        for app in t.consumers:
            group = {"resource": {"type": "group", "name": app, "patternType": "literal"}, "operations": ["Read"]}
            if group not in acls[app]:
                acls[app].append(group)
    users = []
    for name in d.superusers:
        users.append({"apiVersion": STRIMZI_API, "kind": "KafkaUser",
                      "metadata": {"name": name, "namespace": d.namespace, "labels": labels},
                      "spec": {"authentication": auth}})
    for app, rules in acls.items():
        if app in d.superusers:
            continue
        users.append({"apiVersion": STRIMZI_API, "kind": "KafkaUser",
                      "metadata": {"name": app, "namespace": d.namespace, "labels": labels},
                      "spec": {"authentication": auth, "authorization": {"type": "simple", "acls": rules}}})
    return users


def _superuser_principal(workload: Workload, name: str) -> str:
    # Strimzi names a TLS user's principal by its certificate subject, a SCRAM user by its name.
    return f"CN={name}" if workload.deploy.client_authentication == "tls" else name


def strimzi_resources(plan: Plan, workload: Workload) -> dict[str, list[dict[str, Any]]]:
    """File name -> Kubernetes objects. Pure data, so tests can validate it against the CRDs."""
    d = workload.deploy
    s = plan.self_managed
    cluster = workload.name
    labels = {"strimzi.io/cluster": cluster}
    meta = {"namespace": d.namespace}
    phi = is_phi(workload)
    rf, min_isr = _replication(plan, workload)
    half = max(1, int(s.broker_throughput_mb_s // 2))
    add_tpl, remove_tpl = f"{cluster}-add-brokers-template", f"{cluster}-remove-brokers-template"
    listeners: list[dict[str, Any]]
    if phi:  # no plaintext listener at all: every client authenticates over TLS
        listeners = [{"name": "tls", "port": 9093, "type": "internal", "tls": True,
                      "authentication": {"type": d.client_authentication}}]
    else:
        listeners = [
            {"name": "plain", "port": 9092, "type": "internal", "tls": False},
            {"name": "tls", "port": 9093, "type": "internal", "tls": True,
             "authentication": {"type": "tls"}},
        ]
    kafka_spec: dict[str, Any] = {
        "version": d.kafka_version,
        "listeners": listeners,
        "config": {
            "auto.create.topics.enable": False,
            "default.replication.factor": rf,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": rf,
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": min_isr,
            "num.partitions": 12,
            "log.retention.hours": round(workload.retention_days * 24),
        },
    }
    if phi:
        kafka_spec["config"]["unclean.leader.election.enable"] = False
        kafka_spec["authorization"] = {"type": "simple",
                                       "superUsers": [_superuser_principal(workload, u) for u in d.superusers]}
    if workload.availability == "multi-zone" or phi:
        kafka_spec["rack"] = {"topologyKey": ZONE_KEY}
    kafka = {
        "apiVersion": STRIMZI_API, "kind": "Kafka",
        "metadata": {"name": cluster, **meta},
        "spec": {
            "kafka": kafka_spec,
            "entityOperator": {"topicOperator": {}, "userOperator": {}},
            "cruiseControl": {
                "brokerCapacity": {"inboundNetwork": f"{half}MB/s", "outboundNetwork": f"{half}MB/s"},
                "autoRebalance": [
                    {"mode": "add-brokers", "template": {"name": add_tpl}},
                    {"mode": "remove-brokers", "template": {"name": remove_tpl}},
                ],
            },
        },
    }
    controller_pool = {
        "apiVersion": STRIMZI_API, "kind": "KafkaNodePool",
        "metadata": {"name": "controller", "labels": labels, **meta},
        "spec": {
            "replicas": CONTROLLERS, "roles": ["controller"],
            "storage": {"type": "jbod", "volumes": [
                {"id": 0, "type": "persistent-claim", "size": CONTROLLER_DISK, "class": d.storage_class,
                 "deleteClaim": False, "kraftMetadata": "shared"}]},
        },
    }
    broker_pool = {
        "apiVersion": STRIMZI_API, "kind": "KafkaNodePool",
        "metadata": {"name": "broker", "labels": labels, **meta},
        "spec": {
            "replicas": s.brokers, "roles": ["broker"],
            "storage": {"type": "jbod", "volumes": [
                {"id": 0, "type": "persistent-claim", "size": _gigabytes(s.disk_per_broker_bytes),
                 "class": d.storage_class, "deleteClaim": False}]},
        },
    }
    templates = [
        {"apiVersion": STRIMZI_API, "kind": "KafkaRebalance",
         "metadata": {"name": name, **meta, "annotations": {"strimzi.io/rebalance-template": "true"}},
         "spec": {"skipHardGoalCheck": False}}
        for name in (add_tpl, remove_tpl)
    ]
    topics = []
    for t in plan.topics:
        config: dict[str, Any] = {
            "retention.ms": round(t.retention_days * SECONDS_PER_DAY * 1000),
            "min.insync.replicas": min_isr,
            "cleanup.policy": "delete",
        }
        if phi:
            config["unclean.leader.election.enable"] = False
        topics.append({
            "apiVersion": STRIMZI_API, "kind": "KafkaTopic",
            "metadata": {"name": k8s_name(t.name), "labels": labels, **meta},
            "spec": {"topicName": t.name, "partitions": t.partitions.partitions, "replicas": rf,
                     "config": config},
        })
    files = {
        "kafka.yaml": [kafka, controller_pool, broker_pool],
        "rebalance-templates.yaml": templates,
        "topics.yaml": topics,
    }
    if phi:
        files["users.yaml"] = kafka_users(workload)
    return files


def render_strimzi(plan: Plan, workload: Workload) -> dict[str, str]:
    first = (f"Generated by `brokerscale plan` for workload {workload.name!r}: "
             f"{plan.self_managed.brokers} brokers ({plan.self_managed.rule}).")
    out = {}
    for name, docs in strimzi_resources(plan, workload).items():
        extra = []
        if name == "users.yaml":
            extra = ["The User Operator creates each user's credentials in a Secret of the same name; "
                     "ACLs grant each application only its own topics (and its own consumer group)."]
        out[name] = _dump_all(docs, _header(first, workload, "strimzi", extra))
    return out


def statefulset_resources(plan: Plan, workload: Workload) -> list[dict[str, Any]]:
    """A headless Service and a KRaft StatefulSet (combined broker+controller nodes).

    For PHI, every listener is SSL with client certificates (ssl.client.auth=required) from a mounted
    Secret, StandardAuthorizer with super users, broker.rack from the node's zone (an init container
    reads the node label: the downward API cannot), anti-affinity across zones and hosts, a
    PodDisruptionBudget of one, and the PHI replication defaults; plus the ServiceAccount and RBAC the
    init container needs, and the Secret the keystore comes from (filled by the operator, never emitted
    with key material).
    """
    d = workload.deploy
    s = plan.self_managed
    ns = d.namespace
    phi = is_phi(workload)
    rf, min_isr = _replication(plan, workload)
    svc = "kafka"
    labels = {"app": "kafka"}
    replicas = s.brokers
    voters = ",".join(f"{i}@kafka-{i}.{svc}.{ns}.svc.cluster.local:9093" for i in range(VOTERS))
    protocol = "SSL" if phi else "PLAINTEXT"

    def env(name: str, value: str) -> dict[str, Any]:
        return {"name": name, "value": value}

    def field_env(name: str, path: str) -> dict[str, Any]:
        return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}

    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": svc, "namespace": ns, "labels": labels},
        "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": labels,
                 "ports": [{"name": "client", "port": 9092}, {"name": "controller", "port": 9093},
                           {"name": "internal", "port": 9094}]},
    }
    # Node id = pod ordinal. Pods 0-2 are the KRaft voters (broker + controller); the rest are
    # brokers only, because a node with the controller role must be a voter.
    rack = f'export KAFKA_BROKER_RACK="$(cat {RACK_MOUNT}/zone)"; ' if phi else ""
    command = (
        'export KAFKA_NODE_ID="${POD_NAME##*-}"; '
        'HOST="${POD_NAME}.kafka.${POD_NAMESPACE}.svc.cluster.local"; '
        'export KAFKA_ADVERTISED_LISTENERS="INTERNAL://${HOST}:9094,CLIENT://${HOST}:9092"; '
        + rack +
        f'if [ "$KAFKA_NODE_ID" -lt {VOTERS} ]; then '
        "export KAFKA_PROCESS_ROLES=broker,controller; "
        "export KAFKA_LISTENERS=CLIENT://:9092,CONTROLLER://:9093,INTERNAL://:9094; "
        "else export KAFKA_PROCESS_ROLES=broker; "
        "export KAFKA_LISTENERS=CLIENT://:9092,INTERNAL://:9094; fi; "
        "exec /etc/kafka/docker/run"
    )
    environment = [
        field_env("POD_NAME", "metadata.name"),
        field_env("POD_NAMESPACE", "metadata.namespace"),
        env("CLUSTER_ID", _cluster_id(workload.name)),
        env("KAFKA_CONTROLLER_QUORUM_VOTERS", voters),
        env("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
            f"CLIENT:{protocol},CONTROLLER:{protocol},INTERNAL:{protocol}"),
        env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER"),
        env("KAFKA_INTER_BROKER_LISTENER_NAME", "INTERNAL"),
        env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false"),
        env("KAFKA_DEFAULT_REPLICATION_FACTOR", str(rf)),
        env("KAFKA_MIN_INSYNC_REPLICAS", str(min_isr)),
        env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", str(rf)),
        env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", str(rf)),
        env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", str(min_isr)),
        env("KAFKA_NUM_PARTITIONS", "12"),
        env("KAFKA_LOG_RETENTION_HOURS", str(round(workload.retention_days * 24))),
        env("KAFKA_LOG_DIRS", "/var/lib/kafka/data"),
    ]
    mounts: list[dict[str, Any]] = [{"name": "kafka-data", "mountPath": "/var/lib/kafka/data"}]
    pod_spec: dict[str, Any] = {}
    extra: list[dict[str, Any]] = []
    if phi:
        supers = ";".join(f"User:CN={u}" for u in d.superusers)
        environment += [
            env("KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE", "false"),
            env("KAFKA_SSL_KEYSTORE_TYPE", "PEM"),
            env("KAFKA_SSL_KEYSTORE_LOCATION", f"{TLS_MOUNT}/keystore.pem"),
            env("KAFKA_SSL_TRUSTSTORE_TYPE", "PEM"),
            env("KAFKA_SSL_TRUSTSTORE_LOCATION", f"{TLS_MOUNT}/truststore.pem"),
            env("KAFKA_SSL_CLIENT_AUTH", "required"),
            env("KAFKA_SSL_ENABLED_PROTOCOLS", "TLSv1.3,TLSv1.2"),
            env("KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "https"),
            env("KAFKA_SSL_PRINCIPAL_MAPPING_RULES", "RULE:^CN=([^,]+).*$/CN=$1/,DEFAULT"),
            env("KAFKA_AUTHORIZER_CLASS_NAME", "org.apache.kafka.metadata.authorizer.StandardAuthorizer"),
            env("KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND", "false"),
            env("KAFKA_SUPER_USERS", supers),
        ]
        mounts += [{"name": "tls", "mountPath": TLS_MOUNT, "readOnly": True},
                   {"name": "rack", "mountPath": RACK_MOUNT, "readOnly": True}]
        zone_jsonpath = "{.metadata.labels.topology\\.kubernetes\\.io/zone}"
        pod_spec = {
            "serviceAccountName": "kafka",
            "initContainers": [{
                "name": "broker-rack",
                "image": d.kubectl_image,
                "command": ["sh", "-c",
                            f"kubectl get node \"$NODE_NAME\" -o jsonpath='{zone_jsonpath}' > {RACK_MOUNT}/zone "
                            f"&& test -s {RACK_MOUNT}/zone"],
                "env": [field_env("NODE_NAME", "spec.nodeName")],
                "volumeMounts": [{"name": "rack", "mountPath": RACK_MOUNT}],
            }],
            "affinity": {"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": labels}, "topologyKey": "kubernetes.io/hostname"}],
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": labels},
                                                        "topologyKey": ZONE_KEY}}],
            }},
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": ZONE_KEY,
                                           "whenUnsatisfiable": "DoNotSchedule",
                                           "labelSelector": {"matchLabels": labels}}],
            "volumes": [{"name": "tls", "secret": {"secretName": TLS_SECRET, "defaultMode": 0o400}},
                        {"name": "rack", "emptyDir": {}}],
        }
        extra = [
            {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
             "metadata": {"name": "kafka", "namespace": ns, "labels": labels},
             "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels}}},
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "kafka", "namespace": ns}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": f"{ns}-kafka-node-reader"},
             "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": f"{ns}-kafka-node-reader"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                         "name": f"{ns}-kafka-node-reader"},
             "subjects": [{"kind": "ServiceAccount", "name": "kafka", "namespace": ns}]},
        ]
    statefulset = {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "kafka", "namespace": ns},
        "spec": {
            "serviceName": svc,
            "replicas": replicas,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    **{k: v for k, v in pod_spec.items() if k != "volumes"},
                    "containers": [{
                        "name": "kafka",
                        "image": d.image,
                        "command": ["sh", "-c", command],
                        "ports": [{"containerPort": 9092, "name": "client"},
                                  {"containerPort": 9093, "name": "controller"},
                                  {"containerPort": 9094, "name": "internal"}],
                        "env": environment,
                        "volumeMounts": mounts,
                    }],
                    **({"volumes": pod_spec["volumes"]} if "volumes" in pod_spec else {}),
                },
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "kafka-data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": d.storage_class,
                         "resources": {"requests": {"storage": _gigabytes(s.disk_per_broker_bytes)}}},
            }],
        },
    }
    return [service, statefulset, *extra]


def tls_secret(workload: Workload) -> dict[str, Any]:
    """The Secret the brokers' keystore is mounted from. Emitted without key material on purpose."""
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": TLS_SECRET, "namespace": workload.deploy.namespace,
                     "annotations": {"brokerscale.io/required-keys": "keystore.pem,truststore.pem"}},
        "data": {},
    }


def _cluster_id(name: str) -> str:
    """A stable 22-character base64url KRaft cluster id derived from the workload name."""
    return base64.urlsafe_b64encode(hashlib.sha256(name.encode()).digest()[:16]).decode()[:22]


def render_statefulset(plan: Plan, workload: Workload) -> dict[str, str]:
    first = (f"Generated by `brokerscale plan` for workload {workload.name!r}: KRaft, "
             f"{plan.self_managed.brokers} brokers, pods 0-{VOTERS - 1} also KRaft controllers.")
    files = {"statefulset.yaml": _dump_all(statefulset_resources(plan, workload),
                                           _header(first, workload, "statefulset"))}
    if is_phi(workload):
        ns = workload.deploy.namespace
        how = [
            "The brokers' TLS material. This file carries no key: fill the Secret from your CA, e.g.",
            f"  kubectl -n {ns} create secret generic {TLS_SECRET} --from-file=keystore.pem "
            "--from-file=truststore.pem --dry-run=client -o yaml | kubectl apply -f -",
            "keystore.pem: the broker's private key and certificate chain (PEM), valid for "
            f"*.kafka.{ns}.svc.cluster.local; truststore.pem: the CA that signs brokers and clients.",
        ]
        files["secrets.yaml"] = _dump_all([tls_secret(workload)], _header(first, workload, "statefulset", how))
    return files
