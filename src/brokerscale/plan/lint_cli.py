"""`brokerscale lint`: check deployment files (anyone's) for what a PHI workload needs.

Exit codes follow linters: 0 nothing missing, 1 findings, 2 bad input (unreadable or unparsable file).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from brokerscale.console import console, err, print_json
from brokerscale.errors import BadInput
from brokerscale.plan.lint import ALL_REQUIREMENTS, lint_paths


class LintFormat(StrEnum):
    table = "table"
    json = "json"


def report(paths: Sequence[Path], requirements: Sequence[str], *, fmt: LintFormat = LintFormat.table,
           quiet_ok: bool = False) -> None:
    """Lint, print, and exit 1 when something is missing."""
    findings, kinds = lint_paths(paths, requirements)
    if fmt is LintFormat.json:
        print_json({"requirements": list(requirements), "kinds": kinds, "ok": not findings,
                    "findings": [vars(f) for f in findings]})
    elif findings:
        t = Table(title=f"PHI lint: {len(findings)} gap(s) for requirements {', '.join(requirements)}",
                  title_justify="left")
        for col in ("file", "resource", "rule", "what is missing and why"):
            t.add_column(col, overflow="fold")
        for f in findings:
            t.add_row(escape(f.file), escape(f.resource), f.rule, escape(f.message))
        console.print(t)
    elif not quiet_ok:
        console.print(f"[green]PHI lint: OK[/] ({', '.join(kinds)} files meet {', '.join(requirements)})")
    else:
        err.print(f"PHI lint: OK ({', '.join(kinds)} files meet {', '.join(requirements)})")
    if findings:
        raise typer.Exit(1)


def lint_command(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH...", show_default=False,
                                                help="Terraform (.tf), Kubernetes YAML or Kafka client .properties "
                                                     "files, or directories to search for them.")],
    requirements: Annotated[str, typer.Option(
        "--requirements", "-r", metavar="LIST",
        help="Comma-separated: phi (listeners, auth, replication, users, ...), private-networking "
             "(Terraform network).")] = ",".join(ALL_REQUIREMENTS),
    fmt: Annotated[LintFormat, typer.Option("--format", "-f", help="table for people, json for scripts.")]
    = LintFormat.table,
) -> None:
    """List what deployment files lack for a workload carrying PHI, each gap with its reason.

    Reads Terraform for the Confluent provider (private network and its access resource, topic
    settings), Strimzi resources (TLS-only authenticated listeners, simple authorization with super
    users, rack awareness, RF 3 / min ISR 2 / unclean election off, KafkaUsers without wildcard or All
    ACLs, KafkaTopics) and plain Kubernetes (SSL listeners with client auth and a keystore Secret,
    authorizer, broker.rack, zone anti-affinity, PodDisruptionBudget maxUnavailable 1, replication
    settings, no private keys in Secrets). Exit 0 when nothing is missing, 1 when something is, 2
    when a file cannot be read or parsed.

    Examples:

      brokerscale lint deploy/

      brokerscale lint k8s/kafka.yaml k8s/users.yaml --format json

      brokerscale lint infra/confluent/ --requirements private-networking
    """
    reqs = [r.strip() for r in requirements.split(",") if r.strip()]
    unknown = [r for r in reqs if r not in ALL_REQUIREMENTS]
    if unknown or not reqs:
        raise BadInput(f"--requirements: {unknown[0] if unknown else '(empty)'!s} is not one of: "
                       f"{', '.join(ALL_REQUIREMENTS)}")
    report(paths, reqs, fmt=fmt)
