"""Hot partitions: one partition of a topic carrying far more than its siblings.

With patient- or device-keyed topics the usual cause is one very busy key (an ICU monitor, a
patient with a long stay streaming vitals). Hashing sends every record of a key to one partition,
so adding partitions does not spread that key: the fix is a better key. Pure: rates in, flags out.

A Zipf-like key population (a few patients or devices far busier than the rest) gives one or a few
hot partitions, each holding a heavy key. One look-alike is told apart, because its fix differs: when
the hot partitions are exactly the ones one broker leads, the skew follows leadership (that broker
faster or slower than the rest on the produce path), not the keys.
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
    return (f"one or a few keys probably dominate {topic}: every record of a key lands on one partition, so "
            f"more partitions will not spread a single hot key. Check {keyed} distribution at the producer; if "
            "ordering is only needed within a narrower scope, key by that (e.g. patient_id + encounter_id, "
            "or device_id + channel); otherwise give the busy source its own topic.")


def _leader_suggestion(topic: str, broker: int) -> str:
    return (f"the hot partitions of {topic} are exactly those led by broker {broker}: the skew follows "
            "leadership, not keys — producers get through to that broker faster than to the others (they are "
            "slow, their backlog waits in the producers) or it is catching up a backlog of its own. Compare "
            "produce latency and request queue time across brokers; measure again with a longer --window.")


def find_hot_partitions(bytes_in: Mapping[tuple[str, int], float], *, factor: float = DEFAULT_FACTOR,
                        min_bytes_per_s: float = DEFAULT_MIN_BYTES_PER_S,
                        keys: Mapping[str, str | None] | None = None,
                        leaders: Mapping[tuple[str, int], int] | None = None) -> list[HotPartition]:
    """Partitions above `factor` × the median bytes-in of their topic, busiest share first."""
    if factor <= 1:
        raise ValueError("factor must be greater than 1")
    by_topic: dict[str, dict[int, float]] = defaultdict(dict)
    for (topic, partition), rate in bytes_in.items():
        by_topic[topic][partition] = rate
    leaders = leaders or {}
    hot: list[HotPartition] = []
    for topic, parts in by_topic.items():
        if len(parts) < 2:
            continue  # a single partition has no siblings to be hotter than
        total = sum(parts.values())
        median = statistics.median(parts.values())
        flagged = [p for p, rate in sorted(parts.items()) if rate >= min_bytes_per_s and rate > factor * median]
        if not flagged:
            continue
        cause, text = "key", suggestion(topic, (keys or {}).get(topic))
        hot_leaders = {leaders.get((topic, p)) for p in flagged}
        if len(flagged) > 1 and len(hot_leaders) == 1 and None not in hot_leaders:
            broker = next(iter(hot_leaders)) or 0
            led = {p for p in parts if leaders.get((topic, p)) == broker}
            if led == set(flagged):
                cause, text = "leader", _leader_suggestion(topic, int(broker))
        for p in flagged:
            rate = parts[p]
            hot.append(HotPartition(topic, p, rate, median, rate / median if median > 0 else None, rate / total,
                                    text, cause, leaders.get((topic, p))))
    return sorted(hot, key=lambda h: (-h.share, h.topic, h.partition))
