"""Message sizes: a log-normal distribution around a mean, or a fixed size.

Real clinical traffic is skewed — most HL7 messages are small, a few (results with long reports,
FHIR bundles) are large — so the default is log-normal with the requested *mean*; spread 0 gives
every message the same size, which is what a benchmark against `kafka-producer-perf-test` needs.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

MIN_SIZE = 64
MAX_SIZE = 900_000  # stays under the broker's default 1 MB message.max.bytes


@dataclass(frozen=True)
class SizeDistribution:
    mean: int
    spread: float = 0.5  # sigma of the underlying normal; 0 = fixed size

    def __post_init__(self) -> None:
        if not MIN_SIZE <= self.mean <= MAX_SIZE:
            raise ValueError(f"mean size must be between {MIN_SIZE} and {MAX_SIZE} bytes")
        if not 0 <= self.spread <= 2:
            raise ValueError("spread must be between 0 and 2")

    def sample(self, rng: random.Random) -> int:
        if self.spread == 0:
            return self.mean
        mu = math.log(self.mean) - self.spread**2 / 2  # so that E[size] == mean
        return max(MIN_SIZE, min(MAX_SIZE, round(rng.lognormvariate(mu, self.spread))))
