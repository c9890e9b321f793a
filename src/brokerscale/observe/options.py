"""Options shared by observe, check, lag and exporter, and turning them into an Observer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from brokerscale.cli_common import profile
from brokerscale.errors import BadInput
from brokerscale.observe.capacity import from_ckus, load_capacity_file
from brokerscale.observe.collect import Observer, dev_metrics_urls, parse_metrics_urls
from brokerscale.observe.rules import load_rules
from brokerscale.units import parse_duration

CapacityOpt = Annotated[
    Path | None,
    typer.Option("--capacity", metavar="FILE", show_default=False,
                 help="Broker capacity file (YAML: broker.throughput_mb_s, disk, connections, partition_replicas)."),
]
CkusOpt = Annotated[
    int | None,
    typer.Option("--ckus", metavar="N", show_default=False, help="Provisioned CKUs (with --limits)."),
]
LimitsOpt = Annotated[
    str | None,
    typer.Option("--limits", metavar="NAME|FILE", show_default=False,
                 help="Limits profile for --ckus: design-doc (default: the scaling guide's figures) or "
                      "confluent-2026."),
]
RulesOpt = Annotated[
    Path | None,
    typer.Option("--rules", metavar="FILE", envvar="BROKERSCALE_RULES", show_default=False,
                 help="Trigger rules YAML merged over the shipped defaults (the scaling guide's trigger table)."),
]
MetricsUrlOpt = Annotated[
    list[str] | None,
    typer.Option("--metrics-url", metavar="ID=URL", show_default=False,
                 help="A broker's JMX exporter /metrics URL (repeatable). Default: found for local dev clusters."),
]
PrometheusOpt = Annotated[
    str | None,
    typer.Option("--prometheus", metavar="URL", show_default=False,
                 help="Read broker metrics from a Prometheus server's HTTP API instead of the exporters."),
]
PrometheusBrokerLabelOpt = Annotated[
    str | None,
    typer.Option("--prometheus-broker-label", metavar="LABEL", show_default=False,
                 help="With --prometheus: the label whose value is the broker id (default: broker_id, node_id, "
                      "a Strimzi pod name, or the instance matched against the brokers' exporter addresses)."),
]
IntervalOpt = Annotated[
    str, typer.Option("--interval", "-i", metavar="DURATION", help="Time between the two samples rates come from."),
]
NoHistoryOpt = Annotated[
    bool, typer.Option("--no-history", help="Neither read nor write the store's history (BROKERSCALE_STORE_URL)."),
]


def build_observer(bootstrap: str | None, command_config: Path | None, cluster: str | None, *,
                   capacity: Path | None = None, ckus: int | None = None, limits: str | None = None,
                   rules: Path | None = None, metrics_url: list[str] | None = None,
                   prometheus: str | None = None, prometheus_broker_label: str | None = None,
                   no_history: bool = False, groups_only: bool = False,
                   lag_overrides: dict[str, Any] | None = None) -> Observer:
    """Validate every option first (a bad file is one line before any network call), then connect lazily."""
    rule_set = load_rules(rules)
    if lag_overrides:
        rule_set = rule_set.model_copy(update={"consumer_lag": rule_set.consumer_lag.model_copy(
            update={k: v for k, v in lag_overrides.items() if v is not None})})
    if capacity is not None and ckus is not None:
        raise BadInput("--capacity and --ckus: give one (a broker capacity file, or a CKU count with --limits)")
    if limits is not None and ckus is None:
        raise BadInput("--limits: needs --ckus N (the limits profile sizes CKUs)")
    cap = from_ckus(ckus, limits or "design-doc") if ckus is not None else None
    cap_file = load_capacity_file(capacity) if capacity is not None else None
    prof = profile(bootstrap, command_config, cluster)
    # Lag alone reads no broker metrics: no local dev cluster is looked up for its exporters.
    urls = parse_metrics_urls(metrics_url or []) or ({} if groups_only else dev_metrics_urls(prof.bootstrap))
    if prometheus is not None and not prometheus.startswith(("http://", "https://")):
        raise BadInput(f"--prometheus: {prometheus!r} is not an http(s) URL")
    if prometheus_broker_label is not None:
        if prometheus is None:
            raise BadInput("--prometheus-broker-label: needs --prometheus URL")
        if not prometheus_broker_label.replace("_", "a").isalnum() or prometheus_broker_label[0].isdigit():
            raise BadInput(f"--prometheus-broker-label: {prometheus_broker_label!r} is not a Prometheus label name")
    store = None
    if not no_history:
        from brokerscale.store import open_store

        store = open_store()
    # With --prometheus the exporters are not scraped from here; their addresses still identify the
    # brokers' series in Prometheus.
    return Observer(prof, rule_set, capacity=cap, capacity_file=cap_file,
                    metrics_urls={} if prometheus else urls, exporter_urls=urls, prometheus_url=prometheus,
                    prometheus_broker_label=prometheus_broker_label, store=store, groups_only=groups_only)


def interval_seconds(text: str) -> float:
    return parse_duration(text, what="--interval")
