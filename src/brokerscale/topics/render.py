"""Rich tables for the topics verb, kept apart from the commands so the demo can reuse them."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from brokerscale.topics.apply import Applied
from brokerscale.topics.model import Finding, HotPartition, TopicReview
from brokerscale.topics.policy import DAY_MS, TopicPolicy
from brokerscale.units import format_bytes

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
_RANK = {"critical": 0, "warning": 1, "info": 2}


def retention_text(value: str | None) -> str:
    if value is None:
        return "?"
    try:
        ms = int(value)
    except ValueError:
        return value
    if ms < 0:
        return "infinite"
    days = ms / DAY_MS
    return f"{days:g} d" if days >= 1 else f"{ms / 3_600_000:g} h"


def worst(findings: Sequence[Finding]) -> str | None:
    return min((f.severity for f in findings), key=lambda s: _RANK[s], default=None)


def status_text(review: TopicReview, findings: Sequence[Finding]) -> str:
    if not review.managed:
        if any(f.code == "unmanaged" for f in findings):
            return "[yellow]unmanaged: no class (warning)[/]"
        return "[dim]unmanaged (marked non-PHI)[/]"
    w = worst(findings)
    if w is None:
        return "[green]OK[/]"
    return f"[{SEVERITY_STYLE[w]}]{len(findings)} finding{'s' if len(findings) > 1 else ''} ({w})[/]"


def list_table(rows: Sequence[tuple[TopicReview, list[Finding]]]) -> Table:
    t = Table(title="Topics", title_justify="left")
    for col in ("topic", "class", "partitions", "RF", "retention", "min ISR", "cleanup", "policy"):
        t.add_column(col, justify="right" if col in ("partitions", "RF", "min ISR") else "left")
    for review, findings in rows:
        c = review.state.configs
        t.add_row(escape(review.topic), review.topic_class or "—", str(review.state.partitions),
                  str(review.state.replication_factor), retention_text(c.get("retention.ms")),
                  c.get("min.insync.replicas", "?"), c.get("cleanup.policy", "?"), status_text(review, findings))
    return t


def changes_table(reviews: Sequence[TopicReview], *, configs_only: bool = False,
                  allow_key_remap: bool = False) -> Table:
    t = Table(title="Changes", title_justify="left")
    for col in ("topic", "change", "current", "target", "reason"):
        t.add_column(col, overflow="fold")
    for r in reviews:
        for c in r.config_changes:
            t.add_row(escape(r.topic), c.key, escape(str(c.current)), escape(c.target), escape(c.reason))
        p = r.partitions
        if p is None or p.action == "none":
            continue
        if p.action == "increase":
            what = "partitions"
            if configs_only:
                what += " [dim](skipped: --configs-only)[/]"
            elif p.needs_key_remap and allow_key_remap:
                what += f" [yellow](remaps {p.partition_key}: allowed by --allow-key-remap)[/]"
            elif p.needs_key_remap:
                what += f" [yellow](remaps {p.partition_key}: needs --allow-key-remap)[/]"
        else:
            what = "partitions [cyan](decrease: reported, never attempted)[/]"
        t.add_row(escape(r.topic), what, str(p.current), str(p.target), escape(p.rule))
    return t


def findings_table(reviews: Sequence[TopicReview]) -> Table:
    t = Table(title="Findings", title_justify="left")
    t.add_column("severity")
    t.add_column("topic")
    t.add_column("finding", overflow="fold")
    rows = [(f, r.topic) for r in reviews for f in r.findings]
    for f, topic in sorted(rows, key=lambda x: (_RANK[x[0].severity], x[1])):
        t.add_row(f"[{SEVERITY_STYLE[f.severity]}]{f.severity}[/]", escape(topic), escape(f.message))
    return t


def traffic_table(reviews: Sequence[TopicReview]) -> Table:
    sources = sorted({r.rate.source for r in reviews if r.rate is not None})
    t = Table(title="Measured traffic" + (f" ({'; '.join(sources)})" if sources else ""), title_justify="left")
    for col in ("topic", "class", "in /s", "out /s", "in+out MB/s", "partitions", "target"):
        t.add_column(col, justify="left" if col in ("topic", "class") else "right")
    for r in reviews:
        if not r.managed:
            continue
        rate = r.rate
        p = r.partitions
        t.add_row(escape(r.topic), r.topic_class or "—",
                  format_bytes(rate.bytes_in_per_s) if rate else "?",
                  format_bytes(rate.bytes_out_per_s) if rate else "?",
                  f"{rate.throughput_mb_s:.3g}" if rate else "?",
                  str(r.state.partitions), str(p.target) if p else "—")
    return t


def applied_table(applied: Sequence[Applied]) -> Table:
    t = Table(title="Applied (audited)", title_justify="left")
    for col in ("topic", "action", "before", "after", "audit change id"):
        t.add_column(col, overflow="fold")
    for a in applied:
        t.add_row(escape(a.topic), a.action, escape(str(a.before)), escape(str(a.after)), a.change_id)
    return t


def hot_table(hot: Sequence[HotPartition]) -> Table:
    t = Table(title="Hot partitions", title_justify="left")
    for col in ("topic", "partition", "leader", "bytes in /s", "topic median /s", "× median", "share of topic",
                "likely cause"):
        t.add_column(col, justify="left" if col in ("topic", "likely cause") else "right")
    causes = {"key": "busy key", "leader": "follows leader broker"}
    for h in hot:
        t.add_row(escape(h.topic), str(h.partition), "—" if h.leader is None else str(h.leader),
                  format_bytes(h.bytes_in_per_s), format_bytes(h.topic_median_bytes_per_s),
                  f"{h.ratio:.1f}" if h.ratio is not None else "∞ (median idle)", f"{h.share:.0%}",
                  causes.get(h.cause, h.cause))
    return t


def policy_table(policy: TopicPolicy) -> Table:
    t = Table(title="Topic policy", title_justify="left")
    for col in ("class", "prefixes", "partitions (planner class)", "PHI", "key", "RF", "min ISR",
                "retention ≥", "retention ≤", "cleanup", "unclean election", "timestamp", "max message"):
        t.add_column(col, overflow="fold")
    from brokerscale.plan.partitions import CLASS_BOUNDS

    for name, c in policy.classes.items():
        floor, cap = CLASS_BOUNDS[c.partition_class]
        most = c.retention_max_days
        t.add_row(name, " ".join(c.prefixes), f"{floor}–{cap} ({c.partition_class})", "yes" if c.phi else "no",
                  c.partition_key or "—", str(c.replication_factor), str(c.min_insync_replicas),
                  f"{c.retention_min_days:g} d" if c.retention_min_days else "—",
                  "infinite" if most == "infinite" else (f"{most:g} d" if most is not None else
                                                         ("finite" if c.phi else "—")),
                  c.cleanup_policy or "any", "allowed" if c.unclean_leader_election else "off",
                  c.message_timestamp_type or "any",
                  format_bytes(c.max_message_bytes) if c.max_message_bytes else "—")
    if policy.non_phi:
        t.caption = f"marked non-PHI (unmanaged, not flagged): {', '.join(policy.non_phi)}"
    return t
