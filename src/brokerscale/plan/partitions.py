"""Partition count for a topic: the scaling guide's calculateOptimalPartitions, bounded by the topic class.

This is the one implementation of the rule: the planner and the topics optimizer both import it, so a
topic planned today gets the same count the optimizer later checks it against.

The scaling guide's rule: at most 10 MB/s per partition, 30 % growth allowance, at least 6, a multiple of 3
(even spread over 3 brokers / racks). The scaling guide's "Partition Scaling Guidelines" table adds a floor
and a ceiling per topic class; a formula above the ceiling keeps the ceiling and is reported, since
the real fix (split the topic, raise the cap) is a human decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from brokerscale.errors import BadInput

MB_PER_PARTITION = 10.0
GROWTH_FACTOR = 1.3
MIN_PARTITIONS = 6
MULTIPLE = 3

#: topic class -> (floor, cap), from the scaling guide's "Partition Scaling Guidelines".
CLASS_BOUNDS: dict[str, tuple[int, int]] = {
    "high-volume-clinical": (24, 128),
    "standard-operational": (12, 64),
    "low-volume-reference": (6, 32),
}


@dataclass(frozen=True)
class PartitionTarget:
    """The partition count for one topic and how it was reached."""

    partitions: int
    formula: int
    floor: int
    cap: int
    capped: bool
    rule: str


def formula_partitions(throughput_mb_s: float) -> int:
    """The scaling guide's formula alone: max(6, 3 × ceil(ceil(1.3 × T / 10) / 3)), T = in + out MB/s."""
    if not math.isfinite(throughput_mb_s) or throughput_mb_s < 0:
        raise BadInput(f"throughput: {throughput_mb_s!r} must be a finite number >= 0 MB/s")
    # round() strips binary noise (1.3 × 100 / 10 must be 13, not 13.000000000000002).
    raw = math.ceil(round(throughput_mb_s * GROWTH_FACTOR / MB_PER_PARTITION, 9))
    return max(MIN_PARTITIONS, MULTIPLE * math.ceil(raw / MULTIPLE))


def usable_cap(topic_class: str) -> int:
    """The class cap rounded down to a multiple of 3, so capped topics still spread evenly."""
    cap = CLASS_BOUNDS[topic_class][1]
    return cap - cap % MULTIPLE


def partition_target(throughput_mb_s: float, topic_class: str) -> PartitionTarget:
    """Partitions for a topic carrying `throughput_mb_s` (ingress + egress, decimal MB/s)."""
    if topic_class not in CLASS_BOUNDS:
        raise BadInput(f"class: {topic_class!r} is not a topic class (one of: {', '.join(CLASS_BOUNDS)})")
    floor, class_cap = CLASS_BOUNDS[topic_class]
    cap = usable_cap(topic_class)
    formula = formula_partitions(throughput_mb_s)
    base = f"max(6, 3×ceil(ceil(1.3×{throughput_mb_s:g} MB/s ÷ 10 MB/s)/3)) = {formula}"
    if formula > cap:
        note = "" if cap == class_cap else f" ({class_cap} rounded down to a multiple of 3)"
        return PartitionTarget(cap, formula, floor, cap, True,
                               f"{base}, above the {topic_class} cap {cap}{note}: capped")
    if formula < floor:
        return PartitionTarget(floor, formula, floor, cap, False,
                               f"{base}, raised to the {topic_class} floor {floor}")
    return PartitionTarget(formula, formula, floor, cap, False,
                           f"{base}, within {topic_class} bounds {floor}–{cap}")
