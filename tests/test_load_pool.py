from __future__ import annotations

import json
import random
import statistics
from collections import Counter

import hl7
import pytest

from brokerscale.load.pool import build_pool, pool_messages, zipf_weights
from brokerscale.load.sizes import MAX_SIZE, MIN_SIZE, SizeDistribution


def _mrn_inside(value: bytes) -> str:
    if value.startswith(b"MSH"):
        return str(hl7.parse(value.decode()).segment("PID")[3][0][0])
    return json.loads(value)["subject"]["reference"].split("/", 1)[1]


def test_every_record_is_keyed_by_the_patient_it_describes() -> None:
    pool = build_pool(sizes=SizeDistribution(2000), patients=50, messages=200, schedule_length=500, skew=1.0)
    assert len(pool.schedule) == 500
    for key, value in pool.schedule:
        assert key.startswith(b"SYN")
        assert _mrn_inside(value) == key.decode()


def test_mean_size_follows_the_distribution() -> None:
    pool = build_pool(sizes=SizeDistribution(5000, spread=0.5), patients=200, messages=2000,
                      schedule_length=4000)
    sizes = [len(v) for _, v in pool.schedule]
    assert statistics.mean(sizes) == pytest.approx(5000, rel=0.08)
    assert max(sizes) > 2 * min(sizes)  # it is a distribution, not one size
    fixed = build_pool(sizes=SizeDistribution(5000, spread=0), patients=20, messages=40, schedule_length=100)
    assert {len(v) for _, v in fixed.schedule} == {5000}


def test_zipf_skew_makes_a_few_patients_hot() -> None:
    uniform = Counter(k for k, _ in build_pool(sizes=SizeDistribution(500), patients=100, messages=100,
                                               schedule_length=20_000, skew=0).schedule)
    skewed = Counter(k for k, _ in build_pool(sizes=SizeDistribution(500), patients=100, messages=100,
                                              schedule_length=20_000, skew=1.2).schedule)
    assert max(uniform.values()) / 20_000 < 0.03  # ~1% each
    assert max(skewed.values()) / 20_000 > 0.15  # rank 1 of Zipf(1.2) over 100 ≈ 23%
    assert len(skewed) > 50  # the tail still exists


def test_zipf_weights_and_bad_pool_arguments() -> None:
    assert zipf_weights(3, 0) == [1.0, 1.0, 1.0]
    assert zipf_weights(3, 1) == pytest.approx([1.0, 0.5, 1 / 3])
    with pytest.raises(ValueError):
        build_pool(sizes=SizeDistribution(500), patients=0)


def test_size_distribution_bounds() -> None:
    rng = random.Random(1)
    d = SizeDistribution(MIN_SIZE, spread=2.0)
    assert all(MIN_SIZE <= d.sample(rng) <= MAX_SIZE for _ in range(1000))
    for bad in (lambda: SizeDistribution(10), lambda: SizeDistribution(MAX_SIZE + 1),
                lambda: SizeDistribution(5000, spread=-1)):
        with pytest.raises(ValueError):
            bad()


def test_pool_stays_within_its_memory_budget() -> None:
    assert pool_messages(1000, 5000) == 2048
    assert pool_messages(5000, 5000) == 5000  # at least one message per patient
    assert pool_messages(100, 900_000) == 284  # large messages: fewer of them
    assert pool_messages(1000, 900_000) is None  # 900 MB: refused
    assert pool_messages(10, 1000, budget=5000) is None
