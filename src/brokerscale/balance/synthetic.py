"""Generated clusters for benchmarks, tests and offline experiments (seeded, so reproducible).

Real clusters drift into skew: some brokers were added late, some topics are huge. The generator
reproduces that — broker weights vary ±50% inside each rack, partition sizes are log-normal (heavy
tail) — so the optimizer is measured against the kind of imbalance it must fix. It is vectorised
with numpy because the benchmarks ask for a million partitions.
"""

from __future__ import annotations

import numpy as np

from brokerscale.balance.model import Broker, ClusterModel


def skewed_cluster(brokers: int = 60, racks: int = 3, partitions: int = 30_000, rf: int = 3,
                   *, seed: int = 7, median_bytes: float = 3e8, sigma: float = 1.5,
                   skew: float = 0.5, topics: int = 100) -> ClusterModel:
    """A cluster whose replica placement is skewed per broker and whose sizes are heavy-tailed.

    With rf <= racks every partition has its replicas in distinct racks (as Kafka's rack-aware
    placement leaves them); within a rack, brokers are picked in proportion to their weight.
    """
    rng = np.random.default_rng(seed)
    rack_names = [chr(ord("a") + i) for i in range(racks)]
    model = ClusterModel({})
    ids = np.arange(1, brokers + 1)
    rack_of = np.arange(brokers) % racks
    for b, r in zip(ids.tolist(), rack_of.tolist(), strict=True):
        model.brokers[b] = Broker(b, rack_names[r])
    weight = 1 - skew + 2 * skew * rng.random(brokers)
    sizes = (median_bytes * np.exp(rng.normal(0.0, sigma, partitions))).astype(np.int64)
    reps = np.zeros((partitions, rf), dtype=np.int64)
    if rf <= racks:
        # distinct racks per partition: the first rf columns of a random permutation of the racks
        chosen = np.argsort(rng.random((partitions, racks)), axis=1)[:, :rf]
        for r in range(racks):
            members = ids[rack_of == r]
            w = weight[rack_of == r]
            mask = chosen == r
            picks = rng.choice(members, size=int(mask.sum()), p=w / w.sum())
            reps[mask] = picks
    else:
        p = weight / weight.sum()
        for i in range(partitions):
            reps[i] = rng.choice(ids, size=rf, replace=False, p=p)
    names = [f"t{t:03d}" for t in range(topics)]
    model.topics = [names[p % topics] for p in range(partitions)]
    model.partitions = [p // topics for p in range(partitions)]
    model.replicas = reps.tolist()
    model.sizes = sizes.tolist()
    model.bytes_in = (sizes / 86_400 / 7).tolist()
    return model


def add_empty_brokers(model: ClusterModel, count: int, racks: list[str | None] | None = None) -> list[int]:
    """New, empty brokers (round-robin over the existing racks); returns their ids."""
    existing = sorted({b.rack for b in model.brokers.values()}, key=lambda r: (r is None, r or ""))
    start = max(model.brokers) + 1
    new = []
    for k in range(count):
        rack = racks[k] if racks else existing[k % len(existing)]
        model.brokers[start + k] = Broker(start + k, rack)
        new.append(start + k)
    return new
