"""The load forecaster the autoscaler's decide() is fed: the same hours one period earlier, at today's level."""

from __future__ import annotations

import math

import numpy as np
import pytest

from brokerscale.forecast.load import level_ratio_at, level_ratio_series, peak_at, peak_series

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


def test_level_ratio_says_how_today_compares_and_matches_the_series() -> None:
    ts, demand = _clinic_days(3, level=[1.0, 1.0, 1.3])
    same = DAY + 10 * 3600  # day two runs like day one
    hot = 2 * DAY + 10 * 3600  # day three runs 30 % hotter than day two
    assert level_ratio_at(ts, demand, int(same // STEP) + 1, same, period=DAY, level_window=3600) == pytest.approx(1.0)
    assert level_ratio_at(ts, demand, int(hot // STEP) + 1, hot, period=DAY, level_window=3600) == pytest.approx(1.3)
    assert level_ratio_at(ts, demand, 10, 9 * STEP, period=DAY, level_window=3600) is None  # no day behind yet
    rng = np.random.default_rng(3)
    noisy = np.array(demand) * rng.uniform(0.8, 1.2, len(demand))
    series = level_ratio_series(noisy, STEP, period=DAY, level_window=3600)
    for i in range(0, len(ts), 17):
        one = level_ratio_at(ts, noisy.tolist(), i + 1, ts[i], period=DAY, level_window=3600)
        assert (one is None) == math.isnan(series[i]), i
        if one is not None:
            assert one == pytest.approx(series[i], rel=1e-12), i


def test_the_controller_prefers_last_weeks_same_hours_once_it_has_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A Monday after a quiet weekend: yesterday (Sunday) says the morning stays quiet, last Monday says it
    does not. With `prefer_period: 7d` and eight days recorded, the controller forecasts from last Monday."""
    from types import SimpleNamespace

    from brokerscale.scale.controller import Controller
    from brokerscale.scale.demand import resolve_capacity
    from brokerscale.scale.policy import parse_policy
    from brokerscale.store import open_store

    level = [1.0, 1.0, 1.0, 1.0, 1.0, 0.25, 0.25, 1.0, 1.0]  # Mon..Fri, a quiet weekend, Monday again
    ts, demand = _clinic_days(9, level=level)
    now = 7 * DAY + 6.5 * 3600  # 06:30 on the second Monday, night load as on every day
    keep = [i for i, t in enumerate(ts) if t <= now]
    forecasts = {}
    for prefer in (None, "7d"):
        pol = parse_policy({"unit": "broker", "min_units": 3, "max_units": 9,
                            "forecast": {"period": "24h", "prefer_period": prefer, "horizon": "1h",
                                         "level_window": "1h"}}, "test")
        store = open_store(f"sqlite:///{tmp_path / f's{prefer}.db'}")
        try:
            ctl = Controller(SimpleNamespace(target="selfmanaged:test"), pol, resolve_capacity(None, "broker"),  # type: ignore[arg-type]
                             store)
            ctl.seed([ts[i] for i in keep], [demand[i] for i in keep], ["throughput"] * len(keep), [0.0] * len(keep))
            forecasts[prefer] = (ctl.forecast(now), ctl.forecast_level(now))
        finally:
            store.close()
    # Sunday's night ran at a quarter of Monday's: the level correction scales Sunday's quiet morning up
    # by 4 - a guess; last Monday's same hours at an equal level are the real thing.
    assert forecasts["7d"] == (pytest.approx(4.0), pytest.approx(1.0))
    assert forecasts[None][1] == pytest.approx(4.0)


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


def test_hours_that_ran_much_hotter_than_today_are_not_copied(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`min_level`: last Monday a mass-casualty event peaked at 10:30 (8 from 09:00, 12 from 10:00 to noon).
    At 10:00 this Monday, running like any day, copying last Monday would expect 12 x 4/8 = 6 units' worth;
    with min_level 0.8 the controller forecasts from yesterday instead, and when yesterday ran like last
    Monday too there is no forecast. The simulator's series says the same."""
    from types import SimpleNamespace

    from brokerscale.scale.controller import Controller
    from brokerscale.scale.demand import resolve_capacity
    from brokerscale.scale.policy import parse_policy
    from brokerscale.scale.simulate import policy_forecast
    from brokerscale.store import open_store

    def days(incident_on: set[int]) -> tuple[list[float], list[float]]:
        ts, demand = _clinic_days(8)
        for i, t in enumerate(ts):
            hour = (t % DAY) / 3600
            if int(t // DAY) in incident_on and 9 <= hour < 12:
                demand[i] = 8.0 if hour <= 10 else 12.0
        return ts, demand

    now = 7 * DAY + 10 * 3600
    got = {}
    for case, incident_on in (("last week", {0}), ("twice", {0, 6})):
        ts, demand = days(incident_on)
        keep = [i for i, t in enumerate(ts) if t <= now]
        for min_level in (None, 0.8):
            pol = parse_policy({"unit": "broker", "min_units": 3, "max_units": 9,
                                "forecast": {"period": "24h", "prefer_period": "7d", "horizon": "1h",
                                             "level_window": "1h", "min_level": min_level}}, "test")
            store = open_store(f"sqlite:///{tmp_path / f'{case}{min_level}.db'}")
            try:
                ctl = Controller(SimpleNamespace(target="selfmanaged:test"), pol,  # type: ignore[arg-type]
                                 resolve_capacity(None, "broker"), store)
                ctl.seed([ts[i] for i in keep], [demand[i] for i in keep], ["throughput"] * len(keep),
                         [0.0] * len(keep))
                got[case, min_level] = (ctl.forecast(now), ctl.forecast_level(now))
                fc, lv = policy_forecast(pol, np.array(demand), STEP)
                i = keep[-1]
                assert (got[case, min_level][0] is None) == math.isnan(fc[i])
                if got[case, min_level][0] is not None:
                    assert got[case, min_level] == (pytest.approx(fc[i], rel=1e-12), pytest.approx(lv[i], rel=1e-12))
            finally:
                store.close()
    assert got["last week", None] == (pytest.approx(6.0), pytest.approx(0.5))
    assert got["last week", 0.8] == (pytest.approx(4.0), pytest.approx(1.0))  # yesterday's same hours
    assert got["twice", 0.8] == (None, None)


def test_hours_in_which_a_surge_was_under_way_are_not_copied(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`skip_surges`: yesterday at 16:00 a mass-casualty event took the load from 4 to 12 units' worth in 20
    minutes (10 % a minute). Today runs like yesterday until then. Copying yesterday, the controller would
    expect the surge again from 15:30 on (the window half an hour to 45 minutes ahead reaches it) and buy
    capacity for it; with skip_surges it has no forecast from the hour before yesterday's onset until an hour
    after its rise ended, when `min_level` takes over (yesterday's last hour ran far hotter than today's).
    The morning, far from the surge, is copied either way, and the simulator's series says the same at every
    moment asked."""
    from types import SimpleNamespace

    from brokerscale.forecast.load import rose_steadily, surge_rows, surged_between
    from brokerscale.scale.controller import Controller
    from brokerscale.scale.demand import resolve_capacity
    from brokerscale.scale.policy import parse_policy
    from brokerscale.scale.simulate import policy_forecast
    from brokerscale.store import open_store

    step = 60.0
    ts = [i * step for i in range(int(2 * DAY // step))]
    demand = []
    for t in ts:
        hour = (t % DAY) / 3600
        base = 4.0 if 7 <= hour < 19 else 1.0
        m = (t - 16 * 3600) / 60  # minutes since yesterday's onset
        demand.append(base * (1 + 0.1 * m) if t < DAY and 0 <= m < 20 else
                      max(base, 12.0 * 0.5 ** ((m - 20) / 90)) if t < DAY and m >= 20 else base)
    arr = np.array(demand)
    fired = surge_rows(np.array(ts), arr, window=120.0, rate=0.06)
    assert fired.any() and not fired[int(DAY // step):].any()  # the rule holds during yesterday's rise only
    for j in range(len(ts)):  # the series is the point rule at every row
        first = int(np.searchsorted(ts, ts[j] - 120.0))
        assert fired[j] == rose_steadily(ts, demand, first, j + 1, 0.06), j
    assert surged_between(ts, demand, len(ts), 15.5 * 3600, 16.5 * 3600, window=120.0, rate=0.06)
    assert not surged_between(ts, demand, len(ts), 10 * 3600, 15.9 * 3600, window=120.0, rate=0.06)

    got = {}
    for skip in (False, True):
        pol = parse_policy({"unit": "broker", "min_units": 1, "max_units": 20,
                            "provisioning_delay": {"up": "30m", "down": "30m"},
                            "trend": {"surge": {"window": "2m", "rate": 0.06}},
                            "forecast": {"period": "24h", "horizon": "15m", "level_window": "1h",
                                         "min_level": 0.8, "skip_surges": skip}}, "test")
        fc, _ = policy_forecast(pol, arr, step)
        store = open_store(f"sqlite:///{tmp_path / f'{skip}.db'}")
        try:
            for hhmm in (10.0, 14.5, 15.0, 15.5, 15.75, 16.0, 16.5, 17.0, 17.4, 18.0):
                now = DAY + hhmm * 3600
                keep = [i for i, t in enumerate(ts) if t <= now]
                ctl = Controller(SimpleNamespace(target="selfmanaged:test"), pol,  # type: ignore[arg-type]
                                 resolve_capacity(None, "broker"), store)
                ctl.seed([ts[i] for i in keep], [demand[i] for i in keep], ["throughput"] * len(keep),
                         [0.0] * len(keep))
                got[skip, hhmm] = ctl.forecast(now)
                i = keep[-1]
                assert (got[skip, hhmm] is None) == math.isnan(fc[i]), (skip, hhmm)
                if got[skip, hhmm] is not None:
                    assert got[skip, hhmm] == pytest.approx(fc[i], rel=1e-12)
        finally:
            store.close()
    assert got[False, 10.0] == got[True, 10.0] == pytest.approx(4.0)
    # 15:00: the copied window (15:30-15:45 yesterday) ends before the onset
    assert got[False, 15.0] == got[True, 15.0] == pytest.approx(4.0)
    assert got[False, 15.75] > 6.0 and got[False, 16.0] > 10.0  # yesterday's surge, expected again
    for hhmm in (15.5, 15.75, 16.0, 16.5, 17.0):  # the rise within the level window before, or the window ahead
        assert got[True, hhmm] is None, hhmm
    for hhmm in (17.4, 18.0):  # past the rise, min_level: yesterday's last hour ran 2x hotter or more
        assert got[True, hhmm] is None and got[False, hhmm] is None, hhmm
