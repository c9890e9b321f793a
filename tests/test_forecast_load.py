"""The load forecaster the autoscaler's decide() is fed: the same hours one period earlier, at today's level."""

from __future__ import annotations

import math

import numpy as np
import pytest

from brokerscale.forecast.load import peak_at, peak_series

DAY = 86400.0
STEP = 300.0  # five-minute steps


def _clinic_days(days: int, level: list[float] | None = None) -> tuple[list[float], list[float]]:
    """1 unit's worth at night, 4 from 07:00 to 19:00, day after day (optionally scaled per day)."""
    ts, demand = [], []
    for i in range(int(days * DAY / STEP)):
        t = i * STEP
        hour = (t % DAY) / 3600
        k = level[int(t // DAY)] if level else 1.0
        ts.append(t)
        demand.append(k * (4.0 if 7 <= hour < 19 else 1.0))
    return ts, demand


def test_the_morning_rise_is_expected_before_it_happens() -> None:
    ts, demand = _clinic_days(3)
    now = DAY + 6.5 * 3600  # 06:30 on day two: still night load
    end = int(now // STEP) + 1
    assert demand[end - 1] == 1.0
    ahead = peak_at(ts, demand, end, now, period=DAY, ahead=1800, horizon=3600, level_window=3600)
    assert ahead == pytest.approx(4.0)  # yesterday 07:00-08:00 at today's (equal) level
    evening = DAY + 20 * 3600  # 20:00: the night ahead is quiet
    assert peak_at(ts, demand, int(evening // STEP) + 1, evening, period=DAY, ahead=1800, horizon=3600,
                   level_window=3600) == pytest.approx(1.0)


def test_a_hotter_day_scales_yesterdays_peak_by_todays_level() -> None:
    ts, demand = _clinic_days(3, level=[1.0, 1.5, 1.5])
    now = DAY + 6.5 * 3600
    fc = peak_at(ts, demand, int(now // STEP) + 1, now, period=DAY, ahead=1800, horizon=3600, level_window=3600)
    assert fc == pytest.approx(4.0 * 1.5)


def test_no_forecast_without_a_period_of_history() -> None:
    ts, demand = _clinic_days(2)
    now = 20 * 3600.0
    assert peak_at(ts, demand, int(now // STEP) + 1, now, period=DAY, ahead=1800, horizon=3600,
                   level_window=3600) is None
    series = peak_series(np.array(demand), STEP, period=DAY, ahead=1800, horizon=3600, level_window=3600)
    assert np.isnan(series[: int((DAY + 3600) // STEP)]).all()
    assert not np.isnan(series[int((DAY + 3600) // STEP):]).any()


def test_the_simulators_series_matches_the_controllers_point_forecast() -> None:
    rng = np.random.default_rng(7)
    demand = rng.random(2000) * 5
    ts = (1_700_000_000 + STEP * np.arange(2000)).tolist()
    kw = {"period": 600 * STEP, "ahead": 1750.0, "horizon": 3000.0, "level_window": 12 * STEP}
    series = peak_series(demand, STEP, **kw)
    for i in range(0, 2000, 13):
        one = peak_at(ts, demand.tolist(), i + 1, ts[i], **kw)
        assert (one is None) == math.isnan(series[i]), i
        if one is not None:
            assert one == pytest.approx(series[i], rel=1e-12), i


def test_the_controller_forecasts_from_the_history_it_was_seeded_with(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`scale run` seeds the controller from the store's recorded load; the forecast then feeds decide."""
    from types import SimpleNamespace

    from brokerscale.scale.controller import Controller
    from brokerscale.scale.demand import resolve_capacity
    from brokerscale.scale.policy import parse_policy
    from brokerscale.store import open_store

    pol = parse_policy({"unit": "broker", "min_units": 3, "max_units": 9,
                        "provisioning_delay": {"up": "30m", "down": "30m"},
                        "forecast": {"period": "24h", "horizon": "1h", "level_window": "1h"}}, "test")
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        ctl = Controller(SimpleNamespace(target="selfmanaged:test"), pol, resolve_capacity(None, "broker"),  # type: ignore[arg-type]
                         store)
        ts, demand = _clinic_days(2)
        now = DAY + 6.5 * 3600
        keep = [i for i, t in enumerate(ts) if t <= now]
        assert ctl.forecast(now) is None  # nothing seen yet
        assert ctl.seed([ts[i] for i in keep], [demand[i] for i in keep], ["throughput"] * len(keep),
                        [0.0] * len(keep)) == len(keep)
        assert ctl.forecast(now) == pytest.approx(4.0)
    finally:
        store.close()
