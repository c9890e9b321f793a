"""Execute reviewed topic changes, each one audited: intent row first, result row after.

Order per topic: configs first (retention, min.insync.replicas, cleanup.policy — they protect data
and are reversible), partitions last (irreversible). Refusals are decided before anything runs, and the
principal's permission for every change is asked (validate-only) inside the first audited change, so
a refused `--apply` changes nothing at all.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from brokerscale.topics.live import TopicsAdmin
from brokerscale.topics.model import TopicReview


class AuditStore(Protocol):
    def audited(self, *, actor: str, action: str, target: str, intent: dict[str, Any] | None = None,
                before: dict[str, Any] | None = None, correlation_id: str | None = None,
                cluster: str | None = None) -> Any: ...


@dataclass(frozen=True)
class Refusal:
    topic: str
    reason: str


@dataclass(frozen=True)
class Applied:
    """One executed change and what the cluster reports afterwards."""

    topic: str
    action: str
    before: dict[str, Any]
    after: dict[str, Any]
    change_id: str


def refusals(reviews: Sequence[TopicReview], *, allow_key_remap: bool, configs_only: bool) -> list[Refusal]:
    """Partition increases on keyed topics, unless the operator accepted the key remap."""
    if allow_key_remap or configs_only:
        return []
    out = []
    for r in reviews:
        p = r.partitions
        if p is not None and p.needs_key_remap:
            out.append(Refusal(r.topic, f"{p.current} -> {p.target} partitions would remap {p.partition_key} keys"))
    return out


def _settled_partitions(admin: TopicsAdmin, topic: str, target: int, attempts: int = 20) -> int:
    """The partition count metadata reports, waiting briefly for it to catch up with the controller."""
    count = 0
    for i in range(attempts):
        count = len(admin.partitions([topic]).get(topic, []))
        if count >= target:
            break
        time.sleep(0.1 * (i + 1))
    return count


def _settled_configs(admin: TopicsAdmin, topic: str, values: dict[str, str], attempts: int = 20) -> dict[str, Any]:
    """The configs as the cluster reports them, waiting briefly for every broker to apply the change.

    A broker answers DescribeConfigs from its own copy of the metadata, which can trail the controller
    by a moment: recording that stale read as the result would make the audit log say the change failed.
    """
    now: dict[str, str] = {}
    for i in range(attempts):
        now = admin.configs([topic]).get(topic, {})
        if all(now.get(k) == v for k, v in values.items()):
            break
        time.sleep(0.1 * (i + 1))
    return {k: now.get(k) for k in values}


def apply_reviews(reviews: Sequence[TopicReview], admin: TopicsAdmin, store: AuditStore, *,
                  configs_only: bool = False, actor: str = "cli", cluster: str | None = None,
                  step: Callable[[str], None] | None = None) -> list[Applied]:
    """Run every change in `reviews` (refusals must have been checked by the caller); the audit rows
    name `cluster` beside the topic."""
    correlation = uuid.uuid4().hex
    done: list[Applied] = []
    configs = {r.topic: {c.key: c.target for c in r.config_changes} for r in reviews if r.config_changes}
    grow = {r.topic: r.partitions.target for r in reviews if r.partitions is not None
            and r.partitions.action == "increase" and not configs_only}
    checked = False

    def permitted() -> None:
        """Inside the first audited change: a principal without every ACL the run needs changes nothing,
        and the audit log records the refused attempt (result error)."""
        nonlocal checked
        if not checked:
            admin.check_permitted(configs, grow)
            checked = True

    for r in reviews:
        if r.config_changes:
            values = {c.key: c.target for c in r.config_changes}
            before: dict[str, Any] = {c.key: c.current for c in r.config_changes}
            if step:
                step(f"{r.topic}: set {', '.join(f'{k}={v}' for k, v in values.items())}")
            intent: dict[str, Any] = {"set": values, "reasons": {c.key: c.reason for c in r.config_changes}}
            with store.audited(actor=actor, action="topics.alter_config", target=r.topic, intent=intent,
                               before=before, correlation_id=correlation, cluster=cluster) as change:
                permitted()
                admin.alter_configs(r.topic, values)
                change.after = _settled_configs(admin, r.topic, values)
            done.append(Applied(r.topic, "topics.alter_config", before, change.after, change.change_id))
        p = r.partitions
        if p is not None and p.action == "increase" and not configs_only:
            if step:
                step(f"{r.topic}: partitions {p.current} -> {p.target}")
            intent = {"partitions": p.target, "rule": p.rule, "partition_key": p.partition_key,
                      "key_remap_accepted": p.partition_key is not None}
            before = {"partitions": p.current}
            with store.audited(actor=actor, action="topics.create_partitions", target=r.topic, intent=intent,
                               before=before, correlation_id=correlation, cluster=cluster) as change:
                permitted()
                admin.create_partitions(r.topic, p.target)
                change.after = {"partitions": _settled_partitions(admin, r.topic, p.target)}
            done.append(Applied(r.topic, "topics.create_partitions", before, change.after, change.change_id))
    return done
