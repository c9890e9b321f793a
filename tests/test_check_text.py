"""The words a check prints: one grammar for `check` and `cloud check`, thresholds on the right side,
counts that agree with their nouns, numbers people can read, and actions that name real commands."""

from __future__ import annotations

import re
from typing import Any

import typer

from brokerscale.cloud.checks import run_check
from brokerscale.model.snapshot import BrokerLoad, Finding, GroupLag, LagStatus, Snapshot
from brokerscale.observe.capacity import Capacity, Utilization
from brokerscale.observe.rules import load_rules
from brokerscale.observe.summary import check_text, summary_line
from brokerscale.observe.triggers import evaluate


def _finding(**kw: Any) -> Finding:
    base: dict[str, Any] = {"rule": "throughput", "severity": "warning", "metric": "m", "value": 1.0,
                            "threshold": 70.0, "unit": "%", "scope": "cluster", "target": "prod"}
    return Finding(**{**base, **kw})


def test_counts_agree_with_their_nouns() -> None:
    two = [_finding(), _finding(target="other")]
    assert summary_line(two)[1].startswith("WARNING - 2 warnings: ")
    one = [_finding(severity="critical"), _finding()]
    assert summary_line(one)[1].startswith("CRITICAL - 1 critical, 1 warning: ")
    assert summary_line([]) == (0, "OK - no scaling triggers fired")


def test_broker_scope_is_named_once_and_large_values_are_not_scientific() -> None:
    f = _finding(scope="broker", target="broker 2", metric="consumer_lag_offsets", value=24000.0,
                 threshold=None, unit="offsets", message="lag", action="act")
    code, text = check_text([f])
    assert code == 1
    assert "broker broker" not in text and "on broker 2" in text and "WARNING: broker 2: lag — act" in text
    assert "24,000 offsets" in text and "e+" not in text


def test_below_threshold_rule_says_below_and_status_rule_says_no_threshold() -> None:
    rules = load_rules(None)
    snap = Snapshot(cluster="prod", source="test", taken_at=0.0,
                    brokers=[BrokerLoad(id=1, request_handler_idle_ratio=0.05)],
                    groups=[GroupLag(group="ehr-inbox", state="Empty", members=0, lag_offsets=42000,
                                     status=LagStatus.STOP, reason="stopped")])
    found = {f.rule: f for f in evaluate(snap, rules)}
    idle = found["request_handler_idle_percent"]
    assert idle.direction == "below"
    assert "(< 10%)" in summary_line([idle])[1] and "(>" not in summary_line([idle])[1]
    lag = found["consumer_lag"]
    assert lag.threshold is None
    line = summary_line([lag])[1]
    assert "(>" not in line and "42,000 offsets" in line


def test_broker_hotspot_action_names_the_rebalance_verb() -> None:
    from brokerscale.observe.triggers import _utilization_findings

    cap = Capacity(description="2 brokers", unit="broker", units=2, throughput_bytes_per_s=100e6)
    util = Utilization(scope="broker", target="broker 2", dimension="throughput", used=90e6, capacity=100e6,
                       percent=90.0)
    (f,) = _utilization_findings([util], cap, load_rules(None))
    assert "brokerscale rebalance" in f.action
    assert "brokerscale balance" not in f.action


def test_one_partition_is_singular() -> None:
    from brokerscale.model.snapshot import PartitionState, TopicLoad

    topic = TopicLoad(name="ehr.adt", bytes_in_per_s=12e6,
                      partitions=[PartitionState(partition=0, leader=1, replicas=[1, 2, 3], isr=[1])])
    snap = Snapshot(cluster="prod", source="test", taken_at=0.0, topics=[topic])
    text = check_text(evaluate(snap, load_rules(None)))[1]
    assert "1 partitions" not in text
    assert "over 1 partition" in text and "1 partition has fewer in-sync replicas" in text


def test_min_insync_replicas_above_the_replication_factor_is_capped_as_kafka_does() -> None:
    """Kafka's leader caps min.insync.replicas at the replication factor (Partition.effectiveMinIsr): an
    RF-1 topic under a cluster-wide min ISR of 2 takes acks=all writes, so it is not a CRITICAL finding;
    an RF-3 topic with one replica in sync is."""
    from brokerscale.model.snapshot import PartitionState, TopicLoad

    rf1 = TopicLoad(name="dev.scratch", min_insync_replicas=2,
                    partitions=[PartitionState(partition=0, leader=1, replicas=[1], isr=[1])])
    rf3 = TopicLoad(name="ehr.adt", min_insync_replicas=2,
                    partitions=[PartitionState(partition=0, leader=1, replicas=[1, 2, 3], isr=[1, 2]),
                                PartitionState(partition=1, leader=1, replicas=[1, 2, 3], isr=[1])])
    snap = Snapshot(cluster="prod", source="test", taken_at=0.0, topics=[rf1]).with_totals()
    assert snap.under_min_isr_partitions == 0
    assert not [f for f in evaluate(snap, load_rules(None)) if f.rule == "under_min_isr_partitions"]
    snap = Snapshot(cluster="prod", source="test", taken_at=0.0, topics=[rf1, rf3]).with_totals()
    assert snap.under_min_isr_partitions == 1
    (f,) = [f for f in evaluate(snap, load_rules(None)) if f.rule == "under_min_isr_partitions"]
    assert f.severity == "critical"


def test_cloud_check_prints_through_the_same_function() -> None:
    snap = Snapshot(cluster="lkc-1", source="test", taken_at=0.0, cku_count=2, bytes_in_per_s=40e6,
                    bytes_out_per_s=38e6)
    code, text, findings = run_check(snap, rules_file=None, limits_name="design-doc")
    assert (code, text) == check_text(findings, "lkc-1 (2 CKU)")
    assert text.startswith("WARNING - 1 warning on lkc-1 (2 CKU): ")


def test_review_text_uses_the_right_article() -> None:
    from brokerscale.topics.review import key_remap_explanation

    assert "an encounter_id's" in key_remap_explanation("ehr.enc", "encounter_id", 3, 6)
    assert "a patient_id's" in key_remap_explanation("ehr.adt", "patient_id", 3, 6)


def _command_paths(cmd: Any, ctx: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every command and sub-command, found by walking the command tree (typer's click groups)."""
    out = [path]
    if hasattr(cmd, "list_commands"):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None:
                out += _command_paths(sub, type(ctx)(sub, info_name=name, parent=ctx), (*path, name))
    return out


def test_no_user_facing_text_mentions_the_seed(cli: Any) -> None:
    from importlib.resources import files

    from brokerscale.cli import app

    root = typer.main.get_command(app)
    texts = []
    for path in _command_paths(root, root.make_context("brokerscale", ["--help"], resilient_parsing=True), ()):
        code, out, err = cli(*path, "--help")
        assert code == 0, (path, err)
        texts.append(out)
    data = files("brokerscale") / "data"
    texts += [p.read_text() for d in data.iterdir() if d.is_dir() for p in d.iterdir() if p.name.endswith(".yaml")]
    seed = re.compile(r"\bthe seed\b|\bseed(?:'s| document)|\bseed:", re.IGNORECASE)
    assert len(texts) > 30
    offending = [m.group(0) for t in texts for m in seed.finditer(t)]
    assert offending == []
