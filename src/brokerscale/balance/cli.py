"""`brokerscale rebalance propose|execute|status|cancel` — move the least data to balance a cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from brokerscale.balance.goals import Thresholds
from brokerscale.balance.model import ClusterModel, load_cluster_file
from brokerscale.balance.optimizer import Proposal, optimize
from brokerscale.balance.proposal import reassignment, render, to_json
from brokerscale.cli_common import BootstrapOpt, ClusterOpt, CommandConfigOpt, FormatOpt, OutputFormat, profile
from brokerscale.console import console, print_json
from brokerscale.errors import BadInput

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
    return Thresholds(replica_count=replica, leader_count=leader, disk=disk, network_in=network,
                      topic_spread=topic, capacity=capacity)


def load_model(cluster_file: Path | None, bootstrap: str | None, command_config: Path | None,
               cluster: str | None, topics: str | None) -> ClusterModel:
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

    with console.status("reading brokers, replicas and log-dir sizes…"):
        return model_from_cluster(profile(bootstrap, command_config, cluster), topics)


@app.command("propose")
def propose(
    bootstrap: BootstrapOpt = None,
    command_config: CommandConfigOpt = None,
    cluster: ClusterOpt = None,
    cluster_file: ClusterFileOpt = None,
    mode: ModeOpt = "full",
    brokers: BrokersOpt = None,
    topics: TopicsOpt = None,
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
    model = load_model(cluster_file, bootstrap, command_config, cluster, topics)
    th = _thresholds(replica_threshold, leader_threshold, disk_threshold, network_threshold, topic_threshold,
                     capacity_limit)
    proposal = optimize(model, mode, parse_ids(brokers), th)
    doc = to_json(proposal)
    if output is not None:
        _write(output, doc)
    if reassignment_file is not None:
        _write(reassignment_file, reassignment(proposal))
    if fmt == OutputFormat.json:
        print_json(doc)
    else:
        render(proposal, console)
        if output is not None:
            console.print(f"proposal written to {output}; run `brokerscale rebalance execute --proposal {output}`")


def _write(path: Path, doc: object) -> None:
    try:
        path.write_text(json.dumps(doc, indent=1) + "\n")
    except OSError as exc:
        raise BadInput(f"{path}: cannot write the file ({exc.strerror})") from None


def proposal_for(model: ClusterModel, mode: str, brokers: list[int], th: Thresholds) -> Proposal:
    return optimize(model, mode, brokers, th)
