"""`brokerscale observe`, `check`, `lag` and `exporter`: how loaded the cluster is, which scaling
triggers fire, how far behind the consumers are, and all of it as Prometheus metrics."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from brokerscale.cli_common import BootstrapOpt, ClusterOpt, CommandConfigOpt, FormatOpt, OutputFormat
from brokerscale.console import console, err, print_json
from brokerscale.errors import BadInput, BrokerscaleError, OperationFailed, Unreachable
from brokerscale.gcpause import paused_gc
from brokerscale.observe.capacity import Capacity, from_brokers
from brokerscale.observe.collect import Observer, Round
from brokerscale.observe.options import (
    CapacityOpt,
    CkusOpt,
    IntervalOpt,
    LimitsOpt,
    MetricsUrlOpt,
    NoHistoryOpt,
    PrometheusBrokerLabelOpt,
    PrometheusOpt,
    RulesOpt,
    build_observer,
    interval_seconds,
)
from brokerscale.observe.summary import check_text
from brokerscale.units import parse_duration
from brokerscale.web.plot_file import PlotOpt, check_plot_path


def round_capacity(r: Round, obs: Observer) -> Capacity | None:
    """The capacity a round was judged against: --ckus, or a capacity file summed over the round's brokers."""
    if obs.capacity is None and obs.capacity_file is not None:
        return from_brokers(obs.capacity_file, [b.id for b in r.snapshot.brokers])
    return obs.capacity


def round_json(r: Round, cap: Capacity | None) -> dict[str, object]:
    """`observe --format json`; the dashboard's /api/observe serves the same document."""
    return {"snapshot": r.snapshot.model_dump(mode="json"),
            "capacity": cap.model_dump(mode="json") if cap else None,
            "utilization": [u.model_dump(mode="json") for u in r.utilization],
            "findings": [f.model_dump(mode="json") for f in r.findings]}


def _sample_with_progress(obs: Observer, interval: float, rounds: int) -> Round:
    with err.status(f"sampling {obs.cluster}: {rounds} samples {interval:g} s apart") as status:
        def tick(i: int, n: int) -> None:
            status.update(f"sampling {obs.cluster}: sample {i}/{n} taken")
        return obs.observe(interval, rounds=rounds, on_round=tick)


def observe_command(
    bootstrap: BootstrapOpt = None, command_config: CommandConfigOpt = None, cluster: ClusterOpt = None,
    capacity: CapacityOpt = None, ckus: CkusOpt = None, limits: LimitsOpt = None, rules: RulesOpt = None,
    metrics_url: MetricsUrlOpt = None, prometheus: PrometheusOpt = None,
    prometheus_broker_label: PrometheusBrokerLabelOpt = None, interval: IntervalOpt = "5s",
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Keep observing every --interval (Ctrl-C stops); "
                                        "a round the cluster does not answer is reported on stderr and tried "
                                        "again.")]
    = False,
    brokers: Annotated[bool, typer.Option("--brokers/--no-brokers", help="Show the per-broker table.")] = True,
    no_history: NoHistoryOpt = False, fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Live load snapshot: brokers, topics, rates, latency, queue time, lag, utilization and findings.

    Rates come from two samples --interval apart (broker JMX exporters, or --prometheus); samples are
    kept in the store's history for `lag` and `forecast storage`.

    Examples:

      brokerscale observe                                   # the local dev cluster

      brokerscale observe -b kafka1:9092 --ckus 4 --limits design-doc

      brokerscale observe --capacity brokers.yaml --watch --interval 10s

      brokerscale observe --format json | jq '.findings'
    """
    obs = build_observer(bootstrap, command_config, cluster, capacity=capacity, ckus=ckus, limits=limits,
                         rules=rules, metrics_url=metrics_url, prometheus=prometheus,
                             prometheus_broker_label=prometheus_broker_label, no_history=no_history)
    secs = interval_seconds(interval)
    try:
        r = _first_round(obs, secs, progress=fmt == OutputFormat.table, watch=watch)
        while True:
            if fmt == OutputFormat.json:
                if watch:
                    import json

                    sys.stdout.write(json.dumps(round_json(r, round_capacity(r, obs)), default=str) + "\n")
                    sys.stdout.flush()
                else:
                    print_json(round_json(r, round_capacity(r, obs)))
            else:
                if watch:
                    console.clear()
                _render_round(r, obs, brokers=brokers)
            if not watch:
                return
            r = _next_round(obs, secs)
    finally:
        obs.close()


def _first_round(obs: Observer, interval: float, *, progress: bool, watch: bool) -> Round:
    """The first round (two samples). Without --watch an outage is the command's error; with it, as below."""
    while True:
        try:
            return _sample_with_progress(obs, interval, 2) if progress else obs.observe(interval, 2)
        except (Unreachable, OperationFailed) as exc:
            if not watch:
                raise
            _watch_failed(exc, interval)
        time.sleep(interval)


def _next_round(obs: Observer, interval: float) -> Round:
    """The next round of `--watch`. A cluster that stops answering is reported each interval (on stderr,
    so JSON lines stay one shape) and watched until it answers again, as the exporter does."""
    while True:
        time.sleep(interval)
        try:
            return obs.sample()
        except (Unreachable, OperationFailed) as exc:
            _watch_failed(exc, interval)


def _watch_failed(exc: BrokerscaleError, interval: float) -> None:
    err.print(f"{time.strftime('%H:%M:%S')} observation failed: {exc.message} (next try in {interval:g}s)")


def _render_round(r: Round, obs: Observer, *, brokers: bool) -> None:
    cap = round_capacity(r, obs)
    from brokerscale.observe import render  # tables only: `--format json` does not import rich.table

    render.snapshot_summary(console, r.snapshot, cap)
    if brokers:
        render.brokers_table(console, r.snapshot)
    render.topics_table(console, r.snapshot)
    render.utilization_table(console, r.utilization)
    if r.snapshot.groups:
        render.groups_table(console, r.snapshot.groups)
    render.findings_table(console, r.findings)


def check_command(
    bootstrap: BootstrapOpt = None, command_config: CommandConfigOpt = None, cluster: ClusterOpt = None,
    capacity: CapacityOpt = None, ckus: CkusOpt = None, limits: LimitsOpt = None, rules: RulesOpt = None,
    metrics_url: MetricsUrlOpt = None, prometheus: PrometheusOpt = None,
    prometheus_broker_label: PrometheusBrokerLabelOpt = None, interval: IntervalOpt = "5s",
    no_history: NoHistoryOpt = False, fmt: FormatOpt = OutputFormat.table,
) -> None:
    """For monitoring systems: one summary line first, then one line per finding.

    Exit codes follow the Nagios/Icinga convention: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

    UNKNOWN means no broker answered at all or a rules/capacity file was bad; the reason is on the summary
    line. A broker that does not answer while others do is itself a CRITICAL finding naming it.

    Examples:

      brokerscale check --ckus 2

      brokerscale check --capacity brokers.yaml --rules ops/rules.yaml --interval 10s
    """
    try:
        obs = build_observer(bootstrap, command_config, cluster, capacity=capacity, ckus=ckus, limits=limits,
                             rules=rules, metrics_url=metrics_url, prometheus=prometheus,
                             prometheus_broker_label=prometheus_broker_label, no_history=no_history)
        try:
            r = obs.observe(interval_seconds(interval), 2)
        finally:
            obs.close()
    except BrokerscaleError as exc:
        if fmt == OutputFormat.json:
            print_json({"status": "UNKNOWN", "exit_code": 3, "reason": exc.message})
        else:
            sys.stdout.write(f"UNKNOWN - {exc.message}\n")
        raise typer.Exit(3) from None
    code, text = check_text(r.findings)
    line = text.split("\n", 1)[0]
    if fmt == OutputFormat.json:
        print_json({"status": line.split(" ", 1)[0], "exit_code": code, "summary": line,
                    "findings": [f.model_dump(mode="json") for f in r.findings],
                    "utilization": [u.model_dump(mode="json") for u in r.utilization],
                    "window_s": r.snapshot.window_s})
    else:
        sys.stdout.write(text)
    sys.stdout.flush()
    raise typer.Exit(code)


def lag_command(
    bootstrap: BootstrapOpt = None, command_config: CommandConfigOpt = None, cluster: ClusterOpt = None,
    group: Annotated[list[str] | None, typer.Option("--group", "-g", metavar="GROUP",
                                                    help="Only this group (repeatable).", show_default=False)] = None,
    samples: Annotated[int, typer.Option("--samples", "-n", min=1, max=100,
                                         help="Observations to take now (history in the store adds to them).")] = 3,
    interval: IntervalOpt = "2s",
    max_lag_offsets: Annotated[int | None, typer.Option("--max-lag-offsets", min=1, show_default=False,
                                                        help="Lag at or above this is at least WARNING.")] = None,
    max_lag_seconds: Annotated[float | None, typer.Option("--max-lag-seconds", min=0.001, show_default=False,
                                                          help="Time lag at or above this is at least WARNING.")]
    = None,
    partitions: Annotated[bool, typer.Option("--partitions", "-p", help="Show every partition.")] = False,
    rules: RulesOpt = None, no_history: NoHistoryOpt = False,
    plot: PlotOpt = None,
    plot_history: Annotated[str, typer.Option("--plot-history", metavar="DURATION",
                                              help="How much recorded history --plot draws.")] = "6h",
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Consumer lag per group and partition, in offsets and seconds, with Burrow-style status.

    OK: lag reached zero in the window. WARNING: lag never decreased. STALL: offsets not moving with
    members present. STOP: no member committing. REWIND: an offset went backwards. NO_OFFSET: never
    committed (not counted as lag). Time lag is interpolated from the history of log-end offsets and
    never extrapolated; '+' marks a lower bound. Requests are batched per broker and coordinator.

    Examples:

      brokerscale lag

      brokerscale lag --group billing-etl --partitions

      brokerscale lag --samples 5 --interval 5s --max-lag-seconds 60 --format json

      brokerscale lag --group billing-etl --plot lag.png      # lag over the recorded history, as a file
    """
    plot_path = check_plot_path(plot)
    plot_span = parse_duration(plot_history, what="--plot-history")
    if plot_path is not None and no_history:
        raise BadInput("--plot: draws the recorded lag history; it cannot be combined with --no-history")
    # The cycle collector waits until the command's objects are gone: a round leaves ~500,000 acyclic
    # objects alive until the output is written, and the collector's first pass after a paused round
    # walked all of them (~0.07 s of a 20,000-partition `lag`); freed by reference counting when `_lag`
    # returns, they are never walked.
    with paused_gc():
        _lag(bootstrap, command_config, cluster, group=group, samples=samples, interval=interval,
             max_lag_offsets=max_lag_offsets, max_lag_seconds=max_lag_seconds, partitions=partitions, rules=rules,
             no_history=no_history, plot_path=plot_path, plot_span=plot_span, fmt=fmt)


def _lag(bootstrap: str | None, command_config: Path | None, cluster: str | None, *, group: list[str] | None,
         samples: int, interval: str, max_lag_offsets: int | None, max_lag_seconds: float | None, partitions: bool,
         rules: Path | None, no_history: bool, plot_path: Path | None, plot_span: float, fmt: OutputFormat) -> None:
    obs = build_observer(bootstrap, command_config, cluster, rules=rules, no_history=no_history,
                         groups_only=True, lag_overrides={"max_lag_offsets": max_lag_offsets,
                                                          "max_lag_seconds": max_lag_seconds})
    obs.metrics_urls = {}
    try:
        _lag_round(obs, group=group, samples=samples, interval=interval, partitions=partitions,
                   plot_path=plot_path, plot_span=plot_span, fmt=fmt)
    finally:
        if obs.store is not None:
            obs.store.close()


def _lag_round(obs: Observer, *, group: list[str] | None, samples: int, interval: str, partitions: bool,
               plot_path: Path | None, plot_span: float, fmt: OutputFormat) -> None:
    secs = interval_seconds(interval)
    try:
        r = _sample_with_progress(obs, secs, samples) if fmt == OutputFormat.table and samples > 1 \
            else obs.observe(secs, samples)
    finally:
        obs.close()
    groups = r.snapshot.groups
    if group:
        known = {g.group for g in groups}
        missing = [g for g in group if g not in known]
        if missing:
            raise BadInput(f"--group: no consumer group {', '.join(map(repr, missing))} on {obs.cluster}")
        groups = [g for g in groups if g.group in group]
    if plot_path is not None and obs.store is not None:
        _plot_lag(obs, [g.group for g in groups], r.snapshot.taken_at - plot_span, plot_path)
    if fmt == OutputFormat.json:
        print_json({"cluster": obs.cluster, "taken_at": r.snapshot.taken_at,
                    "groups": groups})
    else:
        from brokerscale.observe import render

        render.groups_table(console, groups, partitions=partitions)


def _plot_lag(obs: Observer, groups: list[str], since: float, path: Path) -> None:
    """The dashboard's lag-over-time charts (offsets, then seconds) from the store's history, in one file."""
    from brokerscale.observe.lag_history import COMMITTED_METRIC, LEO_METRIC
    from brokerscale.web.charts import Chart
    from brokerscale.web.plot_file import save_plot
    from brokerscale.web.series import lag_charts, lag_history

    keys = obs.offset_history_keys  # kept under Kafka's cluster id, and under the name before ids were used
    hist = lag_history([s for k in keys for s in obs.store.read_samples(k, LEO_METRIC, since=since)],
                       [s for k in keys for s in obs.store.read_samples(k, COMMITTED_METRIC, since=since)], groups)
    offsets, seconds = lag_charts(hist)
    both = Chart(id="lag", title=f"{obs.cluster}: consumer lag", y_title="offsets", y2_title="seconds",
                 series=[*offsets.series, *(s.model_copy(update={"name": f"{s.name} (s)", "axis": "y2", "dash": True})
                                            for s in seconds.series)], note=offsets.note)
    save_plot(both, path)
