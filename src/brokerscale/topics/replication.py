"""Raising a topic's replication factor: Kafka only does it by reassignment, so propose one.

Pure: the cluster model goes in, Kafka's reassignment JSON comes out; `brokerscale rebalance execute`
runs it with throttles, progress, resume and audit (the same machinery as any partition move).
Existing replicas stay where they are and the leader stays first, so the reassignment only copies data
to the new replicas; it never moves or drops a copy that exists.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from brokerscale.balance.model import ClusterModel
from brokerscale.errors import BadInput


def raise_replication(model: ClusterModel, targets: Mapping[str, int]) -> dict[tuple[str, int], list[int]]:
    """New replica lists for every partition of `targets` (topic -> RF) that has fewer replicas.

    Each added replica goes to a broker not yet holding the partition, preferring a rack the partition
    does not use yet (a zone outage must not take every copy), then the broker holding the fewest bytes
    (counting what this proposal already added), then the lowest id, so the answer is deterministic.
    """
    brokers = sorted(model.brokers)
    for topic, rf in targets.items():
        if rf > len(brokers):
            raise BadInput(f"{topic}: replication factor {rf} needs {rf} brokers, the cluster has {len(brokers)}")
    load: dict[int, int] = defaultdict(int)
    for reps, size in zip(model.replicas, model.sizes, strict=True):
        for b in reps:
            load[b] += size
    out: dict[tuple[str, int], list[int]] = {}
    for i, topic in enumerate(model.topics):
        want = targets.get(topic)
        reps = list(model.replicas[i])
        if want is None or len(reps) >= want:
            continue
        size = model.sizes[i]
        while len(reps) < want:
            racks = {model.brokers[b].rack for b in reps if b in model.brokers}
            candidates = [b for b in brokers if b not in reps]
            best = min(candidates, key=lambda b: (model.brokers[b].rack in racks and model.brokers[b].rack is not None,
                                                  load[b], b))
            reps.append(best)
            load[best] += size
        out[(topic, model.partitions[i])] = reps
    return out


def reassignment_json(moves: Mapping[tuple[str, int], list[int]]) -> dict[str, Any]:
    """Kafka's reassignment file format (kafka-reassign-partitions.sh reads the same)."""
    return {"version": 1, "partitions": [{"topic": t, "partition": p, "replicas": r}
                                         for (t, p), r in sorted(moves.items())]}
