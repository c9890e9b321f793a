"""decide(): the rules a person can read back from the reason, one behaviour per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from brokerscale.scale.decide import Facts, LoadHistory, broker_step, decide
from brokerscale.scale.policy import Policy

# A Wednesday in October, 03:00 UTC = 23:00 the evening before in New York (outside clinic hours).
NIGHT = datetime(2026, 10, 7, 3, 0, tzinfo=UTC)


def history(demands: list[float], end: datetime = NIGHT, step_s: float = 60.0, dim: str = "throughput",
            partitions: float = 0.1) -> LoadHistory:
    h = LoadHistory()
    n = len(demands)
    for i, d in enumerate(demands):
        h.append(end.timestamp() - (n - 1 - i) * step_s, d, dim, partitions)
    return h


def policy(**kw: Any) -> Policy:
    return Policy.model_validate(kw)


def test_scales_up_past_the_threshold_and_names_the_dimension() -> None:
    d = decide(Facts(units=4), history([3.4] * 5, dim="connections"), policy(), NIGHT.timestamp())  # 85 % > 80 %
    assert d.action == "up" and d.target == 5  # 3.4 / 5 = 68 % <= 80 %
    assert "connections at 85% > 80%" in d.reason and d.dimension == "connections"


def test_scale_up_sizes_cku_for_the_target_in_one_step() -> None:
    d = decide(Facts(units=2), history([3.0] * 3), policy(target_utilization=60), NIGHT.timestamp())
    assert d.action == "up" and d.target == 5  # 3.0 / 0.6


def test_brokers_grow_by_the_size_classes() -> None:
    assert [broker_step(n) for n in (3, 5, 6, 12, 13, 40)] == [2, 2, 3, 3, 5, 5]
    p = policy(unit="broker", min_units=3, max_units=30)
    assert decide(Facts(units=7), history([6.5]), p, NIGHT.timestamp()).target == 10
    assert decide(Facts(units=13), history([12.0]), p, NIGHT.timestamp()).target == 18


def test_holds_within_thresholds_and_at_the_cap() -> None:
    assert decide(Facts(units=4), history([2.0]), policy(), NIGHT.timestamp()).action is None  # 50 %
    d = decide(Facts(units=8), history([7.9]), policy(), NIGHT.timestamp())
    assert d.action is None


def test_never_acts_during_a_reassignment_or_with_under_replicated_partitions() -> None:
    hot = history([3.9])
    d = decide(Facts(units=4, reassignment_running=True), hot, policy(), NIGHT.timestamp())
    assert d.action is None and "reassignment" in d.reason
    d = decide(Facts(units=4, under_replicated=3), hot, policy(), NIGHT.timestamp())
    assert d.action is None and "3 under-replicated" in d.reason
    d = decide(Facts(units=4, pending_units=5), hot, policy(), NIGHT.timestamp())
    assert d.action is None and "waiting" in d.reason


def test_cooldowns_run_from_the_last_change() -> None:
    hot = history([3.9])
    recent = NIGHT.timestamp() - 100
    d = decide(Facts(units=4, last_up_at=recent), hot, policy(), NIGHT.timestamp())
    assert d.action is None and "cooldown (200s left)" in d.reason
    assert decide(Facts(units=4, last_up_at=recent - 200), hot, policy(), NIGHT.timestamp()).action == "up"
    cold = history([0.5] * 3)
    d = decide(Facts(units=4, last_up_at=NIGHT.timestamp() - 300), cold, policy(), NIGHT.timestamp())
    assert d.action is None and "scale-down cooldown" in d.reason


def test_a_rise_that_goes_on_waives_the_scale_up_cooldown_nothing_else_does() -> None:
    """A long first-day ramp (no forecast yet) is climbed one unit at a time, and each step waited out the
    5-minute cooldown after the one before landed: the ramp outran them (clinic weeks at 1.5x, 4-22 critical
    minutes). While the trend still projects past the threshold on the units just landed and the last
    5 minutes still rose, the next step goes at once; a rise that stopped, or a load that is only high
    (threshold trigger), keeps the cooldown."""
    now = NIGHT.timestamp()
    landed = Facts(units=5, last_up_at=now - 100)
    p = policy(trend={"window": "30m", "waive_cooldown": "5m"})
    ramp = history([3.0 + 0.02 * k for k in range(31)])  # 72 % of 5 units, +0.6 units' worth in 30 min
    d = decide(landed, ramp, p, now)
    assert d.action == "up" and d.target == 6 and d.trigger == "trend", d.reason
    assert "84.0% > 80%" in d.reason and "still rising: scale-up cooldown waived" in d.reason
    # without the field, the cooldown holds it, as before
    d = decide(landed, ramp, policy(trend={"window": "30m"}), now)
    assert d.action is None and "scale-up cooldown (200s left)" in d.reason
    # the half hour still projects 95 %, but the last 5 minutes fell: the rise is not confirmed
    turned = history([2.0 + 0.06 * k for k in range(26)] + [3.5 - 0.03 * k for k in range(1, 6)])
    d = decide(landed, turned, p, now)
    assert d.action is None and "scale-up cooldown (200s left)" in d.reason
    assert decide(Facts(units=5, last_up_at=now - 400), turned, p, now).trigger == "trend"  # after it: acts
    # a level load over the threshold is no rise either
    d = decide(landed, history([4.3] * 31), p, now)
    assert d.action is None and "cooldown" in d.reason
    # once past the cooldown the reason does not mention a waiver
    assert "waived" not in decide(Facts(units=5, last_up_at=now - 400), ramp, p, now).reason


def test_scales_down_one_unit_only_when_the_shrink_guard_allows() -> None:
    d = decide(Facts(units=4), history([1.0] * 3), policy(), NIGHT.timestamp())  # 25 % < 30 %, 33 % after
    assert d.action == "down" and d.target == 3 and "33% after removing one cku" in d.reason
    # 29 % of 10 units: below 30 %, but 2.9 / 9... fine; at 3 units 0.85 is 28 % and 42 % after.
    p = policy(scale_down_utilization=60, shrink_guard_utilization=70)
    d = decide(Facts(units=3), history([1.5] * 3), p, NIGHT.timestamp())  # 50 % now, 75 % after
    assert d.action is None and "75% after shrinking > 70% shrink guard" in d.reason


def test_never_shrinks_when_partitions_would_not_fit() -> None:
    d = decide(Facts(units=4), history([1.0] * 3, partitions=3.2), policy(), NIGHT.timestamp())
    assert d.action is None and "partitions would exceed" in d.reason


def test_never_scales_down_into_a_rise_or_a_forecast_rise() -> None:
    p = policy(trend={"window": "30m"})
    rising = history([0.80, 0.85, 0.90, 0.95, 1.00, 1.05])  # 26 % of 4 units, +0.05 units a minute
    d = decide(Facts(units=4), rising, p, NIGHT.timestamp())  # 30 min on: 2.55 units, 85 % of 3
    assert d.action is None and "rising, 85% after shrinking when it lands > 70%" in d.reason


def test_a_creep_that_stays_inside_the_shrink_guard_when_the_shrink_lands_does_not_block_it() -> None:
    """Any upward slope used to hold a shrink, so noise or a slow creep after a peak kept a surplus unit
    (flu season: ~50 unit-hours of the excess over the oracle). What matters is the smaller size when the
    shrink lands, one provisioning delay on."""
    p = policy(trend={"window": "30m"})
    creep = history([0.80, 0.81, 0.82, 0.83, 0.84, 0.85])  # 21 % of 4 units, +0.01 units a minute
    d = decide(Facts(units=4), creep, p, NIGHT.timestamp())  # 30 min on: 1.15 units, 38 % of 3
    assert d.action == "down" and d.target == 3, d.reason
    # 60 % of 3 now passes the shrink guard, but at +0.02 units a minute it is 2.4 units, 80 % of 3, when it lands
    climb = history([1.70, 1.72, 1.74, 1.76, 1.78, 1.80])
    d = decide(Facts(units=4), climb, policy(trend={"window": "30m"}, scale_down_utilization=60), NIGHT.timestamp())
    assert d.action is None and "rising, 80% after shrinking when it lands > 70%" in d.reason
    d = decide(Facts(units=4, forecast_demand=2.5), history([0.8] * 3), policy(), NIGHT.timestamp())
    assert d.action is None and "projected rise" in d.reason


def test_trend_scales_up_before_the_threshold_is_crossed() -> None:
    ramp = history([2.0, 2.2, 2.4, 2.6, 2.8, 3.0])  # 75 % of 4 units now, +0.2 units a minute
    assert decide(Facts(units=4), ramp, policy(), NIGHT.timestamp()).action is None  # reactive: under 80 %
    d = decide(Facts(units=4), ramp, policy(trend={"window": "10m"}), NIGHT.timestamp())
    assert d.action == "up" and d.trigger == "trend" and "rising, projected" in d.reason
    assert d.target >= 8  # sized for the load when the capacity lands, 30 minutes on


def test_peak_hours_minimum_is_provisioned_ahead_and_blocks_shrinking() -> None:
    p = policy(timezone="America/New_York",
               peak_hours={"days": ["mon", "tue", "wed", "thu", "fri"], "start": "07:00", "end": "19:00",
                           "min_units": 4, "scale_down": False})
    early = datetime(2026, 10, 7, 10, 45, tzinfo=UTC)  # 06:45 local: 07:00 is within the 30 min delay
    d = decide(Facts(units=2), history([1.0], end=early), p, early.timestamp())
    assert d.action == "up" and d.target == 4 and "ahead" in d.reason
    too_early = early - timedelta(hours=1)
    assert decide(Facts(units=2), history([1.0], end=too_early), p, too_early.timestamp()).action is None
    noon = datetime(2026, 10, 7, 16, 0, tzinfo=UTC)
    d = decide(Facts(units=6), history([1.0] * 3, end=noon), p, noon.timestamp())
    assert d.action is None and "peak hours" in d.reason
    saturday = datetime(2026, 10, 10, 16, 0, tzinfo=UTC)
    assert decide(Facts(units=6), history([1.0] * 3, end=saturday), p, saturday.timestamp()).action == "down"


def test_season_raises_the_minimum() -> None:
    p = policy(seasons=[{"name": "flu season", "start": "12-01", "end": "03-15", "min_units": 3}])
    jan = datetime(2027, 1, 15, 3, 0, tzinfo=UTC)
    d = decide(Facts(units=2), history([0.5], end=jan), p, jan.timestamp())
    assert d.action == "up" and d.target == 3 and "flu season" in d.reason
    assert decide(Facts(units=2), history([0.5]), p, NIGHT.timestamp()).action is None  # October


def test_scale_downs_wait_for_a_maintenance_window_and_the_trough() -> None:
    p = policy(maintenance_windows=[{"days": ["sat", "sun"], "start": "01:00", "end": "05:00"}])
    d = decide(Facts(units=4), history([1.0] * 3), p, NIGHT.timestamp())
    assert d.action is None and "maintenance window" in d.reason
    sunday = datetime(2026, 10, 11, 2, 0, tzinfo=UTC)
    assert decide(Facts(units=4), history([1.0] * 3, end=sunday), p, sunday.timestamp()).action == "down"
    # The hot path is not gated: scale-ups happen any time.
    assert decide(Facts(units=4), history([3.9]), p, NIGHT.timestamp()).action == "up"
    trough = policy(wait_for_trough="2h")
    falling_then_up = history([0.9, 0.8, 0.6, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8])
    d = decide(Facts(units=4), falling_then_up, trough, NIGHT.timestamp())
    assert d.action is None and "trough" in d.reason


def test_budget_cap_shrinks_and_bounds_scale_up() -> None:
    p = policy(max_units=8, budget={"monthly": 7300, "unit_price_per_hour": 2.0})  # buys 5
    d = decide(Facts(units=6), history([1.0]), p, NIGHT.timestamp())
    assert d.action == "down" and "cost cap of 5" in d.reason
    assert decide(Facts(units=4), history([4.5]), p, NIGHT.timestamp()).target == 5


def test_while_today_runs_like_the_calendar_the_forecast_not_the_trend_projects_the_load() -> None:
    """A morning ramp that levels off: the trend's straight line overshoots where the forecast (the same
    hours last period) knows the ramp stops. Outside the tolerance - a surge, a hotter day - the trend counts."""
    ramp = history([2.0, 2.2, 2.4, 2.6, 2.8, 3.0])  # 75 % of 4 units, +0.2 units a minute
    p = policy(trend={"window": "10m", "calendar_tolerance": 0.1})
    levels_off = Facts(units=4, forecast_demand=3.1, forecast_level=1.02)  # 78 % when new capacity lands
    d = decide(levels_off, ramp, p, NIGHT.timestamp())
    assert d.action is None and d.projected_utilization == pytest.approx(77.5)
    hotter_day = Facts(units=4, forecast_demand=3.1, forecast_level=1.3)
    d = decide(hotter_day, ramp, p, NIGHT.timestamp())
    assert d.action == "up" and d.trigger == "trend"
    above_forecast = Facts(units=4, forecast_demand=2.6, forecast_level=1.0)  # the load already beat it by 15 %
    assert decide(above_forecast, ramp, p, NIGHT.timestamp()).trigger == "trend"
    no_forecast = Facts(units=4)
    assert decide(no_forecast, ramp, p, NIGHT.timestamp()).trigger == "trend"
    # Without a tolerance (the policy's choice) the trend always counts, as before.
    assert decide(levels_off, ramp, policy(trend={"window": "10m"}), NIGHT.timestamp()).trigger == "trend"


def test_a_level_load_scales_up_at_the_plateau_threshold_a_rising_one_at_the_policys() -> None:
    """The plateau rule: a load that is not rising needs only its noise margin below the critical line."""
    p = policy(plateau={"window": "5m", "tolerance": 0.15, "extra_points": 2})
    level = history([4.0, 4.1, 4.05, 4.0, 4.05])  # 81 % of 5 units, flat
    d = decide(Facts(units=5), level, p, NIGHT.timestamp())
    assert d.action is None and d.utilization == pytest.approx(81.0)
    assert decide(Facts(units=5), level, policy(), NIGHT.timestamp()).action == "up"  # without the rule: 81 > 80
    d = decide(Facts(units=5), history([4.1, 4.15, 4.2, 4.15, 4.2]), p, NIGHT.timestamp())  # 84 % > 82 %
    assert d.action == "up" and d.target == 6 and "84% > 82% (level load)" in d.reason
    # A forecast rise beyond the tolerance (4.7 is 17 % above the mean 4.04) is judged at 80 %, as before.
    d = decide(Facts(units=5, forecast_demand=4.7, forecast_level=1.0), level, p, NIGHT.timestamp())
    assert d.action == "up" and d.trigger == "forecast" and "> 80%" in d.reason and "level" not in d.reason
    # A forecast just above the recent load (4.15, 83 %: within 15 %) is a level load: 83 % > 82 % acts.
    d = decide(Facts(units=5, forecast_demand=4.15, forecast_level=1.0), level, p, NIGHT.timestamp())
    assert d.action == "up" and d.trigger == "forecast" and "83.0% > 82% (level load)" in d.reason
    # The mean covers only the window: an old low load does not make today's plateau look like a rise.
    old_then_level = history([1.0] * 20 + [4.0, 4.1, 4.05, 4.0, 4.05])
    assert decide(Facts(units=5), old_then_level, p, NIGHT.timestamp()).action is None
    # A history that ended before the window (a stale round) still has its last point to compare with.
    stale = history([4.0, 4.05], end=NIGHT - timedelta(minutes=20))
    assert decide(Facts(units=5), stale, p, NIGHT.timestamp()).action is None


def test_a_surge_is_projected_along_its_own_rise_not_the_half_hour_line() -> None:
    """A x4 mass-casualty surge at night (15 % of the night load more every minute): the 30-minute trend
    averages its first minutes with the quiet before it (projected 59 %: no action, or later a step to 3
    CKUs that lands too small). Two samples rising that fast are a surge: size for where it goes."""
    from brokerscale.scale.policy import load_policy

    p = load_policy(name="default")
    now = NIGHT.timestamp()
    surge = history([0.9] * 120 + [1.035, 1.17])
    d = decide(Facts(units=2), surge, p, now)
    assert d.action == "up" and d.trigger == "surge" and d.target >= 5, d.reason
    assert "surging" in d.reason
    # one jump that stops is a step, not a surge; a daily ramp (1 % a minute) is not one either
    for demands in ([0.9] * 120 + [1.2, 1.2], [0.9 * 1.01 ** k for k in range(60)]):
        assert decide(Facts(units=2), history(demands), p, now).trigger != "surge"


def test_a_dip_inside_clinic_hours_is_not_shrunk_into_before_a_forecast_knows_it_ends() -> None:
    """The lunch dip on a first day: the load fell 19 % from the last hour's level; one CKU fewer passes the
    70 % shrink guard, but when the afternoon comes back the smaller size would be at 86 % (critical), and
    its correction lands an hour after the shrink was asked for. With a forecast, or when clinic hours end
    before a correction could land (the evening decline), the shrink goes ahead."""
    from brokerscale.scale.policy import load_policy

    p = load_policy(name="default")
    lunch = datetime(2026, 10, 7, 16, 45, tzinfo=UTC)  # Wednesday 12:45 in New York
    dip = [3.45] * 15 + [3.45 - 0.65 * k / 44 for k in range(45)]  # 3.45 -> 2.8 CKUs' worth
    d = decide(Facts(units=5), history(dip, end=lunch), p, lunch.timestamp())
    assert d.action is None and "a dip in peak hours comes back" in d.reason and "86% after shrinking" in d.reason
    forecast = Facts(units=5, forecast_demand=2.8, forecast_level=1.0)
    assert decide(forecast, history(dip, end=lunch), p, lunch.timestamp()).action == "down"
    evening = datetime(2026, 10, 7, 22, 20, tzinfo=UTC)  # 18:20: a correction would land after 19:00
    assert decide(Facts(units=5), history(dip, end=evening), p, evening.timestamp()).action == "down"
