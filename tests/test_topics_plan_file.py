"""Topic plan files offline: what `optimize -o` writes reads back as the same changes; drift is named;
bad files are one line, exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from brokerscale.errors import BadInput
from brokerscale.topics.model import ConfigChange, PartitionPlan, TopicReview, TopicState
from brokerscale.topics.plan_file import drift, plan_document, read_topics_plan


def _reviews() -> list[TopicReview]:
    grow = PartitionPlan(6, 24, 6, 24, 128, False, "rule", "increase", "patient_id")
    same = PartitionPlan(12, 12, 6, 12, 64, False, "rule", "none", None)
    return [
        TopicReview("clinical.a", "clinical", TopicState("clinical.a", 6, 3, {"retention.ms": "86400000"}), None,
                    grow, [ConfigChange("retention.ms", "86400000", "2592000000", "at least 30 days")]),
        TopicReview("ops.b", "operational", TopicState("ops.b", 12, 3, {}), None, same, []),  # nothing to do
        TopicReview("ops.c", "operational", TopicState("ops.c", 12, 3, {}), None, same,
                    [ConfigChange("min.insync.replicas", None, "2", "RF 3 needs 2")]),
    ]


def test_written_plan_reads_back_as_the_reviewed_changes(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan_document("prod", 10.0, _reviews(), configs_only=False)))
    cluster, planned = read_topics_plan(path)
    assert cluster == "prod"
    assert [r.topic for r in planned] == ["clinical.a", "ops.c"]
    a = planned[0]
    assert a.partitions is not None and (a.partitions.current, a.partitions.target) == (6, 24)
    assert a.partitions.needs_key_remap and a.config_changes == _reviews()[0].config_changes
    assert planned[1].partitions is None and planned[1].config_changes == _reviews()[2].config_changes
    only = plan_document("prod", 10.0, _reviews(), configs_only=True)
    assert all("partitions" not in t for t in only["topics"])


def test_drift_names_every_difference() -> None:
    planned = [r for r in _reviews() if r.has_changes]
    same = {"clinical.a": TopicState("clinical.a", 6, 3, {"retention.ms": "86400000"}),
            "ops.c": TopicState("ops.c", 12, 3, {})}
    assert drift(planned, same) == []
    moved = {"clinical.a": TopicState("clinical.a", 8, 3, {"retention.ms": "172800000"})}
    assert drift(planned, moved) == [
        "clinical.a has 8 partitions (the plan was made at 6)",
        "clinical.a retention.ms is 172800000 (the plan was made at 86400000)",
        "ops.c no longer exists"]


@pytest.mark.parametrize(("content", "expect"), [
    ("{oops", "not valid JSON"),
    ('{"version": 1, "partitions": []}', "kind"),
    ('{"kind": "brokerscale-topics-plan", "version": 1, "cluster": "x", "topics": [{"topic": "a", '
     '"partitions_now": 6, "replication_factor": 3, "confgs": []}]}', "topics[0].confgs: unknown field"),
])
def test_bad_plan_files_are_one_line_exit_2(cli: Any, tmp_path: Path, content: str, expect: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content)
    with pytest.raises(BadInput, match=r"plan\.json"):
        read_topics_plan(path)
    code, _, err = cli("topics", "apply", str(path), "-b", "127.0.0.1:1")
    assert code == 2 and expect in err and len(err.strip().splitlines()) == 1


def test_a_plan_file_that_is_missing_or_not_utf8_is_one_line_exit_2(cli: Any, tmp_path: Path) -> None:
    latin1 = tmp_path / "plan.json"
    latin1.write_bytes(b'{"kind": "brokerscale-topics-plan", "cluster": "s\xfcd"}')  # written by a Latin-1 tool
    for path, expect in ((latin1, "line 1: not UTF-8 text"), (tmp_path / "nope.json", "no such file")):
        with pytest.raises(BadInput, match=re.escape(f"{path}: {expect}")):
            read_topics_plan(path)
        code, _, err = cli("topics", "apply", str(path), "-b", "127.0.0.1:1")
        assert code == 2 and f"{path}: {expect}" in err and len(err.strip().splitlines()) == 1, err
