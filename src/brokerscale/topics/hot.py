"""Hot partitions: one partition of a topic carrying far more than its siblings.

With patient- or device-keyed topics the usual cause is one very busy key (an ICU monitor, a
patient with a long stay streaming vitals). Hashing sends every record of a key to one partition,
so adding partitions does not spread that key: the fix is a better key. Pure: rates in, flags out.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping

from brokerscale.topics.model import HotPartition

DEFAULT_FACTOR = 2.0
#: Below this a partition is too quiet for skew to matter (and offset noise dominates).
DEFAULT_MIN_BYTES_PER_S = 1000.0


def suggestion(topic: str, key: str | None) -> str:
    keyed = f"its {key}" if key else "its key"
    return (f"one key probably dominates {topic}: every record of a key lands on one partition, so more "
            f"partitions will not spread a single hot key. Check {keyed} distribution at the producer; if "
            "ordering is only needed within a narrower scope, key by that (e.g. patient_id + encounter_id, "
            "or device_id + channel); otherwise give the busy source its own topic.")


def find_hot_partitions(bytes_in: Mapping[tuple[str, int], float], *, factor: float = DEFAULT_FACTOR,
                        min_bytes_per_s: float = DEFAULT_MIN_BYTES_PER_S,
                        keys: Mapping[str, str | None] | None = None) -> list[HotPartition]:
    """Partitions above `factor` × the median bytes-in of their topic, busiest share first."""
    if factor <= 1:
        raise ValueError("factor must be greater than 1")
    by_topic: dict[str, dict[int, float]] = defaultdict(dict)
    for (topic, partition), rate in bytes_in.items():
        by_topic[topic][partition] = rate
    hot: list[HotPartition] = []
    for topic, parts in by_topic.items():
        if len(parts) < 2:
            continue  # a single partition has no siblings to be hotter than
        total = sum(parts.values())
        median = statistics.median(parts.values())
        for partition, rate in sorted(parts.items()):
            if rate < min_bytes_per_s or rate <= factor * median:
                continue
            ratio = rate / median if median > 0 else None
            hot.append(HotPartition(topic, partition, rate, median, ratio, rate / total,
                                    suggestion(topic, (keys or {}).get(topic))))
    return sorted(hot, key=lambda h: (-h.share, h.topic, h.partition))
