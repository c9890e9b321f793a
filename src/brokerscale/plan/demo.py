"""Demo section: plan the scaling guide's health-system workload and write its deployment files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from brokerscale.plan.cli import plan_file, write_files
from brokerscale.plan.emit_kubernetes import render_strimzi
from brokerscale.plan.emit_terraform import render_terraform
from brokerscale.plan.model import plan_to_dict
from brokerscale.plan.render import render_table

if TYPE_CHECKING:
    from brokerscale.demo import DemoContext

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "health-system.yaml"


def demo_step(ctx: DemoContext) -> None:
    """Pure planning, no cluster needed: the table people review, then the files a pipeline applies."""
    if not EXAMPLE.is_file():
        ctx.console.print(f"[yellow]plan:[/] {EXAMPLE} not found (run from a source checkout)")
        return
    ctx.console.print(f"$ brokerscale plan {EXAMPLE.relative_to(EXAMPLE.parents[1])}")
    workload, plan = plan_file(EXAMPLE)
    render_table(plan, ctx.console, compact=True)
    out = ctx.workdir / "plan"
    written = write_files(out / "terraform", render_terraform(plan, workload))
    written += write_files(out / "strimzi", render_strimzi(plan, workload))
    c = plan.confluent
    ctx.console.print(
        f"Confluent Cloud: [bold]{c.tier.capitalize()}, {c.ckus} CKUs[/] (binding: {c.binding_dimension}); "
        f"self-managed: [bold]{plan.self_managed.brokers} brokers[/]. "
        f"Wrote {len(written)} files (Terraform, Strimzi) to {out}")
    ctx.notes["plan"] = plan_to_dict(plan)
