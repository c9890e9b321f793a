"""Ctrl-C during `cloud cluster resize --apply`: the audit says what was known (request sent and
accepted), the CLI says it too and exits 130, and the next read of the cluster records the outcome.

Reported: the audit said `error KeyboardInterrupt`, the CLI printed nothing, and `cloud cluster show`
later said 4/4 PROVISIONED.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brokerscale.cloud.cmk import CloudCluster
from brokerscale.cloud.reconcile import outcome
from brokerscale.store import open_store
from cloud_fixtures import cli_env, run_cli, running_emulator


def test_interrupted_resize_is_recorded_as_interrupted_then_reconciled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path, delay_s=60.0) as emu:
        cli_env(monkeypatch, emu)
        proc = subprocess.Popen([sys.executable, "-m", "brokerscale", "cloud", "cluster", "resize", "--cku", "4",
                                 "--apply", "--poll", "1s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=dict(os.environ))
        assert proc.stdout is not None
        deadline = time.time() + 60
        seen = ""
        while "Confluent accepted the resize" not in seen and time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
        assert "Confluent accepted the resize" in seen, seen
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        assert "interrupted: the resize to 4 CKUs was accepted by Confluent (spec 4 CKUs)" in err
        assert "brokerscale cloud cluster show -k lkc-health1 -e env-health" in err

        store = open_store()
        rec = next(r for r in store.audit_records("cloud.cluster.resize") if r["target"] == "lkc-health1")
        assert rec["result"] == "interrupted" and "accepted by Confluent" in rec["error"]
        assert (rec["cluster"], rec["environment"]) == ("lkc-health1", "env-health")
        assert rec["before"]["spec_cku"] == 2 and rec["after"]["spec_cku"] == 4
        assert rec["outcome"] is None

        # The next read of the cluster settles it, once.
        capsys.readouterr()
        assert run_cli(["cloud", "cluster", "show"]) == 0
        assert "the interrupted resize of lkc-health1" in capsys.readouterr().err
        rec = next(r for r in store.audit_records("cloud.cluster.resize") if r["change_id"] == rec["change_id"])
        assert rec["outcome"] == "applied" and rec["outcome_ts"] is not None
        assert run_cli(["cloud", "cluster", "show"]) == 0
        assert "interrupted" not in capsys.readouterr().err

        code = run_cli(["audit", "--action", "cloud.cluster.resize", "--format", "json"])
        doc = next(r for r in json.loads(capsys.readouterr().out) if r["change_id"] == rec["change_id"])
        assert code == 0 and (doc["result"], doc["outcome"]) == ("interrupted", "applied")
        assert run_cli(["audit", "--action", "cloud.cluster.resize"]) == 0
        out = capsys.readouterr().out
        assert "before" in out and "interrupted" in out
        store.close()


def test_interrupt_before_sending_is_recorded_as_not_sent(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    with pytest.raises(KeyboardInterrupt), store.audited(actor="cli", action="cloud.cluster.resize", target="lkc-1",
                                                         cluster="lkc-1", environment="env-1"):
        raise KeyboardInterrupt
    (rec,) = store.audit_records()
    assert rec["result"] == "interrupted" and rec["error"] == "interrupted; not sent"
    store.close()


def test_outcome_compares_the_cluster_with_what_the_patch_asked_for() -> None:
    resize = {"body": {"spec": {"config": {"kind": "Dedicated", "cku": 4}}}}
    upgrade = {"body": {"spec": {"config": {"kind": "Standard"}}}}
    c = CloudCluster(id="lkc-1", environment="env-1", kind="Dedicated", spec_cku=4, status_cku=2,
                     phase="PROVISIONING")
    assert outcome(resize, c) == "applied"
    assert outcome(resize, c.model_copy(update={"spec_cku": 2})) == "not applied"
    assert outcome(upgrade, c) == "not applied"
    assert outcome(upgrade, c.model_copy(update={"kind": "Standard"})) == "applied"
