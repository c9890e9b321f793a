"""The partition rule (seed's calculateOptimalPartitions + class bounds), through its public function."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brokerscale.errors import BadInput
from brokerscale.plan.partitions import CLASS_BOUNDS, partition_target

CLASSES = sorted(CLASS_BOUNDS)


def test_seed_golden_175_mb_s_topic_gets_24_partitions() -> None:
    # 1.3 × 175 / 10 = 22.75 -> 23 -> next multiple of 3 = 24
    t = partition_target(175, "standard-operational")
    assert t.partitions == 24
    assert t.formula == 24
    assert not t.capped


def test_exact_multiples_are_not_pushed_up_by_float_noise() -> None:
    # 1.3 × 300 / 10 = 39 exactly (binary float gives 39.00000000000001 without care) -> 39
    assert partition_target(300, "standard-operational").formula == 39


def test_low_throughput_gets_the_class_floor() -> None:
    t = partition_target(1, "high-volume-clinical")
    assert (t.partitions, t.formula) == (24, 6)
    assert "floor" in t.rule


def test_above_the_cap_keeps_the_cap_and_says_so() -> None:
    t = partition_target(1000, "low-volume-reference")
    assert t.partitions == 30  # the class cap 32, rounded down to a multiple of 3
    assert t.formula == 3 * math.ceil(math.ceil(1.3 * 1000 / 10) / 3)
    assert t.capped
    assert "cap" in t.rule


def test_unknown_class_and_bad_throughput_are_bad_input() -> None:
    with pytest.raises(BadInput, match="not a topic class"):
        partition_target(10, "clinical")
    with pytest.raises(BadInput, match="finite"):
        partition_target(-1, "standard-operational")
    with pytest.raises(BadInput, match="finite"):
        partition_target(float("nan"), "standard-operational")


@given(st.floats(min_value=0, max_value=50_000, allow_nan=False), st.sampled_from(CLASSES))
def test_partitions_are_multiples_of_3_within_class_bounds(t: float, cls: str) -> None:
    target = partition_target(t, cls)
    floor, cap = CLASS_BOUNDS[cls]
    assert target.partitions % 3 == 0
    assert floor <= target.partitions <= cap
    assert target.capped == (target.formula > cap)


@given(st.floats(min_value=0, max_value=50_000, allow_nan=False),
       st.floats(min_value=0, max_value=50_000, allow_nan=False), st.sampled_from(CLASSES))
def test_more_throughput_never_fewer_partitions(a: float, b: float, cls: str) -> None:
    lo, hi = sorted((a, b))
    assert partition_target(lo, cls).partitions <= partition_target(hi, cls).partitions
    assert partition_target(lo, cls).formula <= partition_target(hi, cls).formula
