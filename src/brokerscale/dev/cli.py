"""`brokerscale dev`: start, inspect, break and heal a real local Apache Kafka cluster."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.status import Status
from rich.table import Table

from brokerscale.cli_common import FormatOpt, OutputFormat
from brokerscale.console import console, err, print_json
from brokerscale.dev.cluster import DevCluster, validate_name
from brokerscale.dev.jars import fetch as fetch_jars
from brokerscale.errors import BadInput

app = typer.Typer(
    help="Run a real local Apache Kafka cluster (KRaft, one controller + N brokers) from Maven Central jars.\n\n"
         "Examples:\n\n"
         "  brokerscale dev up --brokers 3\n\n"
         "  brokerscale dev stop-broker 2 --kill   # crash a broker: partitions go under-replicated\n\n"
         "  brokerscale dev start-broker 2         # and heal them\n\n"
         "  brokerscale dev down",
    no_args_is_help=True,
)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Cluster name: several can run side by side.")]


def _cluster(name: str) -> DevCluster:
    validate_name(name)
    cluster = DevCluster.find(name)
    if cluster is None:
        raise BadInput(f"--name: no dev cluster named {name!r} (start one with `brokerscale dev up --name {name}`)")
    return cluster


def _describe(cluster: DevCluster, fmt: OutputFormat) -> None:
    from brokerscale.dev import prometheus

    rows = cluster.brokers
    prom = prometheus.state(cluster)
    sec = cluster.security
    clients = {p: str(sec.properties_file(p)) for p in sec.principals()} if sec.secured else {}
    if fmt is OutputFormat.json:
        print_json({
            "name": cluster.name, "bootstrap": cluster.bootstrap, "directory": str(cluster.root),
            "prometheus_url": prom.url if prom else None,
            "security": {**sec.to_json(), "client_properties": clients},
            "controller": {"id": cluster.controller.id, "port": cluster.controller.port,
                           "alive": cluster.alive(cluster.controller)},
            "brokers": [{"id": b.id, "host": "127.0.0.1", "port": b.port, "rack": b.rack, "alive": b.alive,
                         "pid": b.pid, "metrics_url": cluster.metrics_urls[b.id]} for b in rows],
        })
        return
    # The bootstrap line comes first and alone: it is what clients need, and a script that takes the
    # first HOST:PORT of the output gets a broker (the controller is not a bootstrap server).
    console.print(f"bootstrap servers: [bold]{cluster.bootstrap}[/]", soft_wrap=True)
    table = Table(title=f"dev cluster {cluster.name!r}", title_justify="left")
    for col in ("broker", "address", "rack", "state", "metrics"):
        table.add_column(col)
    for b in rows:
        table.add_row(str(b.id), f"127.0.0.1:{b.port}", b.rack or "", _state(b.alive), cluster.metrics_urls[b.id])
    console.print(table)
    c = cluster.controller
    console.print(f"controller {c.id}:     port {c.port}, {_state(cluster.alive(c))} (KRaft quorum; not for clients)",
                  soft_wrap=True)
    console.print(f"state directory:   {cluster.root}", soft_wrap=True)
    if sec.secured:
        console.print(f"security:          {sec.protocol}{', ACLs (deny by default)' if sec.acls else ''}; "
                      "client properties (mode 0600, for --command-config):", soft_wrap=True)
        for principal, path in clients.items():
            console.print(f"  {principal:8} {path}", soft_wrap=True)
    console.print("for scripts:       brokerscale dev status --name "
                  f"{cluster.name} --format json  (field \"bootstrap\")", soft_wrap=True)
    if prom is not None:
        console.print(f"prometheus:        {prom.url}  (brokers labelled broker_id; observe --prometheus {prom.url})",
                      soft_wrap=True)


def _state(alive: bool) -> str:
    return "[green]running[/]" if alive else "[red]stopped[/]"


@app.command()
def fetch() -> None:
    """Download the Apache Kafka jars (and its tools, the JMX exporter) from Maven Central into the cache."""
    runtime = fetch_jars()
    console.print(f"Apache Kafka {runtime.version}: {runtime.libs}")


@app.command()
def up(
    brokers: Annotated[int | None, typer.Option(
        "--brokers", help="Number of brokers (each its own JVM). Default 3 for a new cluster.",
        show_default=False)] = None,
    name: NameOpt = "local",
    racks: Annotated[str | None, typer.Option("--racks", help="Racks assigned round-robin, e.g. a,b,c.")] = None,
    keep_data: Annotated[bool, typer.Option(
        "--keep-data", help="If the start fails, keep the new cluster's logs and data for a post-mortem.")] = False,
    security: Annotated[str | None, typer.Option(
        "--security", help="plaintext (default), sasl_ssl (TLS + SCRAM-SHA-512 users) or mtls (client "
        "certificates required). A CA of its own; client properties per principal for --command-config.",
        show_default=False)] = None,
    acls: Annotated[bool, typer.Option(
        "--acls", help="Deny by default (StandardAuthorizer): 'admin' is a super user, 'reader' may only "
        "describe. Needs --security sasl_ssl or mtls.")] = False,
    fmt: FormatOpt = OutputFormat.table,
    with_prometheus: Annotated[bool, typer.Option(
        "--prometheus", help="Also start Debian's Prometheus scraping every broker's exporter (label broker_id) "
                             "and brokerscale's exporter while one runs; `dev status` shows its URL.")] = False,
    prometheus_rules: Annotated[list[Path] | None, typer.Option(
        "--prometheus-rules", metavar="FILE", show_default=False,
        help="With --prometheus: alerting rules to load (e.g. from `brokerscale rules emit`). Repeatable.")] = None,
    alertmanager: Annotated[str | None, typer.Option(
        "--alertmanager", metavar="HOST:PORT", show_default=False,
        help="With --prometheus: send firing alerts to this Alertmanager.")] = None,
) -> None:
    """Start a cluster: one KRaft controller and N brokers on 127.0.0.1; returns when all have registered.

    On an existing name it resumes exactly that cluster (its stopped nodes, its data) and says so; options
    that describe a different cluster are refused. Ports lost to another process are retried with fresh
    ones; a start that fails or is interrupted stops everything it started and removes the new cluster,
    so the same command can be run again.
    """
    validate_name(name)
    if brokers is not None and not 1 <= brokers <= 32:
        raise BadInput(f"--brokers: must be between 1 and 32, got {brokers}")
    rack_list = [r.strip() for r in racks.split(",")] if racks is not None else None
    if (prometheus_rules or alertmanager) and not with_prometheus:
        raise BadInput("--prometheus-rules/--alertmanager: need --prometheus")
    from brokerscale.dev import prometheus

    if with_prometheus and prometheus.find_binary() is None:
        raise BadInput("--prometheus: no `prometheus` binary on PATH (Debian: apt-get install prometheus)")
    existed = DevCluster.find(name) is not None
    try:
        with Status(f"Starting dev cluster {name!r}", console=err) as status:
            cluster = DevCluster.up(name, brokers, rack_list, on_progress=_progress(status), keep_data=keep_data,
                                    security=security, acls=acls or None)
    except KeyboardInterrupt:
        left = DevCluster.find(name)
        if left is None:
            err.print(f"interrupted: stopped what it had started; dev cluster {name!r} was not created")
        else:
            err.print(f"interrupted: stopped what it had started; dev cluster {name!r} is "
                      f"{'kept as it was' if existed else 'kept (--keep-data)'}", soft_wrap=True)
        raise typer.Exit(130) from None
    if with_prometheus:
        with Status("Starting Prometheus", console=err):
            prometheus.start(cluster, rule_files=prometheus_rules or [], alertmanager=alertmanager)
    _describe(cluster, fmt)


def _progress(status: Status) -> Callable[[str], None]:
    """Show progress in the spinner, and keep the lines that say what happened (resume, retries)."""
    def show(message: str) -> None:
        if message.startswith(("cluster ", "broker ", "controller ")):
            err.print(message, soft_wrap=True)
        status.update(message)
    return show


@app.command()
def status(name: NameOpt = "local", fmt: FormatOpt = OutputFormat.table) -> None:
    """Show the nodes of a cluster, their ports, racks, state and metrics URLs."""
    _describe(_cluster(name), fmt)


@app.command("list")
def list_clusters(fmt: FormatOpt = OutputFormat.table) -> None:
    """List the dev clusters on this machine."""
    clusters = DevCluster.all()
    if fmt is OutputFormat.json:
        print_json([{"name": c.name, "bootstrap": c.bootstrap,
                     "brokers_running": sum(b.alive for b in c.brokers), "brokers": len(c.brokers),
                     "started": c.started}
                    for c in clusters])
        return
    table = Table("name", "brokers running", "bootstrap")
    for c in clusters:
        running = f"{sum(b.alive for b in c.brokers)}/{len(c.brokers)}"
        if not c.started:
            running += " (starting, or a start that was killed: `dev up` cleans it up)"
        table.add_row(c.name, running, c.bootstrap)
    console.print(table)


@app.command()
def down(
    name: NameOpt = "local",
    keep_data: Annotated[bool, typer.Option("--keep-data", help="Keep logs and data; `dev up` restarts it.")] = False,
) -> None:
    """Stop every node of a cluster (no Java process is left) and delete its data unless --keep-data."""
    cluster = _cluster(name)
    with Status(f"Stopping dev cluster {name!r}", console=err):
        cluster.down(keep_data=keep_data)
    console.print(f"dev cluster {name!r} stopped" + (" (data kept)" if keep_data else " and removed"))


@app.command("stop-broker")
def stop_broker(
    broker_id: Annotated[int, typer.Argument(metavar="ID", help="Broker id.")],
    name: NameOpt = "local",
    kill: Annotated[bool, typer.Option("--kill", help="SIGKILL (a crash) instead of a controlled shutdown.")] = False,
) -> None:
    """Stop one broker; with --kill it crashes, leaving its partitions under-replicated."""
    cluster = _cluster(name)
    cluster._broker(broker_id)
    with Status(f"Stopping broker {broker_id}", console=err):
        cluster.stop_broker(broker_id, kill=kill)
    console.print(f"broker {broker_id} {'killed' if kill else 'stopped'}")


@app.command("start-broker")
def start_broker(
    broker_id: Annotated[int, typer.Argument(metavar="ID", help="Broker id.")],
    name: NameOpt = "local",
) -> None:
    """Start a stopped broker again; it catches up and its partitions heal."""
    cluster = _cluster(name)
    cluster._broker(broker_id)
    with Status(f"Starting broker {broker_id}", console=err):
        cluster.start_broker(broker_id)
    console.print(f"broker {broker_id} running")


@app.command("add-broker")
def add_broker(
    name: NameOpt = "local",
    rack: Annotated[str | None, typer.Option("--rack", help="Rack of the new broker (default: least used).")] = None,
) -> None:
    """Add one broker to the cluster (it holds no partitions until a rebalance moves some onto it)."""
    cluster = _cluster(name)
    with Status("Adding a broker", console=err):
        new_id = cluster.add_broker(rack=rack)
    node = cluster.nodes[new_id]
    console.print(f"broker {new_id} running on 127.0.0.1:{node.port} (rack {node.rack})")


@app.command("remove-broker")
def remove_broker(
    broker_id: Annotated[int, typer.Argument(metavar="ID", help="Broker id.")],
    name: NameOpt = "local",
) -> None:
    """Remove a broker for good. Refused while it still holds replicas: drain it with a rebalance first."""
    cluster = _cluster(name)
    with Status(f"Removing broker {broker_id}", console=err):
        cluster.remove_broker(broker_id)
    console.print(f"broker {broker_id} removed")
