"""Talking to the cluster before a load run: a fast reachability probe and the topic to write to.

The probe uses the data-plane client with a short timeout so a wrong `--bootstrap` fails in
seconds with one line instead of hanging while the producer retries forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from brokerscale.connect import ConnectionProfile
from brokerscale.errors import BadInput, OperationFailed, Unreachable

PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ClusterInfo:
    brokers: int
    topics: frozenset[str]


def probe(profile: ConnectionProfile, timeout_s: float = PROBE_TIMEOUT_S) -> ClusterInfo:
    """Brokers and topics the cluster reports; `Unreachable` if no broker answers in time."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    conf = {**profile.confluent(), "socket.connection.setup.timeout.ms": int(timeout_s * 1000),
            "logger": quiet_logger()}
    try:
        client = AdminClient(conf)
        meta = client.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise Unreachable(f"cannot reach Kafka at {profile.bootstrap}: no broker answered within "
                          f"{timeout_s:.0f} s ({_reason(exc)})") from None
    except ValueError as exc:  # librdkafka rejects a malformed configuration
        raise BadInput(f"connection settings for {profile.label}: {exc}") from None
    return ClusterInfo(brokers=len(meta.brokers), topics=frozenset(meta.topics))


def ensure_topic(profile: ConnectionProfile, topic: str, partitions: int, replication: int | None,
                 info: ClusterInfo) -> bool:
    """Create `topic` if it does not exist (via the admin API). True if it was created.

    An existing topic is used as it is, without asking for create rights a client may not have.
    """
    if topic in info.topics:
        return False
    brokers = info.brokers
    rf = replication if replication is not None else min(3, brokers)
    if rf > brokers:
        raise BadInput(f"--replication-factor: {rf} is more than the {brokers} broker(s) of {profile.label}")
    with profile.admin() as admin:
        try:
            return admin.create_topic(topic, partitions, rf)
        except OperationFailed as exc:
            raise BadInput(f"--topic: cannot create {topic!r} on {profile.label}: {exc}") from None


def _reason(exc: Any) -> str:
    err = exc.args[0] if exc.args else exc
    return str(getattr(err, "str", lambda: err)())


def quiet_logger() -> Any:
    """librdkafka logs transient trouble (failed connects, retries) to stderr; our own reports say what
    matters (unreachable cluster, delivery errors), so its chatter is dropped."""
    import logging

    logger = logging.getLogger("brokerscale.load.librdkafka")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger
