"""The admin-API calls the executor needs, as the executor's `Ops` protocol over the Kafka adapter.

Keeping them behind one small class lets the executor's batching, resume and failure handling be
tested against a simulated cluster; every call is the adapter's (`brokerscale.kafka`).
"""

from __future__ import annotations

from brokerscale.kafka import THROTTLE_RATES, THROTTLE_REPLICAS, TP, KafkaAdmin

BROKER_RATES = THROTTLE_RATES
TOPIC_LISTS = THROTTLE_REPLICAS

__all__ = ["BROKER_RATES", "TOPIC_LISTS", "TP", "KafkaOps"]


class KafkaOps:
    def __init__(self, admin: KafkaAdmin) -> None:
        self.admin = admin

    def close(self) -> None:
        self.admin.close()

    def live_brokers(self) -> set[int]:
        return self.admin.cluster().live()

    def assignments(self, topics: list[str]) -> dict[TP, list[int]]:
        return {(t.name, p.partition): list(p.replicas) for t in self.admin.topics(sorted(set(topics)))
                for p in t.partitions}

    def placement(self, topics: list[str]) -> dict[TP, tuple[list[int], int | None]]:
        """Each partition's replicas (assignment order) and its live leader (None while it has none), from
        one metadata read: the executor's poll needs both."""
        return {(t.name, p.partition): (list(p.replicas), p.leader)
                for t in self.admin.topics(sorted(set(topics))) for p in t.partitions}

    def under_replicated(self, topics: list[str]) -> list[TP]:
        return [(t.name, p.partition) for t in self.admin.topics(sorted(set(topics))) for p in t.partitions
                if len(p.isr) < len(p.replicas)]

    def ongoing(self) -> dict[TP, dict[str, list[int]]]:
        return {tp: {"replicas": r.replicas, "adding_replicas": r.adding, "removing_replicas": r.removing}
                for tp, r in self.admin.reassignments().items()}

    def submit(self, changes: dict[TP, list[int] | None]) -> dict[TP, str]:
        """Start (a list) or cancel (None) reassignments; returns the partitions the controller refused."""
        return self.admin.alter_reassignments(changes)

    def set_configs(self, brokers: dict[int, dict[str, str | None]], topics: dict[str, dict[str, str | None]]) -> None:
        """Incremental config changes; a None value deletes the key (back to the default)."""
        self.admin.alter_configs(brokers=brokers, topics=topics)

    def throttle_configs(self, brokers: list[int], topics: list[str]) -> dict[str, dict[str, str]]:
        """Throttle-related configs currently set, keyed 'broker 1' / 'topic x'."""
        return self.admin.throttle_configs(brokers, topics)

    def check_permitted(self, brokers: dict[int, dict[str, str | None]],
                        topics: dict[str, dict[str, str | None]]) -> None:
        """NotAuthorized, changing nothing, unless this principal may set these throttles and reassign."""
        from brokerscale.kafka.permissions import check_writes

        check_writes(self.admin, broker_configs=brokers, topic_configs=topics, reassign=True,
                     what="rebalance execute --apply")

    def elect_preferred(self, partitions: list[TP]) -> None:
        # a failed election is harmless: the controller's auto leader rebalance elects preferred leaders later
        self.admin.elect_preferred(partitions)
