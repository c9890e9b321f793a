"""Traffic from offset samples, and hot-partition detection."""

from __future__ import annotations

import pytest

from brokerscale.topics.hot import find_hot_partitions
from brokerscale.topics.rates import (
    DEFAULT_RECORD_BYTES,
    OffsetSample,
    partition_bytes_in,
    record_sizes,
    topic_rates,
)


def test_record_sizes_per_partition_with_topic_fallback() -> None:
    ends = {("t", 0): 100, ("t", 1): 0, ("u", 0): 5}
    sizes = record_sizes({("t", 0): 50_000, ("u", 0): 0}, {("t", 0): 0, ("u", 0): 5}, ends)
    assert sizes[("t", 0)] == 500
    assert sizes[("t", 1)] == 500  # empty partition borrows its topic's average
    assert sizes[("u", 0)] == DEFAULT_RECORD_BYTES  # nothing retained anywhere in u


def test_topic_rates_count_ingress_and_every_consumer_group() -> None:
    first = OffsetSample(100.0, {("t", 0): 0, ("t", 1): 0},
                         {("g1", "t", 0): 0, ("g2", "t", 0): 0, ("g1", "t", 1): 0})
    second = OffsetSample(110.0, {("t", 0): 1000, ("t", 1): 3000},
                          {("g1", "t", 0): 1000, ("g2", "t", 0): 500, ("g1", "t", 1): 3000})
    sizes = {("t", 0): 200.0, ("t", 1): 100.0}
    rates = topic_rates(first, second, sizes)
    assert rates["t"].bytes_in_per_s == pytest.approx((1000 * 200 + 3000 * 100) / 10)
    assert rates["t"].bytes_out_per_s == pytest.approx((1000 * 200 + 500 * 200 + 3000 * 100) / 10)
    assert rates["t"].throughput_mb_s == pytest.approx((50_000 + 60_000) / 1e6)


def test_partitions_missing_from_the_first_sample_and_offset_resets_are_ignored() -> None:
    first = OffsetSample(0.0, {("t", 0): 500})
    second = OffsetSample(5.0, {("t", 0): 100, ("t", 1): 900})
    assert partition_bytes_in(first, second, {}) == {("t", 0): 0.0}


def test_samples_out_of_order_are_rejected() -> None:
    s = OffsetSample(5.0, {})
    with pytest.raises(ValueError):
        topic_rates(s, s, {})


def test_a_partition_above_twice_the_median_is_hot() -> None:
    rates = {("device.vitals", 0): 10_000.0, ("device.vitals", 1): 11_000.0, ("device.vitals", 2): 9_000.0,
             ("device.vitals", 3): 80_000.0, ("clinical.adt", 0): 5000.0, ("clinical.adt", 1): 6000.0}
    hot = find_hot_partitions(rates, keys={"device.vitals": None})
    assert [(h.topic, h.partition) for h in hot] == [("device.vitals", 3)]
    h = hot[0]
    assert h.topic_median_bytes_per_s == pytest.approx(10_500)
    assert h.ratio == pytest.approx(80_000 / 10_500)
    assert h.share == pytest.approx(80_000 / 110_000)
    assert "more partitions will not" in h.suggestion


def test_exactly_twice_the_median_is_not_hot_and_quiet_partitions_are_ignored() -> None:
    assert find_hot_partitions({("t", 0): 1000.0, ("t", 1): 1000.0, ("t", 2): 2000.0}, min_bytes_per_s=1) == []
    assert find_hot_partitions({("t", 0): 0.0, ("t", 1): 0.0, ("t", 2): 500.0}, min_bytes_per_s=1000) == []


def test_idle_median_gives_unbounded_ratio() -> None:
    hot = find_hot_partitions({("t", 0): 0.0, ("t", 1): 0.0, ("t", 2): 50_000.0})
    assert len(hot) == 1 and hot[0].ratio is None and hot[0].share == 1.0


def test_single_partition_topic_is_never_hot() -> None:
    assert find_hot_partitions({("t", 0): 1e9}) == []


def test_factor_must_exceed_one() -> None:
    with pytest.raises(ValueError):
        find_hot_partitions({}, factor=1.0)
