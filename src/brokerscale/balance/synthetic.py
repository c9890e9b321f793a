"""Generated clusters for benchmarks, tests and offline experiments (seeded, so reproducible).

Real clusters drift into skew: some brokers were added late, some topics are huge. The generator
reproduces that — broker weights vary ±50% inside each rack, partition sizes are log-normal (heavy
tail) — so the optimizer is measured against the kind of imbalance it must fix.
"""

from __future__ import annotations

import math
import random

from brokerscale.balance.model import Broker, ClusterModel


def skewed_cluster(brokers: int = 60, racks: int = 3, partitions: int = 30_000, rf: int = 3,
                   *, seed: int = 7, median_bytes: float = 3e8, sigma: float = 1.5,
                   skew: float = 0.5, topics: int = 100) -> ClusterModel:
    """A cluster whose replica placement is skewed per broker and whose sizes are heavy-tailed."""
    rng = random.Random(seed)
    rack_names = [chr(ord("a") + i) for i in range(racks)]
    model = ClusterModel({})
    by_rack: dict[str, list[int]] = {r: [] for r in rack_names}
    for i in range(brokers):
        b = i + 1
        rack = rack_names[i % racks]
        model.brokers[b] = Broker(b, rack)
        by_rack[rack].append(b)
    weight = {b: 1 - skew + 2 * skew * rng.random() for b in model.brokers}
    ids = sorted(model.brokers)
    for p in range(partitions):
        topic = f"t{p % topics:03d}"
        size = int(median_bytes * math.exp(rng.gauss(0, sigma)))
        if rf <= racks:
            chosen_racks = rng.sample(rack_names, rf)
            reps = [rng.choices(by_rack[r], weights=[weight[b] for b in by_rack[r]])[0] for r in chosen_racks]
        else:
            reps = []
            while len(reps) < rf:
                b = rng.choices(ids, weights=[weight[x] for x in ids])[0]
                if b not in reps:
                    reps.append(b)
        model.add(topic, p // topics, reps, size, size / 86_400 / 7)
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
