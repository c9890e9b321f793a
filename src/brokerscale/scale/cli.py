"""`brokerscale scale`: the autoscaler — simulate a policy on a trace; run it against a cluster."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from brokerscale.cli_common import FormatOpt, OutputFormat
from brokerscale.console import console, print_json
from brokerscale.errors import BadInput
from brokerscale.units import parse_duration

app = typer.Typer(
    help="The autoscaler: a policy (the scaling guide's auto-scaling block, enforced by brokerscale), "
         "a simulator that scores it against the best possible schedule, and the controller.\n\n"
         "Examples:\n\n"
         "  brokerscale scale simulate --trace clinic-week --policy-name default\n\n"
         "  brokerscale scale simulate --trace flu-season --compare --plot flu.png",
    no_args_is_help=True, rich_markup_mode="rich")

SIMULATE_HELP = """Replay a load trace through a policy; score it against the oracle.

[bold]Trace[/]: CSV `timestamp,ingress_mb_s,egress_mb_s,connections,partitions`, one row per fixed
step, ISO-8601 UTC times. Shipped: clinic-week, flu-season, incident-surge (made by
scripts/make_traces.py). `--trace-from-store CLUSTER --since 30d` replays the cluster's own recorded
history instead.

[bold]Definitions[/]:

- capacity of N units = N x one unit's, from the limits profile (CKU: throughput in + out,
  connections, partitions per CKU) or, for brokers, the profile's broker class or a capacity file;

- units in effect during a step are those already provisioned: a change decided after seeing a row
  takes effect after its provisioning delay (rounded up to whole steps); one change in flight at a time;

- a step is [bold]critical[/] when any dimension exceeds its critical threshold in the scaling guide's
  trigger table (throughput > 85 %, connections > 85 %, partitions > 90 % of the capacity of the units
  in effect), [bold]warning[/] when not critical but over 70 / 70 / 80 %;

- unit_hours = sum over steps of units in effect x step length;

- the [bold]oracle[/] is the fewest unit-hours any schedule reaches with zero critical minutes knowing the
  whole trace in advance, under the same steps (CKUs +n / -1, brokers by size class / -1), delays and
  min/max, computed exactly by dynamic programming; where critical minutes cannot be avoided, fewest
  critical minutes first. The table also shows the oracle that must obey the 70 % shrink guard too.

JSON: unit_hours, critical_minutes, warning_minutes, actions, oracle {unit_hours, critical_minutes},
timeline [{timestamp, units, utilization}] (units in effect, highest-dimension utilization %), so
every figure can be recomputed from the trace.

Examples:

  brokerscale scale simulate --trace clinic-week

  brokerscale scale simulate --trace flu-season --policy-name seed-reactive --format json

  brokerscale scale simulate --trace incident-surge --compare --plot surge.png

  brokerscale scale simulate --trace-from-store prod --since 30d --policy ops/policy.yaml
"""


@app.command("simulate", help=SIMULATE_HELP)
def simulate_command(
    trace: Annotated[str | None, typer.Option("--trace", metavar="FILE|NAME", show_default=False,
                                              help="Trace CSV, or a shipped trace name.")] = None,
    trace_from_store: Annotated[str | None, typer.Option(
        "--trace-from-store", metavar="CLUSTER", show_default=False,
        help="Replay this cluster's recorded history (the store) instead of a file.")] = None,
    since: Annotated[str, typer.Option("--since", metavar="DURATION",
                                       help="With --trace-from-store: how far back.")] = "30d",
    step: Annotated[str, typer.Option("--step", metavar="DURATION",
                                      help="With --trace-from-store: the step to resample to.")] = "1m",
    policy: Annotated[Path | None, typer.Option("--policy", metavar="FILE", show_default=False,
                                                help="Policy YAML.")] = None,
    policy_name: Annotated[str | None, typer.Option(
        "--policy-name", metavar="NAME", show_default=False,
        help="A shipped policy: default (brokerscale's) or seed-reactive (the scaling guide's).")] = None,
    unit: Annotated[str | None, typer.Option("--unit", metavar="cku|broker", show_default=False,
                                             help="Capacity unit (default: the policy's).")] = None,
    limits: Annotated[str | None, typer.Option(
        "--limits", metavar="NAME|FILE", show_default=False,
        help="Limits profile (design-doc, confluent-2026, a file) or, for brokers, a capacity file.")] = None,
    compare: Annotated[bool, typer.Option("--compare", help="Also run the scaling guide's seed-reactive "
                                                            "policy on the same trace.")] = False,
    plot_to: Annotated[Path | None, typer.Option("--plot", metavar="FILE", show_default=False,
                                                 help="Write a chart (.png or .svg).")] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    from brokerscale.scale.demand import resolve_capacity, trigger_thresholds
    from brokerscale.scale.policy import load_policy
    from brokerscale.scale.simulate import simulate, trace_demand
    from brokerscale.scale.trace import read_trace, resolve_trace

    if (trace is None) == (trace_from_store is None):
        raise BadInput("--trace or --trace-from-store: give exactly one")
    if policy is not None and policy_name is not None:
        raise BadInput("--policy and --policy-name: give one")
    if unit is not None and unit not in ("cku", "broker"):
        raise BadInput(f"--unit: {unit!r} must be cku or broker")
    pol = load_policy(policy, policy_name, unit)  # type: ignore[arg-type]
    if trace is not None:
        path = resolve_trace(trace)
        tr = read_trace(path, trace if path.parent.name == "traces" and "/" not in trace else str(path))
    else:
        from brokerscale.scale.history import trace_from_store as from_store
        from brokerscale.store import open_store

        now = time.time()
        tr = from_store(open_store(), trace_from_store or "", now - parse_duration(since, what="--since"), now,
                        parse_duration(step, what="--step"))
    cap = resolve_capacity(limits, pol.unit)
    thr = trigger_thresholds()
    json_out = fmt == OutputFormat.json
    results = [simulate(tr, pol, cap, thr, guarded=not json_out)]
    if compare and pol.name != "seed-reactive":
        results.append(simulate(tr, load_policy(None, "seed-reactive", pol.unit), cap, thr, guarded=not json_out))
    if plot_to is not None:
        from brokerscale.scale.plot import plot

        plot(results, trace_demand(tr, cap, thr).k_crit, tr.source, plot_to, pol.min_units)
    if json_out:
        if len(results) == 1:
            print_json(results[0].as_json())
        else:
            print_json({r.policy: r.as_json() for r in results})
        return
    r0 = results[0]
    table = Table(title=f"{tr.source}: {len(tr):,} steps of {tr.step_s:g}s, {cap.description}")
    for col in ("policy", f"{pol.unit}-hours", "vs oracle", "critical min", "warning min", "actions"):
        table.add_column(col, justify="left" if col == "policy" else "right")
    for r in results:
        table.add_row(r.policy, f"{r.unit_hours:,.1f}", f"{r.unit_hours / r.oracle_unit_hours:.3f}x",
                      f"{r.critical_minutes:,.0f}", f"{r.warning_minutes:,.0f}", str(len(r.actions)))
    table.add_row("[dim]oracle[/]", f"{r0.oracle_unit_hours:,.1f}", "1.000x", f"{r0.oracle_critical_minutes:,.0f}",
                  "", "")
    if r0.guarded_unit_steps is not None and r0.guarded_critical_steps is not None:
        table.add_row("[dim]oracle + 70 % shrink guard[/]", f"{r0.guarded_unit_steps * r0.step_s / 3600:,.1f}",
                      f"{r0.guarded_unit_steps / r0.oracle_unit_steps:.3f}x",
                      f"{r0.guarded_critical_steps * r0.step_s / 60:,.0f}", "", "")
    console.print(table)
    if plot_to is not None:
        console.print(f"chart: {plot_to}")
