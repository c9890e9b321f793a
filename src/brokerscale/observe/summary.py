"""The monitoring text of a check: one summary line, then one line per finding.

`brokerscale check` and `brokerscale cloud check` both print through here, so a monitoring system
reads the same grammar from a self-managed cluster and from Confluent Cloud.
"""

from __future__ import annotations

from brokerscale.model.snapshot import Finding
from brokerscale.observe.triggers import worst
from brokerscale.units import format_value, plural

EXIT_CODES = {None: 0, "warning": 1, "critical": 2}


def where(f: Finding) -> str:
    """'broker 2', 'topic ehr.adt', 'group billing-etl', 'cluster prod': the scope said once."""
    if not f.target or f.target == f.scope or f.target.startswith(f"{f.scope} "):
        return f.target or f.scope
    return f"{f.scope} {f.target}"


def threshold_text(f: Finding) -> str:
    """'(> 70%)' for a rule that fires above its threshold, '(< 30%)' below it, '' without one."""
    if f.threshold is None:
        return ""
    sign = "<" if f.direction == "below" else ">"
    return f" ({sign} {format_value(f.threshold, f.unit)})"


def summary_line(findings: list[Finding], context: str = "") -> tuple[int, str]:
    """(exit code, first line) in the monitoring convention: 0 OK, 1 WARNING, 2 CRITICAL.

    `context` (e.g. "lkc-1 (2 CKU)") is named after "on"; the head finding is the most severe.
    """
    on = f" on {context}" if context else ""
    sev = worst(findings)
    if sev is None:
        return 0, f"OK - no scaling triggers fired{on}"
    crit = sum(1 for f in findings if f.severity == "critical")
    warn = len(findings) - crit
    counts = ", ".join(x for x in (f"{crit:,} critical" if crit else "", plural(warn, "warning") if warn else "")
                       if x)
    head = findings[0]
    return EXIT_CODES[sev], (f"{sev.upper()} - {counts}{on}: {head.metric} {format_value(head.value, head.unit)} "
                             f"on {where(head)}{threshold_text(head)} — {head.action}")


def finding_line(f: Finding) -> str:
    return f"{f.severity.upper()}: {where(f)}: {f.message} — {f.action}"


def check_text(findings: list[Finding], context: str = "") -> tuple[int, str]:
    """The whole check output (summary line first) and its exit code."""
    code, line = summary_line(findings, context)
    return code, "\n".join([line] + [finding_line(f) for f in findings]) + "\n"
