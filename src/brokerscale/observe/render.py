"""Human output for observe/check/lag: rich tables. JSON output is the models' own dump."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from brokerscale.model.snapshot import Finding, GroupLag, LagStatus, Snapshot
from brokerscale.observe.capacity import Capacity, Utilization
from brokerscale.units import format_bytes, format_value

_SEV_STYLE = {"critical": "bold red", "warning": "yellow"}
_LAG_STYLE = {LagStatus.OK: "green", LagStatus.WARNING: "yellow", LagStatus.REWIND: "yellow",
              LagStatus.STALL: "red", LagStatus.STOP: "bold red", LagStatus.NO_OFFSET: "dim",
              LagStatus.UNKNOWN: "dim"}


def _rate(v: float | None) -> str:
    return "–" if v is None else f"{format_bytes(v)}/s"


def _num(v: float | None, fmt: str = "{:,.0f}") -> str:
    return "–" if v is None else fmt.format(v)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.0f}%"


def snapshot_summary(con: Console, s: Snapshot, cap: Capacity | None) -> None:
    alive = sum(1 for b in s.brokers if b.alive)
    window = f", rates over {s.window_s:.1f} s" if s.window_s else ", no rates (one sample)"
    con.print(f"[bold]{s.cluster}[/] — {alive}/{len(s.brokers)} brokers up, source {s.source}{window}"
              + (f"; capacity {cap.description}" if cap else ""))
    t = Table(show_header=True, header_style="bold")
    for col in ("bytes in", "bytes out", "msgs/s", "conns", "req/s", "p99 produce", "queue", "partitions",
                "under-repl", "retained"):
        t.add_column(col, justify="right")
    t.add_row(_rate(s.bytes_in_per_s), _rate(s.bytes_out_per_s), _num(s.messages_in_per_s),
              _num(s.connections), _num(s.requests_per_s), _num(s.produce_p99_ms, "{:.0f} ms"),
              _num(s.request_queue_time_avg_ms, "{:.1f} ms"), _num(s.partition_count),
              _num(s.under_replicated_partitions), "–" if s.retained_bytes is None else format_bytes(s.retained_bytes))
    con.print(t)
    for note in s.notes:
        con.print(f"[yellow]note:[/] {note}")


def brokers_table(con: Console, s: Snapshot) -> None:
    t = Table(title="brokers", show_header=True, header_style="bold")
    for col in ("id", "rack", "up", "bytes in", "bytes out", "conns", "req/s", "p99 produce", "p99 fetch",
                "queue", "handler idle", "net idle", "replicas", "leaders", "URP", "disk"):
        t.add_column(col, justify="right")
    for b in s.brokers:
        t.add_row(str(b.id), b.rack or "–", "[green]yes[/]" if b.alive else "[bold red]DOWN[/]",
                  _rate(b.bytes_in_per_s), _rate(b.bytes_out_per_s), _num(b.connections), _num(b.requests_per_s),
                  _num(b.produce_p99_ms, "{:.0f} ms"), _num(b.fetch_p99_ms, "{:.0f} ms"),
                  _num(b.request_queue_time_avg_ms, "{:.1f} ms"), _pct(b.request_handler_idle_ratio),
                  _pct(b.network_processor_idle_ratio), _num(b.partition_replicas), _num(b.leaders),
                  _num(b.under_replicated_partitions),
                  "–" if b.disk_used_bytes is None else format_bytes(b.disk_used_bytes))
    con.print(t)


def topics_table(con: Console, s: Snapshot, limit: int = 15) -> None:
    topics = sorted((t for t in s.topics if not t.internal),
                    key=lambda t: (-(t.bytes_in_per_s or 0), -(t.size_bytes or 0), t.name))
    if not topics:
        return
    t = Table(title=f"topics (top {min(limit, len(topics))} of {len(topics)} by bytes in)", header_style="bold")
    for col in ("topic", "partitions", "RF", "under-repl", "bytes in", "bytes out", "msgs/s", "size"):
        t.add_column(col, justify="right" if col != "topic" else "left")
    for tp in topics[:limit]:
        urp = sum(1 for p in tp.partitions if p.under_replicated)
        t.add_row(tp.name, str(len(tp.partitions)), str(tp.replication_factor),
                  f"[red]{urp}[/]" if urp else "0", _rate(tp.bytes_in_per_s), _rate(tp.bytes_out_per_s),
                  _num(tp.messages_in_per_s), "–" if tp.size_bytes is None else format_bytes(tp.size_bytes))
    con.print(t)


def utilization_table(con: Console, utils: list[Utilization]) -> None:
    if not utils:
        return
    t = Table(title="utilization of provisioned capacity", header_style="bold")
    for col in ("scope", "dimension", "used", "capacity", "%"):
        t.add_column(col, justify="right" if col in ("used", "capacity", "%") else "left")
    for u in utils:
        if u.dimension in ("throughput", "ingress", "egress"):
            used, cap = _rate(u.used), _rate(u.capacity)
        elif u.dimension == "disk":
            used, cap = format_bytes(u.used), format_bytes(u.capacity)
        else:
            used, cap = f"{u.used:,.0f}", f"{u.capacity:,.0f}"
        style = "red" if u.percent > 85 else "yellow" if u.percent > 70 else ""
        t.add_row(u.target, u.dimension, used, cap, f"[{style}]{u.percent:.1f}%[/]" if style else f"{u.percent:.1f}%")
    con.print(t)


def groups_table(con: Console, groups: list[GroupLag], *, partitions: bool = False) -> None:
    if not groups:
        con.print("no consumer groups")
        return
    t = Table(title="consumer lag", header_style="bold")
    for col in ("group", "state", "members", "lag (offsets)", "max lag (s)", "status", "why"):
        t.add_column(col, justify="right" if col in ("members", "lag (offsets)", "max lag (s)") else "left")
    for g in groups:
        st = _LAG_STYLE.get(g.status, "")
        t.add_row(g.group, g.state or "–", _num(g.members), f"{g.lag_offsets:,}",
                  _num(g.max_lag_seconds, "{:.1f}") + ("+" if g.max_lag_seconds_lower_bound else ""),
                  f"[{st}]{g.status.value}[/]", g.reason)
        if partitions:
            for p in g.partitions:
                ps = _LAG_STYLE.get(p.status, "")
                secs = _num(p.lag_seconds, "{:.1f}") + ("+" if p.lag_seconds_lower_bound else "")
                t.add_row(f"  {p.topic}[{p.partition}]", "", "", _num(p.lag_offsets), secs,
                          f"[{ps}]{p.status.value}[/]", p.reason)
    con.print(t)


def findings_table(con: Console, findings: list[Finding]) -> None:
    if not findings:
        con.print("[green]no scaling triggers fired[/]")
        return
    t = Table(title="findings", header_style="bold")
    for col in ("severity", "scope", "target", "metric", "value", "threshold", "action"):
        t.add_column(col, justify="right" if col in ("value", "threshold") else "left")
    for f in findings:
        style = _SEV_STYLE[f.severity]
        unit = "" if f.unit == "offsets" else f.unit
        limit = "–" if f.threshold is None else \
            f"{'<' if f.direction == 'below' else '>'} {format_value(f.threshold, unit)}"
        t.add_row(f"[{style}]{f.severity.upper()}[/]", f.scope, f.target, f.metric, format_value(f.value, unit),
                  limit, f.action)
    con.print(t)
