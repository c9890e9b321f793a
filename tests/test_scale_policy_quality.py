"""The default policy on load it was not tuned on: held-out traces from `scripts/make_traces.py --held-out`
(other seeds, dates, sizes, a holiday, a morning incident), replayed beside the scaling guide's policy
and the exact oracle. One policy for every trace; if a change to it only helps the shipped traces, this
is where it shows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from brokerscale.scale.demand import resolve_capacity, trigger_thresholds
from brokerscale.scale.policy import load_policy
from brokerscale.scale.simulate import SimResult, simulate
from brokerscale.scale.trace import TRACE_DIR, read_trace

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT = ("held-out-fortnight", "held-out-flu", "held-out-incident")
SHIPPED = ("clinic-week", "flu-season", "incident-surge")
# The target is 1.10 x the oracle. Measured, the default policy is at 1.088 on clinic-week and
# 1.10-1.17 elsewhere (the oracle rides plateaus between 80 and 85 % that an online policy needs as its
# noise margin, and shrinks where the 70 % shrink guard forbids it: 1.04-1.07 x of the oracle is the
# guard alone; `scripts/scale_excess.py` splits the excess by regime). `scripts/scale_mpc.py`: knowing
# the future, the shrink guard and the clinic-hours minimum alone cost 1.05-1.08 x, and the same with a
# 6 % margin for what the next minutes hold 1.08-1.15 x (flu-season 1.101); the seasonal forecast misses
# the peak that comes by more than 8 % one time in a hundred.
# By cause (`scripts/scale_excess.py --causes`), above the oracle held to the shrink guard (flu-season
# 7689.9 unit-hours = 1.064 x, incident-surge 178.7 = 1.060 x): flu-season 417 unit-hours, of which 157
# shrinks the guard holds after a scale-up that oracle never needed (135; 76 of them forecast-triggered),
# 143 scale-ups up to two provisioning delays ahead of it, 45 the forecast's and 41 the trend's "no
# scale-down into a rise", 31 scale-ups too big or early, cooldowns and minimums under 1; incident-surge
# 10.0 (since skip_surges: yesterday's surge is no longer copied): 4.5 ahead, 2.7 guard, 2.0 too big or
# early, 1.5 trend; its first day (no history for a forecast, and the surge) is 1.150 x the oracle's, its
# second 1.084 x. Each cut tried costs critical minutes: the forecast trigger 1 point higher
# (flu-season 0 -> 5), its horizon 10 min (0 -> 5), the forecast's shrink guard at 75 % (held-out flu
# 0 -> 10), the trend ignored on a level load (clinic-week 0 -> 10), a 10-15 min slope confirming the
# 30-min one on a first day (held-out flu 0 -> 60), a 5-10 min horizon to trigger with steps sized on
# 30-60 min (flu-season 0 -> 5-10, held-out flu 0 -> 30-40, the year benchmark 0 -> 4-81). With a
# perfect forecast flu-season is still 1.108 x.
# RATIO_BOUND catches a regression towards the scaling guide's policy (1.14-1.34 x); BOUNDS pin each
# trace a little above what the policy reaches now (1.0853, 1.122, 1.1194; held-out 1.1645, 1.101, 1.1425;
# the simulator is deterministic) and below what it reached before the plateau rule, the forecast's
# min_level and skip_surges, and the rise that holds a shrink only if it would pass the shrink guard when
# the shrink lands (clinic-week 1.116 then 1.0876, flu-season 1.128, incident-surge 1.145 then 1.133,
# held-out fortnight 1.167 then 1.1656, flu 1.109, incident 1.154 then 1.151), so giving back any of
# those gains fails here.
RATIO_BOUND = 1.20
BOUNDS = {"clinic-week": 1.087, "flu-season": 1.124, "incident-surge": 1.121, "held-out-fortnight": 1.165,
          "held-out-flu": 1.103, "held-out-incident": 1.144}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], SimResult]:
    out_dir = tmp_path_factory.mktemp("held-out")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_traces.py"), "--held-out", "--out", str(out_dir)],
                   check=True, capture_output=True)
    cap, thr = resolve_capacity(None, "cku"), trigger_thresholds()
    got: dict[tuple[str, str], SimResult] = {}
    for name in SHIPPED + HELD_OUT:
        trace = read_trace(out_dir / f"{name}.csv" if name in HELD_OUT else TRACE_DIR / f"{name}.csv")
        for pol in ("default", "seed-reactive"):
            got[name, pol] = simulate(trace, load_policy(name=pol), cap, thr, oracle=pol == "default")
    return got


def test_held_out_traces_are_not_the_shipped_ones(results: dict[tuple[str, str], SimResult]) -> None:
    shipped = {len(results[n, "default"].units) for n in SHIPPED}
    assert all(len(results[n, "default"].units) not in shipped for n in HELD_OUT)


@pytest.mark.parametrize("name", SHIPPED + HELD_OUT)
def test_default_generalises(results: dict[tuple[str, str], SimResult], name: str) -> None:
    ours, seed = results[name, "default"], results[name, "seed-reactive"]
    if ours.oracle_critical_steps == 0:
        assert ours.critical_steps == 0, f"{name}: {ours.critical_minutes} critical minutes the oracle avoids"
    else:  # a surge beyond max_units: even the oracle runs critical; ours stays near it and under the guide's
        assert ours.critical_steps <= 1.1 * ours.oracle_critical_steps
    assert seed.critical_steps > 0 and ours.critical_steps < seed.critical_steps
    assert ours.unit_hours < seed.unit_hours, f"{name}: {ours.unit_hours:.1f} vs the guide's {seed.unit_hours:.1f}"
    assert ours.unit_hours <= RATIO_BOUND * ours.oracle_unit_hours, name
    ratio = ours.unit_hours / ours.oracle_unit_hours
    assert ratio <= BOUNDS[name], f"{name}: {ratio:.4f} x the oracle, bound {BOUNDS[name]}"


def test_a_night_surge_costs_no_more_than_any_policy_that_learns_of_it_from_its_samples(tmp_path: Path) -> None:
    """A x4 mass-casualty surge in 20 minutes at 02:10, at the 2-CKU night minimum, on a trace's first night
    (no history, no forecast). New capacity takes 30 minutes, so some critical minutes are unavoidable for
    any policy that cannot see the future: the floor is the oracle's schedule from the first sample of the
    rise on. The default policy must reach it within the one sample it needs to tell a surge from a step
    (it had 2.5 times the floor: a first scale-up sized on the 30-minute trend, then the next an hour late)."""
    import numpy as np

    from brokerscale.scale.oracle import solve
    from brokerscale.scale.simulate import steps_for, trace_demand
    from brokerscale.scale.trace import write_trace

    zone = ZoneInfo("America/New_York")
    start, onset = datetime(2026, 3, 10, tzinfo=zone), datetime(2026, 3, 10, 2, 10, tzinfo=zone)
    rng = np.random.default_rng(5)
    times, ing, egr, conns, parts = [], [], [], [], []
    noise = 1.0
    for m in range(6 * 60):
        t = start + timedelta(minutes=m)
        k = (t - onset).total_seconds() / 60.0
        factor = 1.0 if k < 0 else 1.0 + 3.0 * k / 20.0 if k < 20 else 1.0 + 3.0 * 0.5 ** ((k - 20.0) / 90.0)
        noise = 0.8 * noise + 0.2 * float(rng.normal(1.0, 0.06))
        total = 45.0 * factor * noise  # MB/s in + out: ~0.9 CKU's worth at night
        times.append(t.astimezone(UTC))
        ing.append(total / 2.8)
        egr.append(total * 1.8 / 2.8)
        conns.append(900 + 14 * total)
        parts.append(1800.0)
    path = tmp_path / "night-surge.csv"
    write_trace(path, times, ing, egr, conns, parts)
    trace = read_trace(path)
    cap, thr = resolve_capacity(None, "cku"), trigger_thresholds()
    policy = load_policy(name="default")
    ours = simulate(trace, policy, cap, thr)
    assert ours.oracle_critical_steps == 0  # knowing the future, none
    first = trace.timestamps.index(onset.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")) + 1
    dem = trace_demand(trace, cap, thr)
    d_up, d_down = steps_for(policy.delay("up"), trace.step_s), steps_for(policy.delay("down"), trace.step_s)
    floor = solve(dem.k_crit[first:], policy.min_units, policy.cap(), int(ours.units[first]), d_up,
                  d_down).critical_steps
    assert floor > 15  # the surge does outrun the provisioning delay
    assert int((dem.k_crit[:first] > ours.units[:first]).sum()) == 0
    assert ours.critical_steps <= floor + 1, f"{ours.critical_steps} critical minutes, floor {floor}"
    assert [a.trigger for a in ours.actions][:1] == ["surge"]


def test_a_first_days_lunch_dip_is_not_shrunk_into(tmp_path: Path) -> None:
    """A clinic week at 0.9x the shipped one, another noise seed: on its first day (no forecast yet) the
    default policy shrank at the bottom of the lunch dip and ran critical for 28 minutes when the afternoon
    came back (the oracle has none)."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_traces.py"), "--out", str(tmp_path), "--variant",
                    "clinic-week", "--seed", "5", "--scale", "0.9", "--name", "week"], check=True, capture_output=True)
    ours = simulate(read_trace(tmp_path / "week.csv"), load_policy(name="default"), resolve_capacity(None, "cku"),
                    trigger_thresholds())
    assert ours.oracle_critical_steps == 0
    assert ours.critical_steps == 0, f"{ours.critical_minutes} critical minutes"
    assert ours.unit_hours <= 1.10 * ours.oracle_unit_hours


def test_a_first_days_long_ramp_is_climbed_without_waiting_out_each_cooldown(tmp_path: Path) -> None:
    """A clinic week at 1.5x the shipped one (noise seed 3): on its first day (no forecast yet) the morning
    ramp needs 3 -> 8 CKUs, climbed one unit at a time on the trend; each step also waited out the 5-minute
    cooldown after the one before landed, and the ramp outran them: 15 critical minutes around 08:25 local
    (the oracle has none). With the cooldown waived while the rise goes on, none between the clinic
    minimum landing (06:30) and noon."""
    import numpy as np

    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_traces.py"), "--out", str(tmp_path), "--variant",
                    "clinic-week", "--seed", "3", "--scale", "1.5", "--name", "week"], check=True, capture_output=True)
    trace = read_trace(tmp_path / "week.csv")
    cap, thr = resolve_capacity(None, "cku"), trigger_thresholds()
    ours = simulate(trace, load_policy(name="default"), cap, thr)
    assert ours.oracle_critical_steps == 0
    from brokerscale.scale.simulate import trace_demand

    zone = ZoneInfo("America/New_York")
    local = [datetime.fromtimestamp(float(t), UTC).astimezone(zone) for t in trace.epoch]
    first_day = local[0].date()
    morning = np.array([t.date() == first_day and 7 <= t.hour < 12 for t in local])
    crit = trace_demand(trace, cap, thr).k_crit > ours.units
    assert morning.sum() == 5 * 60
    assert int((crit & morning).sum()) == 0, f"{int((crit & morning).sum())} critical minutes on the first morning"
    assert any("cooldown waived" in a.reason for a in ours.actions)
    assert ours.unit_hours <= 1.20 * ours.oracle_unit_hours


def test_the_excess_by_cause_adds_up_to_the_policys_unit_hours_above_each_reference() -> None:
    """`scripts/scale_excess.py --causes` charges every step's units above (or below) the oracle to one rule
    of the policy: the charges must add up to the whole excess, against the oracle and against the oracle
    held to the shrink guard, and the replay behind them must be the simulator's (the script checks)."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "scale_excess.py"), "--causes", "--format", "json",
                          str(TRACE_DIR / "incident-surge.csv")], check=True, capture_output=True, text=True)
    (r,) = json.loads(out.stdout)
    assert r["trace"] == "incident-surge" and r["unit_hours"] > r["guarded_oracle_unit_hours"] > r["oracle_unit_hours"]
    for ref, floor in (("vs_oracle", "oracle_unit_hours"), ("vs_guarded_oracle", "guarded_oracle_unit_hours")):
        split = r["causes"][ref]
        assert sum(split.values()) == pytest.approx(r["unit_hours"] - r[floor], abs=0.1 * len(split)), ref
        assert "other" not in split, split  # every step above the reference is named by a rule of the policy
