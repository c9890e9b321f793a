"""Demo section: the autoscaler scores its policy on a shipped trace, then reacts to the demo cluster's load.

The simulation compares brokerscale's default policy with the scaling guide's on the clinic-hours week,
against the oracle. Live: a burst of load past the threshold of a small capacity file makes the
controller decide a scale-up (shown as a dry run: starting a broker and moving data onto it takes
longer than this demo, the live test does it); when the burst is over it really drains the fourth
broker the rebalance section added and removes it, audited like any change.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import yaml
from rich.table import Table

from brokerscale.connect import ConnectionProfile

if TYPE_CHECKING:
    from brokerscale.demo import DemoContext

TOPIC = "synthetic.clinical"
RATE_MSGS = 500  # 5 KB each: 2.5 MB/s, far past four brokers of the capacity file below
SECONDS = 4.0


def _simulation(ctx: DemoContext) -> None:
    from brokerscale.scale.demand import resolve_capacity, trigger_thresholds
    from brokerscale.scale.policy import load_policy
    from brokerscale.scale.simulate import simulate
    from brokerscale.scale.trace import read_trace, resolve_trace

    out = ctx.console
    out.print("[dim]$ brokerscale scale simulate --trace clinic-week --compare[/]")
    trace = read_trace(resolve_trace("clinic-week"), "clinic-week")
    cap, thr = resolve_capacity(None, "cku"), trigger_thresholds()
    results = [simulate(trace, load_policy(None, name, "cku"), cap, thr) for name in ("default", "seed-reactive")]
    table = Table("policy", "CKU-hours", "vs oracle", "critical min", "warning min", "actions",
                  title=f"clinic-week: {len(trace):,} one-minute steps", title_justify="left")
    for r in results:
        table.add_row(r.policy, f"{r.unit_hours:,.1f}", f"{r.unit_hours / r.oracle_unit_hours:.3f}x",
                      f"{r.critical_minutes:,.0f}", f"{r.warning_minutes:,.0f}", str(len(r.actions)))
    r0 = results[0]
    table.add_row("[dim]oracle (knows the week in advance)[/]", f"{r0.oracle_unit_hours:,.1f}", "1.000x",
                  f"{r0.oracle_critical_minutes:,.0f}", "", "")
    out.print(table)


def demo_step(ctx: DemoContext) -> None:
    from brokerscale.load.cluster import ensure_topic, probe
    from brokerscale.load.messages import KINDS
    from brokerscale.load.pacing import Pacer
    from brokerscale.load.pool import build_pool
    from brokerscale.load.producer import produce
    from brokerscale.load.sizes import SizeDistribution
    from brokerscale.observe.collect import Observer
    from brokerscale.observe.rules import load_rules
    from brokerscale.scale.actuators.selfmanaged import SelfManagedActuator
    from brokerscale.scale.controller import Controller
    from brokerscale.scale.demand import resolve_capacity
    from brokerscale.scale.policy import load_policy
    from brokerscale.store import open_store

    out = ctx.console
    _simulation(ctx)
    cap_file, pol_file = ctx.workdir / "capacity.yaml", ctx.workdir / "autoscale.yaml"
    cap_file.write_text("broker:\n  throughput_mb_s: 0.1   # a deliberately small broker, so the demo load matters\n")
    pol_file.write_text(yaml.safe_dump({"name": "demo", "unit": "broker", "min_units": 3, "max_units": 5,
                                        "scale_up_step": 1, "scale_up_cooldown": "1s", "scale_down_cooldown": "1s"}))
    prof = ConnectionProfile(ctx.bootstrap)
    live = sorted(b.id for b in ctx.cluster.brokers if b.alive)
    out.print(f"[dim]$ brokerscale scale run --target selfmanaged --limits {cap_file.name} --policy "
              f"{pol_file.name} --apply[/]  ({len(live)} brokers of 0.1 MB/s each)")
    obs = Observer(prof, load_rules(), metrics_urls=dict(ctx.cluster.metrics_urls), date_lag=False)
    lines: list[str] = []
    act = SelfManagedActuator(prof, obs, ctx.workdir / "scale", dev_name=ctx.cluster.name, log=lines.append,
                              first_window_s=1.0)
    store = open_store()
    policy = load_policy(pol_file)
    cap = resolve_capacity(str(cap_file), "broker")
    try:
        ensure_topic(prof, TOPIC, 6, None, probe(prof))
        pool = build_pool(sizes=SizeDistribution(5000), kinds=KINDS, patients=1000, skew=1.2)
        with out.status("the controller takes its first reading…"):
            act.observe()
        with out.status(f"a burst of {RATE_MSGS * 5 / 1000:g} MB/s for {SECONDS:g} s…"):
            produce(prof, TOPIC, pool, Pacer(RATE_MSGS), SECONDS, verify=False)
        # the burst's rate; its dry-run checklist is not shown: the live round's follows
        dry = Controller(act, policy, cap, store, apply=False, log=lambda _m: None).round()
        if dry.decision is not None:
            d = dry.decision
            verdict = "hold" if d.action is None else f"{d.action} {d.units} -> {d.target}"
            out.print(f"during the burst: [bold]{verdict}[/]: {d.reason} [dim](shown as a dry run: a broker start "
                      "plus an add-brokers rebalance takes longer than this demo; `make test` runs it live)[/]")
        ctl = Controller(act, policy, cap, store, apply=True, log=lines.append)
        t0 = time.monotonic()
        with out.status("the burst is over; the next round…"):
            rnd = ctl.round()  # the rate since the end of the burst
        ctl.release()
        for line in lines:
            if line.startswith(("pre-check", "post-check", "intent", "result", "remove-brokers", "broker ")):
                out.print(f"  {line}")
        if rnd.decision is not None and rnd.acted:
            d = rnd.decision
            out.print(f"after the burst: [bold]{d.action} {d.units} -> {d.target}[/] in "
                      f"{time.monotonic() - t0:.0f} s: {d.reason}; see `brokerscale scale events`")
        elif rnd.decision is not None:
            out.print(f"after the burst: {rnd.decision.reason}")
    finally:
        store.close()
        obs.close()
