"""What this principal may do on a cluster, asked with requests that change nothing.

Security teams want to grant brokerscale the least it needs, and a refused `--apply` must refuse
before its first change, not halfway through. Kafka has no "may I?" API for every operation, but most
writes have a harmless form: CreateTopics, CreatePartitions and IncrementalAlterConfigs take
`validate_only`, and cancelling the reassignment of a topic that does not exist is authorised
(Alter on the cluster) before the topic is looked up. A refusal of one of those is exactly the
missing ACL. Kafka never says why a request was refused beyond the error name, so each probe knows
which operation and resource its request needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from brokerscale.errors import BrokerscaleError, NotAuthorized
from brokerscale.kafka.errors import describe, is_authorization, kafka_error_types

if TYPE_CHECKING:
    from brokerscale.kafka.admin import KafkaAdmin

PROBE_TOPIC = "brokerscale.doctor.probe-does-not-exist"
"""A topic name no cluster has: requests about it are authorised first and then fail harmlessly."""
PROBE_GROUP = "brokerscale-doctor-probe"


@dataclass(frozen=True)
class Permission:
    """One Kafka ACL (operation on a resource) and what the probe found."""

    key: str
    operation: str
    resource: str
    allowed: bool | None
    """True/False as the cluster answered; None when it could not be asked (the reason in `detail`)."""
    detail: str = ""

    @property
    def acl(self) -> str:
        return f"{self.operation} on {self.resource}"

    def to_json(self) -> dict[str, object]:
        return {"key": self.key, "operation": self.operation, "resource": self.resource, "allowed": self.allowed,
                "detail": self.detail}


# operation and resource of each permission brokerscale's verbs can need (Kafka's ACL vocabulary)
PERMISSIONS: dict[str, tuple[str, str]] = {
    "describe-cluster": ("Describe", "Cluster:kafka-cluster"),
    "describe-configs-cluster": ("DescribeConfigs", "Cluster:kafka-cluster"),
    "describe-topics": ("Describe", "Topic:*"),
    "describe-configs-topics": ("DescribeConfigs", "Topic:*"),
    "describe-groups": ("Describe", "Group:*"),
    "alter-configs-topics": ("AlterConfigs", "Topic:*"),
    "alter-topics": ("Alter", "Topic:*"),
    "create-topics": ("Create", "Topic:* (or Cluster:kafka-cluster)"),
    "alter-cluster": ("Alter", "Cluster:kafka-cluster"),
    "alter-configs-cluster": ("AlterConfigs", "Cluster:kafka-cluster"),
}


def _ask(call: Callable[[], Any]) -> tuple[bool | None, str]:
    """Run one probe: (True, '') if authorised, (False, error) if refused, (None, why) if it could not tell."""
    try:
        result = call()
    except kafka_error_types() as exc:
        if is_authorization(exc):
            return False, type(exc).__name__
        name = type(exc).__name__
        if name in ("UnknownTopicOrPartitionError", "InvalidPartitionsError", "NoReassignmentInProgressError",
                    "InvalidRequestError", "InvalidConfigurationError", "PolicyViolationError",
                    "TopicAlreadyExistsError", "InvalidReplicationFactorError"):
            return True, ""  # authorised, then refused for a harmless reason the probe chose on purpose
        return None, describe(exc)
    for text in _error_names(result):
        if "Authorization" in text:
            return False, text
    return True, ""


def _error_names(result: Any) -> list[str]:
    """Error names inside a kafka-python result (nested dicts of per-resource outcomes)."""
    if isinstance(result, dict):
        return [t for v in result.values() for t in _error_names(v)]
    if isinstance(result, (list, tuple)):
        return [t for v in result for t in _error_names(v)]
    if isinstance(result, type):
        return [result.__name__]
    if isinstance(result, BaseException):
        return [type(result).__name__]
    if isinstance(result, str):
        return [result]
    return []


def _visible_topic(admin: KafkaAdmin) -> str | None:
    try:
        names = admin.topic_names(include_internal=False)
    except BrokerscaleError:  # a refusal to list topics is reported by its own probe
        return None
    return sorted(names)[0] if names else None


def probe_all(admin: KafkaAdmin) -> list[Permission]:
    """Every permission in PERMISSIONS, each asked with a request that changes nothing."""
    from kafka import TopicPartition
    from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType, NewPartitions, NewTopic

    c = admin.client
    topic = _visible_topic(admin)
    target = topic or PROBE_TOPIC
    try:
        broker = str(admin.cluster().brokers[0].id)
    except (BrokerscaleError, IndexError):  # reported by the describe-cluster probe
        broker = "1"
    probes: dict[str, Callable[[], Any]] = {
        "describe-cluster": lambda: c.describe_cluster(),
        "describe-configs-cluster": lambda: c.describe_configs(
            [ConfigResource(ConfigResourceType.BROKER, broker)]),
        "describe-topics": lambda: _describe_topic(c, target),
        "describe-configs-topics": lambda: c.describe_configs([ConfigResource(ConfigResourceType.TOPIC, target)]),
        "describe-groups": lambda: c.list_group_offsets(PROBE_GROUP),
        "alter-configs-topics": lambda: c.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, target, {"retention.ms": (AlterConfigOp.SET, "604800000")})],
            validate_only=True, raise_on_unknown=False, incremental=True),
        "alter-topics": lambda: c.create_partitions({PROBE_TOPIC: NewPartitions(total_count=2)}, validate_only=True),
        "create-topics": lambda: c.create_topics([NewTopic(PROBE_TOPIC, 1, 1)], validate_only=True),
        "alter-cluster": lambda: c.alter_partition_reassignments({TopicPartition(PROBE_TOPIC, 0): None}),
        "alter-configs-cluster": lambda: c.alter_configs(
            [ConfigResource(ConfigResourceType.BROKER, broker,
                            {"leader.replication.throttled.rate": (AlterConfigOp.SET, "1000000000")})],
            validate_only=True, raise_on_unknown=False, incremental=True),
    }
    out = []
    for key, call in probes.items():
        op, resource = PERMISSIONS[key]
        allowed, detail = _ask(call)
        if key == "describe-topics" and allowed and topic is None:
            detail = "no topic visible to this principal: checked on a name that does not exist"
        out.append(Permission(key, op, resource, allowed, detail))
    return out


def _describe_topic(client: Any, name: str) -> Any:
    """Metadata of one topic; a refused topic comes back as an error inside the answer, raised here."""
    from kafka.errors import for_code

    result = client.describe_topics([name])
    for t in result:
        code = int(t.get("error_code", 0) or 0)
        if code and code != 3:  # 3: unknown topic (authorised, then not found)
            raise for_code(code)()
    return result


def check_writes(admin: KafkaAdmin, *, topic_configs: dict[str, dict[str, str | None]] | None = None,
                 broker_configs: dict[int, dict[str, str | None]] | None = None,
                 partitions: dict[str, int] | None = None, reassign: bool = False, what: str = "") -> None:
    """Ask, changing nothing, whether every one of these changes is permitted; the first that is not
    raises `NotAuthorized` naming the missing ACL. Called before the first change of an `--apply`,
    so a principal without the ACLs changes nothing at all."""
    from kafka import TopicPartition
    from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType, NewPartitions

    c = admin.client

    def ops(cfg: dict[str, str | None]) -> dict[str, Any]:
        return {k: ((AlterConfigOp.DELETE, None) if v is None else (AlterConfigOp.SET, v)) for k, v in cfg.items()}

    checks: list[tuple[str, str, Callable[[], Any]]] = []
    if reassign:
        checks.append(("Alter", "Cluster:kafka-cluster",
                       lambda: c.alter_partition_reassignments({TopicPartition(PROBE_TOPIC, 0): None})))
    if broker_configs:
        resources = [ConfigResource(ConfigResourceType.BROKER, str(b), ops(cfg))
                     for b, cfg in sorted(broker_configs.items())]
        checks.append(("AlterConfigs", "Cluster:kafka-cluster", lambda: _validate_configs(c, resources)))
    for t, cfg in sorted((topic_configs or {}).items()):
        checks.append(("AlterConfigs", f"Topic:{t}", partial(
            c.alter_configs, [ConfigResource(ConfigResourceType.TOPIC, t, ops(cfg))], validate_only=True,
            raise_on_unknown=False, incremental=True)))
    for t, count in sorted((partitions or {}).items()):
        checks.append(("Alter", f"Topic:{t}", partial(c.create_partitions, {t: NewPartitions(total_count=count)},
                                                       validate_only=True)))
    missing: list[str] = []
    errors: set[str] = set()
    for op, resource, call in checks:
        allowed, detail = _ask(call)
        if allowed is False:
            missing.append(f"{op} on {resource}")
            errors.add(_error_name(detail))
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} like them" if len(missing) > 8 else "")
        raise NotAuthorized(f"{what or 'the change'} is not permitted on {admin.where}: this principal lacks the "
                            f"ACL{'s' if len(missing) > 1 else ''} {shown} (Kafka: {', '.join(sorted(errors))}); "
                            "nothing was changed. Grant them, or run as a principal that has them "
                            "(`brokerscale doctor` lists what is missing)")


def _validate_configs(client: Any, resources: list[Any]) -> Any:
    """A validate-only IncrementalAlterConfigs of every broker's rate at once (one request per broker)."""
    from brokerscale.kafka import fastpath

    if fastpath.available(client):
        try:
            return fastpath.alter_configs(client, resources, validate_only=True)
        except fastpath.FASTPATH_UNAVAILABLE:
            pass
    return client.alter_configs(resources, validate_only=True, raise_on_unknown=False, incremental=True)


def _error_name(detail: str) -> str:
    """`TopicAuthorizationFailedError` out of kafka-python's longer renderings of an error."""
    m = re.search(r"\w+AuthorizationFailedError", detail)
    return m.group(0) if m else detail
