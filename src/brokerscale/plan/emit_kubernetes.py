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

STRIMZI_API = "kafka.strimzi.io/v1"
CONTROLLERS = 3
VOTERS = 3  # StatefulSet: pods 0..2 are KRaft voters (the planner never gives fewer than 3 brokers)
CONTROLLER_DISK = "100Gi"
_K8S_NAME = re.compile(r"[^a-z0-9.-]")


def k8s_name(name: str) -> str:
    """A DNS-1123 resource name for a topic (the real topic name goes in spec.topicName)."""
    n = _K8S_NAME.sub("-", name.lower()).strip(".-")[:253]
    return n or "topic"


def _gigabytes(n_bytes: int) -> str:
    return f"{-(-n_bytes // 10**9)}G"  # decimal, as the plan is; a valid Kubernetes quantity


def _dump_all(docs: list[dict[str, Any]], header: str) -> str:
    body = yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, explicit_start=True)
    return header + body


def strimzi_resources(plan: Plan, workload: Workload) -> dict[str, list[dict[str, Any]]]:
    """File name -> Kubernetes objects. Pure data, so tests can validate it against the CRDs."""
    d = workload.deploy
    s = plan.self_managed
    cluster = workload.name
    labels = {"strimzi.io/cluster": cluster}
    meta = {"namespace": d.namespace}
    rf, min_isr = s.replication_factor, s.min_insync_replicas
    half = max(1, int(s.broker_throughput_mb_s // 2))
    add_tpl, remove_tpl = f"{cluster}-add-brokers-template", f"{cluster}-remove-brokers-template"
    kafka_spec: dict[str, Any] = {
        "version": d.kafka_version,
        "listeners": [
            {"name": "plain", "port": 9092, "type": "internal", "tls": False},
            {"name": "tls", "port": 9093, "type": "internal", "tls": True,
             "authentication": {"type": "tls"}},
        ],
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
    if workload.availability == "multi-zone":
        kafka_spec["rack"] = {"topologyKey": "topology.kubernetes.io/zone"}
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
        topics.append({
            "apiVersion": STRIMZI_API, "kind": "KafkaTopic",
            "metadata": {"name": k8s_name(t.name), "labels": labels, **meta},
            "spec": {"topicName": t.name, "partitions": t.partitions.partitions, "replicas": rf,
                     "config": config},
        })
    return {
        "kafka.yaml": [kafka, controller_pool, broker_pool],
        "rebalance-templates.yaml": templates,
        "topics.yaml": topics,
    }


def render_strimzi(plan: Plan, workload: Workload) -> dict[str, str]:
    header = (f"# Generated by `brokerscale plan` for workload {workload.name!r}: "
              f"{plan.self_managed.brokers} brokers ({plan.self_managed.rule}).\n")
    return {name: _dump_all(docs, header) for name, docs in strimzi_resources(plan, workload).items()}


def statefulset_resources(plan: Plan, workload: Workload) -> list[dict[str, Any]]:
    """A headless Service and a KRaft StatefulSet (combined broker+controller nodes)."""
    d = workload.deploy
    s = plan.self_managed
    ns = d.namespace
    svc = "kafka"
    replicas = s.brokers
    voters = ",".join(f"{i}@kafka-{i}.{svc}.{ns}.svc.cluster.local:9093" for i in range(VOTERS))

    def env(name: str, value: str) -> dict[str, Any]:
        return {"name": name, "value": value}

    def field_env(name: str, path: str) -> dict[str, Any]:
        return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}

    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": svc, "namespace": ns, "labels": {"app": "kafka"}},
        "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": {"app": "kafka"},
                 "ports": [{"name": "client", "port": 9092}, {"name": "controller", "port": 9093},
                           {"name": "internal", "port": 9094}]},
    }
    # Node id = pod ordinal. Pods 0-2 are the KRaft voters (broker + controller); the rest are
    # brokers only, because a node with the controller role must be a voter.
    command = (
        'export KAFKA_NODE_ID="${POD_NAME##*-}"; '
        'HOST="${POD_NAME}.kafka.${POD_NAMESPACE}.svc.cluster.local"; '
        'export KAFKA_ADVERTISED_LISTENERS="INTERNAL://${HOST}:9094,CLIENT://${HOST}:9092"; '
        f'if [ "$KAFKA_NODE_ID" -lt {VOTERS} ]; then '
        "export KAFKA_PROCESS_ROLES=broker,controller; "
        "export KAFKA_LISTENERS=CLIENT://:9092,CONTROLLER://:9093,INTERNAL://:9094; "
        "else export KAFKA_PROCESS_ROLES=broker; "
        "export KAFKA_LISTENERS=CLIENT://:9092,INTERNAL://:9094; fi; "
        "exec /etc/kafka/docker/run"
    )
    statefulset = {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "kafka", "namespace": ns},
        "spec": {
            "serviceName": svc,
            "replicas": replicas,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": "kafka"}},
            "template": {
                "metadata": {"labels": {"app": "kafka"}},
                "spec": {
                    "containers": [{
                        "name": "kafka",
                        "image": d.image,
                        "command": ["sh", "-c", command],
                        "ports": [{"containerPort": 9092, "name": "client"},
                                  {"containerPort": 9093, "name": "controller"},
                                  {"containerPort": 9094, "name": "internal"}],
                        "env": [
                            field_env("POD_NAME", "metadata.name"),
                            field_env("POD_NAMESPACE", "metadata.namespace"),
                            env("CLUSTER_ID", _cluster_id(workload.name)),
                            env("KAFKA_CONTROLLER_QUORUM_VOTERS", voters),
                            env("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                                "CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT"),
                            env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER"),
                            env("KAFKA_INTER_BROKER_LISTENER_NAME", "INTERNAL"),
                            env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false"),
                            env("KAFKA_DEFAULT_REPLICATION_FACTOR", str(s.replication_factor)),
                            env("KAFKA_MIN_INSYNC_REPLICAS", str(s.min_insync_replicas)),
                            env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", str(s.replication_factor)),
                            env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", str(s.replication_factor)),
                            env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", str(s.min_insync_replicas)),
                            env("KAFKA_NUM_PARTITIONS", "12"),
                            env("KAFKA_LOG_RETENTION_HOURS", str(round(workload.retention_days * 24))),
                            env("KAFKA_LOG_DIRS", "/var/lib/kafka/data"),
                        ],
                        "volumeMounts": [{"name": "kafka-data", "mountPath": "/var/lib/kafka/data"}],
                    }],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "kafka-data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": d.storage_class,
                         "resources": {"requests": {"storage": _gigabytes(s.disk_per_broker_bytes)}}},
            }],
        },
    }
    return [service, statefulset]


def _cluster_id(name: str) -> str:
    """A stable 22-character base64url KRaft cluster id derived from the workload name."""
    return base64.urlsafe_b64encode(hashlib.sha256(name.encode()).digest()[:16]).decode()[:22]


def render_statefulset(plan: Plan, workload: Workload) -> dict[str, str]:
    header = (f"# Generated by `brokerscale plan` for workload {workload.name!r}: KRaft, "
              f"{plan.self_managed.brokers} brokers, pods 0-{VOTERS - 1} also KRaft controllers.\n")
    return {"statefulset.yaml": _dump_all(statefulset_resources(plan, workload), header)}
