"""`brokerscale plan`: the thin adapter around the pure planner (reads files, writes files, prints)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from brokerscale.console import console, err, print_json
from brokerscale.errors import BadInput
from brokerscale.model.limits import LimitsProfile, load_limits, shipped_profiles
from brokerscale.model.workload import Workload, load_workload
from brokerscale.plan.emit_clients import render_clients
from brokerscale.plan.emit_kubernetes import render_statefulset, render_strimzi
from brokerscale.plan.emit_terraform import render_terraform
from brokerscale.plan.model import Plan, plan_to_dict
from brokerscale.plan.render import render_markdown, render_table
from brokerscale.plan.sizing import plan_workload


class PlanFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class Emit(StrEnum):
    terraform = "terraform"
    strimzi = "strimzi"
    statefulset = "statefulset"
    clients = "clients"


def resolve_limits(workload: Workload, workload_path: Path, override: str | None) -> LimitsProfile:
    """--limits wins over the file's `limits:`; a relative path in the file is relative to the file."""
    if override:
        try:
            return load_limits(override)
        except BadInput as exc:
            if exc.message.startswith("limits: "):
                raise BadInput("--" + exc.message) from None
            raise
    name = workload.limits
    if name not in shipped_profiles():
        beside = workload_path.parent / name
        if not Path(name).is_absolute() and beside.is_file():
            return load_limits(str(beside))
    try:
        return load_limits(name)
    except BadInput as exc:
        if exc.message.startswith("limits: "):  # name the workload file the bad value came from
            raise BadInput(f"{workload_path}: {exc.message}") from None
        raise


def plan_file(path: Path, limits: str | None = None) -> tuple[Workload, Plan]:
    """Load a workload file and plan it (what the CLI, the demo and the benchmark all run)."""
    workload = load_workload(path)
    return workload, plan_workload(workload, resolve_limits(workload, path, limits))


def write_files(out: Path, files: dict[str, str]) -> list[Path]:
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in files.items():
            target = out / name
            target.write_text(text, encoding="utf-8")
            written.append(target)
    except OSError as exc:
        raise BadInput(f"--out: {out}: cannot write: {exc.strerror or exc}") from None
    return written


_EMITTERS = {
    Emit.terraform: render_terraform,
    Emit.strimzi: render_strimzi,
    Emit.statefulset: render_statefulset,
    Emit.clients: render_clients,
}


def plan_command(
    workload: Annotated[Path, typer.Argument(metavar="WORKLOAD.yaml", show_default=False,
                                             help="Workload file (see examples/).")],
    limits: Annotated[str | None, typer.Option(
        "--limits", "-l", metavar="NAME|PATH", show_default=False,
        help="Limits profile: design-doc (the scaling guide's figures), confluent-2026, or a YAML file. "
             "Default: the workload's `limits:` (design-doc).")] = None,
    fmt: Annotated[PlanFormat, typer.Option(
        "--format", "-f", help="table for people, markdown for change requests, json for scripts.")]
    = PlanFormat.table,
    emit: Annotated[list[Emit] | None, typer.Option(
        "--emit", "-e", metavar="KIND", show_default=False,
        help="Also write deployment files: terraform (Confluent Cloud), strimzi (Kafka, "
             "KafkaNodePool, KafkaTopic, KafkaRebalance), statefulset (plain Kubernetes, KRaft), "
             "clients (a client.properties per producer and consumer). Repeatable.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", metavar="DIR", show_default=False,
        help="Directory for --emit files (one sub-directory per kind).")] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Lint the emitted files for what a PHI workload needs (the same checks as "
                        "`brokerscale lint`); exit 1 if anything is missing.")] = False,
) -> None:
    """Size a cluster for a workload: throughput, storage, tier, CKUs, brokers and partitions.

    Every figure names the rule that produced it; the binding dimension is marked.
    Pure arithmetic: no cluster is contacted.

    [bold]Examples[/]

      brokerscale plan examples/health-system.yaml

      brokerscale plan examples/health-system.yaml --limits confluent-2026 --format json

      brokerscale plan examples/regional-hospital.yaml --format markdown > change-request.md

      brokerscale plan examples/health-system.yaml --emit terraform --emit strimzi --out deploy/

      brokerscale plan examples/health-system.yaml --emit strimzi --out deploy/ --check

    With `requirements: [phi]` the emitted files are PHI-safe (TLS-only authenticated listeners,
    authorization, rack awareness, RF 3 / min ISR 2 / unclean election off, least-privilege users);
    with `private-networking`, Terraform gets a private Confluent network, or is refused with the
    reason when the planned tier cannot have one. `--emit clients` writes each application's Kafka
    client settings (TLS, its own SCRAM or certificate principal, the secret read from the mounted
    KafkaUser Secret by Kafka's DirectoryConfigProvider, never written into the file). Every file names
    the requirements it satisfies.
    """
    if emit and out is None:
        raise BadInput("--out: required with --emit (the directory to write the files to)")
    if out is not None and not emit:
        raise BadInput("--out: only meaningful with --emit terraform|strimzi|statefulset|clients")
    if check and not emit:
        raise BadInput("--check: lints emitted files, so it needs --emit (to lint other files: brokerscale lint)")
    wl, plan = plan_file(workload, limits)
    rendered = {kind: _EMITTERS[kind](plan, wl) for kind in dict.fromkeys(emit or [])}  # refusals before writing
    written: list[Path] = []
    for kind, files in rendered.items():
        assert out is not None
        written += write_files(out / kind.value, files)
    if fmt is PlanFormat.json:
        doc = plan_to_dict(plan)
        if written:
            doc["files"] = [str(p) for p in written]
        print_json(doc)
    elif fmt is PlanFormat.markdown:
        console.file.write(render_markdown(plan))
    else:
        render_table(plan, console)
    if written and fmt is not PlanFormat.json:
        for p in written:
            err.print(f"wrote {p}")
    if check:
        from brokerscale.plan.lint_cli import report

        reqs = [r for r in wl.requirements if r in ("phi", "private-networking")] or ["phi"]
        report(written, reqs, quiet_ok=fmt is PlanFormat.json)
