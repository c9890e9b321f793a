"""`brokerscale topics` without a cluster: policy display, bad input, unreachable clusters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

BAD_POLICY = """version: 1
classes:
  clinical:
    prefixes: ["clinical."]
    partition_class: high-volume-clinical
    phi: true
    cleanup_policy: compact
"""


def test_policy_shows_the_shipped_classes(cli: Any) -> None:
    code, out, _ = cli("topics", "policy", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc["classes"]) >= {"clinical", "reference"}
    assert doc["classes"]["clinical"]["cleanup_policy"] == "delete"


def test_help_teaches_with_examples(cli: Any) -> None:
    code, out, _ = cli("topics", "optimize", "--help")
    assert code == 0
    assert "--allow-key-remap" in out and "brokerscale topics optimize --apply" in out


@pytest.mark.parametrize("verb", [["policy"], ["optimize", "-b", "127.0.0.1:1"], ["list", "-b", "127.0.0.1:1"],
                                  ["hot", "-b", "127.0.0.1:1"]])
def test_invalid_policy_file_is_one_line_exit_2(cli: Any, tmp_path: Path, verb: list[str]) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text(BAD_POLICY)
    code, out, err = cli("topics", *verb, "--policy", str(f))
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert f"{f}: classes.clinical.cleanup_policy: must be delete for PHI topics" in " ".join(err.split())
    assert "Traceback" not in err + out


def test_invalid_policy_from_env_is_reported_too(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("version: 1\nclasses:\n  x:\n    prefixes: [x.]\n    partition_class: big\n    phi: false\n")
    monkeypatch.setenv("BROKERSCALE_TOPIC_POLICY", str(f))
    code, _, err = cli("topics", "policy")
    assert code == 2 and "classes.x.partition_class" in err


@pytest.mark.parametrize(("args", "needle"), [
    (["optimize", "--window", "soon"], "--window"),
    (["optimize", "--window", "0s"], "--window"),
    (["optimize", "--window", "2h"], "--window"),
    (["hot", "--factor", "1"], "--factor"),
    (["hot", "--min-rate", "fast"], "--min-rate"),
    (["list", "--bootstrap", "not a host"], "--bootstrap"),
    (["optimize", "--source", "metrics"], "--source: metrics needs --metrics-url"),
    (["optimize", "--metrics-url", "one=localhost"], "--metrics-url"),
    (["optimize", "--source", "jmx"], "--source"),
])
def test_bad_flags_are_one_line_exit_2(cli: Any, args: list[str], needle: str) -> None:
    code, out, err = cli("topics", *args, *([] if "--bootstrap" in args else ["-b", "127.0.0.1:1"]))
    assert code == 2
    assert needle in err and "Traceback" not in err + out


@pytest.mark.timeout(60)
def test_unreachable_cluster_is_one_line_exit_69(cli: Any) -> None:
    code, out, err = cli("topics", "list", "-b", "127.0.0.1:1")
    assert code == 69  # an outage is not bad input (exit 2)
    assert "127.0.0.1:1" in err and "Traceback" not in err + out
