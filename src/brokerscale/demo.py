"""`brokerscale demo`: the whole loop — plan, observe, decide, act, record — on a real local cluster.

It starts a 3-broker Apache Kafka cluster from the jars, and each capability adds one short section
(a `demo_step(ctx)` function in its own package). The cluster is always stopped at the end, even on
failure or Ctrl-C.
"""

from __future__ import annotations

import importlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.rule import Rule
from rich.status import Status
from rich.table import Table

from brokerscale.console import console as default_console
from brokerscale.dev.cluster import DevCluster

# (title, module with demo_step) in the order the story is told.
STEPS: list[tuple[str, str]] = [
    ("Plan: size the cluster for the scaling guide's health-system workload", "brokerscale.plan.demo"),
    ("Load: synthetic HL7 v2 and FHIR traffic", "brokerscale.load.demo"),
    ("Observe: load rises past a threshold and the findings appear", "brokerscale.observe.demo"),
    ("Topics: healthcare topic policy, dry run", "brokerscale.topics.demo"),
    ("Rebalance: add a fourth broker and move partitions onto it", "brokerscale.balance.demo"),
    ("Confluent Cloud: resize a Dedicated cluster (local emulator)", "brokerscale.cloud.demo"),
    ("Multi-region: MirrorMaker 2 to a DR cluster, its lag, the failover runbook", "brokerscale.dr.demo"),
    ("Autoscale: score the policy on a recorded week, then react to the cluster's load", "brokerscale.scale.demo"),
    ("Record: the audit log of what changed", "brokerscale.store.demo"),
]


@dataclass
class DemoContext:
    """What every demo step gets: the running cluster, where to print, a scratch directory."""

    bootstrap: str
    cluster: DevCluster
    console: Console
    workdir: Path
    started_ts: float = field(default_factory=time.time)
    notes: dict[str, Any] = field(default_factory=dict)


def available_steps() -> list[tuple[str, Callable[[DemoContext], None]]]:
    """The steps whose capability is built (a package without a demo module is simply not shown)."""
    found = []
    for title, module in STEPS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue
            raise
        found.append((title, mod.demo_step))
    return found


def show_cluster(ctx: DemoContext) -> None:
    from confluent_kafka.admin import AdminClient

    md = AdminClient({"bootstrap.servers": ctx.bootstrap}).list_topics(timeout=10)
    brokers = Table("broker", "address", "rack", "state", title="Brokers", title_justify="left")
    for b in ctx.cluster.brokers:
        brokers.add_row(str(b.id), f"127.0.0.1:{b.port}", b.rack or "", "running" if b.alive else "stopped")
    ctx.console.print(brokers)
    topics = Table("topic", "partitions", "replicas", "leaders by broker", title="Topics", title_justify="left")
    for name in sorted(t for t in md.topics if not t.startswith("__")):
        parts = md.topics[name].partitions
        leaders: dict[int, int] = {}
        for p in parts.values():
            leaders[p.leader] = leaders.get(p.leader, 0) + 1
        rf = max((len(p.replicas) for p in parts.values()), default=0)
        topics.add_row(name, str(len(parts)), str(rf), ", ".join(f"{b}:{n}" for b, n in sorted(leaders.items())))
    ctx.console.print(topics)


def demo(
    brokers: Annotated[int, typer.Option("--brokers", help="Brokers in the demo cluster.")] = 3,
    keep: Annotated[bool, typer.Option("--keep", help="Leave the demo cluster running at the end.")] = False,
) -> None:
    """Run the end-to-end demo on a local Apache Kafka cluster (started and stopped for you)."""
    out = default_console
    started = time.monotonic()
    existing = DevCluster.find("demo")
    if existing is not None:
        existing.down()
    with Status("Starting a local Apache Kafka cluster 'demo'", console=out) as status:
        cluster = DevCluster.up("demo", brokers=brokers, racks=["a", "b", "c"],
                                on_progress=lambda m: status.update(m))
    try:
        with tempfile.TemporaryDirectory(prefix="brokerscale-demo-") as tmp:
            ctx = DemoContext(cluster.bootstrap, cluster, out, Path(tmp))
            out.print(f"cluster 'demo' up: bootstrap {cluster.bootstrap}")
            for title, step in available_steps():
                out.print(Rule(title))
                step(ctx)
                ctx.bootstrap = cluster.bootstrap
            out.print(Rule("The cluster now"))
            show_cluster(ctx)
    finally:
        if keep:
            out.print("cluster 'demo' left running: `brokerscale dev down --name demo` stops it")
        else:
            with Status("Stopping the demo cluster", console=out):
                cluster.down()
    out.print(f"demo finished in {time.monotonic() - started:.0f}s")
