"""`brokerscale topics`: healthcare topic policy, partition/config optimizer, hot-partition detection."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from brokerscale.cli_common import BootstrapOpt, ClusterOpt, CommandConfigOpt, FormatOpt, OutputFormat, profile
from brokerscale.connect import ConnectionProfile
from brokerscale.console import console, err, print_json
from brokerscale.errors import BadInput, OperationFailed
from brokerscale.observe.options import MetricsUrlOpt
from brokerscale.topics.apply import apply_reviews, refusals
from brokerscale.topics.hot import DEFAULT_FACTOR, find_hot_partitions
from brokerscale.topics.live import Measurement, TopicsAdmin
from brokerscale.topics.metrics import MetricsSource, metrics_source
from brokerscale.topics.model import Finding, TopicReview
from brokerscale.topics.plan_file import drift, plan_document, read_topics_plan
from brokerscale.topics.policy import TopicPolicy, load_policy
from brokerscale.topics.render import (
    applied_table,
    changes_table,
    findings_table,
    hot_table,
    list_table,
    policy_table,
    traffic_table,
)
from brokerscale.topics.review import key_remap_explanation, review_topics
from brokerscale.units import parse_byte_rate, parse_duration

app = typer.Typer(
    help="Topic policy for clinical data: classes by name prefix, partition targets from measured traffic, "
         "PHI-safe configs, hot partitions.\n\n"
         "Examples:\n\n"
         "  brokerscale topics policy                      # the classes and what they require\n\n"
         "  brokerscale topics list\n\n"
         "  brokerscale topics optimize                    # dry run: measure 10 s, print changes\n\n"
         "  brokerscale topics optimize --apply --allow-key-remap\n\n"
         "  brokerscale topics optimize -o plan.json && brokerscale topics apply plan.json\n\n"
         "  brokerscale topics hot --window 20s",
    no_args_is_help=True,
)

PolicyOpt = Annotated[
    Path | None,
    typer.Option("--policy", metavar="FILE", envvar="BROKERSCALE_TOPIC_POLICY", show_default=False,
                 help="Topic policy YAML (default: the shipped policy). Start it with `extends: default` "
                      "to add classes to the shipped ones."),
]
TopicOpt = Annotated[
    list[str] | None,
    typer.Option("--topic", "-t", metavar="NAME", show_default=False,
                 help="Only this topic (repeatable). Default: every non-internal topic."),
]


class Source(StrEnum):
    auto = "auto"
    offsets = "offsets"
    metrics = "metrics"


SourceOpt = Annotated[
    Source,
    typer.Option("--source", help="Traffic per topic from: metrics (brokers' JMX exporters, exact bytes), "
                                  "offsets (log-end and group offsets × average record size; works on any "
                                  "cluster), or auto (metrics when exporter URLs are known, else offsets)."),
]
WindowOpt = Annotated[
    str,
    typer.Option("--window", "-w", metavar="DURATION",
                 help="How long to measure traffic (offsets sampled across it; metrics scraped at both ends)."),
]


def _window(text: str) -> float:
    seconds = parse_duration(text, what="--window")
    if seconds > 600:
        raise BadInput(f"--window: {text!r} is longer than the 10 min limit")
    return seconds


def _measure(admin: TopicsAdmin, names: list[str], window_s: float, quiet: bool,
             metrics: MetricsSource | None = None) -> Measurement:
    if not names:
        return Measurement({}, {}, window_s)
    if quiet:
        result = admin.measure(names, window_s, metrics=metrics)
    else:
        with Progress(TextColumn("measuring traffic on {task.fields[n]} topic(s)"), BarColumn(),
                      TimeRemainingColumn(), console=err, transient=True) as progress:
            task = progress.add_task("measure", total=1.0, n=len(names))
            result = admin.measure(names, window_s, tick=lambda f: progress.update(task, completed=f),
                                   metrics=metrics)
            progress.update(task, completed=1.0)
    if result.note:
        err.print(f"[yellow]note:[/] {escape(result.note)}", soft_wrap=True)
    return result


def _selected(admin: TopicsAdmin, topics: list[str] | None, include_internal: bool) -> list[str]:
    names = admin.topic_names(include_internal)
    if not topics:
        return names
    missing = [t for t in topics if t not in names]
    for attempt in range(8):  # a topic created a moment ago may not be in every broker's metadata yet
        if not missing:
            break
        if attempt:
            time.sleep(0.5)
        known = set(admin.topic_names(True))
        missing = [t for t in missing if t not in known]
    if missing:
        raise BadInput(f"--topic: {missing[0]!r} does not exist on {admin.profile.label}")
    return sorted(set(topics))


def _list_findings(review: TopicReview) -> list[Finding]:
    """Findings that hold whatever the traffic: configs, replication, and partitions below the class floor."""
    out = [f for f in review.findings if not f.code.startswith(("partitions-", "key-remap"))]
    p = review.partitions
    if p is not None and p.current < p.floor:
        out.append(Finding("warning", "partitions-below-floor",
                           f"{p.current} partitions, below the class floor {p.floor}"))
    return out


@app.command("policy")
def policy_command(policy: PolicyOpt = None, fmt: FormatOpt = OutputFormat.table) -> None:
    """Show (and validate) the topic policy: classes, prefixes and what each class requires.

    An invalid policy file is reported as one line naming the field and the reason (exit 2).

    Examples:

      brokerscale topics policy

      brokerscale topics policy --policy my-policy.yaml --format json
    """
    pol = load_policy(policy)
    if fmt is OutputFormat.json:
        print_json(pol.model_dump())
        return
    console.print(policy_table(pol))


@app.command("list")
def list_command(
    bootstrap: BootstrapOpt = None, command_config: CommandConfigOpt = None, cluster: ClusterOpt = None,
    policy: PolicyOpt = None, topic: TopicOpt = None,
    include_internal: Annotated[bool, typer.Option("--include-internal", help="Also list __consumer_offsets etc.")]
    = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """List topics with their class, partitions, replication, retention and policy status.

    Status counts the findings that hold whatever the traffic (configs, replication, partitions below the
    class floor); `topics optimize` measures traffic for partition targets.

    Examples:

      brokerscale topics list

      brokerscale topics list --cluster prod --format json
    """
    pol = load_policy(policy)
    prof = profile(bootstrap, command_config, cluster)
    with TopicsAdmin(prof) as admin:
        names = _selected(admin, topic, include_internal)
        reviews = review_topics(admin.states(names), {}, pol)
    rows = [(r, _list_findings(r)) for r in reviews]
    if fmt is OutputFormat.json:
        print_json([{"topic": r.topic, "class": r.topic_class, "partitions": r.state.partitions,
                     "replication_factor": r.state.replication_factor, "configs": r.state.configs,
                     "status": "unmanaged" if not r.managed else ("ok" if not f else "findings"),
                     "findings": [vars(x) for x in f]} for r, f in rows])
        return
    if not rows:
        console.print(f"no topics on {prof.label}")
        return
    console.print(list_table(rows))


def _explain_refusal(reviews: list[TopicReview], refused: set[str]) -> None:
    for r in reviews:
        p = r.partitions
        if r.topic in refused and p is not None and p.partition_key:
            err.print(f"[yellow]refused[/] {r.topic}: "
                      + key_remap_explanation(r.topic, p.partition_key, p.current, p.target), soft_wrap=True)


@app.command("optimize")
def optimize_command(
    bootstrap: BootstrapOpt = None, command_config: CommandConfigOpt = None, cluster: ClusterOpt = None,
    policy: PolicyOpt = None, topic: TopicOpt = None, window: WindowOpt = "10s",
    source: SourceOpt = Source.auto, metrics_url: MetricsUrlOpt = None,
    apply: Annotated[bool, typer.Option("--apply", help="Execute the changes (default: dry run).")] = False,
    allow_key_remap: Annotated[bool, typer.Option(
        "--allow-key-remap", help="Allow adding partitions to keyed topics (breaks per-key ordering during the "
                                  "change).")] = False,
    configs_only: Annotated[bool, typer.Option(
        "--configs-only", help="Apply config fixes only; leave partition counts alone.")] = False,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE", show_default=False,
        help="Write the reviewed changes to this plan file; `brokerscale topics apply FILE` applies exactly "
             "them later.")] = None,
    reassignment_out: Annotated[Path | None, typer.Option(
        "--reassignment-out", metavar="FILE", show_default=False,
        help="Where to write the reassignment that raises replication factors (default: under the data "
             "directory, one file per cluster).")] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Diff live topics against the policy and the planner's partition rule; --apply fixes them.

    Traffic (bytes in + out per topic) is measured over --window: from the brokers' own per-topic
    byte counters when their JMX exporters are known (--metrics-url, or a local dev cluster), else
    from log-end and consumer-group offsets times the average record size on disk. The partition
    target is the planner's rule (max(6, 3×ceil(ceil(1.3 × MB/s ÷ 10)/3)) within the class floor
    and cap).

    Safety: a dry run changes nothing. Kafka cannot reduce partitions, so a smaller target is
    reported, never attempted. Adding partitions to a keyed topic (patient_id, encounter_id) moves
    keys and breaks per-patient ordering during the change, so --apply refuses unless
    --allow-key-remap is given (or use --configs-only). Every applied change is written to the
    audit log first (intent), then confirmed (result): see `brokerscale audit --action topics.`

    Review now, apply later: `-o plan.json` writes the changes shown (and the state they were
    reviewed against) to a file; `brokerscale topics apply plan.json` applies exactly those.

    PHI classes are also checked for replication factor >= 3, 2 <= min.insync.replicas < RF,
    unclean leader election off, retention not infinite (and within the class maximum), cleanup.policy
    delete and message.timestamp.type; each finding says why. Kafka raises a replication factor only
    by a partition reassignment, so optimize writes one (existing replicas stay, new ones go to other
    racks) and prints the `brokerscale rebalance execute` command that runs it with throttles.
    Topics that match no class are listed with a finding, never changed.

    Examples:

      brokerscale topics optimize

      brokerscale topics optimize --topic clinical.labs --window 30s

      brokerscale topics optimize -o plan.json            # review; then: brokerscale topics apply plan.json

      brokerscale topics optimize --apply --configs-only

      brokerscale topics optimize --apply --allow-key-remap --format json
    """
    window_s = _window(window)
    pol = load_policy(policy)
    prof = profile(bootstrap, command_config, cluster)
    quiet = fmt is OutputFormat.json
    metrics = metrics_source(prof.bootstrap, metrics_url, source.value)
    with TopicsAdmin(prof) as admin:
        names = _selected(admin, topic, False)
        managed = [n for n in names if pol.classify(n) is not None]
        measurement = _measure(admin, managed, window_s, quiet, metrics)
        reviews = review_topics(admin.states(names), measurement.rates, pol)
        refused = refusals(reviews, allow_key_remap=allow_key_remap, configs_only=configs_only) if apply else []
        applied: list[Any] = []
        if apply and refused:
            if fmt is OutputFormat.table:
                console.print(changes_table(reviews, configs_only=configs_only))
            _explain_refusal(reviews, {x.topic for x in refused})
            raise BadInput(f"--allow-key-remap: refused: adding partitions to {len(refused)} keyed topic(s) "
                           f"({', '.join(x.topic for x in refused)}) would remap keys; nothing was changed "
                           "(re-run with --allow-key-remap, or --configs-only)")
        if apply:
            applied = _apply(reviews, admin, configs_only, quiet)
    if output is not None:
        _write_plan(output, plan_document(prof.label, measurement.window_s, reviews, configs_only=configs_only))
    replication = _replication_proposal(reviews, pol, prof, reassignment_out,
                                        (bootstrap, command_config, cluster))
    if fmt is OutputFormat.json:
        print_json({"cluster": prof.label, "window_s": measurement.window_s, "dry_run": not apply,
                    "topics": [r.to_dict() for r in reviews],
                    "unmanaged": [r.topic for r in reviews if not r.managed],
                    "replication": replication,
                    "applied": [vars(a) for a in applied]})
        return
    if not reviews:
        console.print(f"no topics on {prof.label}")
        return
    if any(r.managed for r in reviews):
        console.print(traffic_table(reviews))
    else:
        console.print(f"no topics on {prof.label} match a policy class (see `brokerscale topics policy`)")
    if any(r.has_changes or (r.partitions and r.partitions.action == "decrease") for r in reviews):
        console.print(changes_table(reviews, configs_only=configs_only, allow_key_remap=allow_key_remap))
    if any(r.findings for r in reviews):
        console.print(findings_table(reviews))
    if replication is not None:
        console.print(f"[bold]replication factor[/]: Kafka raises it only by reassignment; wrote "
                      f"{escape(replication['file'])} ({replication['partitions']} partition(s) of "
                      f"{', '.join(replication['topics'])}; existing replicas stay, new ones are copied). "
                      f"Run it with throttles, progress and audit:\n  {escape(replication['command'])}\n"
                      f"or with Kafka's own tool:\n  {escape(replication['kafka_command'])}", soft_wrap=True)
    if apply:
        if applied:
            console.print(applied_table(applied))
        console.print(f"applied {len(applied)} change(s); see `brokerscale audit --action topics.`")
    elif any(r.has_changes for r in reviews):
        console.print("[bold]dry run:[/] nothing was changed. Re-run with --apply to make these changes"
                      + (f", or apply the reviewed file: `brokerscale topics apply {output}`." if output else "."))
    else:
        console.print("[green]every managed topic matches the policy[/]")


def _write_plan(path: Path, doc: dict[str, Any]) -> None:
    import json

    try:
        path.write_text(json.dumps(doc, indent=1) + "\n")
    except OSError as exc:
        raise BadInput(f"{path}: cannot write the file ({exc.strerror})") from None


@app.command("apply")
def apply_command(
    plan: Annotated[Path, typer.Argument(metavar="PLAN", help="The file written by `topics optimize -o`.",
                                         show_default=False)],
    bootstrap: BootstrapOpt = None, command_config: CommandConfigOpt = None, cluster: ClusterOpt = None,
    allow_key_remap: Annotated[bool, typer.Option(
        "--allow-key-remap", help="Allow the plan's partition increases on keyed topics (breaks per-key ordering "
                                  "during the change).")] = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Apply exactly the changes of a reviewed plan file, audited; refuse if the cluster changed since.

    The plan records each topic's partition count and the current value of every config it changes.
    They are read again first: if any differs (someone changed the topic, or the plan is for another
    cluster), nothing is applied and the differences are listed — run `topics optimize -o` again to
    review the new state. Partition increases on keyed topics need --allow-key-remap, as with
    `optimize --apply`. Nothing is measured again: the file is the change.

    Examples:

      brokerscale topics optimize -o plan.json

      brokerscale topics apply plan.json

      brokerscale topics apply plan.json --allow-key-remap --format json
    """
    planned_for, reviews = read_topics_plan(plan)
    prof = profile(bootstrap, command_config, cluster)
    if planned_for != prof.label:
        raise BadInput(f"{plan}: cluster: the plan was made for {planned_for}, not {prof.label}; nothing was "
                       "changed")
    quiet = fmt is OutputFormat.json
    with TopicsAdmin(prof) as admin:
        existing = set(admin.topic_names(True))
        names = sorted(r.topic for r in reviews if r.topic in existing)
        now = {s.name: s for s in admin.states(names)} if names else {}
        changed = drift(reviews, now)
        if changed:
            raise BadInput(f"{plan}: the cluster changed since the plan was reviewed: {'; '.join(changed)}; "
                           f"nothing was changed (review again with `brokerscale topics optimize -o {plan}`)")
        refused = refusals(reviews, allow_key_remap=allow_key_remap, configs_only=False)
        if refused:
            _explain_refusal(reviews, {x.topic for x in refused})
            raise BadInput(f"--allow-key-remap: refused: the plan adds partitions to {len(refused)} keyed topic(s) "
                           f"({', '.join(x.topic for x in refused)}), which remaps keys; nothing was changed")
        applied = _apply(reviews, admin, False, quiet) if reviews else []
    if fmt is OutputFormat.json:
        print_json({"cluster": prof.label, "plan": str(plan), "applied": [vars(a) for a in applied]})
        return
    if applied:
        console.print(applied_table(applied))
    console.print(f"applied {len(applied)} change(s) from {plan}; see `brokerscale audit --action topics.`")
def _connection_args(given: tuple[str | None, Path | None, str | None]) -> list[str]:
    bootstrap, command_config, cluster = given
    if cluster:
        return ["--cluster", cluster]
    args = ["--bootstrap", bootstrap] if bootstrap else []
    if command_config is not None:
        args += ["--command-config", str(command_config)]
    return args


def _replication_proposal(reviews: list[TopicReview], pol: TopicPolicy, prof: ConnectionProfile,
                          out: Path | None,
                          given: tuple[str | None, Path | None, str | None]) -> dict[str, Any] | None:
    """Write the reassignment that brings under-replicated topics to their class RF; None if none is needed."""
    targets: dict[str, int] = {}
    for r in reviews:
        match = pol.classify(r.topic)
        if match is not None and r.state.replication_factor < match[1].replication_factor:
            targets[r.topic] = match[1].replication_factor
    if not targets:
        return None
    import json
    import shlex

    from brokerscale.balance.live import model_from_cluster
    from brokerscale.balance.state import default_state_path
    from brokerscale.topics.replication import raise_replication, reassignment_json

    model = model_from_cluster(prof)
    moves = raise_replication(model, targets)
    path = out or default_state_path(prof.label).with_name(f"{default_state_path(prof.label).stem}-replication.json")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(reassignment_json(moves), indent=2) + "\n")
    except OSError as exc:
        raise BadInput(f"--reassignment-out: {path}: cannot write: {exc.strerror or exc}") from None
    conn = _connection_args(given)
    command = shlex.join(["brokerscale", "rebalance", "execute", *conn, "--proposal", str(path), "--apply"])
    kafka = ["kafka-reassign-partitions.sh", "--bootstrap-server", prof.bootstrap]
    if given[1] is not None:
        kafka += ["--command-config", str(given[1])]
    kafka_command = shlex.join([*kafka, "--reassignment-json-file", str(path), "--execute",
                                "--throttle", "50000000"])
    return {"file": str(path), "topics": sorted(targets), "partitions": len(moves),
            "target_replication_factor": targets, "command": command, "kafka_command": kafka_command}


def _apply(reviews: list[TopicReview], admin: TopicsAdmin, configs_only: bool, quiet: bool) -> list[Any]:
    from brokerscale.store import open_store

    store = open_store()
    try:
        todo = [r for r in reviews if r.config_changes
                or (r.partitions and r.partitions.action == "increase" and not configs_only)]
        say: Callable[[str], None] | None = None if quiet else (lambda s: err.print(f"  {s}"))
        applied = apply_reviews(todo, admin, store, configs_only=configs_only, step=say,
                                cluster=admin.profile.label)
    finally:
        store.close()
    for a in applied:
        if a.action == "topics.create_partitions":
            want = next(r.partitions.target for r in reviews if r.topic == a.topic and r.partitions)
            if a.after.get("partitions") != want:
                raise OperationFailed(f"{a.topic}: asked for {want} partitions, the cluster reports "
                                      f"{a.after.get('partitions')}")
    return applied


@app.command("hot")
def hot_command(
    bootstrap: BootstrapOpt = None, command_config: CommandConfigOpt = None, cluster: ClusterOpt = None,
    policy: PolicyOpt = None, topic: TopicOpt = None, window: WindowOpt = "10s",
    factor: Annotated[float, typer.Option("--factor", help="Flag partitions above FACTOR × their topic's median.")]
    = DEFAULT_FACTOR,
    min_rate: Annotated[str, typer.Option("--min-rate", metavar="SIZE",
                                          help="Ignore partitions below this many bytes/s (noise).")] = "1KB",
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Find hot partitions: bytes-in above 2× the median partition of the same topic.

    The usual cause on clinical topics is one very busy key (an ICU device, a long-stay patient):
    every record of a key goes to one partition, so more partitions do not help — a better key does.
    Measured from log-end offset deltas (metadata only; no record is read).

    Examples:

      brokerscale topics hot

      brokerscale topics hot --topic device.vitals --window 30s --factor 3
    """
    window_s = _window(window)
    if factor <= 1:
        raise BadInput(f"--factor: must be greater than 1 (got {factor:g})")
    min_bps = parse_byte_rate(min_rate, what="--min-rate")
    pol = load_policy(policy)
    prof = profile(bootstrap, command_config, cluster)
    with TopicsAdmin(prof) as admin:
        names = _selected(admin, topic, False)
        measurement = _measure(admin, names, window_s, fmt is OutputFormat.json)
    keys = {}
    for n in names:
        match = pol.classify(n)
        keys[n] = match[1].partition_key if match else None
    hot = find_hot_partitions(measurement.partition_bytes_in, factor=factor, min_bytes_per_s=min_bps, keys=keys,
                              leaders=measurement.leaders)
    if fmt is OutputFormat.json:
        print_json({"cluster": prof.label, "window_s": measurement.window_s, "factor": factor,
                    "hot_partitions": [vars(h) for h in hot]})
        return
    if not hot:
        console.print(f"no hot partitions: {len(measurement.partition_bytes_in)} partition(s) in {len(names)} "
                      f"topic(s) measured over {measurement.window_s:.1f} s (factor {factor:g}× median)")
        return
    console.print(hot_table(hot))
    for text in dict.fromkeys(h.suggestion for h in hot):
        console.print(f"• {text}")
