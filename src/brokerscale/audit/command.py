"""`brokerscale audit` — what changed, who changed it, and whether it worked.

The store's location comes from `BROKERSCALE_STORE_URL` (or the default SQLite file), never from a
flag, because a PostgreSQL URL may carry a password.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from brokerscale.cli_common import FormatOpt, OutputFormat
from brokerscale.console import console, print_json
from brokerscale.errors import BadInput
from brokerscale.store import open_store

_RESULT_STYLE = {"ok": "green", "error": "bold red", "pending": "yellow", "interrupted": "yellow"}


def _when(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(obj: Any, width: int = 60) -> str:
    if obj is None:
        return ""
    text = json.dumps(obj, sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def audit_command(
    action: Annotated[str | None, typer.Option(
        "--action", "-a", metavar="PREFIX", help="Only actions starting with PREFIX (e.g. topics.).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many changes, most recent first.")] = 20,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """List recent changes from the audit log: intent, before, after and result of each.

    Each executed change is written first as an intent, then confirmed with its result.

    A [yellow]pending[/] result means the change never finished (the process died). An
    [yellow]interrupted[/] one (Ctrl-C) says how far it got; the next command that reads the target
    records whether it was applied.

    Store: $BROKERSCALE_STORE_URL (SQLite or PostgreSQL URL), else brokerscale.db in

    $BROKERSCALE_DATA_DIR (default ~/.local/share/brokerscale).

    Examples:

      brokerscale audit

      brokerscale audit --action topics. --limit 50

      brokerscale audit --format json | jq '.[] | select(.result == "error")'
    """
    if limit < 1:
        raise BadInput(f"--limit: must be at least 1 (got {limit})")
    store = open_store()
    try:
        records = store.audit_records(action_prefix=action, limit=limit)
    finally:
        store.close()
    if fmt is OutputFormat.json:
        print_json(records)
        return
    if not records:
        console.print(f"no audit records{f' for actions starting with {action!r}' if action else ''} "
                      f"in {escape(store.source)}")
        return
    table = Table(title=f"audit log — {escape(store.source)}", title_justify="left")
    for col in ("when (UTC), who", "action", "target", "result", "intent", "before", "after / error"):
        table.add_column(col, overflow="fold", max_width=26 if col in ("intent", "before") else None)
    for r in records:
        style = _RESULT_STYLE.get(r["result"], "")
        result = f"[{style}]{r['result']}[/]"
        if r.get("outcome"):
            result += f" → {escape(r['outcome'])}"
        detail = r["error"] if r["result"] == "error" else _short(r["after"])
        if r["result"] == "interrupted":
            detail = f"{r['error']}" + (f"; then: {_short(r['after'])}" if r["after"] else "")
        who = r["actor"] + (f" ({r['os_user']}@{r['host']})" if r.get("os_user") else "")
        where = "/".join(x for x in (r.get("environment"), r.get("cluster")) if x)
        target = r["target"] if not where or where == r["target"] else f"{where}: {r['target']}"
        table.add_row(f"{_when(r['ts'])}\n{escape(who)}", escape(r["action"]), escape(target),
                      result, escape(_short(r["intent"])), escape(_short(r["before"])), escape(detail or ""))
    console.print(table)
