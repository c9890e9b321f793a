"""`brokerscale rules`: the scaling triggers `check` judges, as alerting rules for Prometheus."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import yaml

from brokerscale.console import console, err
from brokerscale.errors import BadInput
from brokerscale.observe.alert_rules import alerting_rules, prometheus_rule_resource
from brokerscale.observe.capacity import from_brokers, from_ckus, load_capacity_file
from brokerscale.observe.options import CapacityOpt, CkusOpt, LimitsOpt, RulesOpt
from brokerscale.observe.rules import load_rules
from brokerscale.units import parse_duration

app = typer.Typer(
    help="The scaling triggers (the same rule set `check` judges) as Prometheus alerting rules.\n\n"
         "Examples:\n\n"
         "  brokerscale rules emit --out brokerscale-alerts.yml            # over brokerscale's exporter\n\n"
         "  brokerscale rules emit --capacity brokers.yaml --out alerts.yml  # over the brokers' own series\n\n"
         "  brokerscale rules emit --format prometheusrule --namespace kafka --out rule.yaml\n\n"
         "  promtool check rules alerts.yml",
    no_args_is_help=True,
)


class RuleFormat(StrEnum):
    prometheus = "prometheus"
    prometheusrule = "prometheusrule"


@app.command()
def emit(
    out: Annotated[Path | None, typer.Option("--out", "-o", metavar="FILE", show_default=False,
                                             help="Write here (default: standard output).")] = None,
    fmt: Annotated[RuleFormat, typer.Option("--format", help="prometheus: a rule file for `rule_files:`; "
                                            "prometheusrule: a prometheus-operator PrometheusRule resource.")]
    = RuleFormat.prometheus,
    rules: RulesOpt = None, capacity: CapacityOpt = None, ckus: CkusOpt = None, limits: LimitsOpt = None,
    brokers: Annotated[int | None, typer.Option(
        "--brokers", metavar="N", show_default=False,
        help="With --capacity: how many brokers the cluster has (the cluster capacity is their sum).")] = None,
    for_: Annotated[str, typer.Option("--for", metavar="DURATION",
                                      help="How long a condition must hold before the alert fires.")] = "1m",
    namespace: Annotated[str | None, typer.Option("--namespace", show_default=False,
                                                  help="With prometheusrule: metadata.namespace.")] = None,
) -> None:
    """Write the scaling-trigger table as Prometheus alerting rules, with the thresholds `check` uses.

    One alert per rule, dimension, scope and severity (warning and critical are exclusive bands, as in
    `check`), each labelled `severity`, `rule` and `scope` and annotated with the action `check` would
    print. Thresholds come from the shipped defaults merged with --rules FILE, the same merge `check`
    does, so the two can never disagree.

    Without a capacity, capacity alerts read `brokerscale_utilization_percent` from `brokerscale
    exporter` (started with the capacity); with --capacity FILE --brokers N or --ckus N they read the
    brokers' own JMX-exporter series (each broker's scrape target labelled `broker_id`) and work
    without brokerscale. Health, latency and lag alerts read brokerscale's exporter.
    """
    rule_set = load_rules(rules)
    if capacity is not None and ckus is not None:
        raise BadInput("--capacity and --ckus: give one (a broker capacity file, or a CKU count with --limits)")
    if limits is not None and ckus is None:
        raise BadInput("--limits: needs --ckus N (the limits profile sizes CKUs)")
    if brokers is not None and capacity is None:
        raise BadInput("--brokers: goes with --capacity FILE")
    if namespace is not None and fmt is not RuleFormat.prometheusrule:
        raise BadInput("--namespace: only for --format prometheusrule")
    for_s = 0.0 if for_.strip() in ("0", "0s") else parse_duration(for_, what="--for")
    cap = None
    if ckus is not None:
        cap = from_ckus(ckus, limits or "design-doc")
    elif capacity is not None:
        if brokers is None or brokers < 1:
            raise BadInput("--capacity: needs --brokers N (at least 1): the cluster's capacity is the sum "
                           "of its brokers'")
        cap = from_brokers(load_capacity_file(capacity), list(range(1, brokers + 1)), description=str(capacity))
    doc = alerting_rules(rule_set, cap, for_=f"{for_s:g}s")
    if fmt is RuleFormat.prometheusrule:
        doc = prometheus_rule_resource(doc, namespace=namespace)
    text = "# Scaling-trigger alerts written by `brokerscale rules emit`" + \
        (f" for {cap.description}" if cap else " (capacity from brokerscale's exporter)") + \
        ".\n# Thresholds: " + (str(rules) if rules else "the shipped default rules") + \
        "; `brokerscale check` judges the same ones.\n" + yaml.safe_dump(doc, sort_keys=False, width=110)
    if out is None:
        console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    except OSError as exc:
        raise BadInput(f"--out: cannot write {out}: {exc.strerror or exc}") from None
    n = sum(len(g["rules"]) for g in (doc["spec"] if fmt is RuleFormat.prometheusrule else doc)["groups"])
    err.print(f"wrote {n} alerting rules to {out}")
