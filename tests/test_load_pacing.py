from __future__ import annotations

import random

import pytest

from brokerscale.errors import BadInput
from brokerscale.load.pacing import Pacer
from brokerscale.load.rates import parse_rate
from brokerscale.load.stats import BUCKET_S, LatencyHistogram, LoadReport


def test_budget_grows_with_time_and_is_capped_by_the_limit() -> None:
    p = Pacer(rate=2000)
    assert p.budget(0) == 1
    assert p.budget(1.0) == 2001
    assert p.budget(10.0) == 20001
    assert Pacer(rate=2000, limit=500).budget(10.0) == 500
    assert Pacer(rate=0, limit=500).budget(0) == 500
    assert Pacer(rate=0).budget(0) > 10**12


def test_run_bounds() -> None:
    assert Pacer(rate=2000).run_bounds(10) == (20000, 11.0)
    assert Pacer(rate=2000).run_bounds(60) == (120000, 66.0)
    assert Pacer(rate=2000, limit=500).run_bounds(10) == (500, 11.0)
    assert Pacer(rate=0).run_bounds(10) == (None, 10)
    assert Pacer(rate=0, limit=7).run_bounds(None) == (7, None)


def test_wait_says_when_the_next_message_is_due() -> None:
    p = Pacer(rate=100)
    assert p.wait(sent=0, elapsed=0) == 0  # one is due at once
    assert p.wait(sent=51, elapsed=0.5) == pytest.approx(0.01)
    assert p.wait(sent=10, elapsed=0.5) == 0  # behind schedule: send now
    assert Pacer(rate=0).wait(sent=10**9, elapsed=0) == 0


def test_a_simulated_run_keeps_to_the_rate() -> None:
    """Drive the pacer with a fake clock the way the producer does (chunks, then waits)."""
    p = Pacer(rate=2000)
    t, sent = 0.0, 0
    while t < 10:
        todo = min(p.budget(t) - sent, 500)
        if todo > 0:
            sent += todo
            t += 0.0001 * todo  # sending costs a little time
        else:
            t += max(p.wait(sent, t), 1e-6)
    assert 19_900 <= sent <= 20_001


def test_rates_parse_from_messages_or_bytes() -> None:
    assert parse_rate("2000", 5000) == 2000
    assert parse_rate("2000/s", 5000) == 2000
    assert parse_rate("2000 msgs/s", 5000) == 2000
    assert parse_rate("10MB/s", 5000) == 2000
    assert parse_rate("0", 5000) == 0
    for bad in ("fast", "-3", "10MB", "/s", "1e3xyz/s"):
        with pytest.raises(BadInput, match="--rate"):
            parse_rate(bad, 5000)


def test_histogram_percentiles_match_the_sorted_data() -> None:
    rng = random.Random(3)
    data = [rng.expovariate(1 / 0.02) for _ in range(20_000)]
    h = LatencyHistogram()
    for x in data:
        h.add(x)
    data.sort()
    for q in (50, 90, 99):
        exact = data[int(q / 100 * len(data)) - 1]
        assert h.percentile(q) == pytest.approx(exact, abs=2 * BUCKET_S)
    assert LatencyHistogram().percentile(50) is None
    h2 = LatencyHistogram()
    h2.add(3600.0)  # an hour: lands in the overflow bucket, not an IndexError
    assert h2.percentile(99) is not None and h2.percentile(99) >= 60  # type: ignore[operator]


def test_report_rates() -> None:
    r = LoadReport(topic="t", target_rate=2000, duration_s=10, sent=20000, acked=19500, errors=0,
                   bytes_acked=97_500_000, p50_ms=None, p99_ms=None)
    assert r.msgs_per_s == 1950
    assert r.mb_per_s == pytest.approx(9.75)
    assert r.sustained_msgs_per_s == 1950  # no latency known: the whole run
    assert r.target_fraction == pytest.approx(0.975)
    doc = r.to_json()
    assert doc["verify"] is None and doc["msgs_per_s"] == 1950
    assert LoadReport(topic="t", target_rate=0, duration_s=1, sent=1, acked=1, errors=0, bytes_acked=1,
                      p50_ms=None, p99_ms=None).target_fraction is None


def test_sustained_rate_excludes_the_base_latency_but_not_queueing() -> None:
    # 20,000 records sent over 10 s; with a steady 400 ms latency the run ends at 10.4 s
    r = LoadReport(topic="t", target_rate=2000, duration_s=10.4, sent=20000, acked=20000, errors=0,
                   bytes_acked=100_000_000, p50_ms=400, p99_ms=600, p1_ms=400)
    assert r.msgs_per_s == pytest.approx(1923.1, abs=0.1)
    assert r.sustained_msgs_per_s == pytest.approx(2000)
    assert r.target_fraction == pytest.approx(1.0)
    # a cluster absorbing only 1,800/s: a 2,000-record backlog drains 1.11 s after sending stops; the
    # median latency (0.56 s) is queueing and must not be forgiven — only the 5 ms base is
    late = LoadReport(topic="t", target_rate=2000, duration_s=11.116, sent=20000, acked=20000, errors=0,
                      bytes_acked=100_000_000, p50_ms=560, p99_ms=1100, p1_ms=5)
    assert late.target_fraction == pytest.approx(0.9, abs=0.002)
    assert late.to_json()["sustained_msgs_per_s"] == pytest.approx(1800, abs=1)
    # a latency longer than the run cannot make the rate infinite
    odd = LoadReport(topic="t", target_rate=10, duration_s=1, sent=10, acked=10, errors=0, bytes_acked=10,
                     p50_ms=2000, p99_ms=2000, p1_ms=2000)
    assert odd.sustained_msgs_per_s == odd.msgs_per_s
