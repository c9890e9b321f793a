"""Rendering a proposal: Apache Kafka's reassignment file, a JSON summary, and tables for people.

The proposal file is exactly what `kafka-reassign-partitions --execute --reassignment-json-file`
accepts (sizes, summary and rollback ride along as fields Kafka ignores), so an operator can always
fall back to Kafka's own tool with the very file they reviewed.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from brokerscale.balance.goals import broker_loads
from brokerscale.balance.optimizer import Proposal
from brokerscale.balance.reassignment_file import SIZE_FIELD
from brokerscale.gcpause import paused_gc
from brokerscale.units import format_bytes


def reassignment(p: Proposal, *, sizes: bool = False) -> dict[str, Any]:
    """Kafka's reassignment JSON; with `sizes`, each partition also carries `size_bytes` (Kafka ignores it)."""
    parts: list[dict[str, Any]] = []
    for i in p.changed():
        part: dict[str, Any] = {"topic": p.model.topics[i], "partition": p.model.partitions[i],
                                "replicas": list(p.new_replicas[i])}
        if sizes:
            part[SIZE_FIELD] = int(p.model.sizes[i])
        parts.append(part)
    parts.sort(key=lambda x: (x["topic"], x["partition"]))
    return {"version": 1, "partitions": parts}


def rollback(p: Proposal) -> dict[str, Any]:
    """The current assignment of the partitions the proposal touches (to undo it)."""
    parts = [{"topic": p.model.topics[i], "partition": p.model.partitions[i], "replicas": list(p.model.replicas[i])}
             for i in p.changed()]
    parts.sort(key=lambda x: (x["topic"], x["partition"]))
    return {"version": 1, "partitions": parts}


def summary(p: Proposal) -> dict[str, Any]:
    before = broker_loads(p.model, p.model.replicas)
    after = broker_loads(p.model, p.new_replicas)
    moved = p.bytes_moved
    lb = p.lower_bound_bytes
    per_broker = []
    for b in sorted(p.model.brokers):
        per_broker.append({
            "broker": b,
            "rack": p.model.brokers[b].rack,
            "role": "removed" if b in p.targets.removed else ("added" if b in p.brokers else "kept"),
            "replicas_before": int(before[b]["replicas"]), "replicas_after": int(after[b]["replicas"]),
            "leaders_before": int(before[b]["leaders"]), "leaders_after": int(after[b]["leaders"]),
            "disk_bytes_before": int(before[b]["disk_bytes"]), "disk_bytes_after": int(after[b]["disk_bytes"]),
            "bytes_in_per_s_before": round(before[b]["bytes_in_per_s"], 1),
            "bytes_in_per_s_after": round(after[b]["bytes_in_per_s"], 1),
        })
    th = p.thresholds
    return {
        "mode": p.mode,
        "brokers": p.brokers,
        "bytes_moved": moved,
        "lower_bound_bytes": lb,
        "ratio_to_lower_bound": round(moved / lb, 4) if lb else (1.0 if moved == 0 else None),
        "replica_moves": p.replica_moves,
        "leader_moves": p.leader_moves,
        "partitions_changed": len(p.changed()),
        "thresholds": {"replica_count": th.replica_count, "leader_count": th.leader_count, "disk": th.disk,
                       "network_in": th.network_in, "topic_spread": th.topic_spread, "capacity": th.capacity},
        "goals": p.goals,
        "soft_goals_met": p.soft_goals,
        "soft_goals_infeasible": p.infeasible,
        "per_broker": per_broker,
    }


def to_json(p: Proposal) -> dict[str, Any]:
    """The proposal file: Kafka's reassignment format itself (so `kafka-reassign-partitions --execute` takes
    the reviewed file as is), with partition sizes, the summary and the rollback as extra fields."""
    return {**reassignment(p, sizes=True), "summary": summary(p), "rollback": rollback(p)}


def file_text(p: Proposal) -> str:
    """The proposal file as text: the document `to_json` returns, one partition per line.

    One line per partition keeps a million-replica plan reviewable (and diffable) and lets it be
    written in well under a second: the partition lines are formatted directly instead of through
    `json.dumps(..., indent=...)`, whose pure-Python indenting encoder is several times slower.
    """
    with paused_gc():
        m = p.model
        quoted: dict[str, str] = {}
        for i in p.changed():
            if m.topics[i] not in quoted:
                quoted[m.topics[i]] = json.dumps(m.topics[i])
        order = sorted(p.changed(), key=lambda i: (m.topics[i], m.partitions[i]))
        new = ",\n  ".join(
            f'{{"topic": {quoted[m.topics[i]]}, "partition": {int(m.partitions[i])}, '
            f'"replicas": [{", ".join(map(str, p.new_replicas[i]))}], "{SIZE_FIELD}": {int(m.sizes[i])}}}'
            for i in order)
        old = ",\n   ".join(
            f'{{"topic": {quoted[m.topics[i]]}, "partition": {int(m.partitions[i])}, '
            f'"replicas": [{", ".join(map(str, m.replicas[i]))}]}}'
            for i in order)
        head = json.dumps(summary(p), indent=1).replace("\n", "\n ")
        return (f'{{\n "version": 1,\n "partitions": [{_block(new, "  ", " ")}],\n "summary": {head},\n'
                f' "rollback": {{\n  "version": 1,\n  "partitions": [{_block(old, "   ", "  ")}]\n }}\n}}\n')


def _block(lines: str, indent: str, close: str) -> str:
    return f"\n{indent}{lines}\n{close}" if lines else ""


def render(p: Proposal, console: Console) -> None:
    s = summary(p)
    table = Table(title=f"rebalance proposal ({p.mode}{' ' + ','.join(map(str, p.brokers)) if p.brokers else ''})")
    for col in ("broker", "rack", "role", "replicas", "leaders", "disk"):
        table.add_column(col, justify="right" if col not in ("rack", "role") else "left")
    for row in s["per_broker"]:
        table.add_row(str(row["broker"]), row["rack"] or "-", row["role"],
                      f"{row['replicas_before']} → {row['replicas_after']}",
                      f"{row['leaders_before']} → {row['leaders_after']}",
                      f"{format_bytes(row['disk_bytes_before'])} → {format_bytes(row['disk_bytes_after'])}")
    console.print(table)
    ratio = s["ratio_to_lower_bound"]
    console.print(f"bytes moved [bold]{format_bytes(s['bytes_moved'])}[/] "
                  f"(lower bound {format_bytes(s['lower_bound_bytes'])}"
                  f"{f', ratio {ratio:.3f}' if ratio is not None else ''}); "
                  f"{s['replica_moves']} replica moves, {s['leader_moves']} leader moves, "
                  f"{s['partitions_changed']} partitions change")
    unmet = [k for k, ok in s["soft_goals_met"].items() if not ok]
    console.print("soft goals: " + ("all met" if not unmet else "not met: " + ", ".join(unmet)))
    for goal, why in s["soft_goals_infeasible"].items():
        console.print(f"[yellow]{goal} infeasible[/]: {why}", soft_wrap=True)
