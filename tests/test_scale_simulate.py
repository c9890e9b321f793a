"""`scale simulate`: the JSON shape, figures anyone can recompute from the trace, the shipped traces."""

from __future__ import annotations

import csv
import itertools
import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from brokerscale.scale.trace import TRACE_DIR

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("clinic-week", "flu-season", "incident-surge")


def run_json(cli, *args: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    code, out, err = cli("scale", "simulate", *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_json_is_exactly_the_documented_shape(cli) -> None:  # type: ignore[no-untyped-def]
    doc = run_json(cli, "--trace", "incident-surge")
    assert list(doc) == ["unit_hours", "critical_minutes", "warning_minutes", "actions", "oracle", "timeline"]
    assert list(doc["oracle"]) == ["unit_hours", "critical_minutes"]
    assert isinstance(doc["actions"], list) and doc["actions"]
    assert set(doc["timeline"][0]) == {"timestamp", "units", "utilization"}
    rows = list(csv.DictReader((TRACE_DIR / "incident-surge.csv").open()))
    assert [p["timestamp"] for p in doc["timeline"]] == [r["timestamp"] for r in rows]


def test_every_figure_recomputes_from_the_trace_and_the_timeline(cli) -> None:  # type: ignore[no-untyped-def]
    """Independently of brokerscale's code: the design-doc CKU (50 MB/s in + out, 4,000 connections,
    4,500 partitions) and the trigger table (85/85/90 critical, 70/70/80 warning)."""
    doc = run_json(cli, "--trace", "clinic-week", "--policy-name", "seed-reactive")
    rows = list(csv.DictReader((TRACE_DIR / "clinic-week.csv").open()))
    crit = warn = 0
    for row, point in zip(rows, doc["timeline"], strict=True):
        n = point["units"]
        pct = {"throughput": 100 * (float(row["ingress_mb_s"]) + float(row["egress_mb_s"])) / (50 * n),
               "connections": 100 * float(row["connections"]) / (4000 * n),
               "partitions": 100 * float(row["partitions"]) / (4500 * n)}
        assert point["utilization"] == pytest.approx(max(pct.values()), abs=0.006)
        if pct["throughput"] > 85 or pct["connections"] > 85 or pct["partitions"] > 90:
            crit += 1
        elif pct["throughput"] > 70 or pct["connections"] > 70 or pct["partitions"] > 80:
            warn += 1
    assert doc["critical_minutes"] == crit > 0  # one-minute steps
    assert doc["warning_minutes"] == warn
    assert doc["unit_hours"] == pytest.approx(sum(p["units"] for p in doc["timeline"]) / 60, abs=1e-3)
    # Units change only where an action took effect, by the action's amount.
    tl = doc["timeline"]
    changes = [(b["timestamp"], a["units"], b["units"]) for a, b in itertools.pairwise(tl)
               if a["units"] != b["units"]]
    landed = [(a["effective_at"], a["from"], a["to"]) for a in doc["actions"] if a["effective_at"]]
    assert changes == landed
    for a in doc["actions"]:  # seed-reactive: the scaling guide's 30-minute CKU delay, one at a time
        if a["effective_at"]:
            t0 = datetime.fromisoformat(a["timestamp"])
            assert datetime.fromisoformat(a["effective_at"]) - t0 == timedelta(minutes=30)
        if a["direction"] == "down":
            assert a["to"] == a["from"] - 1


@pytest.fixture(scope="module")
def shipped() -> dict[tuple[str, str], dict]:  # type: ignore[type-arg]
    """Both shipped policies on every shipped trace, through the CLI, once per module."""
    import contextlib
    import io

    from brokerscale.cli import main

    out = {}
    for name in SHIPPED:
        for pol in ("default", "seed-reactive"):
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
                main(["scale", "simulate", "--trace", name, "--policy-name", pol, "--format", "json"])
            out[name, pol] = json.loads(buf.getvalue())
    return out


def test_oracle_is_a_floor_no_policy_beats(shipped) -> None:  # type: ignore[no-untyped-def]
    for doc in shipped.values():
        o = doc["oracle"]
        assert (doc["critical_minutes"], doc["unit_hours"]) >= (o["critical_minutes"], o["unit_hours"] - 1e-6)


def test_default_beats_the_scaling_guides_policy_on_every_shipped_trace(shipped) -> None:  # type: ignore[no-untyped-def]
    for name in SHIPPED:
        ours, seed = shipped[name, "default"], shipped[name, "seed-reactive"]
        assert seed["critical_minutes"] > 0
        assert ours["critical_minutes"] < seed["critical_minutes"]
        assert ours["warning_minutes"] < seed["warning_minutes"]
        if ours["oracle"]["critical_minutes"] > 0:  # a surge beyond max_units: the oracle cannot avoid it
            assert ours["critical_minutes"] <= 1.1 * ours["oracle"]["critical_minutes"]
        else:  # the target: zero critical minutes wherever the oracle has zero (flu season too)
            assert ours["critical_minutes"] == 0, name
    week = shipped["clinic-week", "default"]
    assert week["critical_minutes"] == 0 == week["oracle"]["critical_minutes"]


def test_table_and_plot(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    png, svg = tmp_path / "surge.png", tmp_path / "surge.svg"
    code, out, err = cli("scale", "simulate", "--trace", "incident-surge", "--compare", "--plot", png)
    assert code == 0, err
    assert "default" in out and "seed-reactive" in out and "oracle + 70 % shrink guard" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    code, _, err = cli("scale", "simulate", "--trace", "incident-surge", "--plot", svg)
    assert code == 0 and svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()
    code, _, err = cli("scale", "simulate", "--trace", "incident-surge", "--plot", tmp_path / "x.gif")
    assert code == 2 and "--plot" in err and ".png or .svg" in err


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("timestamp,ingress_mb_s,egress_mb_s,connections,partitions\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(("rows", "needle"), [
    (["2026-01-01T00:00:00Z,1,1,1,1", "2026-01-01T00:01:00Z,1,x,1,1"], "line 3: egress_mb_s: 'x' is not a number"),
    (["2026-01-01T00:00:00Z,1,1,1,1", "2026-01-01T00:01:00Z,1,-1,1,1"], "line 3: egress_mb_s: must be a number >= 0"),
    (["2026-01-01T00:00:00+01:00,1,1,1,1", "2026-01-01T00:01:00+01:00,1,1,1,1"], "line 2: timestamp: "),
    (["2026-01-01T00:00:00Z,1,1,1,1", "2026-01-01T00:01:00Z,1,1,1,1", "2026-01-01T00:03:00Z,1,1,1,1"],
     "line 4: timestamp: rows must be one fixed step apart"),
    (["2026-01-01T00:00:00Z,1,1,1"], "line 2: expected 5 columns"),
])
def test_bad_trace_is_one_line_with_file_line_and_column(cli, tmp_path: Path, rows: list[str],  # type: ignore[no-untyped-def]
                                                         needle: str) -> None:
    f = _write(tmp_path / "t.csv", rows)
    code, out, err = cli("scale", "simulate", "--trace", f)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert str(f) in err and needle in err


def test_bad_header_and_missing_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "t.csv"
    f.write_text("time,in,out\n")
    code, _, err = cli("scale", "simulate", "--trace", f)
    assert code == 2 and "line 1: header must be timestamp,ingress_mb_s" in err
    code, _, err = cli("scale", "simulate", "--trace", tmp_path / "none.csv")
    assert code == 2 and "no such file" in err
    code, _, err = cli("scale", "simulate")
    assert code == 2 and "--trace or --trace-from-store" in err


def test_broker_unit_with_a_capacity_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cap = tmp_path / "cap.yaml"
    cap.write_text("broker: {throughput_mb_s: 40, connections: 5000, partition_replicas: 4000}\n")
    start = datetime(2026, 10, 7, 3, 0, tzinfo=UTC)
    rows = [f"{(start + timedelta(minutes=i)).strftime('%Y-%m-%dT%H:%M:%SZ')},{10 + i},{10 + i},100,300"
            for i in range(120)]
    f = _write(tmp_path / "ramp.csv", rows)
    pol = tmp_path / "brokers.yaml"
    pol.write_text("unit: broker\nmin_units: 3\nmax_units: 12\n")  # the scaling guide's thresholds
    doc = run_json(cli, "--trace", f, "--limits", cap, "--policy", pol)
    ups = [a for a in doc["actions"] if a["direction"] == "up"]
    assert ups and ups[0]["from"] == 3 and ups[0]["to"] == 5  # the 3-5 size class: +2
    # utilization of brokers = client bytes in + out over 40 MB/s each
    first = doc["timeline"][0]
    assert first["utilization"] == pytest.approx(100 * 20 / (40 * first["units"]), abs=0.01)


def test_trace_from_store_replays_recorded_history(cli) -> None:  # type: ignore[no-untyped-def]
    import time

    from brokerscale.store import Sample, open_store

    store = open_store()
    now = time.time()
    samples = []
    for i in range(180):  # three hours, one sample a minute, rising from 20 to 200 MB/s in + out
        ts = now - (180 - i) * 60
        mb = 10 + i
        samples += [Sample(ts, "recorded", "bytes_in_per_s", mb * 1e6, {}),
                    Sample(ts, "recorded", "bytes_out_per_s", mb * 1e6, {}),
                    Sample(ts, "recorded", "connections", 500.0, {}),
                    Sample(ts, "recorded", "partition_count", 900.0, {})]
    store.write_samples(samples)
    doc = run_json(cli, "--trace-from-store", "recorded", "--since", "1d", "--policy-name", "seed-reactive")
    assert 178 <= len(doc["timeline"]) <= 180
    assert doc["timeline"][0]["utilization"] == pytest.approx(100 * 20 / 100, abs=2)  # 2 CKUs of 50 MB/s
    assert any(a["direction"] == "up" for a in doc["actions"])
    code, _, err = cli("scale", "simulate", "--trace-from-store", "nobody")
    assert code == 2 and "no recorded load for cluster 'nobody'" in err


def test_shipped_traces_are_what_the_script_makes(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_traces.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    for name in SHIPPED:
        assert (tmp_path / f"{name}.csv").read_bytes() == (TRACE_DIR / f"{name}.csv").read_bytes(), name


def test_incident_surge_is_x4_in_20_minutes() -> None:
    rows = list(csv.DictReader((TRACE_DIR / "incident-surge.csv").open()))
    total = [float(r["ingress_mb_s"]) + float(r["egress_mb_s"]) for r in rows]
    onset = next(i for i, r in enumerate(rows) if r["timestamp"] == "2026-03-10T20:10:00Z")  # 16:10 EDT
    before, after = sum(total[onset - 5:onset]) / 5, sum(total[onset + 18:onset + 23]) / 5
    assert 3.3 < after / before < 4.7
    assert math.isclose(len(rows), 2 * 24 * 60)


@pytest.mark.parametrize(("rows", "needle"), [
    (["2026-02-28T23:59:00Z,1,1,1,1", "2026-02-30T00:00:00Z,1,1,1,1"], "line 3: timestamp: '2026-02-30T00:00:00Z'"),
    (["2026-01-01T00:00:00Z,1,1,1,1", "2026-01-01T00:01:00Z,1,1,1,1,7"], "line 3: expected 5 columns, got 6"),
    (["2026-01-01T00:00:00Z,1,1,1,1", "2026-01-01T24:01:00Z,1,1,1,1"], "line 3: timestamp:"),
])
def test_the_fast_reader_sends_odd_files_to_the_one_that_names_the_line(cli, tmp_path: Path, rows: list[str],  # type: ignore[no-untyped-def]
                                                                         needle: str) -> None:
    f = _write(tmp_path / "t.csv", rows)
    code, _, err = cli("scale", "simulate", "--trace", f)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_every_iso_form_reads_the_same_as_the_canonical_one(tmp_path: Path) -> None:
    from brokerscale.scale.trace import read_trace

    start = datetime(2028, 2, 28, 22, 0, tzinfo=UTC)  # across a leap day and a month end
    times = [start + timedelta(minutes=7 * i) for i in range(700)]
    canon = _write(tmp_path / "a.csv", [f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')},{i % 7}.5,{i},3,4"
                                        for i, t in enumerate(times)])
    other = _write(tmp_path / "b.csv", [f"{t.strftime('%Y-%m-%dT%H:%M:%S')}+00:00,{i % 7}.5,{i},3,4"
                                        for i, t in enumerate(times)])
    a, b = read_trace(canon), read_trace(other)
    assert a.epoch.tolist() == [t.timestamp() for t in times] == b.epoch.tolist()
    assert a.step_s == 420 and a.ingress.tolist() == b.ingress.tolist() and a.egress.tolist() == b.egress.tolist()


TRICKY = {  # every rule the replay's screen has to see through
    "unit": "cku", "min_units": 2, "max_units": 9, "scale_up_utilization": 75, "scale_down_utilization": 62,
    "scale_up_cooldown": "10m", "scale_down_cooldown": "20m", "target_utilization": 70,
    "provisioning_delay": {"up": "7m", "down": "13m"}, "sustain": "2m", "wait_for_trough": "10m",
    "trend": {"window": "20m", "lookahead": "45m", "calendar_tolerance": 0.05,
              "surge": {"window": "3m", "rate": 0.02}},  # sensitive: a surge on the brokers' incident
    "forecast": {"period": "24h", "prefer_period": "48h", "horizon": "20m"},
    "timezone": "Australia/Lord_Howe",  # a half-hour DST shift
    "peak_hours": {"days": ["sun", "mon", "wed"], "start": "22:00", "end": "03:30", "min_units": 5,
                   "scale_up_utilization": 65, "scale_down_utilization": 55, "scale_down": False},
    "seasons": [{"name": "autumn", "start": "10-01", "end": "10-09", "min_units": 4, "scale_up_utilization": 70}],
    "maintenance_windows": [{"days": ["tue", "sat"], "start": "01:00", "end": "04:00"}],
    "budget": {"monthly": 12000, "unit_price_per_hour": 2.0},
}


@pytest.mark.parametrize("trace", ["clinic-week", "incident-surge"])
@pytest.mark.parametrize("policy", ["default", "seed-reactive", "tricky", "tricky-brokers"])
def test_the_screened_replay_is_the_replay_that_asks_decide_at_every_step(monkeypatch: pytest.MonkeyPatch,
                                                                        trace: str, policy: str) -> None:
    """The simulator asks decide() only at steps where it could act; asking at every step must give the
    same timeline and the same actions with the same reasons."""
    from brokerscale.scale import simulate as sim
    from brokerscale.scale.demand import resolve_capacity
    from brokerscale.scale.policy import load_policy, parse_policy
    from brokerscale.scale.trace import read_trace

    if policy.startswith("tricky"):
        unit = "broker" if policy.endswith("brokers") else "cku"
        pol = parse_policy({**TRICKY, "unit": unit, "max_units": 40 if unit == "broker" else 9}, "tricky")
    else:
        pol = load_policy(name=policy)
    tr = read_trace(TRACE_DIR / f"{trace}.csv")
    cap = resolve_capacity(None, pol.unit)
    screened = sim.simulate(tr, pol, cap, oracle=False)
    asked = 0

    def every_step(self: object, units: int, i: int) -> int:
        nonlocal asked
        asked += 1
        return i

    monkeypatch.setattr(sim._Screen, "next", every_step)
    full = sim.simulate(tr, pol, cap, oracle=False)
    assert asked > len(tr) // 2  # the patched replay really asked (almost) every step
    assert screened.units.tolist() == full.units.tolist()
    assert [a.as_json() for a in screened.actions] == [a.as_json() for a in full.actions]
    assert len(full.actions) >= 3, len(full.actions)


def test_a_given_forecast_series_replaces_the_policys_forecast() -> None:
    """`forecast_series` (scripts/scale_excess.py's perfect-forecast replay): no forecast at any step is the
    policy without a forecast; the load that actually came is a forecast the replay follows ahead of time."""
    import numpy as np

    from brokerscale.scale import simulate as sim
    from brokerscale.scale.demand import resolve_capacity, trigger_thresholds
    from brokerscale.scale.policy import load_policy
    from brokerscale.scale.trace import read_trace

    tr = read_trace(TRACE_DIR / "clinic-week.csv")
    pol = load_policy(name="default")
    cap, thr = resolve_capacity(None, "cku"), trigger_thresholds()
    none = sim.simulate(tr, pol, cap, thr, oracle=False, forecast_series=np.full(len(tr), np.nan))
    without = sim.simulate(tr, pol.model_copy(update={"forecast": None}), cap, thr, oracle=False)
    assert none.units.tolist() == without.units.tolist()
    own = sim.simulate(tr, pol, cap, thr, oracle=False)
    d = sim.trace_demand(tr, cap, thr).demand
    ahead = sim.steps_for(pol.delay("up"), tr.step_s)
    came = np.array([d[min(len(d) - 1, i + ahead):i + ahead + 16].max() for i in range(len(d))])
    perfect = sim.simulate(tr, pol, cap, thr, oracle=False, forecast_series=came)
    assert perfect.units.tolist() != own.units.tolist()
    assert any(a.trigger == "forecast" for a in perfect.actions)
    assert perfect.critical_steps == 0, perfect.critical_steps
