"""Demo section: the audit records the demo's own changes left behind."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.table import Table

from brokerscale.store import open_store

if TYPE_CHECKING:
    from brokerscale.demo import DemoContext


def demo_step(ctx: DemoContext) -> None:
    store = open_store()
    try:
        records = [r for r in store.audit_records(limit=200) if r["ts"] >= ctx.started_ts]
    finally:
        store.close()
    if not records:
        ctx.console.print("No change was applied during this demo, so the audit log has nothing new.")
        return
    table = Table("when (UTC)", "action", "target", "result", title="Audit log: changes made by this demo",
                  title_justify="left")
    for r in sorted(records, key=lambda r: r["ts"]):
        when = datetime.fromtimestamp(r["ts"], UTC).strftime("%H:%M:%S")
        table.add_row(when, r["action"], r["target"], r["result"])
    ctx.console.print(table)
    ctx.console.print("Every change is written as an intent before it runs and confirmed with its result "
                      "after: `brokerscale audit` shows them all.")
