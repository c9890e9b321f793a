"""Review of one topic against the policy: partition targets from the planner's rule, config findings."""

from __future__ import annotations

import pytest

from brokerscale.plan.partitions import CLASS_BOUNDS, partition_target
from brokerscale.topics.apply import refusals
from brokerscale.topics.model import TopicRate, TopicState
from brokerscale.topics.policy import DAY_MS, default_policy, parse_policy
from brokerscale.topics.review import moved_key_fraction, review_topic

POL = default_policy()
GOOD = {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS), "min.insync.replicas": "2",
        "max.message.bytes": "1048588", "retention.bytes": "-1"}


def state(name: str, partitions: int, rf: int = 3, **configs: str) -> TopicState:
    merged = dict(GOOD)
    merged.update({k.replace("_", "."): v for k, v in configs.items()})
    return TopicState(name, partitions, rf, merged)


def rate(mb_in: float, mb_out: float = 0.0) -> TopicRate:
    return TopicRate(mb_in * 1e6, mb_out * 1e6, "test")


def codes(review: object) -> set[str]:
    return {f.code for f in review.findings}  # type: ignore[attr-defined]


def test_compliant_topic_at_target_has_nothing_to_do() -> None:
    floor = CLASS_BOUNDS["high-volume-clinical"][0]
    r = review_topic(state("clinical.adt", floor), rate(1), POL)
    assert r.topic_class == "clinical"
    assert r.partitions is not None and r.partitions.action == "none"
    assert r.config_changes == [] and r.findings == []
    assert not r.has_changes


def test_partition_target_is_the_planners_rule_with_class_bounds() -> None:
    # ingress + egress counts: 150 MB/s in + 150 MB/s out
    r = review_topic(state("clinical.labs", 3), rate(150, 150), POL)
    expected = partition_target(300.0, "high-volume-clinical")
    assert r.partitions is not None
    assert r.partitions.target == expected.partitions and r.partitions.rule == expected.rule
    assert r.partitions.action == "increase" and r.partitions.needs_key_remap
    assert {"partitions-below-target", "key-remap"} <= codes(r)
    # a quiet topic still gets the class floor
    quiet = review_topic(state("clinical.labs", 3), rate(0.01), POL)
    assert quiet.partitions is not None and quiet.partitions.target == CLASS_BOUNDS["high-volume-clinical"][0]


def test_unmeasured_topic_uses_zero_and_says_so() -> None:
    r = review_topic(state("clinical.labs", 3), None, POL)
    assert r.partitions is not None and "not measured" in r.partitions.rule


def test_decrease_is_reported_never_an_action() -> None:
    r = review_topic(state("reference.loinc", 64), rate(0.1), POL)
    assert r.partitions is not None and r.partitions.action == "decrease"
    assert r.partitions.target < 64
    assert "partitions-above-target" in codes(r)
    assert not r.has_changes  # nothing to apply
    assert refusals([r], allow_key_remap=False, configs_only=False) == []


def test_capped_formula_is_a_finding() -> None:
    r = review_topic(state("reference.codes", 6), rate(5000), POL)
    assert r.partitions is not None and r.partitions.capped
    assert r.partitions.target == partition_target(5000.0, "low-volume-reference").partitions
    assert "partitions-capped" in codes(r)


def test_short_retention_and_low_min_isr_are_findings_with_fixes() -> None:
    r = review_topic(state("clinical.labs", 24, retention_ms=str(DAY_MS), min_insync_replicas="1"), rate(1), POL)
    changes = {c.key: (c.current, c.target) for c in r.config_changes}
    assert changes["retention.ms"] == (str(DAY_MS), str(30 * DAY_MS))
    assert changes["min.insync.replicas"] == ("1", "2")
    sev = {f.code: f.severity for f in r.findings}
    assert sev["retention-below-policy"] == "critical"
    assert sev["min-isr-below-policy"] == "critical"


def test_infinite_retention_is_fine() -> None:
    r = review_topic(state("clinical.labs", 24, retention_ms="-1"), rate(1), POL)
    assert "retention-below-policy" not in codes(r)


def test_phi_compaction_is_critical_and_set_to_delete() -> None:
    for policy_value in ("compact", "compact,delete"):
        r = review_topic(state("patient.demographics", 24, cleanup_policy=policy_value), rate(1), POL)
        assert "phi-compacted" in codes(r)
        assert [(c.key, c.target) for c in r.config_changes] == [("cleanup.policy", "delete")]
    # the same policy value on a non-PHI reference topic is allowed
    ok = review_topic(state("reference.loinc", 6, cleanup_policy="compact"), rate(0), POL)
    assert "phi-compacted" not in codes(ok) and ok.config_changes == []


def test_min_isr_is_not_raised_above_the_replica_count() -> None:
    r = review_topic(state("clinical.labs", 24, rf=1, min_insync_replicas="1"), rate(1), POL)
    assert "min.insync.replicas" not in {c.key for c in r.config_changes}
    assert {"min-isr-below-policy", "replication-below-policy"} <= codes(r)


def test_max_message_bytes_is_a_ceiling() -> None:
    big = review_topic(state("clinical.labs", 24, max_message_bytes="10485760"), rate(1), POL)
    assert [c.key for c in big.config_changes] == ["max.message.bytes"]
    small = review_topic(state("clinical.labs", 24, max_message_bytes="500000"), rate(1), POL)
    assert small.config_changes == []


def test_retention_bytes_limit_is_flagged_not_changed() -> None:
    r = review_topic(state("clinical.labs", 24, retention_bytes="1000000"), rate(1), POL)
    assert "retention-bytes-set" in codes(r) and r.config_changes == []


def test_unmanaged_topic_is_never_changed_but_gets_a_finding() -> None:
    r = review_topic(state("my-app-events", 1, rf=1, min_insync_replicas="1"), rate(100), POL)
    assert not r.managed and r.partitions is None and not r.has_changes and r.config_changes == []
    assert [(f.severity, f.code) for f in r.findings] == [("warning", "unmanaged")]
    assert "no class: set one in the policy" in r.findings[0].message
    assert "mark it non-PHI" in r.findings[0].message


def test_topic_marked_non_phi_is_acknowledged_not_nagged() -> None:
    pol = parse_policy("extends: default\nnon_phi: [my-app-, build.log]\nclasses: {}\n", "p.yaml")
    for name in ("my-app-events", "build.log"):
        r = review_topic(state(name, 1), rate(1), pol)
        assert [(f.severity, f.code) for f in r.findings] == [("info", "unmanaged-non-phi")], name
    # an exact entry is not a prefix
    assert codes(review_topic(state("build.logs", 1), rate(1), pol)) == {"unmanaged"}


@pytest.mark.parametrize("topic", ["fhir.observation.icu", "hl7.adt", "adt.a01", "oru.r01", "orm.o01",
                                   "ehr.notes", "clinical.adt"])
def test_clinical_names_are_phi_classes(topic: str) -> None:
    match = POL.classify(topic)
    assert match is not None, topic
    assert match[1].phi and match[1].replication_factor >= 3 and not match[1].unclean_leader_election


def test_trial_fhir_topic_rf2_infinite_retention_is_reported_with_reasons() -> None:
    r = review_topic(state("fhir.observation.icu", 24, rf=2, retention_ms="-1"), rate(1), POL)
    found = {f.code: f for f in r.findings}
    assert found["replication-below-policy"].severity == "critical"
    assert "loses acknowledged data" in found["replication-below-policy"].message
    assert "reassignment" in found["replication-below-policy"].message
    assert found["min-isr-not-below-rf"].severity == "critical"  # min ISR 2 == RF 2
    assert "every acks=all write is rejected" in found["min-isr-not-below-rf"].message
    assert "data minimisation" in found["retention-infinite"].message
    changes = {c.key: c for c in r.config_changes}
    assert changes["retention.ms"].target == str(90 * DAY_MS)  # the class maximum, not the minimum
    assert "min.insync.replicas" not in changes  # never raised to (or past) the replica count


def test_unclean_leader_election_is_turned_off_with_the_reason() -> None:
    r = review_topic(state("clinical.adt", 24, unclean_leader_election_enable="true"), rate(1), POL)
    found = {f.code: f for f in r.findings}
    assert found["unclean-leader-election"].severity == "critical"
    assert "acknowledged events it never received are lost" in found["unclean-leader-election"].message
    assert [(c.key, c.current, c.target) for c in r.config_changes] == [
        ("unclean.leader.election.enable", "true", "false")]
    off = review_topic(state("clinical.adt", 24, unclean_leader_election_enable="false"), rate(1), POL)
    assert "unclean-leader-election" not in codes(off)


def test_retention_above_the_class_maximum_is_cut_to_it() -> None:
    r = review_topic(state("clinical.adt", 24, retention_ms=str(365 * DAY_MS)), rate(1), POL)
    assert "retention-above-policy" in codes(r)
    assert [(c.key, c.target) for c in r.config_changes] == [("retention.ms", str(90 * DAY_MS))]


def test_infinite_retention_without_a_ceiling_is_flagged_and_left_to_a_person() -> None:
    pol = parse_policy("version: 1\nclasses:\n  x:\n    prefixes: [x.]\n    partition_class: "
                       "standard-operational\n    phi: true\n    cleanup_policy: delete\n", "p.yaml")
    r = review_topic(state("x.y", 12, retention_ms="-1"), rate(1), pol)
    assert "retention-infinite" in codes(r) and "set one" in next(
        f.message for f in r.findings if f.code == "retention-infinite")
    assert r.config_changes == []
    ref = review_topic(state("reference.loinc", 6, retention_ms="-1"), rate(0), POL)  # class allows it
    assert "retention-infinite" not in codes(ref)


def test_min_isr_equal_to_rf_is_flagged() -> None:
    r = review_topic(state("clinical.adt", 24, rf=3, min_insync_replicas="3"), rate(1), POL)
    assert "min-isr-not-below-rf" in codes(r)


def test_timestamp_type_follows_the_class() -> None:
    r = review_topic(state("clinical.adt", 24, message_timestamp_type="LogAppendTime"), rate(1), POL)
    assert "timestamp-type" in codes(r)
    assert [(c.key, c.target) for c in r.config_changes] == [("message.timestamp.type", "CreateTime")]


def test_phi_compaction_is_critical_and_changed_to_delete() -> None:
    r = review_topic(state("fhir.bundles", 24, cleanup_policy="compact"), rate(1), POL)
    assert "phi-compacted" in codes(r)
    assert [(c.key, c.target) for c in r.config_changes] == [("cleanup.policy", "delete")]


@pytest.mark.parametrize(("allow", "configs_only", "refused"), [(False, False, 1), (True, False, 0),
                                                                 (False, True, 0)])
def test_keyed_increase_is_refused_unless_allowed(allow: bool, configs_only: bool, refused: int) -> None:
    keyed = review_topic(state("clinical.labs", 3), rate(1), POL)
    unkeyed = review_topic(state("ops.metrics", 3), rate(1), POL)
    assert unkeyed.partitions is not None and unkeyed.partitions.action == "increase"
    out = refusals([keyed, unkeyed], allow_key_remap=allow, configs_only=configs_only)
    assert [x.topic for x in out] == ["clinical.labs"][:refused]


@pytest.mark.parametrize(("current", "target", "moved"), [(3, 24, 7 / 8), (12, 24, 1 / 2), (6, 6, 0.0),
                                                           (1, 12, 11 / 12)])
def test_moved_key_fraction(current: int, target: int, moved: float) -> None:
    assert moved_key_fraction(current, target) == pytest.approx(moved)


def test_moved_key_fraction_matches_hashing_real_keys() -> None:
    import zlib

    keys = [f"patient-{i}".encode() for i in range(20_000)]
    moved = sum(zlib.crc32(k) % 5 != zlib.crc32(k) % 12 for k in keys) / len(keys)
    assert moved == pytest.approx(moved_key_fraction(5, 12), abs=0.02)
