"""A plan for people: rich tables on a terminal, Markdown for change requests.

Both show the rule behind each figure and mark the binding dimension, because a reviewer's first
question about a CKU or broker count is "why that number?".
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from brokerscale.plan.model import Dimension, Plan, TopicPlan
from brokerscale.units import format_bytes

MB = 1e6
BINDING = "◀ binding"


def _num(v: float) -> str:
    if float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:,.2f}".rstrip("0").rstrip(".") if abs(v) >= 0.01 else f"{v:.2g}"


def _mb(v: float) -> str:
    return f"{_num(round(v / MB, 3))} MB/s"


def _demand(d: Dimension) -> str:
    if d.unit == "bytes":
        return format_bytes(d.demand)
    return f"{_num(d.demand)} {d.unit}"


def _per_unit(d: Dimension) -> str:
    if d.unit == "bytes":
        return format_bytes(d.per_unit)
    return f"{_num(d.per_unit)} {d.unit}"


def _egress(t: TopicPlan) -> str:
    return "not modelled" if t.egress_bytes_s is None else _mb(t.egress_bytes_s)


def _topic_partitions(t: TopicPlan) -> str:
    p = t.partitions
    if p.capped:
        return f"{p.partitions} (formula {p.formula}, capped)"
    if p.partitions != p.formula:
        return f"{p.partitions} (class floor)"
    return str(p.partitions)


def _title(plan: Plan) -> str:
    req = ", ".join(plan.requirements) or "none"
    return (f"Plan for {plan.workload} — limits {plan.limits}, {plan.availability}, "
            f"requirements: {req}")


def _dimension_table(title: str, unit_label: str, dims: Iterable[Dimension], binding: str,
                     total_label: str, total: int, rule: str) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("dimension")
    table.add_column("demand", justify="right")
    table.add_column(f"per {unit_label}", justify="right")
    table.add_column(unit_label + "s", justify="right")
    table.add_column("")
    table.add_column("rule", overflow="fold")
    for d in dims:
        table.add_row(d.name, _demand(d), _per_unit(d), str(d.count),
                      BINDING if d.name == binding else "", d.rule)
    extra = "" if any(d.name == binding for d in dims) else f"({binding})"
    table.add_row(Text(total_label, style="bold"), "", "", Text(str(total), style="bold"),
                  extra, rule, end_section=True)
    return table


def render_table(plan: Plan, console: Console, *, compact: bool = False) -> None:
    """Print the plan as rich tables. `compact` leaves out the per-topic table (used by the demo)."""
    c, s = plan.confluent, plan.self_managed
    load = Table(title="Load", title_justify="left")
    load.add_column("figure")
    load.add_column("value", justify="right")
    load.add_column("rule", overflow="fold")
    load.add_row("ingress", _mb(plan.ingress_bytes_s), "Σ messages/s × message bytes")
    load.add_row("egress", _mb(plan.egress_bytes_s), "Σ ingress × consumer_groups")
    load.add_row("throughput", _mb(plan.throughput_bytes_s), "ingress + egress")
    load.add_row("storage", format_bytes(plan.storage_bytes), "Σ ingress × retention")
    load.add_row("storage (self-managed)", format_bytes(s.storage_bytes_replicated),
                 f"× replication factor {s.replication_factor}")
    load.add_row("partitions", f"{plan.total_partitions:,}",
                 f"{plan.extra_partitions:,} declared + {plan.total_partitions - plan.extra_partitions:,} "
                 "for the listed topics")
    load.add_row("connections", f"{plan.connections:,}", "declared peak")

    tier = Text.assemble(("Confluent Cloud tier: ", "bold"), (c.tier.capitalize(), "bold green"),
                         f" — {c.tier_reason}")
    cku_note = "" if c.tier == "dedicated" else " (if Dedicated)"
    ckus = _dimension_table(f"CKUs{cku_note}", "CKU", c.dimensions, c.binding_dimension,
                            "CKUs", c.ckus, c.ckus_rule)
    brokers = _dimension_table("Self-managed brokers (Strimzi / StatefulSet)", "broker", s.dimensions,
                               s.binding_dimension, "brokers", s.brokers, s.rule)
    sm = Text(f"size class {s.size_class} (scale by +{s.scaling_increment} brokers), "
              f"replication factor {s.replication_factor}, min.insync.replicas {s.min_insync_replicas}, "
              f"{format_bytes(s.disk_per_broker_bytes)} disk per broker")
    parts: list[object] = [load, tier, ckus, brokers, sm]
    if not compact:
        parts.append(_topics_table(plan.topics))
    console.print(Panel(Group(*parts), title=_title(plan), title_align="left"))  # type: ignore[arg-type]
    for f in plan.findings:
        style = "yellow" if f.severity == "warning" else "cyan"
        console.print(Text.assemble((f"{f.severity}: ", style), f"{f.target}: {f.message} ",
                                    (f"[{f.rule}]", "dim")))


def _topics_table(topics: list[TopicPlan]) -> Table:
    table = Table(title="Topics", title_justify="left")
    for col, just in (("topic", "left"), ("class", "left"), ("msg/s", "right"), ("msg size", "right"),
                      ("ingress", "right"), ("egress", "right"), ("retention", "right"),
                      ("storage", "right"), ("partitions", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for t in topics:
        table.add_row(t.name, t.topic_class, _num(t.messages_per_second), format_bytes(t.message_bytes),
                      _mb(t.ingress_bytes_s), _egress(t), f"{_num(t.retention_days)} d",
                      format_bytes(t.storage_bytes), _topic_partitions(t))
    return table


def _md_row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _md_dims(dims: Iterable[Dimension], binding: str, unit: str, total: int, rule: str) -> list[str]:
    lines = [_md_row(["dimension", "demand", f"per {unit}", f"{unit}s", "rule"]),
             _md_row(["---", "---:", "---:", "---:", "---"])]
    for d in dims:
        name = f"**{d.name}** (binding)" if d.name == binding else d.name
        lines.append(_md_row([name, _demand(d), _per_unit(d), d.count, d.rule]))
    lines.append(_md_row([f"**total** ({binding})", "", "", f"**{total}**", rule]))
    return lines


def render_markdown(plan: Plan) -> str:
    """The plan as Markdown, ready to paste into a change request."""
    c, s = plan.confluent, plan.self_managed
    out = [f"# {_title(plan)}", "", "## Load", "",
           _md_row(["figure", "value", "rule"]), _md_row(["---", "---:", "---"]),
           _md_row(["ingress", _mb(plan.ingress_bytes_s), "Σ messages/s × message bytes"]),
           _md_row(["egress", _mb(plan.egress_bytes_s), "Σ ingress × consumer_groups"]),
           _md_row(["throughput", _mb(plan.throughput_bytes_s), "ingress + egress"]),
           _md_row(["storage", format_bytes(plan.storage_bytes), "Σ ingress × retention"]),
           _md_row(["storage (self-managed)", format_bytes(s.storage_bytes_replicated),
                    f"× replication factor {s.replication_factor}"]),
           _md_row(["partitions", f"{plan.total_partitions:,}",
                    f"{plan.extra_partitions:,} declared + topics"]),
           _md_row(["connections", f"{plan.connections:,}", "declared peak"]),
           "", "## Confluent Cloud", "",
           f"**Tier: {c.tier.capitalize()}** — {c.tier_reason}", "",
           f"**CKUs{'' if c.tier == 'dedicated' else ' (if Dedicated)'}: {c.ckus}** "
           f"(binding: {c.binding_dimension})", ""]
    out += _md_dims(c.dimensions, c.binding_dimension, "CKU", c.ckus, c.ckus_rule)
    out += ["", "## Self-managed (Strimzi / StatefulSet)", "",
            f"**Brokers: {s.brokers}** (binding: {s.binding_dimension}; size class {s.size_class}, "
            f"scale by +{s.scaling_increment}; replication factor {s.replication_factor}, "
            f"min.insync.replicas {s.min_insync_replicas}; {format_bytes(s.disk_per_broker_bytes)} "
            "disk per broker)", ""]
    out += _md_dims(s.dimensions, s.binding_dimension, "broker", s.brokers, s.rule)
    out += ["", "## Topics", "",
            _md_row(["topic", "class", "msg/s", "msg size", "ingress", "egress", "retention", "storage",
                     "partitions", "rule"]),
            _md_row(["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"])]
    for t in plan.topics:
        out.append(_md_row([f"`{t.name}`", t.topic_class, _num(t.messages_per_second),
                            format_bytes(t.message_bytes), _mb(t.ingress_bytes_s), _egress(t),
                            f"{_num(t.retention_days)} d", format_bytes(t.storage_bytes),
                            _topic_partitions(t), t.partitions.rule]))
    out += ["", "## Findings", ""]
    out += [f"- **{f.severity}** `{f.target}`: {f.message} ({f.rule})" for f in plan.findings] or ["- none"]
    return "\n".join(out) + "\n"
