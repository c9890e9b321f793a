"""Storage forecast: least-squares growth, projections, days to limit, the scaling guide's tier advice."""

from __future__ import annotations

import pytest

from brokerscale.forecast.storage import DAY, forecast_storage

TB = 1e12


def test_linear_growth_is_recovered_and_projected() -> None:
    # 4 TB growing 10 GB/day for 30 days, with a little noise.
    noise = [3e9, -2e9, 1e9, -1e9, 2e9, 0.0]
    pts = [(d * DAY, 4 * TB + d * 10e9 + noise[d % 6]) for d in range(31)]
    now = 30 * DAY
    fc = forecast_storage(pts, now=now)
    assert fc.ok
    assert fc.daily_growth_bytes == pytest.approx(10e9, rel=0.02)
    assert fc.projected_30d_bytes == pytest.approx(4 * TB + 60 * 10e9, rel=0.01)
    assert fc.projected_90d_bytes == pytest.approx(4 * TB + 120 * 10e9, rel=0.01)
    assert fc.daily_growth_stderr_bytes is not None and fc.daily_growth_stderr_bytes < 1e9


def test_basic_tier_passing_5tb_within_90_days_is_told_to_upgrade() -> None:
    pts = [(d * DAY, 4.5 * TB + d * 10e9) for d in range(31)]  # 4.8 TB now, +10 GB/day -> 5 TB in ~20 days
    fc = forecast_storage(pts, now=30 * DAY, limit_bytes=5 * TB, limit_label="5 TB storage limit", tier="basic")
    assert fc.days_until_limit == pytest.approx(20, abs=0.5)
    assert any("Standard tier" in a for a in fc.advice)


def test_slow_growth_gets_no_upgrade_advice() -> None:
    pts = [(d * DAY, 1 * TB + d * 1e9) for d in range(31)]
    fc = forecast_storage(pts, now=30 * DAY, limit_bytes=5 * TB, tier="basic")
    assert fc.days_until_limit is not None and fc.days_until_limit > 90
    assert not any("upgrad" in a for a in fc.advice)


def test_self_managed_disk_limit_advice() -> None:
    pts = [(d * DAY, 40 * TB + d * 200e9) for d in range(10)]
    fc = forecast_storage(pts, now=9 * DAY, limit_bytes=48 * TB, limit_label="48 TB of disk")
    assert fc.days_until_limit == pytest.approx((48 - 41.8) * TB / 200e9, rel=0.01)
    assert any("add disk or brokers" in a for a in fc.advice)


def test_too_few_samples_says_so() -> None:
    fc = forecast_storage([(0.0, 1e9), (60.0, 1.1e9)], now=60.0)
    assert not fc.ok
    assert "2 sample(s)" in fc.reason
    assert fc.projected_90d_bytes is None


def test_short_history_is_flagged_as_rough() -> None:
    pts = [(t * 60.0, 1e9 + t * 1e6) for t in range(10)]
    fc = forecast_storage(pts, now=540.0)
    assert fc.ok
    assert "rough" in fc.reason


def test_shrinking_storage_is_not_projected_negative() -> None:
    pts = [(d * DAY, 1 * TB - d * 50e9) for d in range(10)]
    fc = forecast_storage(pts, now=9 * DAY, limit_bytes=5 * TB)
    assert fc.projected_90d_bytes == 0.0
    assert fc.days_until_limit is None
    assert any("flat or shrinking" in a for a in fc.advice)


def test_retention_caps_the_cluster_projection() -> None:
    # Reported: 57.7 GB/day with 30-day retention was "past the basic tier's 5 TB in 87 days"; retained
    # bytes level off near 57.7 GB x 30 = 1.73 TB.
    pts = [(d * DAY, 0.6 * TB + d * 57.7e9) for d in range(15)]
    fc = forecast_storage(pts, now=14 * DAY, limit_bytes=5 * TB, limit_label="5 TB storage limit", tier="basic",
                          retention_s=30 * DAY)
    assert fc.basis == "retention" and "30 days of retention" in fc.basis_detail
    assert fc.ceiling_bytes == pytest.approx(30 * 57.7e9, rel=0.01)
    assert fc.projected_90d_bytes == pytest.approx(30 * 57.7e9, rel=0.01)
    assert fc.projected_30d_bytes == pytest.approx(30 * 57.7e9, rel=0.01)
    assert fc.days_until_limit is None
    assert not any("upgrad" in a for a in fc.advice)
    assert any("retention caps" in a for a in fc.advice)
    # Without retention the same history is the old linear answer.
    linear = forecast_storage(pts, now=14 * DAY, limit_bytes=5 * TB, tier="basic")
    assert linear.basis == "linear growth" and linear.days_until_limit == pytest.approx(62.3, abs=0.5)


def test_per_topic_projection_is_the_sum_of_min_linear_and_ingress_times_retention() -> None:
    from brokerscale.forecast.storage import TopicHistory

    # adt: 10 GB/day in, RF 3, 7 days retention, 4 days filled -> levels off at 210 GB.
    # archive: no retention, 5 GB/day on disk -> linear.
    adt = TopicHistory(name="clinical.adt", points=[(d * DAY, d * 30e9) for d in range(5)],
                       ingress_bytes_per_s=10e9 / DAY, replication_factor=3, retention_s=7 * DAY)
    archive = TopicHistory(name="audit.archive", points=[(d * DAY, 1 * TB + d * 5e9) for d in range(5)],
                           ingress_bytes_per_s=5e9 / 3 / DAY, replication_factor=3, retention_s=None)
    total = [(d * DAY, d * 30e9 + 1 * TB + d * 5e9) for d in range(5)]
    fc = forecast_storage(total, now=4 * DAY, topics=[adt, archive], limit_bytes=1.5 * TB)
    assert fc.basis == "retention (per topic)"
    rows = {t.topic: t for t in fc.topics}
    assert rows["clinical.adt"].basis == "retention" and rows["clinical.adt"].ceiling_bytes == pytest.approx(210e9)
    assert rows["audit.archive"].basis == "linear growth" and rows["audit.archive"].ceiling_bytes is None
    assert fc.projected_90d_bytes == pytest.approx(210e9 + 1.02 * TB + 90 * 5e9, rel=1e-6)
    assert fc.ceiling_bytes is None  # the archive never stops growing
    # 1.5 TB: 210 GB + 1.02 TB + 5 GB/day x d -> d = 54 days (the linear fit alone would say ~8).
    assert fc.days_until_limit == pytest.approx(54, abs=0.5)
