"""`brokerscale scale`: the autoscaler — simulate a policy on a trace; run it against a cluster."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from brokerscale.cli_common import BootstrapOpt, ClusterOpt, CommandConfigOpt, FormatOpt, OutputFormat
from brokerscale.console import console, print_json
from brokerscale.errors import BadInput, BrokerscaleError, OperationFailed, Unreachable
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


RUN_HELP = """Run the autoscaler: observe -> decide -> act -> record, every --interval, until --duration.

A dry run unless --apply: it prints what it would do. With --apply it takes the target's lease in the
store (one acting controller per target; a second one waits and says so), reconciles any change a
previous controller recorded but did not finish (never repeating it), then writes each change's
intent to the audit log before acting and its result after (`brokerscale scale events` lists them).
Before and after every action it logs the scaling checklist items it checked, with their outcome.
A round that cannot reach the target (an outage) is logged with the reason and tried again the next
interval (--metrics-port: brokerscale_scale_up 0, brokerscale_scale_failed_rounds_total); a run that
never reached it exits 69.

[bold]Targets[/]:

- selfmanaged: an Apache Kafka cluster (--cluster NAME or --bootstrap). Scale up starts brokers (a
  local dev cluster: as `dev add-broker`; any other cluster: brokerscale cannot start machines, so it
  uses empty brokers the operator registered, and says how many to start when there are too few), then
  an add-brokers rebalance (optimizer + throttled executor, audited). Scale down drains the newest
  broker with a remove-brokers rebalance, then stops and unregisters it (dev clusters). Capacity per
  broker: --limits with a capacity file (`broker:` section) or a limits profile's broker class.

- confluent: Dedicated CKUs through the cmk v2 API (credentials from CONFLUENT_CLOUD_API_KEY / _SECRET
  or --credentials-file, never the command line). Load from the Metrics API; each round's figures are
  kept in the store under the cluster id, as `cloud metrics --record` keeps them.

[bold]Replication[/]: a cluster at either end of a disaster-recovery flow (MirrorMaker 2 or a cluster
link) gets one more pre-check, "replication healthy", from the replication rules that `check` uses
(replication_lag_seconds, replication_stopped). A critical finding (the DR copy lagging past the
critical line, a flow stopped) blocks scale-downs of the flow's source and target: draining a broker
then widens what a failover would lose. Scale-ups still proceed, and the log says the finding.
The flows are those of --topology FILE, else those the last `brokerscale dr up --apply` started;
when their state cannot be read, scale-downs wait and the log says why.

A policy with a forecast starts from the load the store recorded for the cluster (`observe --record`,
the exporter, `cloud metrics --record`, earlier runs), so "no scale-down into a projected rise" holds
from the first round rather than a day later.

- strimzi: a KafkaNodePool's spec.replicas and KafkaRebalance add-brokers / remove-brokers (kubeconfig
  from KUBECONFIG or ~/.kube/config, or the pod's service account); load read from --bootstrap.

Examples:

  brokerscale scale run --target selfmanaged --cluster local --policy ops/policy.yaml --limits capacity.yaml --apply

  brokerscale scale run --policy ops/policy.yaml --target confluent --cluster-id lkc-abc --environment env-1

  brokerscale scale run --target selfmanaged --cluster east --policy ops/policy.yaml --topology regions.yaml

  brokerscale scale run --target confluent --apply --workload health.yaml --emit terraform --emit-dir deploy/

  brokerscale scale run --target strimzi --namespace kafka --strimzi-cluster my-cluster --node-pool brokers \\
      --bootstrap my-cluster-kafka-bootstrap:9092 --policy ops/policy.yaml --apply
"""

TARGETS = ("selfmanaged", "confluent", "strimzi")


@app.command("run", help=RUN_HELP)
def run_command(
    target: Annotated[str, typer.Option("--target", metavar="selfmanaged|confluent|strimzi",
                                        help="What to scale.")] = "confluent",
    policy: Annotated[Path | None, typer.Option("--policy", metavar="FILE", show_default=False,
                                                help="Policy YAML.")] = None,
    policy_name: Annotated[str | None, typer.Option("--policy-name", metavar="NAME", show_default=False,
                                                    help="A shipped policy (default, seed-reactive).")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Act (default: dry run).")] = False,
    interval: Annotated[str, typer.Option("--interval", metavar="DURATION", help="Time between rounds.")] = "30s",
    duration: Annotated[str | None, typer.Option("--duration", metavar="DURATION", show_default=False,
                                                 help="Stop after this long (default: run until Ctrl-C).")] = None,
    limits: Annotated[str | None, typer.Option(
        "--limits", metavar="NAME|FILE", show_default=False,
        help="Capacity of one unit: a limits profile (CKUs; brokers: its broker class) or a broker "
             "capacity file.")] = None,
    bootstrap: BootstrapOpt = None,
    command_config: CommandConfigOpt = None,
    cluster: ClusterOpt = None,
    throttle: Annotated[str | None, typer.Option(
        "--throttle", metavar="RATE", show_default=False,
        help="selfmanaged: replication throttle per broker while partitions move (default 50MB/s).")] = None,
    namespace: Annotated[str, typer.Option("--namespace", metavar="NS", help="strimzi: namespace.")] = "kafka",
    strimzi_cluster: Annotated[str | None, typer.Option("--strimzi-cluster", metavar="NAME", show_default=False,
                                                        help="strimzi: the Kafka resource's name.")] = None,
    node_pool: Annotated[str, typer.Option("--node-pool", metavar="NAME",
                                           help="strimzi: the KafkaNodePool to size.")] = "brokers",
    api_url: Annotated[str, typer.Option("--api-url", envvar="CONFLUENT_CLOUD_API_URL", metavar="URL",
                                         help="Cluster Management API base URL.")] = "https://api.confluent.cloud",
    metrics_url: Annotated[str, typer.Option("--metrics-url", envvar="CONFLUENT_CLOUD_METRICS_URL", metavar="URL",
                                             help="Metrics API base URL.")] = "https://api.telemetry.confluent.cloud",
    environment: Annotated[str, typer.Option("--environment", "-e", envvar="CONFLUENT_ENVIRONMENT",
                                             metavar="ENV_ID", help="Confluent environment id.")] = "",
    cluster_id: Annotated[str, typer.Option("--cluster-id", "-k", envvar="CONFLUENT_CLUSTER_ID", metavar="LKC_ID",
                                            help="Kafka cluster id.")] = "",
    credentials_file: Annotated[Path | None, typer.Option("--credentials-file", metavar="FILE",
                                                          show_default=False,
                                                          help="File with key: and secret:.")] = None,
    metrics_port: Annotated[int | None, typer.Option(
        "--metrics-port", metavar="PORT", show_default=False,
        help="Serve the controller's Prometheus metrics on 127.0.0.1:PORT/metrics.")] = None,
    notify_url: Annotated[str | None, typer.Option(
        "--notify", envvar="BROKERSCALE_SCALE_WEBHOOK", metavar="URL", show_default=False,
        help="POST each scaling event as JSON to this webhook (or BROKERSCALE_SCALE_WEBHOOK, "
             "for URLs that carry a token).")] = None,
    metrics_window: Annotated[str, typer.Option(
        "--metrics-window", metavar="DURATION",
        help="confluent: Metrics API window each round averages (one-minute points).")] = "3m",
    workload: Annotated[Path | None, typer.Option(
        "--workload", metavar="FILE", show_default=False,
        help="Workload file whose deployment files are regenerated after each applied change (with --emit).")
    ] = None,
    emit: Annotated[list[str] | None, typer.Option(
        "--emit", metavar="KIND", show_default=False,
        help="After each applied change: write these files for the new size, as `plan --emit` "
             "(terraform, strimzi, statefulset, clients; repeatable); their paths go into the audit entry.")
    ] = None,
    emit_dir: Annotated[Path | None, typer.Option(
        "--emit-dir", metavar="DIR", show_default=False,
        help="Where --emit writes (one sub-directory per kind).")] = None,
    topology: Annotated[Path | None, typer.Option(
        "--topology", metavar="FILE", show_default=False,
        help="DR topology (as `brokerscale dr up`) whose flows guard scale-downs of their ends "
             "(default: the topology `dr up --apply` started, if any).")] = None,
) -> None:
    from contextlib import ExitStack

    from brokerscale.scale.controller import Controller
    from brokerscale.scale.demand import resolve_capacity
    from brokerscale.scale.policy import load_policy
    from brokerscale.store import open_store

    if target not in TARGETS:
        raise BadInput(f"--target: {target!r} is not one of {', '.join(TARGETS)}")
    if policy is not None and policy_name is not None:
        raise BadInput("--policy and --policy-name: give one")
    unit = "cku" if target == "confluent" else "broker"
    pol = load_policy(policy, policy_name, unit)  # type: ignore[arg-type]
    every = parse_duration(interval, what="--interval")
    run_for = None if duration is None else parse_duration(duration, what="--duration")
    cap = resolve_capacity(limits, unit)
    from brokerscale.balance.execution import DEFAULT_THROTTLE
    from brokerscale.units import parse_byte_rate

    rate = DEFAULT_THROTTLE if throttle is None else parse_byte_rate(throttle, what="--throttle")
    if target == "strimzi" and not strimzi_cluster:
        raise BadInput("--strimzi-cluster: the Kafka resource's name is needed with --target strimzi")
    document = None
    if emit or workload is not None or emit_dir is not None:
        if not (emit and workload is not None and emit_dir is not None):
            raise BadInput("--emit, --workload and --emit-dir: give all three to regenerate deployment files")
        from brokerscale.scale.documentation import emitter

        document = emitter(workload, emit, emit_dir, unit)
    from brokerscale.dr.guard import TopologyProbe
    from brokerscale.observe.rules import load_rules

    probe = TopologyProbe(load_rules(), topology=topology)  # a bad file: one line, exit 2, before anything runs
    log = lambda m: console.print(escape_line(m))  # noqa: E731
    with ExitStack() as stack:
        store = open_store()
        stack.callback(store.close)
        obs = None
        history_key = None
        if target == "confluent":
            actuator: Any = _confluent(stack, api_url, metrics_url, environment, cluster_id, credentials_file,
                                       metrics_window, every, store)
            history_key = cluster_id  # where `cloud metrics --record` and this controller keep its load
        else:
            # the observer records the load it sees: the forecast's history after a restart
            obs = _observer(stack, bootstrap, command_config, cluster, store)
            if target == "selfmanaged":
                actuator = _selfmanaged(obs, rate, log)
            else:
                actuator = _strimzi(obs, namespace, strimzi_cluster, node_pool)
        # Broker changes take minutes (start, join, move data): keep the lease well past one round.
        ttl = max(10.0, 4 * every) if target == "confluent" else max(60.0, 4 * every)
        if obs is None:
            probe.confluent_id = cluster_id
        else:
            probe.bootstrap = obs.profile.bootstrap
        ctl = Controller(actuator, pol, cap, store, apply=apply, lease_ttl_s=ttl, log=log, document=document,
                         replication=probe)
        _say_replication(probe, log)
        if obs is not None:
            history_key = obs.cluster
        if pol.forecast is not None and history_key:
            _seed_history(ctl, store, history_key, every, cap, log)
        _loop(ctl, actuator, store, apply, every, run_for, metrics_port, notify_url)


def _say_replication(probe: Any, log: Any) -> None:
    """Which flows guard this cluster's scale-downs, once at start."""
    try:
        view = probe.read()
    except BrokerscaleError as exc:
        log(f"replication: {exc}; scale-downs wait until it can be read")
        return
    if view.flows:
        log(f"replication: {', '.join(view.flows)} of {view.topology}: a critical replication finding will "
            "block scale-downs")
    elif view.topology:
        log(f"replication: no flow of {view.topology} has this cluster at an end")


def _confluent(stack: Any, api_url: str, metrics_url: str, environment: str, cluster_id: str,
               credentials_file: Path | None, metrics_window: str, every: float, store: Any) -> Any:
    from brokerscale.cloud.cmk import ClusterManagementClient
    from brokerscale.cloud.credentials import load_credentials
    from brokerscale.cloud.http import CloudHTTP
    from brokerscale.cloud.metrics import MetricsClient
    from brokerscale.scale.actuators.confluent import ConfluentActuator

    if not cluster_id or not environment:
        raise BadInput("--cluster-id and --environment (or CONFLUENT_CLUSTER_ID / CONFLUENT_ENVIRONMENT) are needed")
    for flag, url in (("--api-url", api_url), ("--metrics-url", metrics_url)):
        if not url.startswith(("http://", "https://")):
            raise BadInput(f"{flag}: {url!r} is not an http(s) URL")
    window = parse_duration(metrics_window, what="--metrics-window")
    creds = load_credentials(credentials_file)
    cmk_http = stack.enter_context(CloudHTTP(api_url, creds))
    metrics_http = stack.enter_context(CloudHTTP(metrics_url, creds))
    from brokerscale.cloud.snapshot import snapshot_samples

    return ConfluentActuator(ClusterManagementClient(cmk_http), MetricsClient(metrics_http), cluster_id,
                             environment, window_s=window, poll_s=min(2.0, every),
                             record=lambda snap: store.write_samples(snapshot_samples(snap)))


def _observer(stack: Any, bootstrap: str | None, command_config: Path | None, cluster: str | None,
              store: Any) -> Any:
    from brokerscale.cli_common import profile
    from brokerscale.observe.collect import Observer, dev_metrics_urls
    from brokerscale.observe.rules import load_rules

    prof = profile(bootstrap, command_config, cluster)
    obs = Observer(prof, load_rules(), metrics_urls=dev_metrics_urls(prof.bootstrap), date_lag=False, store=store)
    stack.callback(obs.close)
    return obs


def _seed_history(ctl: Any, store: Any, cluster: str, every: float, cap: Any, log: Any) -> None:
    """The forecast needs a period of history: start from what the store recorded for this cluster."""
    from brokerscale.scale.demand import trigger_thresholds
    from brokerscale.scale.history import trace_from_store
    from brokerscale.scale.simulate import trace_demand

    f = ctl.policy.forecast
    now = time.time()
    try:
        back = max(ctl.policy.forecast_periods()) + f.level_window + 3600.0
        tr = trace_from_store(store, cluster, now - back, now, max(every, 60.0))
    except BadInput:
        log(f"forecast: no recorded load for {cluster} yet; it starts once a period of history is observed")
        return
    dem = trace_demand(tr, cap, trigger_thresholds())
    n = ctl.seed(tr.epoch.tolist(), dem.demand.tolist(), dem.dimension, dem.partitions.tolist())
    log(f"forecast: {n} recorded load points of {cluster} since {tr.timestamps[0]}")


def _selfmanaged(obs: Any, rate: int, log: Any) -> Any:
    from brokerscale.observe.collect import dev_cluster_for
    from brokerscale.paths import data_dir
    from brokerscale.scale.actuators.selfmanaged import SelfManagedActuator

    dev = dev_cluster_for(obs.profile.bootstrap)
    act = SelfManagedActuator(obs.profile, obs, data_dir() / "scale", dev_name=dev.name if dev else None,
                              throttle_bytes_s=rate, log=log)
    if dev is None:
        log(f"{act.target}: not a local dev cluster, so brokerscale cannot start brokers for it: scale-ups use "
            "empty brokers the operator has registered")
    return act


def _strimzi(obs: Any, namespace: str, strimzi_cluster: str | None, node_pool: str) -> Any:
    from kubernetes import client, config

    from brokerscale.scale.actuators.strimzi import StrimziActuator

    if not strimzi_cluster:
        raise BadInput("--strimzi-cluster: the Kafka resource's name is needed with --target strimzi")
    try:
        config.load_kube_config()
    except Exception as exc:  # the client raises ConfigException, or OSError for an unreadable file
        try:
            config.load_incluster_config()
        except Exception:
            raise BadInput(f"kubeconfig: cannot load it from KUBECONFIG or ~/.kube/config, and this is not a pod "
                           f"with a service account ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                           ) from None
    api = client.CustomObjectsApi()
    first = [True]

    def observe() -> Any:
        if first[0]:
            first[0] = False
            return obs.observe(5.0, rounds=2).snapshot
        return obs.sample().snapshot

    return StrimziActuator(api, namespace, strimzi_cluster, node_pool, observe)


def _loop(ctl: Any, actuator: Any, store: Any, apply: bool, every: float, run_for: float | None,
          metrics_port: int | None, notify_url: str | None) -> None:
    from brokerscale.console import err
    from brokerscale.scale.signals import ControllerMetrics, notify

    pol = ctl.policy
    metrics = ControllerMetrics(actuator.target)
    if metrics_port is not None:
        metrics.serve(metrics_port)

    def on_event(d: Any, result: str, event: dict[str, Any]) -> None:
        metrics.acted(d, result, time.time())
        if notify_url:
            problem = notify(notify_url, event)
            if problem:
                err.print(problem)

    ctl.on_decision, ctl.on_event = metrics.decided, on_event
    mode = "applying" if apply else "dry run (add --apply to act)"
    console.print(f"scale run: {actuator.target}, policy {pol.name}, every {every:g}s, {mode}")
    reconciled = False
    until = None if run_for is None else time.monotonic() + run_for  # from the first round, not from start-up
    ever_ok, failure = False, None
    try:
        while until is None or time.monotonic() < until:
            started, was_reconciled = time.monotonic(), reconciled
            try:
                reconciled = _step(ctl, actuator, store, apply, reconciled, pol)
            except (Unreachable, OperationFailed) as exc:
                # An outage of the cluster (or the cloud API) is a round that failed, not the end of a
                # controller that runs for months: say so each round, and observe again next interval.
                failure = exc
                metrics.round_failed()
                err.print(f"{time.strftime('%H:%M:%S')} round failed: {exc.message} (next try in {every:g}s)")
            else:
                ever_ok, failure = True, None
                metrics.round_ok()
                if reconciled and not was_reconciled:
                    continue  # reconciled: the first round follows at once
            left = every - (time.monotonic() - started)
            if left > 0 and (until is None or time.monotonic() + left < until):
                time.sleep(left)
            elif until is not None and time.monotonic() + max(0.0, left) >= until:
                break
        if failure is not None and not ever_ok:  # a run that never reached its target did not do its job
            raise failure
    except KeyboardInterrupt:
        err.print("stopped")
    finally:
        ctl.release()


def _step(ctl: Any, actuator: Any, store: Any, apply: bool, reconciled: bool, pol: Any) -> bool:
    """One pass of the loop: take the lease and reconcile first (applying), else one round, printed.
    Returns whether reconciling is done."""
    rnd = ctl.round() if reconciled or not apply else None
    if rnd is None:
        if store.acquire_lease(ctl.lease_name, ctl.holder, ctl.lease_ttl_s):
            for note in ctl.reconcile():
                console.print(f"reconcile: {escape_line(note)}")
            return True
        holder = (store.lease(ctl.lease_name) or {}).get("holder", "?")
        console.print(f"waiting: another controller ({holder}) holds the lease for {actuator.target}")
    elif rnd.waiting_for_lease is not None:
        console.print(f"waiting: another controller ({rnd.waiting_for_lease}) holds the lease "
                      f"for {actuator.target}")
    elif rnd.decision is not None:
        d = rnd.decision
        what = "hold" if d.action is None else f"{d.action} {d.units} -> {d.target}"
        console.print(f"{time.strftime('%H:%M:%S')} {pol.unit} {rnd.units}: {what}: "
                      f"{escape_line(d.reason)}" + ("" if apply or d.action is None else " (dry run)"))
    return reconciled


def escape_line(text: str) -> str:
    from rich.markup import escape

    return escape(text)


EVENTS_HELP = """Every scaling event the controller recorded: time, direction, from -> to, trigger, reason,
and the time until the new capacity was in effect; then the scaling guide's statistics (min, max and
average units, number of events). Read from the audit log; works offline.

Examples:

  brokerscale scale events --since 7d

  brokerscale scale events --format json
"""


@app.command("events", help=EVENTS_HELP)
def events_command(
    since: Annotated[str, typer.Option("--since", metavar="DURATION", help="How far back.")] = "7d",
    target: Annotated[str | None, typer.Option("--target", metavar="NAME", show_default=False,
                                               help="Only this target (e.g. confluent:lkc-abc).")] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    from brokerscale.scale.events import event_stats, scaling_events
    from brokerscale.store import open_store

    now = time.time()
    events = scaling_events(open_store(), now - parse_duration(since, what="--since"), target)
    stats = event_stats(events, now)
    if fmt == OutputFormat.json:
        print_json({"events": events, "statistics": stats})
        return
    table = Table(title=f"scaling events, last {since}", title_justify="left")
    for col in ("time (UTC)", "target", "direction", "from -> to", "trigger", "in effect after", "result", "reason"):
        table.add_column(col)
    for e in events:
        took = "" if e["duration_s"] is None else f"{e['duration_s']:.0f}s"
        table.add_row(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e["ts"])), e["target"], e["direction"],
                      f"{e['from']} -> {e['to']}", e["trigger"], took, e["result"], escape_line(e["reason"]))
    console.print(table)
    if stats["events"]:
        console.print(f"min {stats['min_units']} · max {stats['max_units']} · average {stats['avg_units']:.2f} units "
                      f"· {stats['events']} scaling events")
    else:
        console.print("no scaling events in the window")
