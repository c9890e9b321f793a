"""`brokerscale rebalance propose|execute|status|cancel` — move the least data to balance a cluster."""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from brokerscale.balance.execution import Settings, cancel_run, choose_settings, moves_for, run_moves, state_for
from brokerscale.balance.executor import Progress, throttle_plan
from brokerscale.balance.kafka_ops import KafkaOps
from brokerscale.balance.reassignment_file import read_plan
from brokerscale.balance.state import ExecState, Move, default_state_path, executor_running, load_state
from brokerscale.cli_common import BootstrapOpt, ClusterOpt, CommandConfigOpt, FormatOpt, OutputFormat, profile
from brokerscale.console import console, err, print_json
from brokerscale.errors import BadInput
from brokerscale.units import format_bytes, parse_byte_rate, parse_duration

if TYPE_CHECKING:  # the optimizer (numpy) is imported only by `propose`: `execute` starts faster without it
    from brokerscale.balance.goals import Thresholds
    from brokerscale.balance.model import ClusterModel

app = typer.Typer(
    help="Add or drain brokers and rebalance with the least data moved (goals, optimizer, throttled executor).",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

ClusterFileOpt = Annotated[Path | None, typer.Option(
    "--cluster-file", metavar="FILE",
    help="Plan offline from a cluster JSON file ({\"brokers\": [...], \"partitions\": [...]}), "
         "not a live cluster.",
    show_default=False)]
ModeOpt = Annotated[str, typer.Option("--mode", "-m", help="full | add-brokers | remove-brokers.")]
BrokersOpt = Annotated[str | None, typer.Option(
    "--brokers", metavar="IDS", help="Broker ids for add-brokers / remove-brokers, e.g. 4,5.", show_default=False)]
TopicsOpt = Annotated[str | None, typer.Option(
    "--topics", metavar="REGEX", help="Only topics whose name fully matches this regular expression.",
    show_default=False)]


def parse_ids(text: str | None) -> list[int]:
    if not text:
        return []
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise BadInput(f"--brokers: {text!r} is not a comma-separated list of broker ids (e.g. 4,5)") from None


def _thresholds(replica: float, leader: float, disk: float, network: float, topic: float,
                capacity: float) -> Thresholds:
    from brokerscale.balance.goals import Thresholds

    return Thresholds(replica_count=replica, leader_count=leader, disk=disk, network_in=network,
                      topic_spread=topic, capacity=capacity)


def load_model(cluster_file: Path | None, bootstrap: str | None, command_config: Path | None,
               cluster: str | None, topics: str | None, include_internal: bool = False,
               rate_window_s: float = 0.0) -> ClusterModel:
    from brokerscale.balance.model import ClusterModel, load_cluster_file

    if cluster_file is not None:
        model = load_cluster_file(cluster_file)
        if topics:
            import re

            try:
                pat = re.compile(topics)
            except re.error as exc:
                raise BadInput(f"--topics: {topics!r} is not a regular expression ({exc})") from None
            keep = ClusterModel(model.brokers)
            for i, t in enumerate(model.topics):
                if pat.fullmatch(t):
                    keep.add(t, model.partitions[i], model.replicas[i], model.sizes[i], model.bytes_in[i])
            model = keep
        return model
    from brokerscale.balance.live import model_from_cluster

    what = f" (and {rate_window_s:g} s of log growth for bytes-in rates)" if rate_window_s else ""
    with console.status(f"reading brokers, replicas and log-dir sizes{what}…"):
        return model_from_cluster(profile(bootstrap, command_config, cluster), topics, include_internal,
                                  rate_window_s)


@app.command("propose")
def propose(
    bootstrap: BootstrapOpt = None,
    command_config: CommandConfigOpt = None,
    cluster: ClusterOpt = None,
    cluster_file: ClusterFileOpt = None,
    mode: ModeOpt = "full",
    brokers: BrokersOpt = None,
    topics: TopicsOpt = None,
    include_internal: Annotated[bool, typer.Option(
        "--include-internal",
        help="Also move internal topics (__consumer_offsets…); remove-brokers does unless --topics is given.")]
    = False,
    rate_window: Annotated[str | None, typer.Option(
        "--rate-window", metavar="DURATION",
        help="Live clusters: measure bytes-in per partition from log growth over this window (e.g. 10s), "
             "for the network-in goal. Default: no rates.", show_default=False)] = None,
    replica_threshold: Annotated[float, typer.Option(help="Replica-count band around the fair share.")] = 0.10,
    leader_threshold: Annotated[float, typer.Option(help="Leader-count band.")] = 0.10,
    disk_threshold: Annotated[float, typer.Option(help="Disk-usage band.")] = 0.10,
    network_threshold: Annotated[float, typer.Option(help="Network-in band.")] = 0.10,
    topic_threshold: Annotated[float, typer.Option(help="Per-topic replica spread band.")] = 0.10,
    capacity_limit: Annotated[float, typer.Option(help="Hard limit: disk and network under this share of capacity.")]
    = 0.80,
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE",
                                                help="Also write the full proposal JSON here (input of `execute`).",
                                                show_default=False)] = None,
    reassignment_file: Annotated[Path | None, typer.Option(
        "--reassignment-file", metavar="FILE",
        help="Also write only Kafka's reassignment JSON (for kafka-reassign-partitions --execute).",
        show_default=False)] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Propose a reassignment that meets the goals with the fewest bytes moved. Changes nothing.

    Hard goals (never broken): distinct brokers and racks, disk and network under 80% of known capacity,
    removed brokers end empty. Soft goals (bands, default ±10%): replica count, leader count, disk,
    network-in, topic spread. Bytes moved are reported next to a lower bound no plan can beat.

    Examples:

      brokerscale rebalance propose --mode add-brokers --brokers 4 -o plan.json

      brokerscale rebalance propose --mode remove-brokers --brokers 2 --format json

      brokerscale rebalance propose --cluster-file cluster.json --mode full --disk-threshold 0.05
    """
    from brokerscale.balance.named_brokers import check_named_brokers
    from brokerscale.balance.optimizer import optimize
    from brokerscale.balance.proposal import file_text, reassignment, render

    # draining must empty the broker completely, internal topics included, unless topics are chosen
    internal = include_internal or (mode == "remove-brokers" and topics is None)
    window = parse_duration(rate_window, what="--rate-window") if rate_window else 0.0
    model = load_model(cluster_file, bootstrap, command_config, cluster, topics, internal, window)
    th = _thresholds(replica_threshold, leader_threshold, disk_threshold, network_threshold, topic_threshold,
                     capacity_limit)
    ids = parse_ids(brokers)
    check_named_brokers(model, mode, ids)
    proposal = optimize(model, mode, ids, th)
    text = file_text(proposal) if output is not None or fmt == OutputFormat.json else ""
    if output is not None:
        _write_text(output, text)
    if reassignment_file is not None:
        _write(reassignment_file, reassignment(proposal))
    if fmt == OutputFormat.json:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        render(proposal, console)
        if output is not None:
            console.print(f"proposal written to {output}; run `brokerscale rebalance execute --proposal {output}`")


def _write(path: Path, doc: object) -> None:
    _write_text(path, json.dumps(doc, indent=1) + "\n")


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as exc:
        raise BadInput(f"{path}: cannot write the file ({exc.strerror})") from None


# -- execute / status / cancel ---------------------------------------------------------------------

StateOpt = Annotated[Path | None, typer.Option(
    "--state", metavar="FILE", help="Executor state file. Default: one per cluster under the data dir.",
    show_default=False)]
ApplyOpt = Annotated[bool, typer.Option("--apply", help="Really do it. Without it: print the exact changes only.")]


@app.command("execute")
def execute(
    bootstrap: BootstrapOpt = None,
    command_config: CommandConfigOpt = None,
    cluster: ClusterOpt = None,
    proposal: Annotated[Path | None, typer.Option(
        "--proposal", "-p", metavar="FILE",
        help="Output of `propose -o` (sizes included), or any Kafka reassignment JSON. Omit to resume the "
             "unfinished run.",
        show_default=False)] = None,
    throttle: Annotated[str | None, typer.Option(
        help="Replication throttle per broker, e.g. 20MB/s (or 20MB). Default: 50MB/s, or the resumed run's.",
        show_default=False)] = None,
    no_throttle: Annotated[bool, typer.Option("--no-throttle", help="Move without a replication throttle.")] = False,
    max_per_broker: Annotated[int | None, typer.Option(
        min=1, help="At most this many concurrent moves per broker. Default: 5, or the resumed run's.",
        show_default=False)] = None,
    stall_timeout: Annotated[str, typer.Option(help="Stop when no partition finishes for this long.")] = "10m",
    poll: Annotated[str, typer.Option(help="How often to check progress (a finished move is followed by the next "
                                           "one within this time).")] = "0.5s",
    state_file: StateOpt = None,
    apply: ApplyOpt = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Execute a proposal: batched AlterPartitionReassignments with replication throttles. Dry run by default.

    At most --max-per-broker moves touch a broker at once; throttles are set on the brokers and topic
    replicas involved, set again if anything removes them while the run is going, and always removed at
    the end, on cancel and on failure. Progress is saved after each partition: run the command again
    (without --proposal) to resume with the same throttle and concurrency. `rebalance cancel --apply` in
    another shell stops a running execute. A dead destination broker stops the run with a message
    instead of hanging. Every change is written to the audit log.

    Examples:

      brokerscale rebalance execute --proposal plan.json                 # show what would change

      brokerscale rebalance execute --proposal plan.json --throttle 20MB --apply

      brokerscale rebalance execute --apply                              # resume after a failure
    """
    rate = None if no_throttle or throttle is None else parse_byte_rate(throttle, what="--throttle")
    stall_s = parse_duration(stall_timeout, what="--stall-timeout")
    poll_s = parse_duration(poll, what="--poll")
    plan = read_plan(proposal) if proposal is not None else None
    prof = profile(bootstrap, command_config, cluster)
    path = state_file or default_state_path(prof.label)
    existing = load_state(path)
    # Until the first moves are submitted, everything allocated (the Kafka client, SQLAlchemy for the audit
    # log, the plan) lives to the end: the cycle collector walking it ~120 times cost ~12 % of the CPU before
    # the first byte moved (more than 0.3 s of wall time on a busy machine). It resumes once moves are in flight.
    paused = gc.isenabled()
    gc.disable()

    def resume_gc() -> None:
        nonlocal paused
        if paused:
            paused = False
            gc.enable()

    ops = KafkaOps(prof.admin())
    try:
        moves = moves_for(ops, plan) if plan is not None else None
        state, resumed = state_for(plan, moves, existing, path, prof.label)
        settings = choose_settings(state if resumed else None, rate, no_throttle, max_per_broker)
        state.throttle_bytes_s = settings.throttle_bytes_s
        state.max_per_broker = settings.max_per_broker
        done = set(state.completed)
        pending = [m for m in state.moves if m.key not in done]
        if fmt == OutputFormat.json and not apply:
            print_json(_plan_json(state, pending, resumed, settings, path))
            return
        if not state.moves:
            console.print("nothing to do: every partition already has the proposed replicas")
            return
        verb = "resuming" if resumed else "running"
        if not apply:
            _show_plan(pending, len(state.moves), settings.throttle_bytes_s)
            console.print(f"{'would resume' if resumed else 'would run'} plan {state.plan_id} with "
                          f"{settings.describe()}")
            console.print(f"[bold]dry run[/]: nothing changed. Add --apply to execute "
                          f"({len(pending)} of {len(state.moves)} partitions pending, state {path}).")
            return
        err.print(f"{verb} plan {state.plan_id}: {len(pending)} of {len(state.moves)} partitions pending, "
                  f"{settings.describe()}")
        _run(ops, state, path, poll_s, stall_s, fmt, resume_gc)
    finally:
        resume_gc()
        ops.close()


def _plan_json(state: ExecState, pending: list[Move], resumed: bool, settings: Settings, path: Path) -> dict[str, Any]:
    brokers, topics = throttle_plan(pending, settings.throttle_bytes_s)
    return {"plan_id": state.plan_id, "dry_run": True, "resumed": resumed, "state_file": str(path),
            "throttle_bytes_s": settings.throttle_bytes_s, "throttle_source": settings.throttle_source,
            "max_per_broker": settings.max_per_broker, "max_per_broker_source": settings.max_source,
            "partitions": len(state.moves), "pending": len(pending), "bytes": sum(m.bytes for m in pending),
            "throttled_brokers": sorted(brokers), "throttled_topics": sorted(topics),
            "moves": [{"topic": m.topic, "partition": m.partition, "replicas_now": m.original,
                       "replicas_after": m.target, "adding": m.adding, "size_bytes": m.size, "bytes": m.bytes}
                      for m in pending]}


def _show_plan(pending: list[Move], total: int, rate: int | None) -> None:
    from rich.table import Table

    table = Table(title=f"reassignments to start ({len(pending)} of {total})")
    for col in ("partition", "replicas now", "replicas after", "adds", "bytes"):
        table.add_column(col, justify="right" if col == "bytes" else "left")
    for m in pending[:200]:
        table.add_row(f"{m.topic}-{m.partition}", str(m.original), str(m.target),
                      ",".join(map(str, m.adding)) or "(leader only)", format_bytes(m.bytes))
    console.print(table)
    if len(pending) > 200:
        console.print(f"… and {len(pending) - 200} more")
    brokers, topics = throttle_plan(pending, rate)
    if brokers:
        console.print(f"throttle: leader/follower.replication.throttled.rate={rate} on brokers "
                      f"{','.join(map(str, sorted(brokers)))}; leader/follower.replication.throttled.replicas "
                      f"on topics {','.join(sorted(topics))}; all removed when the run ends")
    else:
        console.print("throttle: none (--no-throttle)")
    console.print(f"bytes to move: {format_bytes(sum(m.bytes for m in pending))}")


def _run(ops: KafkaOps, state: ExecState, path: Path, poll_s: float, stall_s: float, fmt: OutputFormat,
         resume_gc: Callable[[], None]) -> None:
    from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    with Bar(TextColumn("[bold]rebalance[/]"), BarColumn(), DownloadColumn(), TextColumn("{task.description}"),
             TimeRemainingColumn(), console=err, disable=fmt == OutputFormat.json) as bar:
        task = bar.add_task("", total=max(1, sum(m.bytes for m in state.moves)))

        def show(p: Progress) -> None:
            resume_gc()  # called after each poll: the first batch is submitted by now
            bar.update(task, completed=p.done_bytes, total=max(1, p.total_bytes),
                       description=f"{p.done}/{p.total} partitions, {p.in_flight} moving")

        run_moves(ops, state, path, poll_s=poll_s, stall_s=stall_s, on_progress=show,
                  on_notice=lambda text: err.print(f"[yellow]note:[/] {text}"))
    if fmt == OutputFormat.json:
        print_json({"plan_id": state.plan_id, "status": state.status, "completed": len(state.completed),
                    "partitions": len(state.moves), "message": state.message, "state_file": str(path)})
        return
    console.print(f"[green]done[/]: {state.message}; throttles removed (state {path})")


@app.command("status")
def status(
    bootstrap: BootstrapOpt = None,
    command_config: CommandConfigOpt = None,
    cluster: ClusterOpt = None,
    state_file: StateOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """List ongoing reassignments — including those started by other tools — and this cluster's run.

    Examples:

      brokerscale rebalance status

      brokerscale rebalance status --format json
    """
    prof = profile(bootstrap, command_config, cluster)
    path = state_file or default_state_path(prof.label)
    state = load_state(path)
    ops = KafkaOps(prof.admin())
    try:
        ongoing = ops.ongoing()
        live = ops.live_brokers()
        brokers = sorted(live | set(state.throttled_brokers if state else []))
        throttles = ops.throttle_configs(brokers, state.throttled_topics if state else [])
    finally:
        ops.close()
    mine = {(m.topic, m.partition) for m in state.moves} if state else set()
    rows: list[dict[str, Any]] = [
        {"topic": t, "partition": p, "replicas": v["replicas"], "adding": v["adding_replicas"],
             "removing": v["removing_replicas"], "started_by": "brokerscale" if (t, p) in mine else "other"}
            for (t, p), v in sorted(ongoing.items())]
    run: dict[str, Any] | None = None
    if state is not None:
        done = set(state.completed)
        run = {"plan_id": state.plan_id, "status": state.status, "completed": len(done), "total": len(state.moves),
               "bytes_done": sum(m.bytes for m in state.moves if m.key in done),
               "bytes_total": sum(m.bytes for m in state.moves), "message": state.message, "state_file": str(path),
               "executor_running": executor_running(path)}
    if fmt == OutputFormat.json:
        print_json({"ongoing": rows, "run": run, "throttles": throttles})
        return
    from rich.table import Table

    table = Table(title=f"ongoing reassignments ({len(rows)})")
    for col in ("partition", "replicas", "adding", "removing", "started by"):
        table.add_column(col)
    for r in rows:
        table.add_row(f"{r['topic']}-{r['partition']}", str(r["replicas"]), str(r["adding"]), str(r["removing"]),
                      r["started_by"])
    console.print(table)
    if run is not None:
        running = " (an executor is running it now)" if run["executor_running"] else ""
        console.print(f"last brokerscale run {run['plan_id']}{running}: [bold]{run['status']}[/], {run['completed']}/"
                      f"{run['total']} partitions, {format_bytes(run['bytes_done'])} of "
                      f"{format_bytes(run['bytes_total'])}. {run['message']}")
    else:
        console.print("no brokerscale rebalance has run against this cluster")
    console.print("throttles set: " + ("; ".join(f"{k}: {v}" for k, v in throttles.items()) if throttles else "none"))


@app.command("cancel")
def cancel_cmd(
    bootstrap: BootstrapOpt = None,
    command_config: CommandConfigOpt = None,
    cluster: ClusterOpt = None,
    state_file: StateOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="Cancel every ongoing reassignment, also other tools'.")] = False,
    apply: ApplyOpt = False,
) -> None:
    """Cancel the in-flight reassignments of the current run and remove its throttles. Dry run by default.

    A `rebalance execute` still running (in another shell) is asked to stop first: it starts nothing
    more, rolls back its in-flight moves and exits; this command waits for it. Kafka returns a cancelled
    partition to its original replicas; partitions that already finished stay where they are. Either
    way the cluster is consistent and throttle-free afterwards.

    Examples:

      brokerscale rebalance cancel              # show what would be cancelled

      brokerscale rebalance cancel --apply
    """
    prof = profile(bootstrap, command_config, cluster)
    path = state_file or default_state_path(prof.label)
    state = load_state(path)
    if state is None and not all_:
        raise BadInput(f"{path}: no brokerscale rebalance for this cluster; use --all to cancel every "
                       "ongoing reassignment")
    if state is None:
        state = ExecState(plan_id="external", cluster=prof.label, moves=[])
    ops = KafkaOps(prof.admin())
    try:
        ongoing = ops.ongoing()
        mine = {(m.topic, m.partition) for m in state.moves}
        chosen = sorted(tp for tp in ongoing if all_ or tp in mine)
        if not apply:
            console.print(f"would cancel {len(chosen)} in-flight reassignment{'s' if len(chosen) != 1 else ''}"
                          + (": " + ", ".join(f"{t}-{p}" for t, p in chosen[:20]) if chosen else ""))
            console.print(f"would remove throttles on brokers {state.throttled_brokers or 'none'} and topics "
                          f"{state.throttled_topics or 'none'}")
            if executor_running(path):
                console.print("would first ask the `rebalance execute` running on this state to stop")
            console.print("[bold]dry run[/]: nothing changed. Add --apply to cancel.")
            return
        done = cancel_run(ops, path, prof.label, everything=all_,
                          on_wait=lambda: err.print("asking the running `rebalance execute` to stop…"))
    finally:
        ops.close()
    after = load_state(path)
    plural = "s" if len(done) != 1 else ""
    if after is not None and after.plan_id == state.plan_id and after.message.startswith("cancelled by"):
        extra = f"; {len(done)} more in-flight reassignment{plural} cancelled" if done else ""
        console.print(f"the running executor stopped: {after.message}{extra}; throttles removed")
        return
    console.print(f"cancelled {len(done)} in-flight reassignment{plural}; throttles removed")
