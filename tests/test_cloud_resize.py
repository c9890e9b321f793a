"""`brokerscale cloud cluster resize`: dry run, apply with progress until status.cku == N, the shrink
guard, and the emulator's own refusals when the guard is bypassed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from brokerscale.cloud.emulator import Fault
from brokerscale.cloud.trace import parse_trace
from brokerscale.store import open_store
from cloud_contract import body
from cloud_fixtures import cli_env, run_cli, running_emulator


def _last_audit(target: str, action: str) -> dict:
    records = [r for r in open_store().audit_records("cloud.") if r["target"] == target and r["action"] == action]
    assert records, "no audit record"
    return records[0]


def test_dry_run_prints_the_patch_and_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path) as emu:
        cli_env(monkeypatch, emu)
        assert run_cli(["cloud", "cluster", "resize", "--cku", "4", "--format", "json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["dry_run"] is True
        assert out["change"]["method"] == "PATCH"
        assert out["change"]["body"] == {"spec": {"environment": {"id": "env-health"},
                                                  "config": {"kind": "Dedicated", "cku": 4}}}
        assert emu.patches() == []
        assert emu.cluster("lkc-health1").cku == 2


def _provisioning_lasts_until_polled(emu: Any, delay_s: float) -> None:
    """The emulator's clock stands still after the PATCH until the cluster was served once as PROVISIONING,
    then moves `delay_s` on (provisioning done): the command is seen polling a cluster still at the old
    size however slow a busy machine makes its first poll (with the wall clock, a first poll later than
    the provisioning delay found the resize already finished)."""
    base = time.time()

    def now() -> float:
        xs = list(emu.state.exchanges)
        methods = [x.method for x in xs]
        if "PATCH" not in methods:
            return base
        polled = any(x.method == "GET" and x.path == "/cmk/v2/clusters/lkc-health1"
                     and body(x)["status"]["phase"] == "PROVISIONING" for x in xs[methods.index("PATCH") + 1:])
        return base + delay_s if polled else base

    emu.state.clock = now


def test_resize_2_to_4_waits_until_status_cku_is_4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path, delay_s=2.0) as emu:
        _provisioning_lasts_until_polled(emu, 2.0)
        cli_env(monkeypatch, emu)
        code = run_cli(["cloud", "cluster", "resize", "--cku", "4", "--apply", "--poll", "0.2s",
                        "--timeout", "30s"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        # The command returned only after the status caught up: the emulator's status is already 4.
        c = emu.state.cluster("lkc-health1")
        assert c is not None and c.status_cku == 4 and c.phase == "PROVISIONED"
        # It polled while the cluster was PROVISIONING with status.cku still 2, and stopped at 4.
        after_patch = emu.state.exchanges[[x.method for x in emu.state.exchanges].index("PATCH") + 1:]
        seen = [(body(x)["status"]["phase"], body(x)["status"]["cku"]) for x in after_patch
                if x.method == "GET" and x.path == "/cmk/v2/clusters/lkc-health1"]
        assert ("PROVISIONING", 2) in seen and seen[-1] == ("PROVISIONED", 4)
        assert seen.count(("PROVISIONED", 4)) == 1  # no polling after the goal was reached
        assert "status.cku 4 -> 4 (PROVISIONED)" in captured.out
        assert "resize lkc-health1 to 4 CKUs" in captured.out
        assert len(emu.patches()) == 1
    rec = _last_audit("lkc-health1", "cloud.cluster.resize")
    assert rec["result"] == "ok"
    assert rec["before"]["status_cku"] == 2 and rec["after"]["status_cku"] == 4
    assert rec["intent"]["body"]["spec"]["config"]["cku"] == 4


def test_resize_timeout_is_a_clear_error_and_audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path, delay_s=60.0) as emu:
        cli_env(monkeypatch, emu)
        code = run_cli(["cloud", "cluster", "resize", "--cku", "3", "--apply", "--poll", "0.1s", "--timeout", "0.5s"])
        err = capsys.readouterr().err
        assert code == 1
        assert "not finished after" in err and "status.cku 2 -> 3 (PROVISIONING)" in err
    assert _last_audit("lkc-health1", "cloud.cluster.resize")["result"] == "error"


def test_shrink_by_two_is_refused_by_the_guard_and_nothing_is_sent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path) as emu:
        c = emu.state.cluster("lkc-health1")
        assert c is not None
        c.cku = c.status_cku = 4
        cli_env(monkeypatch, emu)
        code = run_cli(["cloud", "cluster", "resize", "--cku", "2", "--apply"])
        err = capsys.readouterr().err
        assert code == 2
        assert "refused" in err and "one CKU at a time" in err
        assert emu.patches() == []
        assert emu.cluster("lkc-health1").cku == 4


def test_forced_shrink_by_two_is_refused_by_the_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path) as emu:
        c = emu.state.cluster("lkc-health1")
        assert c is not None
        c.cku = c.status_cku = 4
        cli_env(monkeypatch, emu)
        code = run_cli(["cloud", "cluster", "resize", "--cku", "2", "--apply", "--force"])
        err = capsys.readouterr().err
        assert code == 2
        assert "HTTP 400 invalid_configuration" in err and "one at a time" in err
        assert emu.patches() == [("PATCH", "/cmk/v2/clusters/lkc-health1", 400)]
        after = emu.cluster("lkc-health1")
        assert (after.cku, after.status_cku, after.phase) == (4, 4, "PROVISIONED")
    assert _last_audit("lkc-health1", "cloud.cluster.resize")["result"] == "error"


def test_shrink_by_one_is_refused_when_the_cluster_is_busy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    busy = parse_trace({"anchor": "end", "steps": [
        {"t": 0, "received_mb_s": 80, "sent_mb_s": 160, "partitions": 9800}]}, "busy")
    with running_emulator(tmp_path) as emu:
        emu.state._traces[""] = busy
        c = emu.state.cluster("lkc-health1")
        assert c is not None
        c.cku = c.status_cku = 3
        c.cku_history.append((emu.state.clock() - 3600, 3))
        cli_env(monkeypatch, emu)
        code = run_cli(["cloud", "cluster", "resize", "--cku", "2", "--apply"])
        err = capsys.readouterr().err
        assert code == 2
        assert "9,800 partitions exceed what 2 CKUs hold (4,500 x 2 = 9,000)" in err
        assert "over the 70% a shrink allows" in err
        assert emu.patches() == []


def test_shrink_by_one_on_a_quiet_cluster_is_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = parse_trace([{"t": 0, "received_mb_s": 5, "sent_mb_s": 10, "partitions": 300}], "quiet")
    with running_emulator(tmp_path) as emu:
        emu.state._traces[""] = quiet
        c = emu.state.cluster("lkc-health1")
        assert c is not None
        c.cku = c.status_cku = 3
        c.cku_history.append((emu.state.clock() - 3600, 3))
        cli_env(monkeypatch, emu)
        assert run_cli(["cloud", "cluster", "resize", "--cku", "2", "--apply", "--poll", "0.1s"]) == 0
        assert emu.cluster("lkc-health1").status_cku == 2


def test_multi_zone_below_two_ckus_is_refused_by_guard_and_emulator(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    quiet = parse_trace([{"t": 0, "received_mb_s": 1, "sent_mb_s": 1, "partitions": 10}], "quiet")
    with running_emulator(tmp_path) as emu:
        emu.state._traces[""] = quiet
        cli_env(monkeypatch, emu)
        assert run_cli(["cloud", "cluster", "resize", "--cku", "1", "--apply"]) == 2
        assert "multi-zone Dedicated cluster needs at least 2 CKUs" in capsys.readouterr().err
        assert run_cli(["cloud", "cluster", "resize", "--cku", "1", "--apply", "--force"]) == 2
        assert "MULTI_ZONE Dedicated clusters must have at least 2 CKUs" in capsys.readouterr().err
        assert emu.cluster("lkc-health1").cku == 2


def test_resize_of_a_basic_cluster_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path) as emu:
        cli_env(monkeypatch, emu, cluster="lkc-clinic1")
        assert run_cli(["cloud", "cluster", "resize", "--cku", "2"]) == 2
        assert "Dedicated clusters only" in capsys.readouterr().err


def test_bad_flag_values_are_one_line_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path) as emu:
        cli_env(monkeypatch, emu)
        assert run_cli(["cloud", "cluster", "resize", "--cku", "3", "--timeout", "soon"]) == 2
        err = capsys.readouterr().err
        assert "--timeout" in err and "Traceback" not in err
        assert run_cli(["cloud", "cluster", "show", "--cluster-id", "lkc-nope"]) == 2
        err = capsys.readouterr().err
        assert "HTTP 404 resource_not_found" in err and "Traceback" not in err


def test_rerun_while_the_same_resize_is_in_flight_just_waits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path, delay_s=600.0) as emu:
        cli_env(monkeypatch, emu)
        assert run_cli(["cloud", "cluster", "resize", "--cku", "3", "--apply", "--no-wait"]) == 0
        assert emu.cluster("lkc-health1").status_cku == 2  # accepted, not done
        capsys.readouterr()
        # Ten minutes pass on the emulator's clock once the second command has polled twice.
        shift = {"s": 0.0, "gets": 0}
        real_clock, original = emu.state.clock, emu.state.take_fault
        emu.state.clock = lambda: real_clock() + shift["s"]

        def take(method: str, path: str) -> Fault | None:
            shift["gets"] += method == "GET"
            if shift["gets"] == 3:
                shift["s"] = 601.0
            return original(method, path)

        monkeypatch.setattr(emu.state, "take_fault", take)
        assert run_cli(["cloud", "cluster", "resize", "--cku", "3", "--apply", "--poll", "0.1s"]) == 0
        out = capsys.readouterr().out
        assert "already in progress" in out and "lkc-health1: 3 CKUs, phase PROVISIONED" in out
        assert len(emu.patches()) == 1
        # A different target while one is in flight is refused by the guard.
        c = emu.state.cluster("lkc-health1")
        assert c is not None
        c.cku, c.phase, c.pending_until = 4, "PROVISIONING", emu.state.clock() + 60
        assert run_cli(["cloud", "cluster", "resize", "--cku", "5", "--apply"]) == 2
        assert "still changing" in capsys.readouterr().err
