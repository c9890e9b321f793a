"""`brokerscale plan` through the CLI entry point: outputs, and one-line errors for bad workloads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from brokerscale.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HEALTH = EXAMPLES / "health-system.yaml"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["plan", str(HEALTH), "--format", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["throughput"]["ingress_mb_s"] == pytest.approx(250)
    assert doc["throughput"]["egress_mb_s"] == 0
    assert doc["storage"]["bytes"] == pytest.approx(648e12)
    assert doc["confluent"]["tier"] == "dedicated"
    assert doc["confluent"]["ckus"] == 5
    assert set(doc["confluent"]["ckus_by_dimension"]) == {"throughput", "connections", "partitions"}
    assert doc["confluent"]["binding_dimension"] in doc["confluent"]["ckus_by_dimension"]
    assert [t["name"] for t in doc["topics"]][:2] == ["clinical.adt", "clinical.oru"]
    assert all(t["partitions"] % 3 == 0 for t in doc["topics"])
    assert doc["self_managed"]["brokers"] >= 3
    assert isinstance(doc["findings"], list)


def test_limits_option_switches_profile(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["plan", str(HEALTH), "--limits", "confluent-2026", "-f", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["limits"] == "confluent-2026"
    assert set(doc["confluent"]["ckus_by_dimension"]) == {"ingress", "egress", "connections", "partitions"}
    assert doc["confluent"]["ckus_by_dimension"]["ingress"] == 5  # 250 / 60 -> 5


def test_table_and_markdown_name_the_rules(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["plan", str(HEALTH)], capsys)
    assert code == 0
    assert "Dedicated" in out and "binding" in out and "clinical.adt" in out
    code, md, _ = run(["plan", str(HEALTH), "--format", "markdown"], capsys)
    assert code == 0
    assert md.startswith("# Plan for health-system")
    assert "| **throughput** (binding) | 250 MB/s | 50 MB/s | 5 |" in md
    assert "## Findings" in md


def test_emit_needs_out(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["plan", str(HEALTH), "--emit", "terraform"], capsys)
    assert code == 2
    assert "--out: required with --emit" in err


def test_emit_writes_files_and_reports_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["plan", str(HEALTH), "-f", "json", "--emit", "terraform", "--emit", "strimzi",
                        "--emit", "statefulset", "--out", str(tmp_path)], capsys)
    assert code == 0
    files = json.loads(out)["files"]
    assert {Path(f).relative_to(tmp_path).as_posix() for f in files} == {
        "terraform/main.tf", "terraform/topics.tf", "terraform/variables.tf", "terraform/outputs.tf",
        "strimzi/kafka.yaml", "strimzi/rebalance-templates.yaml", "strimzi/topics.yaml",
        "strimzi/users.yaml", "statefulset/statefulset.yaml", "statefulset/secrets.yaml"}  # PHI: users, TLS Secret
    assert all(Path(f).stat().st_size > 0 for f in files)


def _write(tmp_path: Path, data: Any, name: str = "health.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return p


def _base() -> dict[str, Any]:
    return yaml.safe_load(HEALTH.read_text())


def _set(path: str, value: Any) -> Any:
    def mutate(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = d
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[int(last) if last.isdigit() else last] = value
    return mutate


@pytest.mark.parametrize(("mutate", "expected"), [
    (_set("topics.3.retention_days", 0), "topics[3].retention_days: must be greater than 0"),
    (_set("topics.0.messages_per_second", -5), "topics[0].messages_per_second: must be greater than 0"),
    (_set("topics.1.message_bytes", "5 parsecs"), "topics[1].message_bytes: '5 parsecs' is not a size"),
    (_set("topics.0.class", "clinical"), "topics[0].class: must be one of: high-volume-clinical"),
    (_set("topics.0.consumer_group", 2), "topics[0].consumer_group: unknown field (did you mean 'consumer_groups'?)"),
    (_set("retention_day", 30), "retention_day: unknown field (did you mean 'retention_days'?)"),
    (_set("deploy.regoin", "eu-west-1"), "deploy.regoin: unknown field (did you mean 'region'?)"),
    (_set("requirements", ["hipaa"]), "requirements[0]: must be one of: phi, multi-region"),
    (_set("availability", "three-zone"), "availability: must be one of: single-zone, multi-zone"),
    (_set("connections", "lots"), "connections: must be a whole number"),
    (_set("topics.2.name", "clinical adt"), "topics[2].name: must be 1-249 characters"),
    (_set("topics.2.name", "clinical.adt"), "topics[2].name: duplicate topic name 'clinical.adt'"),
    (_set("topics", []), "topics: must not be empty"),
    (_set("limits", "confluent-1999"), "limits: 'confluent-1999' is neither a shipped profile"),
])
def test_bad_field_is_one_line_with_file_field_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      mutate: Any, expected: str) -> None:
    data = _base()
    mutate(data)
    path = _write(tmp_path, data)
    code, out, err = run(["plan", str(path)], capsys)
    assert code == 2
    assert out == ""
    line = err.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith(f"error: {path}: {expected}"), line


@pytest.mark.parametrize(("text", "expected"), [
    ("name: x\nname: y\ntopics: []\n", "line 2: duplicate key 'name'"),
    ("name: [x\n", "line 2:"),
    ("", "(top level): must be a mapping"),
    ("- just\n- a list\n", "(top level): must be a mapping"),
    ("name: x\n", "topics: required field is missing"),
])
def test_broken_yaml_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                 expected: str) -> None:
    path = _write(tmp_path, text)
    code, _, err = run(["plan", str(path)], capsys)
    assert code == 2
    assert err.strip().startswith(f"error: {path}: {expected}"), err


def test_missing_file_and_bad_limits_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["plan", str(tmp_path / "nope.yaml")], capsys)
    assert (code, err.strip()) == (2, f"error: {tmp_path / 'nope.yaml'}: no such file")
    code, _, err = run(["plan", str(HEALTH), "--limits", str(tmp_path / "none.yaml")], capsys)
    assert code == 2 and "--limits:" in err and "neither a shipped profile" in err


def test_limits_file_next_to_the_workload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    limits = yaml.safe_load((Path(__file__).resolve().parents[1]
                             / "src/brokerscale/data/limits/design-doc.yaml").read_text())
    limits["name"] = "ours"
    limits["cku"]["throughput_mb_s"] = 25
    _write(tmp_path, limits, "ours.yaml")
    data = _base()
    data["limits"] = "ours.yaml"
    path = _write(tmp_path, data)
    code, out, _ = run(["plan", str(path), "-f", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["limits"] == "ours"
    assert doc["confluent"]["ckus_by_dimension"]["throughput"] == 10  # 250 / 25


def test_subprocess_has_no_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\ntopics:\n  - {name: a, class: bogus, messages_per_second: 1, "
                            "message_bytes: 1}\n")
    proc = subprocess.run([sys.executable, "-m", "brokerscale", "plan", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: {path}: topics[0].class: must be one of: " \
                                  "high-volume-clinical, standard-operational, low-volume-reference"
