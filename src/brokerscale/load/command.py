"""`brokerscale load` — synthetic healthcare traffic against a Kafka cluster."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from dataclasses import replace
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table
from rich.text import Text

from brokerscale.cli_common import BootstrapOpt, ClusterOpt, CommandConfigOpt, FormatOpt, OutputFormat, profile
from brokerscale.console import console, err, print_json
from brokerscale.errors import BadInput, OperationFailed
from brokerscale.load.cluster import ensure_topic, probe
from brokerscale.load.consumer import ConsumeProgress, ConsumeReport, consume
from brokerscale.load.interrupt import sigint_requests_stop
from brokerscale.load.messages import KINDS
from brokerscale.load.pacing import Pacer
from brokerscale.load.pool import POOL_BUDGET_BYTES, build_pool, pool_messages
from brokerscale.load.producer import Progress, produce
from brokerscale.load.rates import parse_rate
from brokerscale.load.sizes import MAX_SIZE, MIN_SIZE, SizeDistribution
from brokerscale.load.stats import LoadReport
from brokerscale.load.verify import end_offsets, verify
from brokerscale.units import format_bytes, parse_duration, parse_size

DEFAULT_TOPIC = "synthetic.clinical"


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise BadInput(f"--kinds: {', '.join(bad) or repr(text)} not known (choose from {', '.join(KINDS)})")
    return kinds


def _live(enabled: bool) -> Live | None:
    return Live(Text(""), console=err, auto_refresh=False, transient=True) if enabled else None


class _Ticker:
    """Where progress goes: a live line on a terminal; in logs (CI), a plain line every few seconds."""

    def __init__(self, live: Live | None, quiet: bool, every_s: float = 5.0) -> None:
        self.live, self.quiet, self.every_s, self.next_at = live, quiet, every_s, every_s

    def show(self, elapsed: float, text: str) -> None:
        if self.live is not None:
            self.live.update(Text(text), refresh=True)
        elif not self.quiet and elapsed >= self.next_at:
            self.next_at = elapsed + self.every_s
            err.print(text, soft_wrap=True)


def _fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} ms"


def _print_report(r: LoadReport) -> None:
    t = Table(title=f"load → {r.topic}", title_justify="left", show_header=False)
    t.add_column(style="bold")
    t.add_column(justify="right")
    target = "unthrottled" if r.target_rate <= 0 else f"{r.target_rate:,.0f} msgs/s"
    t.add_row("target", target)
    frac = "" if r.target_fraction is None else f"  ({r.target_fraction:.1%} of target)"
    t.add_row("achieved (sustained)", f"{r.sustained_msgs_per_s:,.0f} msgs/s{frac}")
    t.add_row("whole run incl. final acks", f"{r.msgs_per_s:,.0f} msgs/s, {r.mb_per_s:,.2f} MB/s")
    t.add_row("sent / acked", f"{r.sent:,} / {r.acked:,} in {r.duration_s:.1f} s "
                              f"({format_bytes(r.bytes_acked)})")
    t.add_row("delivery latency p50 / p99", f"{_fmt_ms(r.p50_ms)} / {_fmt_ms(r.p99_ms)}")
    t.add_row("errors", f"[red]{r.errors:,}[/]" if r.errors else "0")
    if r.interrupted:
        t.add_row("interrupted", f"[yellow]yes: {r.sent - r.acked - r.errors:,} records unconfirmed[/]")
    for sample in r.error_samples:
        t.add_row("", f"[red]{sample}[/]")
    if r.verified and not r.verify_complete:
        t.add_row("verify", f"[yellow]interrupted after reading back {r.read_back:,} of {r.acked:,}: not judged[/]")
    elif r.verified:
        ok = r.lost == 0 and r.corrupted == 0
        t.add_row("verify", f"[{'green' if ok else 'red'}]read back {r.read_back:,}, lost {r.lost:,}, "
                            f"corrupted {r.corrupted:,}[/]")
    console.print(t)


def _print_consume(r: ConsumeReport) -> None:
    t = Table(title=f"consume {r.topic} as group {r.group}", title_justify="left", show_header=False)
    t.add_column(style="bold")
    t.add_column(justify="right")
    t.add_row("target", "unthrottled" if r.target_rate <= 0 else f"{r.target_rate:,.0f} msgs/s")
    t.add_row("consumed", f"{r.consumed:,} in {r.duration_s:.1f} s ({r.msgs_per_s:,.0f} msgs/s)")
    t.add_row("lag at end", "-" if r.lag is None else f"{r.lag:,} records")
    console.print(t)


def load_command(
    bootstrap: BootstrapOpt = None,
    command_config: CommandConfigOpt = None,
    cluster: ClusterOpt = None,
    topic: Annotated[str, typer.Option("--topic", "-t", help="Topic to write (created if missing).")] = DEFAULT_TOPIC,
    rate: Annotated[str, typer.Option("--rate", "-r", help="Target rate: msgs/s (2000), bytes/s (10MB/s), "
                                      "or 0 for as fast as possible.")] = "1000",
    max_rate: Annotated[bool, typer.Option("--max", help="As fast as possible (same as --rate 0).")] = False,
    size: Annotated[str, typer.Option("--size", "-s", help="Mean message size (5KB, 1.5KB, 800).")] = "5KB",
    size_spread: Annotated[float, typer.Option(
        "--size-spread", help="Log-normal spread of sizes around the mean; 0 = every message the same size.",
        min=0.0, max=2.0)] = 0.5,
    duration: Annotated[str, typer.Option("--duration", "-d", help="How long to run (10s, 2m).")] = "10s",
    count: Annotated[int | None, typer.Option("--count", "-n", help="Stop after N messages (before --duration "
                                              "if sooner).", min=1, show_default=False)] = None,
    patients: Annotated[int, typer.Option("--patients", help="Distinct synthetic patients (message keys).",
                                          min=1, max=1_000_000)] = 1000,
    skew: Annotated[float, typer.Option("--skew", help="Zipf skew of patient keys: 0 uniform, 1.0+ makes hot "
                                        "partitions.", min=0.0, max=5.0)] = 0.0,
    kinds: Annotated[str, typer.Option("--kinds", help=f"Message kinds, comma-separated ({', '.join(KINDS)}).")]
    = ",".join(KINDS),
    partitions: Annotated[int, typer.Option("--partitions", help="Partitions if the topic is created.",
                                            min=1, max=10_000)] = 6,
    replication_factor: Annotated[int | None, typer.Option(
        "--replication-factor", help="Replication factor if the topic is created (default: min(3, brokers)).",
        min=1, show_default=False)] = None,
    verify_: Annotated[bool, typer.Option("--verify", help="Afterwards, read back this run's records and "
                                          "prove none was lost.")] = False,
    group: Annotated[str | None, typer.Option("--consume", metavar="GROUP", help="Instead of producing, "
                                              "consume the topic as consumer group GROUP at --rate.",
                                              show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic data.")] = 7,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Produce synthetic HL7 v2 (ADT, ORU) and FHIR (Observation, Encounter) traffic, or consume it.

    Records are keyed by synthetic patient MRN (SYN…), sized around --size, sent with acks=all and idempotence.

    Reports msgs/s, MB/s, p50/p99 delivery latency and errors; --verify reads back this run's records.

    --consume runs a paced consumer group (meant for synthetic topics: payloads are counted, never inspected).

    Examples:

      brokerscale load --rate 2000 --size 5KB --duration 10s --verify

      brokerscale load --rate 10MB/s --skew 1.2 --duration 1m      # hot patients → hot partitions

      brokerscale load --max --size 5KB --size-spread 0 --count 20000 --format json

      brokerscale load --consume ehr-ingest --rate 200 --duration 5m   # a slow consumer: lag grows
    """
    mean = parse_size(size, what="--size")
    if not MIN_SIZE <= mean <= MAX_SIZE:
        raise BadInput(f"--size: {size!r} must be between {MIN_SIZE} B and {format_bytes(MAX_SIZE)}")
    seconds = parse_duration(duration, what="--duration")
    msgs_per_s = 0.0 if max_rate else parse_rate(rate, mean)
    kind_list = _kinds(kinds)
    n_messages = pool_messages(patients, mean)
    if n_messages is None:
        raise BadInput(f"--patients: {patients:,} patients x {format_bytes(mean)} need "
                       f"{format_bytes(patients * mean)} of pre-built messages (limit "
                       f"{format_bytes(POOL_BUDGET_BYTES)}): use fewer patients or a smaller --size")
    if verify_ and group:
        raise BadInput("--verify: only applies when producing, not with --consume")
    conn = profile(bootstrap, command_config, cluster)
    info = probe(conn)
    json_out = fmt is OutputFormat.json
    show_live = err.is_terminal

    if group:
        live = _live(show_live)

        ticker = _Ticker(live, quiet=json_out)

        def on_consume(p: ConsumeProgress) -> None:
            ticker.show(p.elapsed, f"consuming {topic} as {group}: {p.consumed:,} records in {p.elapsed:.0f} s "
                                   f"({p.consumed / max(p.elapsed, 1e-9):,.0f}/s)")

        with live if live is not None else nullcontext():
            creport = consume(conn, topic, group, Pacer(msgs_per_s, count), seconds, on_progress=on_consume)
        print_json(creport.to_json()) if json_out else _print_consume(creport)
        return

    created = ensure_topic(conn, topic, partitions, replication_factor, info)
    if not json_out:
        err.print(f"building the message pool ({', '.join(kind_list)}; mean {format_bytes(mean)}, "
                  f"{patients:,} patients{f', Zipf skew {skew}' if skew else ''})…")
    pool = build_pool(sizes=SizeDistribution(mean, size_spread), kinds=kind_list, patients=patients,
                      messages=n_messages, skew=skew, seed=seed)
    if not json_out and pool.mean_size > 1.1 * mean:
        err.print(f"[yellow]note:[/] the smallest valid messages are larger than {format_bytes(mean)}: "
                  f"the mean record size will be {format_bytes(pool.mean_size)}")
    if not json_out:
        what = "created" if created else "existing"
        err.print(f"producing to {what} topic {topic} at "
                  f"{'max rate' if msgs_per_s <= 0 else f'{msgs_per_s:,.0f} msgs/s'} for "
                  f"{f'{count:,} messages or ' if count else ''}{seconds:g} s…")
    start_offsets = end_offsets(conn, topic) if verify_ else {}
    live = _live(show_live)

    ticker = _Ticker(live, quiet=json_out)

    def on_progress(p: Progress) -> None:
        per_s = max(p.elapsed, 1e-9)
        ticker.show(p.elapsed, f"{p.elapsed:5.1f} s  sent {p.sent:,}  acked {p.acked:,}  {p.acked / per_s:,.0f} msgs/s"
                               f"  {p.bytes_acked / 1e6 / per_s:,.1f} MB/s  errors {p.errors}")

    # From here Ctrl-C asks to stop: what was acknowledged is still summarised, then exit 130.
    with sigint_requests_stop(final=True) as stop:
        with live if live is not None else nullcontext():
            result = produce(conn, topic, pool, Pacer(msgs_per_s, count), seconds, verify=verify_,
                             on_progress=on_progress, stop=stop)
        d = result.deliveries
        p50 = d.histogram.percentile(50)
        p99 = d.histogram.percentile(99)
        p1 = d.histogram.percentile(1)
        report = LoadReport(topic=topic, target_rate=msgs_per_s, duration_s=result.elapsed, sent=result.sent,
                            acked=d.acked, errors=d.errors, bytes_acked=d.bytes_acked,
                            p50_ms=None if p50 is None else round(p50 * 1000, 2),
                            p99_ms=None if p99 is None else round(p99 * 1000, 2),
                            p1_ms=None if p1 is None else round(p1 * 1000, 2),
                            error_samples=tuple(d.error_samples),
                            interrupted=result.interrupted)
        if verify_ and not result.interrupted:
            if not json_out:
                err.print(f"verifying: reading back {d.acked:,} acknowledged records…")
            v = verify(conn, topic, start_offsets, d.offsets, stop=stop)
            report = replace(report, verified=True, verify_complete=v.complete, read_back=v.read_back,
                             lost=v.lost, corrupted=v.corrupted, interrupted=not v.complete)
        # still inside: a second Ctrl-C while the summary is printed must not cut it off (nor, being
        # `final`, the exit after it)
        print_json(report.to_json()) if json_out else _print_report(report)
        sys.stdout.flush()
    if report.interrupted:
        raise KeyboardInterrupt
    if report.errors or report.lost or report.corrupted:
        raise OperationFailed(f"load: {report.errors} delivery errors, {report.lost} lost, "
                              f"{report.corrupted} corrupted records")
