"""Topic policy: shipped default, user overrides, and one-line errors for invalid files."""

from __future__ import annotations

from pathlib import Path

import pytest

from brokerscale.errors import BadInput
from brokerscale.plan.partitions import CLASS_BOUNDS
from brokerscale.topics.policy import default_policy, load_policy, parse_policy

VALID_CLASS = """
    prefixes: ["imaging."]
    partition_class: standard-operational
    phi: true
    partition_key: patient_id
    cleanup_policy: delete
    retention_min_days: 30
"""


def test_shipped_policy_covers_the_seed_prefixes_with_phi_rules() -> None:
    pol = default_policy()
    for topic in ("clinical.adt", "patient.events", "healthcare.fhir"):
        match = pol.classify(topic)
        assert match is not None, topic
        _, cls = match
        assert cls.phi and cls.cleanup_policy == "delete"
        assert cls.retention_min_days is not None and cls.retention_min_days >= 30
        assert cls.min_insync_replicas >= 2 and cls.replication_factor == 3
        assert cls.partition_key in ("patient_id", "encounter_id")
        assert cls.partition_class in CLASS_BOUNDS
    assert pol.classify("random-topic") is None


def test_longest_prefix_wins() -> None:
    pol = parse_policy("""
version: 1
classes:
  broad:
    prefixes: ["clinical."]
    partition_class: high-volume-clinical
    phi: true
    cleanup_policy: delete
  narrow:
    prefixes: ["clinical.ref."]
    partition_class: low-volume-reference
    phi: false
""", "p.yaml")
    assert pol.classify("clinical.ref.loinc")[0] == "narrow"  # type: ignore[index]
    assert pol.classify("clinical.labs")[0] == "broad"  # type: ignore[index]


def test_extends_default_adds_a_class_and_keeps_the_shipped_ones() -> None:
    pol = parse_policy("extends: default\nclasses:\n  imaging:" + VALID_CLASS, "mine.yaml")
    assert pol.classify("imaging.dicom-meta")[0] == "imaging"  # type: ignore[index]
    assert pol.classify("clinical.adt")[0] == "clinical"  # type: ignore[index]


def test_load_policy_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("version: 1\nclasses:\n  imaging:" + VALID_CLASS)
    monkeypatch.setenv("BROKERSCALE_TOPIC_POLICY", str(f))
    pol = load_policy()
    assert list(pol.classes) == ["imaging"]
    assert pol.classify("clinical.adt") is None


@pytest.mark.parametrize(("body", "expected"), [
    ("version: 1\nclasses:\n  a:\n    prefixes: [x.]\n    partition_class: high-volume-clinical\n"
     "    phi: true\n    cleanup_policy: compact\n",
     "p.yaml: classes.a.cleanup_policy: must be delete for PHI topics, never compact"),
    ("version: 1\nclasses:\n  a:\n    prefixes: [x.]\n    partition_class: high-volume-clinical\n"
     "    phi: true\n",
     "p.yaml: classes.a.cleanup_policy: required for PHI topics"),
    ("version: 1\nclasses:\n  a:\n    prefixes: [x.]\n    partition_class: huge\n    phi: false\n",
     "p.yaml: classes.a.partition_class: 'huge' is not a planner class"),
    ("version: 1\nclasses:\n  a:\n    prefixes: [x.]\n    partition_class: high-volume-clinical\n"
     "    phi: false\n    min_insync_replica: 2\n",
     "p.yaml: classes.a.min_insync_replica: unknown field"),
    ("version: 1\nclasses:\n  a:\n    prefixes: [x.]\n    partition_class: high-volume-clinical\n"
     "    phi: false\n    replication_factor: 2\n    min_insync_replicas: 3\n",
     "p.yaml: classes.a.min_insync_replicas: cannot exceed replication_factor"),
    ("version: 1\nclasses:\n  a:\n    prefixes: [x.]\n    partition_class: high-volume-clinical\n"
     "    phi: false\n    max_message_bytes: huge\n",
     "p.yaml: classes.a.max_message_bytes: 'huge' is not a size"),
    ("version: 1\nclasses:\n  a:\n    prefixes: [x.]\n    partition_class: high-volume-clinical\n"
     "    phi: false\n    partition_key: patient id\n",
     "p.yaml: classes.a.partition_key: 'patient id' is not a field name"),
    ("version: 1\nclasses:\n  a:\n    prefixes: [x.]\n    partition_class: high-volume-clinical\n"
     "    phi: false\n    retention_min_days: -3\n",
     "p.yaml: classes.a.retention_min_days:"),
    ("version: 1\nclasses:\n  a:\n    prefixes: [x.]\n    partition_class: high-volume-clinical\n"
     "    phi: true\n    cleanup_policy: delete\n    replication_factor: 2\n    min_insync_replicas: 1\n",
     "p.yaml: classes.a.replication_factor: must be at least 3 for PHI topics"),
    ("version: 1\nclasses:\n  a:\n    prefixes: [x.]\n    partition_class: high-volume-clinical\n"
     "    phi: true\n    cleanup_policy: delete\n    min_insync_replicas: 1\n",
     "p.yaml: classes.a.min_insync_replicas: must be at least 2 for PHI topics"),
    ("version: 1\nclasses:\n  a:\n    prefixes: [x.]\n    partition_class: high-volume-clinical\n"
     "    phi: true\n    cleanup_policy: delete\n    min_insync_replicas: 3\n",
     "p.yaml: classes.a.min_insync_replicas: must be below replication_factor (3 >= 3) for PHI topics"),
    ("version: 1\nclasses:\n  a:\n    prefixes: [x.]\n    partition_class: high-volume-clinical\n"
     "    phi: true\n    cleanup_policy: delete\n    unclean_leader_election: true\n",
     "p.yaml: classes.a.unclean_leader_election: must be false for PHI topics"),
    ("version: 1\nclasses:\n  a:\n    prefixes: [x.]\n    partition_class: high-volume-clinical\n"
     "    phi: false\n    retention_min_days: 30\n    retention_max_days: 7\n",
     "p.yaml: classes.a.retention_max_days: cannot be below retention_min_days"),
    ("version: 1\nclasses:\n  a:\n    prefixes: [x.]\n    partition_class: high-volume-clinical\n"
     "    phi: false\n    retention_max_days: forever\n",
     "p.yaml: classes.a.retention_max_days: must be a number of days or \"infinite\""),
    ("version: 1\nclasses:\n  a:\n    prefixes: [x.]\n    partition_class: high-volume-clinical\n"
     "    phi: false\n    message_timestamp_type: EventTime\n",
     "p.yaml: classes.a.message_timestamp_type: input should be 'CreateTime' or 'LogAppendTime'"),
    ("version: 2\nclasses: {}\n", "p.yaml: version:"),
    ("extends: default\nclasses:\n  mine:\n    prefixes: [clinical.]\n    partition_class: high-volume-clinical\n"
     "    phi: false\n", "p.yaml: classes.mine.prefixes: 'clinical.' is already used by class 'clinical'"),
    ("classes: [unclosed", "p.yaml: line 2: not valid YAML"),
    ("- just a list\n", "p.yaml: (top level): must be a mapping"),
])
def test_invalid_policy_is_one_line_naming_field_and_reason(body: str, expected: str) -> None:
    with pytest.raises(BadInput) as exc:
        parse_policy(body, "p.yaml")
    assert str(exc.value).startswith(expected), str(exc.value)
    assert "\n" in body or body  # the input itself may be multi-line ...
    assert "\n" not in str(exc.value)  # ... the error never is


def test_missing_policy_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"nope\.yaml: no such file"):
        load_policy(tmp_path / "nope.yaml")
    secret = tmp_path / "latin1.yaml"
    secret.write_bytes(b"classes:\n  phi: {note: \"p\xe4ss\"}\n")
    with pytest.raises(BadInput) as exc:
        load_policy(secret)
    assert str(exc.value) == f"{secret}: line 2: not UTF-8 text"  # the offending byte is not quoted
