#!/usr/bin/env python3
"""Make the load traces the autoscaler's simulator ships with (deterministic: fixed random seeds).

    .venv/bin/python scripts/make_traces.py            # rewrites src/brokerscale/data/traces/*.csv
    .venv/bin/python scripts/make_traces.py --out DIR  # somewhere else
    .venv/bin/python scripts/make_traces.py --out DIR --variant incident-surge --seed 1 --incident-at 02:10
    .venv/bin/python scripts/make_traces.py --out DIR --variant clinic-week --seed 3 --scale 0.9

The shapes are those of a regional health system's event broker (HL7 v2 ADT/ORU, FHIR, device
events), in the units of the design-doc limits profile (50 MB/s in + out, 4,000 connections and
4,500 partitions per CKU), on hospital local time (America/New_York):

- clinic-week: one week (Mon 5 Oct 2026, 00:00 local) at 1-minute steps. Nights ~45 MB/s in + out;
  clinics open 07:00-19:00 Mon-Fri with a morning ramp (admissions, lab orders) to ~190 MB/s, a lunch
  dip and an evening decline; weekends at ~35 % of a weekday. Connections follow the clinics.
- flu-season: 90 days (1 Dec 2026 to 28 Feb 2027) at 5-minute steps. The clinic-week shape times a
  season factor that ramps from 1.0 to 1.45 at the mid-January peak and back to 1.05, with a few
  "surge days" (+25 %) when emergency departments fill.
- incident-surge: two days at 1-minute steps (Tue 10 Mar 2026). A mass-casualty event at 16:10 local
  on the first day: traffic x4 within 20 minutes (ED registrations, imaging, bed management), then a
  slow exponential decay (half-life 90 minutes) back to the usual day.

Held-out traces (`--held-out`, not shipped, never used to choose the default policy's parameters): the
same generators with other random seeds, other dates, other time zones' worth of shift and other sizes —
a clinic fortnight in spring at 1.25x with a Monday holiday, a milder flu season a year earlier, a
morning incident (x3 at 10:40 local on a Thursday) — so the policy can be checked on load it was not
tuned on (tests/test_scale_policy_quality.py).

Variants (`--variant`, not shipped): a shipped generator with another noise seed, the whole load scaled,
and (incident-surge) the onset at another local time — stress tests for a policy (a night incident at
the 2-CKU minimum, a clinic week a third smaller or half again larger than the one it was tuned on).

Each row: timestamp (UTC, ISO-8601), ingress_mb_s, egress_mb_s (consumers read ~1.8x what producers
write), connections, partitions.
"""

from __future__ import annotations

import argparse
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from brokerscale.scale.trace import TRACE_DIR, write_trace

ZONE = ZoneInfo("America/New_York")
FANOUT = 1.8  # egress / ingress: several consumer groups per clinical topic
PARTITIONS = 1800


def clinic_shape(local: datetime) -> float:
    """Total in + out MB/s of an ordinary day at local time `local` (before noise)."""
    h = local.hour + local.minute / 60.0
    night = 45.0
    weekday = local.weekday() < 5
    if h < 6.0:
        level = 0.0
    elif h < 9.5:  # morning ramp: admissions, lab orders, scheduling
        level = (h - 6.0) / 3.5
    elif h < 12.0:
        level = 1.0
    elif h < 13.5:  # lunch dip
        level = 1.0 - 0.18 * math.sin(math.pi * (h - 12.0) / 1.5)
    elif h < 17.0:
        level = 1.0
    elif h < 21.0:  # evening decline
        level = 1.0 - (h - 17.0) / 4.0
    else:
        level = 0.0
    level = max(0.0, level) ** 1.2
    peak = 145.0 if weekday else 0.35 * 145.0
    return night + peak * level


def rows(start_local: datetime, minutes: int, step_min: int, factor: callable, seed: int,  # type: ignore[valid-type]
         shape: callable = clinic_shape) -> tuple:  # type: ignore[valid-type]
    rng = np.random.default_rng(seed)
    n = minutes // step_min
    times, ing, egr, conns, parts = [], [], [], [], []
    noise = 1.0
    for i in range(n):
        local = start_local + timedelta(minutes=i * step_min)
        noise = 0.8 * noise + 0.2 * float(rng.normal(1.0, 0.06))  # smooth noise, a few percent
        total = shape(local) * factor(local) * noise  # type: ignore[misc]
        times.append(local.astimezone(UTC))
        ing.append(total / (1 + FANOUT))
        egr.append(total * FANOUT / (1 + FANOUT))
        conns.append(900 + 14 * total)
        parts.append(PARTITIONS)
    return times, ing, egr, conns, parts


def clinic_week(out: Path, *, seed: int = 11, scale: float = 1.0, name: str = "clinic-week") -> None:
    start = datetime(2026, 10, 5, tzinfo=ZONE)
    write_trace(out / f"{name}.csv", *rows(start, 7 * 24 * 60, 1, lambda _t: scale, seed=seed))


def flu_season(out: Path) -> None:
    start = datetime(2026, 12, 1, tzinfo=ZONE)
    peak_day = 45.0
    rng = np.random.default_rng(7)
    surge_days = {int(d) for d in rng.choice(np.arange(20, 80), size=6, replace=False)}

    def factor(local: datetime) -> float:
        day = (local - start).total_seconds() / 86400.0
        if day <= peak_day:
            season = 1.0 + 0.45 * (day / peak_day) ** 1.5
        else:
            season = 1.05 + 0.40 * math.exp(-(day - peak_day) / 15.0)
        return season * (1.25 if int(day) in surge_days else 1.0)

    write_trace(out / "flu-season.csv", *rows(start, 90 * 24 * 60, 5, factor, seed=13))


def incident_surge(out: Path, *, seed: int = 17, scale: float = 1.0, at: str = "16:10",
                   name: str = "incident-surge") -> None:
    start = datetime(2026, 3, 10, tzinfo=ZONE)
    hh, mm = (int(x) for x in at.split(":"))
    onset = datetime(2026, 3, 10, hh, mm, tzinfo=ZONE)

    def factor(local: datetime) -> float:
        m = (local - onset).total_seconds() / 60.0
        if m < 0:
            return scale
        if m < 20:  # x4 within 20 minutes
            return scale * (1.0 + 3.0 * (m / 20.0))
        return scale * (1.0 + 3.0 * 0.5 ** ((m - 20.0) / 90.0))

    write_trace(out / f"{name}.csv", *rows(start, 2 * 24 * 60, 1, factor, seed=seed))


def held_out_fortnight(out: Path) -> None:
    """Two spring weeks at 1.25x the clinic-week's size, the first Monday a holiday (weekend load)."""
    start = datetime(2027, 5, 24, tzinfo=ZONE)  # Memorial Day

    def shape(local: datetime) -> float:
        if local.date() == start.date():
            return clinic_shape(local.replace(day=23))  # a Sunday's shape
        return clinic_shape(local)

    write_trace(out / "held-out-fortnight.csv", *rows(start, 14 * 24 * 60, 1, lambda _t: 1.25, seed=101, shape=shape))


def held_out_flu(out: Path) -> None:
    """A milder, later-peaking flu season a year earlier, at 10-minute steps, with other surge days."""
    start = datetime(2025, 12, 1, tzinfo=ZONE)
    rng = np.random.default_rng(202)
    surge_days = {int(d) for d in rng.choice(np.arange(10, 60), size=4, replace=False)}

    def factor(local: datetime) -> float:
        day = (local - start).total_seconds() / 86400.0
        season = 0.9 * (1.0 + 0.35 * math.exp(-((day - 55.0) / 18.0) ** 2))
        return season * (1.2 if int(day) in surge_days else 1.0)

    write_trace(out / "held-out-flu.csv", *rows(start, 60 * 24 * 60, 10, factor, seed=202))


def held_out_incident(out: Path) -> None:
    """A morning incident: x3 within 15 minutes at 10:40 local on a Thursday, half-life 60 minutes."""
    start = datetime(2026, 6, 17, tzinfo=ZONE)
    onset = datetime(2026, 6, 18, 10, 40, tzinfo=ZONE)

    def factor(local: datetime) -> float:
        m = (local - onset).total_seconds() / 60.0
        if m < 0:
            return 1.0
        if m < 15:
            return 1.0 + 2.0 * (m / 15.0)
        return 1.0 + 2.0 * 0.5 ** ((m - 15.0) / 60.0)

    write_trace(out / "held-out-incident.csv", *rows(start, 3 * 24 * 60, 1, factor, seed=303))


HELD_OUT = (held_out_fortnight, held_out_flu, held_out_incident)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=TRACE_DIR)
    ap.add_argument("--held-out", action="store_true", help="write the held-out traces instead (not shipped)")
    ap.add_argument("--variant", choices=("clinic-week", "incident-surge"),
                    help="write one variant of a shipped generator instead (stress testing a policy): "
                    "with --seed, --scale and, for incident-surge, --incident-at")
    ap.add_argument("--seed", type=int, help="the noise's random seed (default: the shipped trace's)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the whole load by this (default 1.0)")
    ap.add_argument("--incident-at", default="16:10", help="incident-surge: the onset, HH:MM local on the "
                    "first day (default 16:10)")
    ap.add_argument("--name", help="the file's name without .csv (default: the generator's, with the options)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.variant:
        if args.scale <= 0:
            ap.error(f"--scale: {args.scale:g} must be > 0")
        hm = re.fullmatch(r"(\d{1,2}):(\d{2})", args.incident_at)
        if not hm or int(hm[1]) > 23 or int(hm[2]) > 59:
            ap.error(f"--incident-at: {args.incident_at!r} is not a time of day (HH:MM, for example 02:10)")
        name = args.name or (f"{args.variant}-seed{args.seed}-x{args.scale:g}"
                             + (f"-at{args.incident_at.replace(':', '')}" if args.variant == "incident-surge" else ""))
        if args.variant == "clinic-week":
            clinic_week(args.out, seed=11 if args.seed is None else args.seed, scale=args.scale, name=name)
        else:
            incident_surge(args.out, seed=17 if args.seed is None else args.seed, scale=args.scale,
                           at=args.incident_at, name=name)
        print(f"wrote {args.out}/{name}.csv")
        return
    for make in HELD_OUT if args.held_out else (clinic_week, flu_season, incident_surge):
        make(args.out)
        print(f"wrote {args.out}/{make.__name__.replace('_', '-')}.csv")


if __name__ == "__main__":
    main()
