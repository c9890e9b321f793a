"""Which topics are Kafka's or a platform's own, not the application's: one definition for every verb."""

from __future__ import annotations

# Confluent Platform and Schema Registry keep their state in topics that do not start with "__".
_PLATFORM_PREFIXES = ("__", "_confluent")
_PLATFORM_NAMES = frozenset({"_schemas"})


def is_internal(name: str, flagged: bool = False) -> bool:
    """`flagged`: the broker's own `is_internal` bit from Metadata (set for __consumer_offsets and
    __transaction_state only, so names are checked too)."""
    return flagged or name.startswith(_PLATFORM_PREFIXES) or name in _PLATFORM_NAMES
