"""The pool of pre-built messages and the send schedule the producer cycles through.

Building valid HL7/FHIR messages costs far more than sending them, so it happens once, before the
clock starts: the hot loop only picks the next (key, value) pair. The schedule fixes which patient
each send is for — uniform, or Zipf-skewed so a few "frequent flyer" patients make hot partitions.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass

from brokerscale.load.messages import KINDS, build_message, make_patient
from brokerscale.load.sizes import SizeDistribution


@dataclass(frozen=True)
class Pool:
    """`schedule[i]` is the (key, value) of the i-th send, cycled; keys are patient MRNs."""

    schedule: list[tuple[bytes, bytes]]
    patients: int
    distinct_messages: int

    @property
    def mean_size(self) -> float:
        return sum(len(v) for _, v in self.schedule) / len(self.schedule)


def zipf_weights(n: int, skew: float) -> list[float]:
    """Weight of patient rank k is 1/k^skew; skew 0 is uniform."""
    return [1.0 / math.pow(k, skew) for k in range(1, n + 1)]


POOL_BUDGET_BYTES = 256 * 10**6
DEFAULT_MESSAGES = 2048


def pool_messages(patients: int, mean_size: int, budget: int = POOL_BUDGET_BYTES) -> int | None:
    """How many distinct messages to pre-build: 2,048 (fewer if large), at least one per patient.

    None if even one message per patient would exceed the memory budget.
    """
    if patients * mean_size > budget:
        return None
    return max(patients, min(DEFAULT_MESSAGES, budget // mean_size))


def build_pool(*, sizes: SizeDistribution, kinds: tuple[str, ...] = KINDS, patients: int = 1000,
               messages: int = DEFAULT_MESSAGES, schedule_length: int = 16384, skew: float = 0.0,
               seed: int = 7) -> Pool:
    """Build `messages` distinct messages spread over `patients`, then a schedule of sends."""
    if patients < 1 or messages < 1 or schedule_length < 1:
        raise ValueError("patients, messages and schedule_length must be at least 1")
    rng = random.Random(seed)
    people = [make_patient(i, rng) for i in range(patients)]
    by_patient: list[list[bytes]] = [[] for _ in range(patients)]
    kind_cycle = itertools.cycle(kinds)
    for seq in range(max(messages, patients)):
        p = seq % patients
        by_patient[p].append(build_message(next(kind_cycle), people[p], seq, rng, sizes.sample(rng)))
    keys = [p.mrn.encode() for p in people]
    picks = rng.choices(range(patients), weights=zipf_weights(patients, skew), k=schedule_length)
    counters = [0] * patients
    schedule = []
    for p in picks:
        msgs = by_patient[p]
        schedule.append((keys[p], msgs[counters[p] % len(msgs)]))
        counters[p] += 1
    return Pool(schedule=schedule, patients=patients, distinct_messages=sum(len(m) for m in by_patient))
