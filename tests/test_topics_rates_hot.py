"""Traffic from offset samples, and hot-partition detection."""

from __future__ import annotations

import pytest

from brokerscale.topics.hot import find_hot_partitions
from brokerscale.topics.rates import (
    DEFAULT_RECORD_BYTES,
    OffsetSample,
    partition_bytes_in,
    partition_bytes_in_series,
    partition_bytes_out,
    record_sizes,
    topic_bytes_out_series,
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


def test_a_zipf_head_gives_several_hot_partitions_each_a_busy_key() -> None:
    base = {("t", p): 1000.0 for p in range(12)}
    zipf = {**base, ("t", 8): 11_000.0, ("t", 10): 2700.0, ("t", 2): 2100.0}
    hot = find_hot_partitions(zipf)
    assert [h.partition for h in hot] == [8, 10, 2]
    assert {h.cause for h in hot} == {"key"}


def test_hot_partitions_that_are_exactly_one_brokers_leadership_point_at_the_broker() -> None:
    rates = {("t", p): (5000.0 if p % 3 == 0 else 1000.0) for p in range(9)}
    leaders = {("t", p): p % 3 + 1 for p in range(9)}  # broker 1 leads 0, 3, 6
    hot = find_hot_partitions(rates, leaders=leaders)
    assert [h.partition for h in sorted(hot, key=lambda h: h.partition)] == [0, 3, 6]
    assert {h.cause for h in hot} == {"leader"} and {h.leader for h in hot} == {1}
    assert "broker 1" in hot[0].suggestion
    # the same partitions hot, but broker 1 also leads a quiet one: not the broker's fault
    leaders[("t", 1)] = 1
    assert {h.cause for h in find_hot_partitions(rates, leaders=leaders)} == {"key"}


def test_fitted_rate_resists_a_late_batch_at_the_window_edge() -> None:
    # steady 100 records/s, but the last sample catches a delayed batch of 150 records
    samples = [OffsetSample(float(t), {("t", 0): 100 * t}) for t in range(9)]
    samples[-1] = OffsetSample(8.0, {("t", 0): 800 + 150})
    two_point = partition_bytes_in(samples[0], samples[-1], {("t", 0): 1.0})[("t", 0)]
    fitted = partition_bytes_in_series(samples, {("t", 0): 1.0})[("t", 0)]
    assert abs(fitted - 100) < abs(two_point - 100)
    steady = [OffsetSample(float(t), {("t", 0): 100 * t}) for t in range(9)]
    assert partition_bytes_in_series(steady, {("t", 0): 1.0})[("t", 0)] == pytest.approx(100)


def test_fitted_rate_handles_new_and_reset_partitions() -> None:
    samples = [OffsetSample(0.0, {("t", 0): 0}), OffsetSample(1.0, {("t", 0): 50, ("t", 1): 10}),
               OffsetSample(2.0, {("t", 0): 10, ("t", 1): 30})]
    out = partition_bytes_in_series(samples, {("t", 0): 1.0, ("t", 1): 1.0})
    assert out[("t", 0)] == 10 / 2  # reset: first/last difference
    assert out[("t", 1)] == pytest.approx(20)
    with pytest.raises(ValueError):
        partition_bytes_in_series(samples[:1], {})


def test_egress_is_timed_between_observed_commits() -> None:
    # a consumer reading 100 records/s, committing every 5 s (at t = 2, 7, 12), sampled every 1.25 s
    def committed(t: float) -> int:
        steps = [c for c in (2.0, 7.0, 12.0) if c <= t]
        return int(100 * steps[-1]) if steps else 0

    times = [1.25 * i for i in range(9)]  # 0 .. 10 s
    samples = [OffsetSample(t, {("t", 0): 0}, {("g", "t", 0): committed(t)}) for t in times]
    fitted = topic_bytes_out_series(samples, {("t", 0): 1.0})["t"]
    ends_only = partition_bytes_out(samples[0], samples[-1], {("t", 0): 1.0})[("t", 0)]
    assert abs(fitted - 100) < 15  # error bounded by the sampling step, not the commit interval
    assert abs(ends_only - 100) > 25  # what the plain difference gets wrong
    # a single commit in the window: the window's ends are all there is
    one = [OffsetSample(0.0, {}, {("g", "t", 0): 0}), OffsetSample(5.0, {}, {("g", "t", 0): 0}),
           OffsetSample(10.0, {}, {("g", "t", 0): 500})]
    assert topic_bytes_out_series(one, {("t", 0): 2.0})["t"] == pytest.approx(100)


def test_egress_follows_the_group_not_one_bursty_partition() -> None:
    # 300 records/s in total over 3 partitions, but each partition is read in one burst in turn
    samples = []
    for i in range(9):
        t = 1.25 * i
        # partition p only moves during its own part of the window, 1,250 records each
        parts = {p: int(min(max(300 * t - 1250 * p, 0), 1250)) for p in range(3)}
        samples.append(OffsetSample(t, {}, {("g", "t", p): o for p, o in parts.items()}))
    rate = topic_bytes_out_series(samples, {("t", p): 1.0 for p in range(3)})["t"]
    assert rate == pytest.approx(300, rel=0.15)
