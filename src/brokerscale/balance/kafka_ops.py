"""Adapter: the handful of admin-API calls the executor needs, in plain Python types.

Keeping them behind one small class lets the executor's batching, resume and failure handling be
tested against a simulated cluster, and keeps kafka-python's types out of the rest of the package.
"""

from __future__ import annotations

import contextlib
from typing import Any

from brokerscale.errors import OperationFailed, Unreachable

TP = tuple[str, int]
BROKER_RATES = ("leader.replication.throttled.rate", "follower.replication.throttled.rate")
TOPIC_LISTS = ("leader.replication.throttled.replicas", "follower.replication.throttled.replicas")


def _call(what: str, fn: Any, *args: Any, **kw: Any) -> Any:
    from kafka.errors import KafkaError

    try:
        return fn(*args, **kw)
    except KafkaError as exc:
        raise Unreachable(f"{what}: {type(exc).__name__}: {exc}") from None


class KafkaOps:
    def __init__(self, admin: Any) -> None:
        self.admin = admin

    def _to_controller(self, what: str, fn: Any, *args: Any, **kw: Any) -> Any:
        """Controller-routed calls: kafka-python caches the controller id, and in KRaft that is just some
        broker; if it died, every later call would fail forever. Forget it and retry once."""
        from kafka.errors import KafkaError

        try:
            return fn(*args, **kw)
        except KafkaError:
            self.admin._controller_id = None
        return _call(what, fn, *args, **kw)

    def close(self) -> None:
        self.admin.close()

    def live_brokers(self) -> set[int]:
        cluster = _call("describe cluster", self.admin.describe_cluster)
        return {int(b["broker_id"]) for b in cluster["brokers"] if not b.get("is_fenced")}

    def assignments(self, topics: list[str]) -> dict[TP, list[int]]:
        out: dict[TP, list[int]] = {}
        for t in _call("describe topics", self.admin.describe_topics, sorted(set(topics))):
            if t.get("error_code"):
                continue
            for p in t["partitions"]:
                out[(t["name"], int(p["partition_index"]))] = [int(x) for x in p["replica_nodes"]]
        return out

    def leaders(self, topics: list[str]) -> dict[TP, int]:
        out: dict[TP, int] = {}
        for t in _call("describe topics", self.admin.describe_topics, sorted(set(topics))):
            for p in t.get("partitions", []):
                out[(t["name"], int(p["partition_index"]))] = int(p["leader_id"])
        return out

    def under_replicated(self, topics: list[str]) -> list[TP]:
        out: list[TP] = []
        for t in _call("describe topics", self.admin.describe_topics, sorted(set(topics))):
            for p in t.get("partitions", []):
                if len(p["isr_nodes"]) < len(p["replica_nodes"]):
                    out.append((t["name"], int(p["partition_index"])))
        return out

    def ongoing(self) -> dict[TP, dict[str, list[int]]]:
        raw = self._to_controller("list partition reassignments", self.admin.list_partition_reassignments)
        return {(tp.topic, tp.partition): v for tp, v in raw.items()}

    def submit(self, changes: dict[TP, list[int] | None]) -> dict[TP, str]:
        """Start (a list) or cancel (None) reassignments; returns the partitions the controller refused."""
        from kafka import TopicPartition

        if not changes:
            return {}
        result = self._to_controller("alter partition reassignments", self.admin.alter_partition_reassignments,
                                     {TopicPartition(t, p): r for (t, p), r in changes.items()})
        return {(tp.topic, tp.partition): err.__name__ for tp, err in result.items() if err is not None}

    def set_configs(self, brokers: dict[int, dict[str, str | None]], topics: dict[str, dict[str, str | None]]) -> None:
        """Incremental config changes; a None value deletes the key (back to the default)."""
        from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType

        resources = []
        for b, cfg in sorted(brokers.items()):
            resources.append(ConfigResource(ConfigResourceType.BROKER, str(b), {
                k: ((AlterConfigOp.DELETE, None) if v is None else (AlterConfigOp.SET, v)) for k, v in cfg.items()}))
        for t, cfg in sorted(topics.items()):
            resources.append(ConfigResource(ConfigResourceType.TOPIC, t, {
                k: ((AlterConfigOp.DELETE, None) if v is None else (AlterConfigOp.SET, v)) for k, v in cfg.items()}))
        if not resources:
            return
        result = _call("alter configs", self.admin.alter_configs, resources, raise_on_unknown=False,
                       incremental=True)
        bad = [f"{kind} {name}: {res}" for kind, by_name in result.items() for name, res in by_name.items()
               if res != "OK"]
        if bad:
            raise OperationFailed(f"setting replication throttles failed: {bad[0]}")

    def throttle_configs(self, brokers: list[int], topics: list[str]) -> dict[str, dict[str, str]]:
        """Throttle-related configs currently set, keyed 'broker 1' / 'topic x'."""
        from kafka.admin import ConfigResource, ConfigResourceType

        resources = ([ConfigResource(ConfigResourceType.BROKER, str(b)) for b in sorted(brokers)]
                     + [ConfigResource(ConfigResourceType.TOPIC, t) for t in sorted(topics)])
        if not resources:
            return {}
        raw = _call("describe configs", self.admin.describe_configs, resources)
        out: dict[str, dict[str, str]] = {}
        for kind, by_name in raw.items():
            for name, cfg in by_name.items():
                found = {k: str(v.get("value") if isinstance(v, dict) else v) for k, v in cfg.items()
                         if k in BROKER_RATES + TOPIC_LISTS}
                if found:
                    out[f"{kind} {name}"] = found
        return out

    def elect_preferred(self, partitions: list[TP]) -> None:
        if not partitions:
            return
        by_topic: dict[str, list[int]] = {}
        for t, p in partitions:
            by_topic.setdefault(t, []).append(p)
        from kafka.errors import KafkaError

        # a failed election is harmless: the controller's auto leader rebalance elects preferred leaders later
        with contextlib.suppress(KafkaError):
            self.admin.elect_leaders(0, by_topic, raise_errors=False)
