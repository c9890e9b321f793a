"""Scaling policy files: shipped policies load; bad ones are one line naming the file and field, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from brokerscale.errors import BadInput
from brokerscale.scale.policy import Policy, load_policy, parse_policy


def test_shipped_policies_carry_the_scaling_guides_fields() -> None:
    seed = load_policy(name="seed-reactive")
    assert (seed.min_units, seed.max_units, seed.scale_up_utilization, seed.scale_down_utilization) == (2, 8, 80, 30)
    assert (seed.scale_up_cooldown, seed.scale_down_cooldown) == (300, 600)
    assert seed.trend is None and seed.peak_hours is None and not seed.seasons
    default = load_policy(name="default")
    assert default.trend is not None and default.peak_hours is not None and default.seasons


def test_defaults_are_the_scaling_guides() -> None:
    p = Policy()
    assert (p.min_units, p.max_units, p.scale_up_utilization, p.scale_down_utilization,
            p.scale_up_cooldown, p.scale_down_cooldown) == (2, 8, 80, 30, 300, 600)
    assert p.delay("up") == 1800 and Policy(unit="broker").delay("down") == 2400


def test_budget_caps_max_units() -> None:
    p = parse_policy({"max_units": 8, "budget": {"monthly": 10000, "unit_price_per_hour": 2.5}}, "p.yaml")
    assert p.cap() == 5  # 10,000 / (2.5 x 730) = 5.48


@pytest.mark.parametrize(("body", "field", "why"), [
    ("min_units: 9\nmax_units: 4\n", "(top level)", "must not exceed max_units"),
    ("scale_up_utilization: 120\n", "scale_up_utilization", "less than or equal to 100"),
    ("scale_down_utilization: -5\n", "scale_down_utilization", "greater than or equal to 0"),
    ("scale_up_utilization: 60\nscale_down_utilization: 60\n", "(top level)", "must be below"),
    ("scale_up_treshold: 80\n", "scale_up_treshold", "unknown field"),
    ("timezone: Mars/Olympus\n", "timezone", "not an IANA time zone"),
    ("peak_hours: {start: '25:00', end: '19:00'}\n", "peak_hours.start", "not a time of day"),
    ("seasons: [{name: flu, start: 13-01, end: 03-15}]\n", "seasons[0].start", "not a date of the year"),
    ("budget: {monthly: 100, unit_price_per_hour: 2}\n", "(top level)", "below min_units"),
    ("plateau: {tolerance: 1.5}\n", "plateau.tolerance", "less than or equal to 1"),
    ("plateau: {extra_points: 0}\n", "plateau.extra_points", "greater than 0"),
    ("plateau: {window: 5m, margin: 2}\n", "plateau.margin", "unknown field"),
    ("trend: {surge: {rate: 0}}\n", "trend.surge.rate", "greater than 0"),
    ("dip_guard: {utilization: 120}\n", "dip_guard.utilization", "less than or equal to 100"),
    ("trend: {surge: {window: -2m}}\n", "trend.surge.window", ""),
    ("trend: {waive_cooldown: 0s}\n", "trend.waive_cooldown", "greater than 0"),
    ("forecast: {skip_surges: true}\n", "(top level)", "forecast.skip_surges needs trend.surge"),
])
def test_bad_policy_is_one_line_naming_file_and_field(tmp_path: Path, cli, body: str, field: str,  # type: ignore[no-untyped-def]
                                                      why: str) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text(body)
    with pytest.raises(BadInput) as exc:
        load_policy(f)
    assert str(exc.value).startswith(f"{f}: {field}: ")
    assert why in str(exc.value)
    code, out, err = cli("scale", "simulate", "--trace", "incident-surge", "--policy", f)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and str(f) in err and field in err


def test_unknown_shipped_policy_names_the_choices(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("scale", "simulate", "--trace", "incident-surge", "--policy-name", "aggressive")
    assert code == 2 and "seed-reactive" in err and "default" in err
