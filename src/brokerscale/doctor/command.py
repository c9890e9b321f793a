"""`brokerscale doctor`: connect as the given principal and say what it can and cannot do."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer

from brokerscale.cli_common import (
    BootstrapOpt,
    ClusterOpt,
    CommandConfigOpt,
    FormatOpt,
    OutputFormat,
    profile,
)
from brokerscale.console import console, print_json
from brokerscale.doctor.report import (
    LOAD_NOTE,
    Endpoint,
    Report,
    client_versions,
    principal_of,
    verb_access,
)
from brokerscale.errors import BrokerscaleError

MetricsUrlOpt = Annotated[
    list[str] | None,
    typer.Option("--metrics-url", metavar="ID=URL", show_default=False,
                 help="A broker's JMX exporter /metrics URL to check (repeatable). Default: found for local dev "
                      "clusters."),
]


def _endpoints(urls: dict[int, str]) -> list[Endpoint]:
    """GET each broker's /metrics, all at once: a JMX exporter walks every MBean per scrape, which takes
    seconds on a busy broker."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    def one(item: tuple[int, str]) -> Endpoint:
        broker, url = item
        try:
            res = httpx.get(url, timeout=30.0)
        except httpx.HTTPError as exc:
            return Endpoint(broker, url, False, type(exc).__name__)
        ok = res.status_code == 200
        return Endpoint(broker, url, ok, "" if ok else f"HTTP {res.status_code}")

    if not urls:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        return list(pool.map(one, sorted(urls.items())))


def doctor_command(
    bootstrap: BootstrapOpt = None,
    command_config: CommandConfigOpt = None,
    cluster: ClusterOpt = None,
    metrics_url: MetricsUrlOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Say which verbs this principal can run on the cluster, and which ACL each of the others lacks.

    Connects with the same settings every verb uses, then asks the cluster about each permission with a
    request that changes nothing (validate-only CreateTopics, CreatePartitions and AlterConfigs; the
    cancel of a reassignment of a topic that does not exist). Also shows the brokers' Kafka version, the
    client libraries' versions and whether each broker's metrics endpoint answers. Secrets are never shown.

    Examples:

      brokerscale doctor --cluster prod

      brokerscale doctor -b broker1:9093 --command-config reader.properties --format json
    """
    from brokerscale.kafka.permissions import probe_all
    from brokerscale.observe.collect import dev_metrics_urls, parse_metrics_urls

    prof = profile(bootstrap, command_config, cluster)
    urls = parse_metrics_urls(metrics_url or [])
    report = Report(cluster=prof.label, bootstrap=prof.bootstrap,
                    security_protocol=prof.properties.get("security.protocol", "PLAINTEXT").upper(),
                    principal=principal_of(prof), client_versions=client_versions())
    with prof.admin() as admin:
        try:
            info = admin.cluster()
            report.cluster_id = info.cluster_id
            report.brokers = [b.id for b in info.brokers]
        except BrokerscaleError as exc:
            report.notes.append(f"cluster not described: {exc.message}")
        with contextlib.suppress(BrokerscaleError):
            report.broker_versions = admin.broker_versions(report.brokers)
        report.permissions = probe_all(admin)
    report.verbs = verb_access(report.permissions)
    report.notes.append(LOAD_NOTE)
    report.endpoints = _endpoints(urls or dev_metrics_urls(prof.bootstrap))
    if not report.endpoints:
        report.notes.append("no metrics endpoints known: pass --metrics-url ID=URL to check the brokers' "
                            "JMX exporters")
    if fmt == OutputFormat.json:
        print_json(report.to_json())
        return
    _render(report)


def _mark(value: bool | None) -> str:
    return {True: "[green]yes[/]", False: "[red]no[/]", None: "[yellow]unknown[/]"}[value]


def _render(r: Report) -> None:
    from rich.table import Table

    versions = ", ".join(f"{b}: Kafka {v}" for b, v in sorted(r.broker_versions.items())) or "unknown"
    console.print(f"cluster [bold]{r.cluster}[/] ({r.bootstrap}), id {r.cluster_id or 'unknown'}, "
                  f"brokers {','.join(map(str, r.brokers)) or 'none seen'}")
    console.print(f"connected over {r.security_protocol} as [bold]{r.principal}[/]")
    console.print(f"broker versions: {versions}")
    console.print("client: " + ", ".join(f"{k} {v}" for k, v in r.client_versions.items()))

    verbs = Table(title="what this principal can run")
    for col in ("verb", "can run", "missing ACLs"):
        verbs.add_column(col)
    for v in r.verbs:
        gaps = "; ".join(v.missing + [f"{u} (could not ask)" for u in v.unknown]) or "-"
        verbs.add_row(v.verb, _mark(v.can_run), gaps)
    console.print(verbs)

    perms = Table(title="permissions (each asked with a request that changes nothing)")
    for col in ("operation", "resource", "granted", "detail"):
        perms.add_column(col)
    for p in r.permissions:
        perms.add_row(p.operation, p.resource, _mark(p.allowed), p.detail or "-")
    console.print(perms)

    if r.endpoints:
        ends = Table(title="broker metrics endpoints")
        for col in ("broker", "url", "answers"):
            ends.add_column(col)
        for e in r.endpoints:
            ends.add_row(str(e.broker), e.url, _mark(e.answers) + (f" ({e.detail})" if e.detail else ""))
        console.print(ends)
    for note in r.notes:
        console.print(f"[dim]note:[/] {note}")
