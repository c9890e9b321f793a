"""`brokerscale forecast storage`: the scaling guide's storage monitor for self-managed (and any) clusters,
fitted on the retained-bytes history that `observe`, `check` and the exporter record, with each
topic's retention (recorded alongside) capping what it can hold."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from brokerscale.cli_common import BootstrapOpt, ClusterOpt, CommandConfigOpt, FormatOpt, OutputFormat, profile
from brokerscale.console import console, print_json
from brokerscale.errors import BadInput
from brokerscale.forecast.storage import StorageForecast, TopicHistory, forecast_storage
from brokerscale.observe.history_keys import read_history
from brokerscale.units import format_bytes, parse_duration, parse_size
from brokerscale.web.plot_file import PlotOpt, check_plot_path

app = typer.Typer(help="Projections from recorded history.\n\nExamples:\n\n"
                       "  brokerscale forecast storage --tier basic\n\n"
                       "  brokerscale forecast storage --disk 48TB --history 30d",
                  no_args_is_help=True)


def storage_limit(tier: str | None, disk: str | None, limits: str) -> tuple[float | None, str | None, str | None]:
    """(limit bytes, its label, the tier it belongs to) from --tier or --disk; the dashboard uses it too."""
    if tier is not None and disk is not None:
        raise BadInput("--tier and --disk: give one (a Confluent tier's storage limit, or your own disk)")
    limit: float | None = None
    label: str | None = None
    if disk is not None:
        limit = float(parse_size(disk, what="--disk"))
        label = f"{format_bytes(limit)} of disk"
    if tier is not None:
        from brokerscale.model.limits import load_limits

        tier_limits = load_limits(limits).tier(tier.lower())
        if tier_limits.storage_bytes is None:
            label = f"{tier_limits.name} tier: no storage limit"
        else:
            limit = float(tier_limits.storage_bytes)
            label = f"{format_bytes(limit)} storage limit"
    return limit, label, tier.lower() if tier and limit is not None else None


@app.command("storage")
def storage_command(
    bootstrap: BootstrapOpt = None, command_config: CommandConfigOpt = None, cluster: ClusterOpt = None,
    history: Annotated[str, typer.Option("--history", metavar="DURATION",
                                         help="How far back to fit (the scaling guide uses 30 days).")] = "30d",
    tier: Annotated[str | None, typer.Option("--tier", metavar="NAME", show_default=False,
                                             help="Confluent Cloud tier whose storage limit applies (basic: 5 TB).")]
    = None,
    limits: Annotated[str, typer.Option("--limits", metavar="NAME|FILE", help="Limits profile for --tier.")]
    = "design-doc",
    disk: Annotated[str | None, typer.Option("--disk", metavar="SIZE", show_default=False,
                                             help="Total log disk of a self-managed cluster (e.g. 48TB).")] = None,
    min_samples: Annotated[int, typer.Option("--min-samples", min=2, help="Fewer samples: no forecast.")] = 3,
    retention: Annotated[str | None, typer.Option(
        "--retention", metavar="DURATION", show_default=False,
        help="Cluster-wide retention (e.g. 30d) when no per-topic retention was recorded.")] = None,
    plot: PlotOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Retained bytes → daily growth, 30- and 90-day projections, days until the disk or tier limit.

    Reads the `retained_bytes` history from the store (BROKERSCALE_STORE_URL); it does not contact the
    cluster, so it works offline and after the cluster is gone (`-c NAME` names the history). The line
    is a least-squares fit over every sample; when the history is short or too small, it says so
    instead of guessing.

    Retained bytes stop growing once retention is reached, so each topic is projected as
    min(linear growth, ingress x retention) from the per-topic history `observe` records; without it,
    --retention caps the cluster as a whole. The output says which applies.

    Examples:

      brokerscale forecast storage                     # the local dev cluster's history

      brokerscale forecast storage -b kafka1:9092 --disk 48TB

      brokerscale forecast storage --cluster prod --tier basic --format json

      brokerscale forecast storage --disk 2TB --plot storage.png   # the dashboard's chart, as a file
    """
    from brokerscale.store import open_store

    plot_path = check_plot_path(plot)
    limit, label, tier_name = storage_limit(tier, disk, limits)
    span = parse_duration(history, what="--history")
    retention_s = parse_duration(retention, what="--retention") if retention is not None else None
    name = history_name(bootstrap, command_config, cluster)
    now = time.time()
    store = open_store()
    try:
        samples = read_history(store, name, "retained_bytes", since=now - span)
        topics = topic_histories(store, name, since=now - span)
    finally:
        store.close()
    fc = forecast_storage([(s.ts, s.value) for s in samples], now=now, limit_bytes=limit, limit_label=label,
                          tier=tier_name, min_points=min_samples, topics=topics, retention_s=retention_s)
    if plot_path is not None:
        from brokerscale.web.plot_file import save_plot
        from brokerscale.web.series import storage_chart

        save_plot(storage_chart(name, [(s.ts, s.value) for s in samples], fc, now), plot_path)
    if fmt == OutputFormat.json:
        print_json({"cluster": name, **fc.model_dump(mode="json")})
        return
    render_forecast(name, fc, label)


def history_name(bootstrap: str | None, command_config: Path | None, cluster: str | None) -> str:
    """The name the cluster was observed under, without contacting (or needing) the cluster: `-c NAME`
    is that name even after the cluster is gone (the store knows which Kafka cluster id it stood for)."""
    if cluster:
        return cluster
    return profile(bootstrap, command_config, None).label


def topic_histories(store: Any, cluster: str, *, since: float) -> list[TopicHistory]:
    """Per-topic size, ingress and retention recorded by `observe` (newest retention wins)."""
    from brokerscale.observe.collect import (
        TOPIC_BYTES_IN,
        TOPIC_REPLICATION,
        TOPIC_RETENTION_BYTES,
        TOPIC_RETENTION_MS,
        TOPIC_SIZE,
    )

    sizes: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for s in read_history(store, cluster, TOPIC_SIZE, since=since):
        sizes[s.labels["topic"]].append((s.ts, s.value))
    if not sizes:
        return []
    ingress: dict[str, list[float]] = defaultdict(list)
    for s in read_history(store, cluster, TOPIC_BYTES_IN, since=since):
        ingress[s.labels["topic"]].append(s.value)
    latest: dict[str, dict[str, float]] = defaultdict(dict)
    for metric in (TOPIC_RETENTION_MS, TOPIC_RETENTION_BYTES, TOPIC_REPLICATION):
        for s in read_history(store, cluster, metric, since=since):
            latest[s.labels["topic"]][metric] = s.value
    out = []
    for topic, points in sorted(sizes.items()):
        meta = latest.get(topic, {})
        rates = ingress.get(topic)
        out.append(TopicHistory(
            name=topic, points=points, ingress_bytes_per_s=sum(rates) / len(rates) if rates else None,
            replication_factor=int(meta.get(TOPIC_REPLICATION, 1)),
            retention_s=meta[TOPIC_RETENTION_MS] / 1000 if TOPIC_RETENTION_MS in meta else None,
            retention_bytes=meta.get(TOPIC_RETENTION_BYTES)))
    return out


def render_forecast(name: str, fc: StorageForecast, label: str | None) -> None:
    """The table form, shared by `forecast storage` and `cloud storage`."""
    console.print(f"[bold]storage forecast[/] for {name}: {fc.samples} sample(s) over "
                  f"{fc.span_days * 24:.1f} h" if fc.span_days < 2 else
                  f"[bold]storage forecast[/] for {name}: {fc.samples} samples over {fc.span_days:.1f} days")
    if not fc.ok:
        console.print(f"[yellow]no forecast:[/] {fc.reason}")
        return
    t = Table(header_style="bold")
    for col in ("now", "growth / day", "in 30 days", "in 90 days", "limit", "days to limit"):
        t.add_column(col, justify="right")
    growth = format_bytes(fc.daily_growth_bytes or 0.0)
    if fc.daily_growth_stderr_bytes is not None:
        growth += f" ± {format_bytes(2 * fc.daily_growth_stderr_bytes)}"
    t.add_row(format_bytes(fc.current_bytes or 0), growth, format_bytes(fc.projected_30d_bytes or 0),
              format_bytes(fc.projected_90d_bytes or 0), label or "–",
              f"{fc.days_until_limit:,.0f}" if fc.days_until_limit is not None else
              "not reached" if label and fc.ceiling_bytes is not None else "–")
    console.print(t)
    ceiling = "" if fc.ceiling_bytes is None else f"; levels off near {format_bytes(fc.ceiling_bytes)}"
    console.print(f"[bold]projection:[/] {fc.basis}{ceiling} — {fc.basis_detail}")
    if fc.topics:
        tt = Table("topic", "now", "growth / day", "retention ceiling", "in 90 days", "basis", header_style="bold",
                   title="per topic (largest in 90 days first)", title_justify="left")
        for tp in sorted(fc.topics, key=lambda x: -x.projected_90d_bytes)[:10]:
            tt.add_row(tp.topic, format_bytes(tp.current_bytes), format_bytes(tp.daily_growth_bytes),
                       "–" if tp.ceiling_bytes is None else format_bytes(tp.ceiling_bytes),
                       format_bytes(tp.projected_90d_bytes), tp.basis)
        console.print(tt)
    if fc.reason:
        console.print(f"[yellow]note:[/] {fc.reason}")
    for a in fc.advice:
        console.print(f"[bold]recommendation:[/] {a}")
