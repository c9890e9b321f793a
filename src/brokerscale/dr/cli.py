"""`brokerscale dr`: multi-region replication between clusters — start, watch, fail over, fail back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from brokerscale.cli_common import FormatOpt, OutputFormat
from brokerscale.console import console, err, print_json

app = typer.Typer(
    help="Multi-region replication: MirrorMaker 2 flows between self-managed clusters and cluster links between "
         "Confluent Cloud clusters, declared in a topology file; their lag, and measured failover and failback.\n\n"
         "Examples:\n\n"
         "  brokerscale dr up --topology examples/dr-topology.yaml            # what would start (dry run)\n\n"
         "  brokerscale dr up --topology examples/dr-topology.yaml --apply\n\n"
         "  brokerscale dr status --format json\n\n"
         "  brokerscale dr down",
    no_args_is_help=True,
)

TopologyOpt = Annotated[
    Path | None,
    typer.Option("--topology", "-t", metavar="FILE", show_default=False,
                 help="Topology YAML (clusters, flows, data_sovereignty). Default: the one last started."),
]
PolicyOpt = Annotated[
    Path | None,
    typer.Option("--policy", metavar="FILE", envvar="BROKERSCALE_TOPIC_POLICY", show_default=False,
                 help="Topic policy YAML whose PHI classes the data-sovereignty rule covers "
                      "(default: the shipped one)."),
]
FlowOpt = Annotated[
    list[str] | None,
    typer.Option("--flow", metavar="NAME", show_default=False, help="Only this flow (repeatable). Default: all."),
]
ApplyOpt = Annotated[bool, typer.Option("--apply", help="Do it. Without it, print what would be done.")]


def _say(quiet: bool = False) -> Callable[[str], None]:
    return (lambda _m: None) if quiet else (lambda m: err.print(m, soft_wrap=True))


def _names(topo: Any, flows: list[str] | None) -> list[str]:
    for name in flows or []:
        topo.flow(name)
    return list(flows or topo.flows)


@app.command("up")
def up(topology: Annotated[Path, typer.Option("--topology", "-t", metavar="FILE", help="Topology YAML.")],
       policy: PolicyOpt = None, flow: FlowOpt = None, apply: ApplyOpt = False,
       fmt: FormatOpt = OutputFormat.table) -> None:
    """Start one MirrorMaker 2 process (dedicated mode) per flow of the topology, or, for a flow between
    two Confluent clusters, create its cluster link and one mirror topic per selected topic.

    Everything is checked first: the file, each cluster answering, the replication factor against each
    cluster's brokers, and the data-sovereignty rule — a selected topic of a PHI class headed for a
    jurisdiction the file does not allow refuses the whole start (exit 2, naming topic, class and
    jurisdiction). PHI topics created later are kept out by the generated `topics.exclude`.
    Each flow's files (mm2.properties 0600 with any client secrets, logs, pids) live under the data
    directory, never on a command line. Without --apply, prints the flows and their configuration
    (secrets shown as ***).

    Examples:

      brokerscale dr up --topology examples/dr-topology.yaml

      brokerscale dr up --topology examples/dr-topology.yaml --flow primary-dr --apply
    """
    from brokerscale.dr import flows as dr_flows
    from brokerscale.dr import links as dr_links
    from brokerscale.dr.mm2 import redacted
    from brokerscale.dr.topology import load_topology
    from brokerscale.topics.policy import load_policy

    topo = load_topology(topology)
    pol = load_policy(policy)
    names = _names(topo, flow)
    mm2_names = [n for n in names if not topo.is_link(n)]
    with dr_links.clients(topo, str(topology)) as cl:
        prepared, refused = dr_flows.prepare(topo, pol, str(topology), mm2_names) if mm2_names else ([], [])
        links = [dr_links.prepare(topo, pol, str(topology), n, cl) for n in names if topo.is_link(n)]
        dr_flows.refuse(refused + [r for ln in links for r in ln.refused])
        if not apply:
            if fmt is OutputFormat.json:
                print_json({"dry_run": True,
                            "flows": [{"flow": p.name, "targets": p.targets, "excludes": p.excludes,
                                       "mm2_properties": redacted(p.properties)} for p in prepared]
                            + [ln.shown() for ln in links]})
                return
            for p in prepared:
                console.print(f"[bold]flow {p.name}[/] -> MirrorMaker 2 driving {', '.join(p.targets)}")
                for k, v in redacted(p.properties).items():
                    console.print(f"  {k} = {v}", soft_wrap=True, markup=False)
            for ln in links:
                shown = ln.shown()
                console.print(f"[bold]flow {ln.name}[/] -> cluster link {ln.name} on {ln.target_id} from "
                              f"{ln.source_id}, {len(ln.topics)} mirror topic(s): {', '.join(ln.topics) or 'none'}",
                              soft_wrap=True)
                for k, v in shown["link_configs"].items():
                    console.print(f"  {k} = {v}", soft_wrap=True, markup=False)
            console.print("dry run: nothing started. Add --apply to start these flows.")
            return
        from brokerscale.store import open_store

        store = open_store()
        try:
            dr_flows.save_topology(topo, str(topology))
            results = dr_flows.start(topo, str(topology), prepared, store, _say(fmt is OutputFormat.json))
            results += [dr_links.start(ln, topo, cl, store, _say(fmt is OutputFormat.json)) for ln in links]
        finally:
            store.close()
    if fmt is OutputFormat.json:
        print_json({"dry_run": False, "flows": results})
    else:
        for r in results:
            if "link" in r:
                console.print(f"flow {r['flow']}: cluster link {r['link']} on {r['target']}, "
                              f"{len(r['mirror_topics'])} mirror topic(s) ({len(r['mirrors_created'])} created now)")
            else:
                console.print(f"flow {r['flow']}: running (pid {r['pid']}), files in {r['directory']}")


@app.command("down")
def down(topology: TopologyOpt = None, flow: FlowOpt = None, fmt: FormatOpt = OutputFormat.table) -> None:
    """Stop the flows' MirrorMaker processes (and their position watchers). Audited.

    Without --flow every flow stops and the started topology is forgotten, so `check` no longer judges
    replication; with --flow the others keep running and the stopped one is reported (replication_stopped).

    Examples:

      brokerscale dr down

      brokerscale dr down --flow primary-analytics
    """
    from brokerscale.dr import flows as dr_flows
    from brokerscale.dr import links as dr_links
    from brokerscale.dr.process import known_flows
    from brokerscale.store import open_store

    topo = None
    if topology is None and not dr_flows.saved_topology_path().exists():
        names = [f.name for f in known_flows()]
    else:
        topo, _ = dr_flows.current_topology(topology)
        names = _names(topo, flow)
    link_names = [n for n in names if topo is not None and topo.is_link(n)]
    store = open_store()
    try:
        out = dr_flows.stop([n for n in names if n not in link_names], store, _say(fmt is OutputFormat.json))
        if topo is not None and link_names:
            with dr_links.clients(topo) as cl:
                out += [dr_links.stop(n, topo, cl, store, _say(fmt is OutputFormat.json)) for n in link_names]
    finally:
        store.close()
    if not flow:  # every flow stopped on purpose: nothing is judged any more (no replication_stopped findings)
        dr_flows.saved_topology_path().unlink(missing_ok=True)
    if fmt is OutputFormat.json:
        print_json({"flows": out})
    else:
        for r in out:
            console.print(f"flow {r['flow']}: {'stopped' if r['was_running'] else 'was not running'}"
                          + (" (cluster link deleted)" if r['flow'] in link_names and r['was_running'] else ""))


@app.command("restart")
def restart(topology: TopologyOpt = None, policy: PolicyOpt = None, flow: FlowOpt = None,
            fmt: FormatOpt = OutputFormat.table) -> None:
    """Stop and start flows again with a freshly generated configuration (after a topology or policy edit,
    or a cluster that moved). The same checks as `dr up` run first; a refusal leaves the flows running.

    Examples:

      brokerscale dr restart

      brokerscale dr restart --topology examples/dr-topology.yaml --flow primary-dr
    """
    from brokerscale.dr import flows as dr_flows
    from brokerscale.dr import links as dr_links
    from brokerscale.store import open_store
    from brokerscale.topics.policy import load_policy

    topo, source = dr_flows.current_topology(topology)
    names = _names(topo, flow)
    pol = load_policy(policy)
    mm2_names = [n for n in names if not topo.is_link(n)]
    say = _say(fmt is OutputFormat.json)
    with dr_links.clients(topo, source) as cl:
        prepared, refused = dr_flows.prepare(topo, pol, source, mm2_names) if mm2_names else ([], [])
        links = [dr_links.prepare(topo, pol, source, n, cl) for n in names if topo.is_link(n)]
        dr_flows.refuse(refused + [r for ln in links for r in ln.refused])
        store = open_store()
        try:
            dr_flows.stop(mm2_names, store, say, actor="brokerscale dr restart")
            results = dr_flows.start(topo, source, prepared, store, say)
            # a link has no process to restart: its missing mirror topics are created
            results += [dr_links.start(ln, topo, cl, store, say) for ln in links]
        finally:
            store.close()
    if fmt is OutputFormat.json:
        print_json({"flows": results})
    else:
        for r in results:
            if "link" in r:
                console.print(f"flow {r['flow']}: cluster link {r['link']}, {len(r['mirrors_created'])} mirror "
                              "topic(s) created")
            else:
                console.print(f"flow {r['flow']}: restarted (pid {r['pid']})")


def _table(title: str, columns: list[str]) -> Table:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c, justify="right" if c.endswith(("lag", "/s", "records", "s)")) else "left")
    return t


def _secs(v: float | None, lower: bool = False) -> str:
    return "—" if v is None else f"{v:,.1f}{'+' if lower else ''}"


def _num(v: float | None, unit: str = "") -> str:
    return "—" if v is None else f"{v:,.0f}{unit}"


def print_status(found: list[Any], out: Any, links: set[str] | None = None) -> None:
    """The `dr status` tables: a headline per flow direction, its topics, its groups' checkpoints."""
    for d in found:
        out.print(f"[bold]flow {d.flow}[/] {d.source} -> {d.target}: {d.state}"
                      + (f" (MirrorMaker pid {d.mm2_pid})" if d.mm2_pid else "")
                      + (" (cluster link)" if d.flow in (links or set()) else "")
                      + f"; lag {d.lag_records:,} records, {_secs(d.lag_seconds)} s; "
                        f"{_num(d.records_per_s)} records/s, {_num(d.bytes_per_s)} B/s replicated", soft_wrap=True)
        t = _table("", ["topic", "on target", "partitions", "lag records", "lag (s)", "records/s", "bytes/s"])
        for tl in d.topics:
            t.add_row(tl.topic, tl.remote_topic, str(tl.partitions), f"{tl.lag_records:,}",
                      _secs(tl.lag_seconds, tl.lower_bound), _num(tl.records_per_s), _num(tl.bytes_per_s))
        if d.topics:
            out.print(t)
        if d.groups:
            g = _table("consumer-group checkpoints", ["group", "partitions", "committed on source",
                                                      "checkpointed", "checkpoint lag"])
            for gc in d.groups:
                g.add_row(gc.group, str(gc.partitions), f"{gc.committed_source:,}", f"{gc.checkpointed:,}",
                          f"{gc.lag_records:,}")
            out.print(g)
        for r in d.refused_topics:
            out.print(f"  [yellow]refused[/] {r['reason']}", soft_wrap=True)
        for n in d.notes:
            out.print(f"  note: {n}", soft_wrap=True)


@app.command("status")
def status(topology: TopologyOpt = None, policy: PolicyOpt = None, flow: FlowOpt = None,
           fmt: FormatOpt = OutputFormat.table) -> None:
    """Replication lag per flow and topic: records and seconds behind the source, records/s and bytes/s
    replicated, consumer-group checkpoint lag, and the state of each MirrorMaker process.

    Lag in records is the source log-end offset minus the mirrored position (MirrorMaker's offset syncs
    plus what the target appended since); lag in seconds is the age of the oldest record not yet
    mirrored, interpolated from the flow watcher's history like consumer lag ('+': only a lower bound).
    A cluster link's lag is the link's own report per mirror partition, dated the same way from its
    watcher's history. PHI topics the flow selects but may not copy (data sovereignty) are listed as refused.

    Examples:

      brokerscale dr status

      brokerscale dr status --flow primary-dr --format json
    """
    from brokerscale.dr import flows as dr_flows
    from brokerscale.dr import links as dr_links
    from brokerscale.dr.status import collect
    from brokerscale.topics.policy import load_policy

    topo, source = dr_flows.current_topology(topology)
    pol = load_policy(policy)
    with dr_links.clients(topo, source) as cl:
        found = [d for name in _names(topo, flow)
                 for d in (dr_links.collect(topo, name, pol, cl) if topo.is_link(name) else collect(topo, name, pol))]
    if fmt is OutputFormat.json:
        print_json({"flows": [d.to_json() for d in found]})
        return
    print_status(found, console, links={n for n in topo.flows if topo.is_link(n)})


def _unplanned_bound(report: dict[str, Any]) -> str:
    most = report.get("rpo_records_max_estimate")
    if most is None:
        return " (at least: the source died; `dr failback` measures the exact figure)"
    return (f" measured, and ~{most - report['rpo_records']:,} more probably written in the "
            f"{report['rpo_window_s']:.2f} s between the last look at the source and its death: at most "
            f"~{most:,} records, {_secs(report.get('rpo_seconds_max'))} s (estimate; `dr failback` measures "
            "the exact figure)")


@app.command("failover")
def failover_command(
    flow: Annotated[str, typer.Option("--flow", metavar="NAME", help="The flow whose target takes over.")],
    topology: TopologyOpt = None, policy: PolicyOpt = None, apply: ApplyOpt = False,
    drain_timeout: Annotated[float, typer.Option("--drain-timeout", metavar="SECONDS", min=0,
                                                 help="How long to wait for the lag to drain.")] = 60.0,
    source_log_dirs: Annotated[str | None, typer.Option(
        "--source-log-dirs", metavar="DIR[,DIR]", show_default=False,
        help="The dead source's broker log directories (mounted volumes), to read the exact RPO from its "
             "log segments (batch headers only, never record contents). A dev cluster's are known.")] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Fail a flow over to its target: the runbook, step by step and audited, with RPO and RTO measured.

    Steps: probe the source; fence writes on it if it answers (max.message.bytes below a record batch
    header on every mirrored topic: every write is refused); wait for the lag to drain (--drain-timeout; skipped when
    the source is dead); measure the RPO (records and seconds not replicated); stop MirrorMaker; commit
    each synced consumer group's offsets on the target from the newest checkpoints; check the target
    serves every mirrored topic and print the bootstrap applications must switch to, with the RTO.
    With the source dead, the RPO is read from its brokers' log directories when they can be read (a dev
    cluster's own, or --source-log-dirs for the dead brokers' mounted volumes): per mirrored partition
    the committed end of its log segments (the least log-end offset of its in-sync replicas; a batch
    torn by the crash does not count) against what the target holds: exact. Otherwise it counts from
    the flow watcher's last look at the source (it reads the source's log-end offsets every quarter
    second): what it held then and the target lacks is lost for certain; what was written between that
    look and the death (a window reported with it) is estimated from the recent write rate, as an upper
    figure, and the report says why the disks could not be read. `dr failback` measures the loss again.
    A cluster-link flow (Confluent) is promoted when the source answers and the lag drains (nothing
    lost), else failed over at once; the link's lag at that moment is the RPO.

    Examples:

      brokerscale dr failover --flow primary-dr              # the runbook, nothing done

      brokerscale dr failover --flow primary-dr --apply --format json

      brokerscale dr failover --flow primary-dr --apply --source-log-dirs /mnt/east-1/kafka,/mnt/east-2/kafka
    """
    from brokerscale.dr import flows as dr_flows
    from brokerscale.dr.dead_source import parse_dirs
    from brokerscale.dr.failover import STEPS, failover
    from brokerscale.dr.segments import check_log_dir
    from brokerscale.errors import BadInput
    from brokerscale.topics.policy import load_policy

    topo, _ = dr_flows.current_topology(topology)
    f = topo.flow(flow)
    dirs = parse_dirs(source_log_dirs)
    if dirs is not None:
        if not dirs:
            raise BadInput("--source-log-dirs: no directory given (DIR[,DIR])")
        if topo.is_link(flow):
            raise BadInput(f"--source-log-dirs: flow {flow} is a cluster link between Confluent clusters: "
                           "their brokers' disks are not reachable")
        for d in dirs:
            check_log_dir(d)
    from brokerscale.dr.links import STEPS as LINK_STEPS

    if not apply:
        _dry_run(fmt, {"flow": flow, "source": f.source, "target": f.target,
                       "steps": list(LINK_STEPS if topo.is_link(flow) else STEPS)},
                 f"failover of flow {flow}: {f.source} -> {f.target} takes over")
        return
    from brokerscale.dr import links as dr_links
    from brokerscale.store import open_store

    store = open_store()
    try:
        if topo.is_link(flow):
            with dr_links.clients(topo) as cl:
                report = dr_links.failover(topo, flow, load_policy(policy), store, drain_timeout=drain_timeout,
                                           say=_say(fmt is OutputFormat.json), cl=cl)
        else:
            report = failover(topo, flow, load_policy(policy), store, drain_timeout=drain_timeout,
                              say=_say(fmt is OutputFormat.json), source_log_dirs=dirs)
    finally:
        store.close()
    if fmt is OutputFormat.json:
        print_json(report)
        return
    bound = ("" if report["rpo_exact"] else _unplanned_bound(report)
             if "action" not in report else "" if report["rpo_exact"] else
             " (the link's lag when the source stopped answering)")
    console.print(f"[bold]{report['target']} is primary now.[/] Applications switch to: {report['bootstrap']}",
                  soft_wrap=True)
    console.print(f"RPO: {report['rpo_records']:,} records, {_secs(report['rpo_seconds'])} s not replicated{bound}",
                  soft_wrap=True)
    if report.get("rpo_source"):
        console.print(f"RPO measured from: {report['rpo_source']}"
                      + ("" if report["rpo_exact"] else f" ({report['rpo_note'].rpartition('; not exact: ')[2]})"
                         if "; not exact: " in report.get("rpo_note", "") else ""), soft_wrap=True)
    if "action" in report:
        done = "promoted" if report["action"] == "promote" else "failed over"
        console.print(f"cluster link {flow}: mirror topics {done}"
                      f" ({', '.join(f'{t} {n:,}' for t, n in sorted(report['rpo_by_topic'].items())) or 'none'})",
                      soft_wrap=True)
    console.print(f"RTO: {report['rto_seconds']:.1f} s (runbook {report['runbook_seconds']:.1f} s)")


@app.command("failback")
def failback_command(
    flow: Annotated[str, typer.Option("--flow", metavar="NAME", help="The flow that was failed over.")],
    topology: TopologyOpt = None, policy: PolicyOpt = None, apply: ApplyOpt = False,
    drain_timeout: Annotated[float, typer.Option("--drain-timeout", metavar="SECONDS", min=0,
                                                 help="How long to wait for DR's records to be copied back.")] = 120.0,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Give the primary role back to the old primary once it is up again, losing nothing DR took meanwhile.

    Steps: probe the old primary; measure the failover's exact RPO (records acknowledged on the old
    primary that never reached DR — they stay there and are listed); copy back what DR took since the
    failover (a reverse MirrorMaker flow started exactly at the failover point); fence writes on DR;
    wait until the copy has drained; stop it; commit the groups' translated offsets on the old primary;
    lift the fences and restart the forward flow from the old primary's current end; print the
    bootstrap applications switch back to, with the RTO. Needs replication_policy identity.

    Examples:

      brokerscale dr failback --flow primary-dr

      brokerscale dr failback --flow primary-dr --apply --format json
    """
    from brokerscale.dr import flows as dr_flows
    from brokerscale.dr.failback import STEPS, failback
    from brokerscale.dr.failover import read_state
    from brokerscale.topics.policy import load_policy

    topo, _ = dr_flows.current_topology(topology)
    f = topo.flow(flow)
    if topo.is_link(flow):
        from brokerscale.errors import BadInput

        raise BadInput(f"--flow: {flow} is a cluster link; fail back by declaring the reverse flow ({f.target} -> "
                       f"{f.source}) and running `brokerscale dr up` for it, then `dr failover` on that flow")
    state = read_state(flow)
    if not apply:
        _dry_run(fmt, {"flow": flow, "primary": f.source, "dr": f.target, "steps": list(STEPS),
                       "failover": {k: state.get(k) for k in ("rpo_records", "rpo_exact", "failed_over_at")}},
                 f"failback of flow {flow}: {f.source} becomes primary again, {f.target} a copy")
        return
    from brokerscale.store import open_store

    store = open_store()
    try:
        report = failback(topo, flow, load_policy(policy), store, drain_timeout=drain_timeout,
                          say=_say(fmt is OutputFormat.json))
    finally:
        store.close()
    if fmt is OutputFormat.json:
        print_json(report)
        return
    console.print(f"[bold]{report['primary']} is primary again.[/] Applications switch to: {report['bootstrap']}",
                  soft_wrap=True)
    console.print(f"the failover's exact RPO: {report['failover_rpo_records_exact']:,} records (they stay on "
                  f"{report['primary']}); RTO {report['rto_seconds']:.1f} s", soft_wrap=True)


def _dry_run(fmt: OutputFormat, doc: dict[str, Any], headline: str) -> None:
    """A runbook's dry run: its steps, numbered, and nothing done."""
    if fmt is OutputFormat.json:
        print_json({"dry_run": True, **doc})
        return
    console.print(f"{headline}. Steps:")
    for i, step in enumerate(doc["steps"], 1):
        console.print(f"  {i}. {step}")
    console.print("dry run: nothing done. Add --apply to run the runbook.")
