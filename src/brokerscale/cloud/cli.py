"""`brokerscale cloud ...`: Confluent Cloud clusters — show, resize by CKU, upgrade a tier, and read
metrics, storage and scaling events — against the real API or the local emulator.

Credentials come from CONFLUENT_CLOUD_API_KEY / CONFLUENT_CLOUD_API_SECRET or `--credentials-file`;
the secret is never an argument and never printed.
"""

from __future__ import annotations

import logging
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from brokerscale.cli_common import FormatOpt, OutputFormat
from brokerscale.cloud.cmk import CloudCluster, ClusterManagementClient
from brokerscale.cloud.credentials import KEY_ENV, SECRET_ENV, CloudCredentials, credentials_json, load_credentials
from brokerscale.cloud.guard import check_resize
from brokerscale.cloud.http import API_URL, METRICS_URL, CloudHTTP
from brokerscale.cloud.metrics import CLUSTER_LOAD, DEDICATED_CKU, PARTITION_COUNT, RETAINED_BYTES, MetricsClient
from brokerscale.cloud.reports import scaling_events
from brokerscale.cloud.snapshot import collect_snapshot
from brokerscale.cloud.wait import wait_for
from brokerscale.console import console, err, print_json
from brokerscale.errors import BadInput
from brokerscale.model.limits import DEFAULT_LIMITS, load_limits
from brokerscale.units import format_bytes, format_duration, parse_duration

app = typer.Typer(
    name="cloud",
    help=("Confluent Cloud: show clusters, resize Dedicated clusters by CKU, upgrade Basic to Standard, "
          "and read metrics, storage growth and scaling events.\n\n"
          "Credentials: CONFLUENT_CLOUD_API_KEY and CONFLUENT_CLOUD_API_SECRET (or --credentials-file).\n\n"
          "Try it offline against the local emulator:\n\n"
          "  brokerscale cloud emulator --port 8085 --state /tmp/ccloud.json &\n\n"
          "  export CONFLUENT_CLOUD_API_URL=http://127.0.0.1:8085 CONFLUENT_CLOUD_METRICS_URL=http://127.0.0.1:8085\n\n"
          "  brokerscale cloud cluster list --environment env-health --credentials-file /tmp/ccloud.json.credentials"),
    no_args_is_help=True,
    rich_markup_mode="rich",
)
cluster_app = typer.Typer(name="cluster", help="Show, list, resize (CKUs) and upgrade clusters.",
                          no_args_is_help=True, rich_markup_mode="rich")
app.add_typer(cluster_app, name="cluster")

ApiUrlOpt = Annotated[str, typer.Option("--api-url", envvar="CONFLUENT_CLOUD_API_URL", metavar="URL",
                                        help="Cluster Management API base URL (the emulator's URL for local runs).")]
MetricsUrlOpt = Annotated[str, typer.Option("--metrics-url", envvar="CONFLUENT_CLOUD_METRICS_URL", metavar="URL",
                                            help="Metrics API base URL.")]
CredsOpt = Annotated[Path | None, typer.Option(
    "--credentials-file", metavar="FILE", show_default=False,
    help="File with `key:` and `secret:` (default: CONFLUENT_CLOUD_API_KEY / _SECRET, "
         "else the file named by CONFLUENT_CLOUD_CREDENTIALS_FILE).")]
EnvOpt = Annotated[str, typer.Option("--environment", "-e", envvar="CONFLUENT_ENVIRONMENT", metavar="ENV_ID",
                                     help="Confluent environment id (env-...).")]
ClusterIdOpt = Annotated[str, typer.Option("--cluster-id", "-k", envvar="CONFLUENT_CLUSTER_ID", metavar="LKC_ID",
                                           help="Kafka cluster id (lkc-...).")]
LimitsOpt = Annotated[str, typer.Option("--limits", metavar="PROFILE|FILE",
                                        help="Limits profile for CKU and tier figures.")]


class _Api:
    """The clients one command needs, closed together."""

    def __init__(self, api_url: str, metrics_url: str, creds_file: Path | None) -> None:
        creds = load_credentials(creds_file)
        self.cmk_http = CloudHTTP(_url(api_url, "--api-url"), creds)
        self.metrics_http = CloudHTTP(_url(metrics_url, "--metrics-url"), creds)
        self.cmk = ClusterManagementClient(self.cmk_http)
        self.metrics = MetricsClient(self.metrics_http)

    def __enter__(self) -> _Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cmk_http.close()
        self.metrics_http.close()


def _url(url: str, flag: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise BadInput(f"{flag}: {url!r} is not an http(s) URL")
    return url


def cluster_table(clusters: list[CloudCluster], title: str) -> Table:
    t = Table("id", "name", "type", "availability", "cloud/region", "CKU (spec)", "CKU (status)", "phase",
              title=title, title_justify="left")
    for c in clusters:
        t.add_row(c.id, c.display_name, c.kind, c.availability, f"{c.cloud}/{c.region}",
                  "" if c.spec_cku is None else str(c.spec_cku), "" if c.status_cku is None else str(c.status_cku),
                  c.phase)
    return t


def _latest(api: _Api, metric: str, cluster_id: str, now: float) -> float | None:
    points = api.metrics.query(metric, cluster_id, start=now - 600, end=now, granularity="PT1M")
    return float(points[-1]["value"]) if points else None


def _audit(action: str, target: str, environment: str, intent: dict[str, Any], before: dict[str, Any]) -> Any:
    from brokerscale.store import open_store

    return open_store().audited(actor="cli", action=action, target=target, intent=intent, before=before,
                                cluster=target, environment=environment)


def _read(api: _Api, cluster_id: str, environment: str) -> CloudCluster:
    """Read a cluster, settling the audit of any change to it that was interrupted earlier."""
    from brokerscale.cloud.reconcile import settle_interrupted

    cluster = api.cmk.get_cluster(cluster_id, environment)
    settle_interrupted(cluster)
    return cluster


def _interrupted(what: str, cluster_id: str, environment: str, stage: str) -> typer.Exit:
    """Say what is known after Ctrl-C during a change; the audit row says the same."""
    follow = f"brokerscale cloud cluster show -k {cluster_id} -e {environment}"
    if stage == "not sent":
        err.print(f"interrupted before the {what} request was sent: nothing was changed", soft_wrap=True)
    elif stage.startswith("accepted"):
        err.print(f"interrupted: the {what} was {stage}; it continues in Confluent Cloud. "
                  f"Follow it with `{follow}` (the audit log records the outcome then)", soft_wrap=True)
    else:
        err.print(f"interrupted while the {what} request was in flight: it may or may not have been applied. "
                  f"`{follow}` tells, and records the outcome in the audit log", soft_wrap=True)
    return typer.Exit(130)


@cluster_app.command("list")
def cluster_list(environment: EnvOpt, api_url: ApiUrlOpt = API_URL, metrics_url: MetricsUrlOpt = METRICS_URL,
                 credentials_file: CredsOpt = None, fmt: FormatOpt = OutputFormat.table) -> None:
    """List the Kafka clusters of an environment.

    Example:

      brokerscale cloud cluster list --environment env-health
    """
    with _Api(api_url, metrics_url, credentials_file) as api:
        clusters = api.cmk.list_clusters(environment)
    if fmt == OutputFormat.json:
        print_json([c.summary() for c in clusters])
        return
    console.print(cluster_table(clusters, f"Clusters in {environment}"))


@cluster_app.command("show")
def cluster_show(cluster_id: ClusterIdOpt, environment: EnvOpt, api_url: ApiUrlOpt = API_URL,
                 metrics_url: MetricsUrlOpt = METRICS_URL, credentials_file: CredsOpt = None,
                 fmt: FormatOpt = OutputFormat.table) -> None:
    """Show one cluster: type, CKUs asked for (spec) and in place (status), phase, endpoints.

    Example:

      brokerscale cloud cluster show --cluster-id lkc-health1 --environment env-health
    """
    with _Api(api_url, metrics_url, credentials_file) as api:
        c = _read(api, cluster_id, environment)
    if fmt == OutputFormat.json:
        print_json(c.summary())
        return
    console.print(cluster_table([c], f"Cluster {c.id}"))
    console.print(f"bootstrap: {c.bootstrap or '-'}   REST: {c.http_endpoint or '-'}")
    if c.resizing:
        console.print(f"[yellow]resize in progress:[/] status.cku {c.status_cku} -> spec {c.spec_cku}")


@cluster_app.command("resize")
def cluster_resize(
    cku: Annotated[int, typer.Option("--cku", help="The CKU count wanted.", show_default=False)],
    cluster_id: ClusterIdOpt,
    environment: EnvOpt,
    apply: Annotated[bool, typer.Option("--apply", help="Send the change (default: dry run).")] = False,
    timeout: Annotated[str, typer.Option("--timeout", help="How long to wait for status.cku == N.")] = "2h",
    poll: Annotated[str, typer.Option("--poll", help="How often to read the cluster while waiting.")] = "30s",
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Return once Confluent accepts the change.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Skip brokerscale's shrink guard (Confluent still "
                                                        "refuses what it refuses).")] = False,
    limits: LimitsOpt = DEFAULT_LIMITS,
    api_url: ApiUrlOpt = API_URL,
    metrics_url: MetricsUrlOpt = METRICS_URL,
    credentials_file: CredsOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Resize a Dedicated cluster to N CKUs; with --apply, wait (with progress) until status.cku == N.

    Shrinking follows the Confluent CLI's guard: one CKU at a time, refused when the partitions \
exceed 4,500 x N or the cluster load is over 70%; multi-zone clusters keep at least 2 CKUs.

    Examples:

      brokerscale cloud cluster resize -k lkc-health1 -e env-health --cku 4            # dry run

      brokerscale cloud cluster resize -k lkc-health1 -e env-health --cku 4 --apply --poll 10s
    """
    timeout_s = parse_duration(timeout, what="--timeout")
    poll_s = parse_duration(poll, what="--poll")
    profile = load_limits(limits)
    out = err if fmt == OutputFormat.json else console
    with _Api(api_url, metrics_url, credentials_file) as api:
        before = _read(api, cluster_id, environment)
        if before.resizing and before.spec_cku == cku:  # asked before (say, a wait that timed out): just wait
            out.print(f"a resize of {cluster_id} to {cku} CKUs is already in progress (status.cku "
                      f"{before.status_cku}, phase {before.phase})")
            final = before
            if apply and not no_wait:
                final = _wait_resize(api, cluster_id, environment, cku, timeout_s, poll_s, out, before)
            if fmt == OutputFormat.json:
                print_json({"dry_run": not apply, "cluster": final.summary(), "changed": False})
            elif final is not before:
                console.print(f"{cluster_id}: {final.status_cku} CKUs, phase {final.phase}")
            return
        partitions = load = None
        if before.kind == "Dedicated" and before.status_cku is not None and cku < before.status_cku:
            now = time.time()
            partitions = _latest(api, PARTITION_COUNT, cluster_id, now)
            load = _latest(api, CLUSTER_LOAD, cluster_id, now)
        verdict = check_resize(before, cku, partitions=partitions, load_ratio=load, limits=profile)
        if verdict.refusals and not force:
            raise BadInput(f"resize {cluster_id} {before.status_cku} -> {cku} refused: " + "; ".join(verdict.refusals))
        if verdict.refusals:
            out.print("[yellow]--force: sending despite:[/] " + "; ".join(verdict.refusals))
        if verdict.direction == "none" and not verdict.refusals:
            out.print(f"{cluster_id} already has {cku} CKUs: nothing to do")
            if fmt == OutputFormat.json:
                print_json({"cluster": before.summary(), "changed": False})
            return
        body = {"spec": {"environment": {"id": environment}, "config": {"kind": "Dedicated", "cku": cku}}}
        change = {"method": "PATCH", "url": f"{api.cmk_http.base_url}/cmk/v2/clusters/{cluster_id}", "body": body}
        if not apply:
            if fmt == OutputFormat.json:
                print_json({"dry_run": True, "cluster": before.summary(), "change": change})
                return
            console.print(f"would resize {cluster_id} from {before.status_cku} to {cku} CKUs:")
            console.print(f"  PATCH {change['url']}")
            console.print_json(data=body)
            console.print("[bold]dry run:[/] nothing was changed. Re-run with --apply to make this change.")
            return
        stage = "not sent"
        try:
            with _audit("cloud.cluster.resize", cluster_id, environment, change, before.summary()) as audit:
                audit.stage = stage = "sent, no answer yet"
                accepted = api.cmk.resize(cluster_id, environment, cku)
                audit.stage = stage = f"accepted by Confluent (spec {cku} CKUs), not yet finished"
                audit.after = accepted.summary()
                out.print(f"Confluent accepted the resize: phase {accepted.phase}, status.cku "
                          f"{accepted.status_cku}, spec cku {accepted.spec_cku}")
                final = accepted
                if not no_wait:
                    final = _wait_resize(api, cluster_id, environment, cku, timeout_s, poll_s, out, accepted)
                audit.after = final.summary()
        except KeyboardInterrupt:
            raise _interrupted(f"resize to {cku} CKUs", cluster_id, environment, stage) from None
    if fmt == OutputFormat.json:
        print_json({"dry_run": False, "cluster": final.summary(), "change": change})
    else:
        console.print(f"{cluster_id}: {final.status_cku} CKUs, phase {final.phase}")


def _wait_resize(api: _Api, cluster_id: str, environment: str, cku: int, timeout_s: float, poll_s: float,
                 out: Console, first: CloudCluster) -> CloudCluster:
    with _ctrl_c_noticed() as sleep:
        return wait_for(lambda: api.cmk.get_cluster(cluster_id, environment),
                        lambda c: c.status_cku == cku and c.phase == "PROVISIONED",
                        lambda c: f"status.cku {c.status_cku} -> {cku} ({c.phase})",
                        what=f"resize {cluster_id} to {cku} CKUs", timeout_s=timeout_s, poll_s=poll_s,
                        console=out, first=first, sleep=sleep)


@contextmanager
def _ctrl_c_noticed() -> Iterator[Callable[[float], None]]:
    """A sleep for wait loops that re-raises a Ctrl-C which landed somewhere that swallowed it.

    Python drops a KeyboardInterrupt raised inside a garbage-collection callback ("Exception ignored
    in ..."), and the wait would then run on for hours. The handler also remembers the signal, and
    the loop's sleep raises it again between polls.
    """
    import signal
    import threading

    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield time.sleep
        return

    def on_sigint(signum: int, frame: object) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    def sleep(seconds: float) -> None:
        if seen:
            raise KeyboardInterrupt
        time.sleep(seconds)
        if seen:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield sleep
    finally:
        signal.signal(signal.SIGINT, previous)


class Tier(StrEnum):
    basic = "basic"
    standard = "standard"
    enterprise = "enterprise"
    dedicated = "dedicated"


@cluster_app.command("upgrade")
def cluster_upgrade(
    to: Annotated[Tier, typer.Option("--to", help="The cluster type wanted (Confluent upgrades Basic -> Standard).")],
    cluster_id: ClusterIdOpt,
    environment: EnvOpt,
    apply: Annotated[bool, typer.Option("--apply", help="Send the change (default: dry run).")] = False,
    timeout: Annotated[str, typer.Option("--timeout", help="How long to wait for the upgrade.")] = "1h",
    poll: Annotated[str, typer.Option("--poll", help="How often to read the cluster while waiting.")] = "30s",
    api_url: ApiUrlOpt = API_URL,
    metrics_url: MetricsUrlOpt = METRICS_URL,
    credentials_file: CredsOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Upgrade a Basic cluster to Standard and monitor it until done (the scaling guide's monitorClusterUpgrade).

    The upgrade is sent alone (`spec.config.kind` only), as Confluent requires. There is no downgrade.

    Examples:

      brokerscale cloud cluster upgrade -k lkc-clinic1 -e env-health --to standard           # dry run

      brokerscale cloud cluster upgrade -k lkc-clinic1 -e env-health --to standard --apply --poll 10s
    """
    timeout_s = parse_duration(timeout, what="--timeout")
    poll_s = parse_duration(poll, what="--poll")
    out = err if fmt == OutputFormat.json else console
    want = to.value.capitalize()
    with _Api(api_url, metrics_url, credentials_file) as api:
        before = _read(api, cluster_id, environment)
        if before.kind == want:
            out.print(f"{cluster_id} is already {want}: nothing to do")
            if fmt == OutputFormat.json:
                print_json({"cluster": before.summary(), "changed": False})
            return
        if before.kind == "Standard" and want == "Basic":
            raise BadInput(f"--to basic: {cluster_id} is Standard and Confluent Cloud has no downgrade "
                           "(Standard -> Basic is not possible; create a new Basic cluster instead)")
        if not (before.kind == "Basic" and want == "Standard"):
            raise BadInput(f"--to {to.value}: Confluent Cloud upgrades Basic clusters to Standard only; "
                           f"{cluster_id} is {before.kind or 'of unknown type'}")
        if before.phase != "PROVISIONED":
            raise BadInput(f"{cluster_id} is {before.phase}: wait until it is PROVISIONED")
        body = {"spec": {"environment": {"id": environment}, "config": {"kind": want}}}
        change = {"method": "PATCH", "url": f"{api.cmk_http.base_url}/cmk/v2/clusters/{cluster_id}", "body": body}
        if not apply:
            if fmt == OutputFormat.json:
                print_json({"dry_run": True, "cluster": before.summary(), "change": change})
                return
            console.print(f"would upgrade {cluster_id} from {before.kind} to {want}:")
            console.print(f"  PATCH {change['url']}")
            console.print_json(data=body)
            console.print("[bold]dry run:[/] nothing was changed. Re-run with --apply to make this change.")
            return
        stage = "not sent"
        try:
            with _audit("cloud.cluster.upgrade", cluster_id, environment, change, before.summary()) as audit:
                audit.stage = stage = "sent, no answer yet"
                accepted = api.cmk.upgrade(cluster_id, environment, want)
                audit.stage = stage = f"accepted by Confluent (to {want}), not yet finished"
                audit.after = accepted.summary()
                out.print(f"upgrade initiated: phase {accepted.phase}")
                with _ctrl_c_noticed() as sleep:
                    final = wait_for(lambda: api.cmk.get_cluster(cluster_id, environment),
                                     lambda c: c.kind == want and c.phase == "PROVISIONED",
                                     lambda c: f"{c.kind} ({c.phase})", what=f"upgrade {cluster_id} to {want}",
                                     timeout_s=timeout_s, poll_s=poll_s, console=out, first=accepted, sleep=sleep)
                audit.after = final.summary()
        except KeyboardInterrupt:
            raise _interrupted(f"upgrade to {want}", cluster_id, environment, stage) from None
    if fmt == OutputFormat.json:
        print_json({"dry_run": False, "cluster": final.summary(), "change": change})
        return
    tier = load_limits().tiers
    limits = next((t for t in tier if t.name == want.lower()), None)
    console.print(f"{cluster_id} is now {final.kind} ({final.phase}).")
    if limits is not None:
        console.print(f"  throughput: {limits.throughput_mb_s or 'by eCKU'} MB/s   partitions: "
                      f"{limits.partitions or 'by eCKU'}   storage: "
                      f"{format_bytes(limits.storage_bytes) if limits.storage_bytes else 'unlimited'}")


@app.command("metrics")
def metrics_command(cluster_id: ClusterIdOpt, environment: EnvOpt,
                    window: Annotated[str, typer.Option("--window", help="Average rates over this window.")] = "10m",
                    record: Annotated[bool, typer.Option("--record", help="Also keep the figures in the store's "
                                                                          "metric history (for forecast).")] = False,
                    api_url: ApiUrlOpt = API_URL, metrics_url: MetricsUrlOpt = METRICS_URL,
                    credentials_file: CredsOpt = None, fmt: FormatOpt = OutputFormat.table) -> None:
    """The cluster's load now, as the same Snapshot `observe` produces (so `check` and triggers apply).

    Examples:

      brokerscale cloud metrics -k lkc-health1 -e env-health --format json

      brokerscale cloud metrics -k lkc-health1 -e env-health --record     # e.g. from cron, for forecast
    """
    window_s = parse_duration(window, what="--window")
    with _Api(api_url, metrics_url, credentials_file) as api:
        cluster = _read(api, cluster_id, environment)
        snap = collect_snapshot(api.metrics, cluster, now=time.time(), window_s=window_s)
    if record:
        from brokerscale.cloud.snapshot import snapshot_samples
        from brokerscale.store import open_store

        open_store().write_samples(snapshot_samples(snap))
    if fmt == OutputFormat.json:
        print_json(snap.model_dump(mode="json"))
        return
    t = Table("metric", "value", title=f"{cluster_id} over the last {format_duration(window_s)}",
              title_justify="left")

    def rate(v: float | None) -> str:
        return "-" if v is None else f"{format_bytes(v)}/s"

    t.add_row("bytes in", rate(snap.bytes_in_per_s))
    t.add_row("bytes out", rate(snap.bytes_out_per_s))
    t.add_row("requests", "-" if snap.requests_per_s is None else f"{snap.requests_per_s:,.0f}/s")
    t.add_row("connections", "-" if snap.connections is None else f"{snap.connections:,}")
    t.add_row("partitions", "-" if snap.partition_count is None else f"{snap.partition_count:,}")
    t.add_row("retained", "-" if snap.retained_bytes is None else format_bytes(snap.retained_bytes))
    t.add_row("CKUs", "-" if snap.cku_count is None else str(snap.cku_count))
    t.add_row("cluster load", "-" if snap.cluster_load_percent is None else f"{snap.cluster_load_percent:.0f}%")
    for g in snap.groups:
        t.add_row(f"lag {g.group}", f"{g.lag_offsets:,} offsets")
    console.print(t)


@app.command("check")
def check_command(cluster_id: ClusterIdOpt, environment: EnvOpt,
                  window: Annotated[str, typer.Option("--window", help="Average rates over this window.")] = "10m",
                  rules: Annotated[Path | None, typer.Option("--rules", metavar="FILE", show_default=False,
                                                             help="Trigger rules overriding the defaults.")] = None,
                  limits: LimitsOpt = DEFAULT_LIMITS, api_url: ApiUrlOpt = API_URL,
                  metrics_url: MetricsUrlOpt = METRICS_URL, credentials_file: CredsOpt = None,
                  fmt: FormatOpt = OutputFormat.table) -> None:
    """Monitoring check for a Confluent Cloud cluster: the same triggers as `brokerscale check`.

    Utilisation is measured against the cluster's CKUs under the limits profile.

    Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (API unreachable, bad credentials or rules).

    Example:

      brokerscale cloud check -k lkc-health1 -e env-health --rules ops/rules.yaml
    """
    from brokerscale.cloud.checks import run_check
    from brokerscale.errors import BrokerscaleError

    try:
        window_s = parse_duration(window, what="--window")
        with _Api(api_url, metrics_url, credentials_file) as api:
            cluster = _read(api, cluster_id, environment)
            snap = collect_snapshot(api.metrics, cluster, now=time.time(), window_s=window_s)
        code, text, findings = run_check(snap, rules_file=rules, limits_name=limits, cluster_id=cluster.id)
    except BrokerscaleError as exc:
        if fmt == OutputFormat.json:
            print_json({"status": "UNKNOWN", "exit_code": 3, "reason": exc.message})
        else:
            sys.stdout.write(f"UNKNOWN - {exc.message}\n")
        raise typer.Exit(3) from None
    line = text.split("\n", 1)[0]
    if fmt == OutputFormat.json:
        print_json({"status": line.split(" ", 1)[0], "exit_code": code, "summary": line,
                    "findings": [f.model_dump(mode="json") for f in findings]})
    else:
        sys.stdout.write(text)
    sys.stdout.flush()
    raise typer.Exit(code)


@app.command("storage")
def storage_command(cluster_id: ClusterIdOpt, environment: EnvOpt,
                    days: Annotated[int, typer.Option("--days", min=2, max=365, help="Days of history.")] = 30,
                    retention: Annotated[str | None, typer.Option(
                        "--retention", metavar="DURATION", show_default=False,
                        help="The topics' retention (e.g. 30d): retained bytes level off at ingress x retention.")]
                    = None,
                    limits: LimitsOpt = DEFAULT_LIMITS, api_url: ApiUrlOpt = API_URL,
                    metrics_url: MetricsUrlOpt = METRICS_URL, credentials_file: CredsOpt = None,
                    fmt: FormatOpt = OutputFormat.table) -> None:
    """Retained bytes per day, growth, 30/90-day projections and tier advice (the scaling guide's
    monitorStorageUsage), projected by the same forecaster as `brokerscale forecast storage`.

    Example:

      brokerscale cloud storage -k lkc-clinic1 -e env-health --days 30 --retention 30d
    """
    from brokerscale.forecast.cli import render_forecast
    from brokerscale.forecast.storage import forecast_storage

    retention_s = parse_duration(retention, what="--retention") if retention is not None else None
    profile = load_limits(limits)
    now = time.time()
    with _Api(api_url, metrics_url, credentials_file) as api:
        cluster = _read(api, cluster_id, environment)
        points = api.metrics.query(RETAINED_BYTES, cluster_id, start=now - days * 86400, end=now, granularity="P1D")
    tier_name = (cluster.kind or "").lower()
    tier = next((t for t in profile.tiers if t.name == tier_name), None)
    limit = float(tier.storage_bytes) if tier is not None and tier.storage_bytes else None
    label = f"{format_bytes(limit)} storage limit" if limit is not None else None
    series = [(float(p["timestamp"]), float(p["value"])) for p in points]
    fc = forecast_storage(series, now=now, limit_bytes=limit, limit_label=label,
                          tier=tier_name if limit is not None else None, retention_s=retention_s)
    if limit is None:
        fc.advice.append(f"the {tier_name or 'cluster'} tier has no storage limit; plan cost, not capacity")
    daily = [{"date": _utc_date(ts), "retained_bytes": v} for ts, v in series]
    if fmt == OutputFormat.json:
        print_json({"cluster": cluster_id, "tier": tier_name, "days": daily, **fc.model_dump(mode="json")})
        return
    t = Table("date", "retained", title=f"{cluster_id} storage, last {days} days", title_justify="left")
    for ts, v in series:
        t.add_row(_utc_date(ts), format_bytes(v))
    console.print(t)
    render_forecast(cluster_id, fc, label)


def _utc_date(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


@app.command("events")
def events_command(cluster_id: ClusterIdOpt, environment: EnvOpt,
                   days: Annotated[float, typer.Option("--days", min=0.01, max=90, help="Days of history.")] = 7,
                   api_url: ApiUrlOpt = API_URL, metrics_url: MetricsUrlOpt = METRICS_URL,
                   credentials_file: CredsOpt = None, fmt: FormatOpt = OutputFormat.table) -> None:
    """CKU changes of a Dedicated cluster from `dedicated_cku_count`, with min/max/average and count.

    Example:

      brokerscale cloud events -k lkc-health1 -e env-health --days 7
    """
    now = time.time()
    with _Api(api_url, metrics_url, credentials_file) as api:
        cluster = _read(api, cluster_id, environment)
        if cluster.kind != "Dedicated":
            raise BadInput(f"--cluster-id: {cluster_id} is {cluster.kind}; "
                           "CKU events exist for Dedicated clusters only")
        granularity = "PT5M" if days <= 1 else "PT1H"
        points = api.metrics.query(DEDICATED_CKU, cluster_id, start=now - days * 86400, end=now,
                                   granularity=granularity)
    summary = scaling_events(cluster_id, days, [(p["timestamp"], p["value"]) for p in points])
    if fmt == OutputFormat.json:
        print_json(summary.model_dump(mode="json"))
        return
    t = Table("time (UTC)", "direction", "CKUs", title=f"{cluster_id} scaling events, last {days:g} days",
              title_justify="left")
    for e in summary.events:
        t.add_row(e.time, e.direction, f"{e.from_cku} -> {e.to_cku}")
    console.print(t)
    avg = "-" if summary.avg_cku is None else f"{summary.avg_cku:.2f}"
    console.print(f"min {summary.min_cku} CKUs, max {summary.max_cku}, average {avg}, {summary.count} scaling events")


@app.command("emulator")
def emulator_command(
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free).")] = 8085,
    state: Annotated[Path | None, typer.Option("--state", metavar="FILE",
                                               help="State file: clusters, keys, faults (created if missing).")] = None,
    provisioning_delay: Annotated[str | None, typer.Option(
        "--provisioning-delay", help="How long a resize/upgrade stays PROVISIONING.")] = None,
    trace: Annotated[Path | None, typer.Option("--trace", metavar="FILE",
                                               help="Load trace the metric series follow.")] = None,
    inject_429: Annotated[int, typer.Option("--inject-429", help="Answer the next N requests with 429.")] = 0,
    retry_after: Annotated[int, typer.Option("--retry-after", help="Retry-After seconds on injected 429s.")] = 1,
    inject_500: Annotated[int, typer.Option("--inject-500", help="Answer the next N requests with 500.")] = 0,
) -> None:
    """Run a local Confluent Cloud (cmk v2, Metrics API v2, Kafka REST v3) for tests and demos.

    Keys: its own CONFLUENT_CLOUD_API_KEY/_SECRET, keys in the state file, or a generated pair \
written to FILE.credentials (for --credentials-file).

    Load traces: --trace FILE or a shipped name (cloud-morning-peak); format in brokerscale/cloud/trace.py.

    Example:

      brokerscale cloud emulator --port 8085 --state /tmp/ccloud.json --provisioning-delay 5s
    """
    import os

    from brokerscale.cloud.emulator import EmulatorServer, EmulatorState, Fault

    delay = parse_duration(provisioning_delay, what="--provisioning-delay") if provisioning_delay else None
    st = EmulatorState.load(state, provisioning_delay_s=delay, trace_file=trace)
    if inject_429:
        st.inject(Fault(status=429, count=inject_429, retry_after=retry_after))
    if inject_500:
        st.inject(Fault(status=500, count=inject_500))
    if not st.config.api_keys and not (os.environ.get(KEY_ENV) and os.environ.get(SECRET_ENV)):
        creds = CloudCredentials(key="EMU" + secrets.token_hex(6).upper(), secret=secrets.token_urlsafe(32))
        st.config.api_keys[creds.key] = creds.secret
        st.save()
        if state is not None:
            cred_file = state.with_name(state.name + ".credentials")
            cred_file.write_text(credentials_json(creds), encoding="utf-8")
            cred_file.chmod(0o600)
            err.print(f"generated API key {creds.key}; use --credentials-file {cred_file}")
        else:
            raise BadInput("--state: give a state file (the generated key is written next to it) or set "
                           f"{KEY_ENV} and {SECRET_ENV}")
    logging.getLogger("brokerscale.cloud").setLevel(logging.WARNING)
    server = EmulatorServer(st, port=port)
    sock = server.listen()  # bound now, so --port 0 can announce the port it got
    port = server.port
    err.print(f"Confluent Cloud emulator on http://127.0.0.1:{port}  (Ctrl-C stops it)")
    err.print(f"  export CONFLUENT_CLOUD_API_URL=http://127.0.0.1:{port} "
              f"CONFLUENT_CLOUD_METRICS_URL=http://127.0.0.1:{port}")
    server.serve_forever(sock)
