"""Measure one topic against its class: findings plus the smallest set of changes that fixes them.

Pure: state, traffic and policy go in, a `TopicReview` comes out. No I/O, no clock. The partition
count comes from the planner's rule (`brokerscale.plan.partitions.partition_target`) so a planned
topic and an optimized topic can never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Literal

from brokerscale.plan.partitions import partition_target
from brokerscale.topics.model import (
    ConfigChange,
    Finding,
    PartitionPlan,
    TopicRate,
    TopicReview,
    TopicState,
)
from brokerscale.topics.policy import DAY_MS, TopicClass, TopicPolicy
from brokerscale.units import format_bytes

#: The topic configs the policy speaks about; the adapter reads exactly these.
POLICY_CONFIG_KEYS = ("cleanup.policy", "retention.ms", "retention.bytes", "min.insync.replicas",
                      "max.message.bytes", "unclean.leader.election.enable", "message.timestamp.type")


def moved_key_fraction(current: int, target: int) -> float:
    """Share of keys whose partition changes when hash mod `current` becomes hash mod `target`.

    Over one period of both moduli (their lcm) every hash residue is equally likely, so count the
    residues that land on the same partition both ways. 3 -> 24 moves 7/8 of the keys; 12 -> 24, 1/2.
    """
    if current <= 0 or target <= 0:
        raise ValueError("partition counts must be positive")
    period = math.lcm(current, target)
    same = sum(1 for h in range(period) if h % current == h % target)
    return 1 - same / period


def key_remap_explanation(topic: str, key: str, current: int, target: int) -> str:
    """Why adding partitions to a keyed topic is not a routine change."""
    moved = moved_key_fraction(current, target)
    article = "an" if key[:1].lower() in "aeiou" else "a"
    return (f"{topic} is partitioned by {key}: Kafka places a record on hash({key}) mod partitions, so "
            f"going from {current} to {target} partitions sends {moved:.0%} of {key}s to a different partition. "
            f"While producers pick up the new count, {article} {key}'s new events can be read before its older "
            f"ones still queued on the old partition — per-{key.removesuffix('_id')} ordering breaks. "
            f"Do it in a quiet window with consumers drained, then pass --allow-key-remap.")


def _int(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _days(ms: int) -> str:
    if ms < 0:
        return "infinite"
    days = ms / DAY_MS
    return "1 day" if days == 1 else f"{days:g} days"


def _plan_partitions(state: TopicState, rate: TopicRate | None, cls: TopicClass) -> tuple[PartitionPlan,
                                                                                        list[Finding]]:
    throughput = rate.throughput_mb_s if rate is not None else 0.0
    t = partition_target(throughput, cls.partition_class)
    rule = t.rule if rate is not None else f"throughput not measured (taken as 0): {t.rule}"
    action: Literal["increase", "decrease", "none"]
    if t.partitions > state.partitions:
        action = "increase"
    elif t.partitions < state.partitions:
        action = "decrease"
    else:
        action = "none"
    plan = PartitionPlan(state.partitions, t.partitions, t.formula, t.floor, t.cap, t.capped, rule,
                         action, cls.partition_key)
    findings: list[Finding] = []
    if action == "increase":
        findings.append(Finding("warning", "partitions-below-target",
                                f"{state.partitions} partitions, target {t.partitions} ({rule})"))
        if cls.partition_key:
            findings.append(Finding("warning", "key-remap",
                                    key_remap_explanation(state.name, cls.partition_key,
                                                          state.partitions, t.partitions)))
    elif action == "decrease":
        findings.append(Finding("info", "partitions-above-target",
                                f"{state.partitions} partitions, target {t.partitions}: Kafka cannot reduce "
                                "partitions, so this is reported and never attempted (to shrink, create a new "
                                "topic and migrate producers and consumers)"))
    if t.capped:
        findings.append(Finding("warning", "partitions-capped",
                                f"the rule asks for {t.formula} partitions, above the {cls.partition_class} cap "
                                f"{t.cap}: split the topic or raise the cap (a human decision)"))
    return plan, findings


def _review_configs(state: TopicState, cls: TopicClass, class_name: str) -> tuple[list[ConfigChange],
                                                                                 list[Finding]]:
    c = state.configs
    changes: list[ConfigChange] = []
    findings: list[Finding] = []
    phi = "PHI " if cls.phi else ""

    cleanup = c.get("cleanup.policy")
    if cls.cleanup_policy is not None and cleanup is not None:
        current_set = {p.strip() for p in cleanup.split(",")}
        target_set = {p.strip() for p in cls.cleanup_policy.split(",")}
        if current_set != target_set:
            reason = f"class {class_name} requires cleanup.policy={cls.cleanup_policy}"
            if cls.phi and "compact" in current_set:
                findings.append(Finding("critical", "phi-compacted",
                                        f"PHI topic uses cleanup.policy={cleanup}: compaction keeps the latest "
                                        "record per key indefinitely, past any retention; PHI must use delete"))
                reason = "PHI must never be compacted (retention must actually delete it)"
            else:
                findings.append(Finding("warning", "cleanup-policy",
                                        f"cleanup.policy={cleanup}, class {class_name} requires "
                                        f"{cls.cleanup_policy}"))
            changes.append(ConfigChange("cleanup.policy", cleanup, cls.cleanup_policy, reason))

    retention = _int(c.get("retention.ms"))
    min_ms = cls.retention_min_ms
    if min_ms is not None and retention is not None and 0 <= retention < min_ms:
        findings.append(Finding("critical" if cls.phi else "warning", "retention-below-policy",
                                f"{phi}retention.ms={retention} ({_days(retention)}) is below the class "
                                f"{class_name} minimum of {_days(min_ms)}"))
        changes.append(ConfigChange("retention.ms", str(retention), str(min_ms),
                                    f"class {class_name} keeps data at least {_days(min_ms)}"))
    max_ms = cls.retention_max_ms
    if retention is not None and retention < 0 and not cls.allows_infinite_retention:
        why = (f"{phi}retention.ms=-1 (infinite): records are never deleted, against data minimisation; "
               f"class {class_name} ")
        if max_ms is not None:
            findings.append(Finding("critical" if cls.phi else "warning", "retention-infinite",
                                    why + f"keeps data at most {_days(max_ms)}"))
            changes.append(ConfigChange("retention.ms", str(retention), str(max_ms),
                                        f"data minimisation: class {class_name} keeps data at most "
                                        f"{_days(max_ms)}; records older than that are deleted once this "
                                        "is set"))
        else:
            findings.append(Finding("critical" if cls.phi else "warning", "retention-infinite",
                                    why + "sets no retention_max_days: set one (or `infinite` if the class "
                                    "really must keep everything) so the fix is known"))
    elif max_ms is not None and retention is not None and retention > max_ms:
        findings.append(Finding("warning", "retention-above-policy",
                                f"{phi}retention.ms={retention} ({_days(retention)}) is above the class "
                                f"{class_name} maximum of {_days(max_ms)} (data minimisation)"))
        changes.append(ConfigChange("retention.ms", str(retention), str(max_ms),
                                    f"data minimisation: class {class_name} keeps data at most {_days(max_ms)}"))
    retention_bytes = _int(c.get("retention.bytes"))
    if min_ms is not None and retention_bytes is not None and retention_bytes >= 0:
        findings.append(Finding("warning", "retention-bytes-set",
                                f"retention.bytes={retention_bytes} ({format_bytes(retention_bytes)} per "
                                f"partition) can delete data before {_days(min_ms)}; check it against the "
                                "projected volume (not changed automatically)"))

    isr = _int(c.get("min.insync.replicas"))
    if isr is not None and isr < cls.min_insync_replicas:
        if state.replication_factor <= cls.min_insync_replicas:
            findings.append(Finding("critical", "min-isr-below-policy",
                                    f"min.insync.replicas={isr} is below {cls.min_insync_replicas}, but the topic "
                                    f"has only {state.replication_factor} replica(s): raising it now would "
                                    "reject every acks=all write as soon as one broker is down; raise the "
                                    "replication factor first"))
        else:
            findings.append(Finding("critical", "min-isr-below-policy",
                                    f"min.insync.replicas={isr}: an acknowledged write can live on a single "
                                    f"broker; class {class_name} requires {cls.min_insync_replicas}"))
            changes.append(ConfigChange("min.insync.replicas", str(isr), str(cls.min_insync_replicas),
                                        f"acks=all writes must reach {cls.min_insync_replicas} replicas"))

    if isr is not None and isr >= state.replication_factor and state.replication_factor > 1:
        findings.append(Finding("critical" if cls.phi else "warning", "min-isr-not-below-rf",
                                f"min.insync.replicas={isr} with replication factor {state.replication_factor}: "
                                "with one broker down (a rolling restart is enough) every acks=all write is "
                                f"rejected; min.insync.replicas must be below the replication factor "
                                f"(raise the replication factor to {cls.replication_factor})"))

    if state.replication_factor < cls.replication_factor:
        findings.append(Finding("critical", "replication-below-policy",
                                f"{phi}replication factor {state.replication_factor}, class {class_name} requires "
                                f"{cls.replication_factor}: losing {state.replication_factor} broker(s) loses "
                                "acknowledged data. Kafka raises it only by a partition reassignment: "
                                "`topics optimize` writes one for `brokerscale rebalance execute`"))

    unclean = c.get("unclean.leader.election.enable")
    if unclean is not None and unclean.strip().lower() == "true" and not cls.unclean_leader_election:
        findings.append(Finding("critical" if cls.phi else "warning", "unclean-leader-election",
                                f"{phi}unclean.leader.election.enable=true: when every in-sync replica is down, "
                                "an out-of-sync replica becomes leader and the acknowledged events it never "
                                "received are lost for good"))
        changes.append(ConfigChange("unclean.leader.election.enable", unclean, "false",
                                    "acknowledged clinical events must never be dropped by a leader election"))

    ts = c.get("message.timestamp.type")
    if cls.message_timestamp_type is not None and ts is not None and ts != cls.message_timestamp_type:
        why = ("record time is the source system's event time (HL7 MSH-7, FHIR meta.lastUpdated)"
               if cls.message_timestamp_type == "CreateTime" else
               "record time is the broker's append time, so a producer's clock cannot keep data past "
               "retention or delete it early")
        findings.append(Finding("warning", "timestamp-type",
                                f"message.timestamp.type={ts}, class {class_name} requires "
                                f"{cls.message_timestamp_type}: {why}"))
        changes.append(ConfigChange("message.timestamp.type", ts, cls.message_timestamp_type,
                                    f"class {class_name}: {why}"))

    mmb = _int(c.get("max.message.bytes"))
    if cls.max_message_bytes is not None and mmb is not None and mmb > cls.max_message_bytes:
        findings.append(Finding("warning", "max-message-bytes",
                                f"max.message.bytes={mmb} ({format_bytes(mmb)}) exceeds the class ceiling "
                                f"{format_bytes(cls.max_message_bytes)}"))
        changes.append(ConfigChange("max.message.bytes", str(mmb), str(cls.max_message_bytes),
                                    f"class ceiling {format_bytes(cls.max_message_bytes)}; producers sending "
                                    "larger records will be rejected (large FHIR bundles belong in object "
                                    "storage, referenced by id)"))
    return changes, findings


def unmanaged_finding(topic: str, policy: TopicPolicy) -> Finding:
    """Why a topic without a class is worth a line: nobody has said whether it carries PHI."""
    entry = policy.marked_non_phi(topic)
    if entry is not None:
        return Finding("info", "unmanaged-non-phi",
                       f"no class; marked non-PHI in the policy ({entry!r} under non_phi), so not checked")
    return Finding("warning", "unmanaged",
                   "no class: set one in the policy (add its prefix to a class), or mark it non-PHI (add it "
                   "under non_phi); until then nothing checks its replication, retention or elections")


def review_topic(state: TopicState, rate: TopicRate | None, policy: TopicPolicy) -> TopicReview:
    match = policy.classify(state.name)
    if match is None:
        return TopicReview(state.name, None, state, rate, None, findings=[unmanaged_finding(state.name, policy)])
    class_name, cls = match
    plan, p_findings = _plan_partitions(state, rate, cls)
    changes, c_findings = _review_configs(state, cls, class_name)
    return TopicReview(state.name, class_name, state, rate, plan, changes, c_findings + p_findings)


def review_topics(states: Iterable[TopicState], rates: Mapping[str, TopicRate],
                  policy: TopicPolicy) -> list[TopicReview]:
    return [review_topic(s, rates.get(s.name), policy) for s in sorted(states, key=lambda s: s.name)]
