"""`brokerscale cloud check`: observe's triggers on a Confluent Cloud Snapshot, monitoring exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brokerscale.cloud.trace import parse_trace
from cloud_fixtures import cli_env, run_cli, running_emulator


def test_warning_then_ok_after_adding_the_ckus_it_asks_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path, delay_s=0.2) as emu:
        cli_env(monkeypatch, emu)
        assert run_cli(["cloud", "check"]) == 1
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith("WARNING - 1 warning on lkc-health1 (2 CKU, cluster load 78%): "
                                 "throughput_utilization_percent 78")
        assert "(> 70%)" in out[0] and "on cluster (" in out[0]
        assert out[0].endswith("add 1 CKU")
        assert run_cli(["cloud", "cluster", "resize", "--cku", "3", "--apply", "--poll", "0.1s"]) == 0
        capsys.readouterr()
        assert run_cli(["cloud", "check", "--window", "1m"]) == 0
        assert capsys.readouterr().out.startswith("OK - no scaling triggers fired on lkc-health1 (3 CKU")


def test_critical_load_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    busy = parse_trace([{"t": 0, "received_mb_s": 30, "sent_mb_s": 60, "connections": 7900, "partitions": 500}],
                       "busy")
    with running_emulator(tmp_path) as emu:
        emu.state._traces[""] = busy
        cli_env(monkeypatch, emu)
        assert run_cli(["cloud", "check", "--format", "json"]) == 2
        doc = json.loads(capsys.readouterr().out)
        assert doc["status"] == "CRITICAL" and doc["exit_code"] == 2
        metrics = {f["metric"]: f["severity"] for f in doc["findings"]}
        assert metrics["throughput_utilization_percent"] == "critical"  # 90 of 100 MB/s
        assert metrics["connection_utilization_percent"] == "critical"  # 7,900 of 8,000


def test_rules_file_changes_the_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("throughput:\n  warning: 80\n  critical: 90\n")
    with running_emulator(tmp_path) as emu:
        cli_env(monkeypatch, emu)
        assert run_cli(["cloud", "check", "--rules", str(rules)]) == 0
        assert capsys.readouterr().out.startswith("OK")


def test_unreachable_or_bad_rules_is_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("throughput:\n  warnin: 80\n")
    with running_emulator(tmp_path) as emu:
        cli_env(monkeypatch, emu)
        assert run_cli(["cloud", "check", "--rules", str(bad)]) == 3
        out = capsys.readouterr().out
        assert out.startswith("UNKNOWN - ") and "rules.yaml" in out
    monkeypatch.setattr("brokerscale.cloud.http.RetryPolicy.backoff_initial_s", 0.01)
    assert run_cli(["cloud", "check", "--api-url", "http://127.0.0.1:9"]) == 3
    assert capsys.readouterr().out.startswith("UNKNOWN - cannot reach Confluent Cloud")
