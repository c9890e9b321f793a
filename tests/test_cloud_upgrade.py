"""`brokerscale cloud cluster upgrade`: Basic -> Standard completes with monitoring; no downgrade; the
upgrade must travel alone."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from brokerscale.cloud.cmk import ClusterManagementClient
from brokerscale.cloud.http import CloudAPIError, CloudHTTP, RetryPolicy
from brokerscale.errors import BadInput
from brokerscale.store import open_store
from cloud_fixtures import cli_env, run_cli, running_emulator


def test_basic_to_standard_completes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path, delay_s=0.6) as emu:
        cli_env(monkeypatch, emu, cluster="lkc-clinic1")
        assert run_cli(["cloud", "cluster", "upgrade", "--to", "standard"]) == 0
        assert "dry run" in capsys.readouterr().out
        assert emu.patches() == []
        code = run_cli(["cloud", "cluster", "upgrade", "--to", "standard", "--apply", "--poll", "0.1s"])
        out = capsys.readouterr().out
        assert code == 0
        assert "upgrade initiated: phase PROVISIONING" in out
        assert "lkc-clinic1 is now Standard (PROVISIONED)" in out
        c = emu.cluster("lkc-clinic1")
        assert (c.kind, c.phase) == ("Standard", "PROVISIONED")
        sent = [x for x in emu.state.exchanges if x.method == "PATCH"]
        assert [json.loads(x.request_body) for x in sent] == [
            {"spec": {"environment": {"id": "env-health"}, "config": {"kind": "Standard"}}}]
        # Again: already Standard, nothing to do.
        assert run_cli(["cloud", "cluster", "upgrade", "--to", "standard", "--apply"]) == 0
        assert "already Standard" in capsys.readouterr().out
        assert len(emu.patches()) == 1
    rec = next(r for r in open_store().audit_records("cloud.cluster.upgrade") if r["target"] == "lkc-clinic1")
    assert rec["result"] == "ok" and rec["before"]["kind"] == "Basic" and rec["after"]["kind"] == "Standard"


def test_downgrade_is_refused_with_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path) as emu:
        c = emu.state.cluster("lkc-clinic1")
        assert c is not None
        c.kind = "Standard"
        cli_env(monkeypatch, emu, cluster="lkc-clinic1")
        assert run_cli(["cloud", "cluster", "upgrade", "--to", "basic", "--apply"]) == 2
        err = capsys.readouterr().err
        assert "no downgrade" in err and "Standard -> Basic" in err
        assert emu.patches() == []
        # The emulator refuses it too, in Confluent's error shape.
        raw = httpx.patch(f"{emu.url}/cmk/v2/clusters/lkc-clinic1", auth=(emu.creds.key, emu.creds.secret),
                          json={"spec": {"environment": {"id": "env-health"}, "config": {"kind": "Basic"}}})
        assert raw.status_code == 400
        assert raw.json()["errors"][0]["detail"] == "Clusters cannot be downgraded from Standard to Basic"
        assert emu.cluster("lkc-clinic1").kind == "Standard"


def test_upgrade_riding_with_another_change_is_refused_by_the_emulator(tmp_path: Path) -> None:
    with running_emulator(tmp_path) as emu:
        raw = httpx.patch(f"{emu.url}/cmk/v2/clusters/lkc-clinic1", auth=(emu.creds.key, emu.creds.secret),
                          json={"spec": {"environment": {"id": "env-health"}, "display_name": "renamed",
                                         "config": {"kind": "Standard"}}})
        assert raw.status_code == 400
        assert "must be the only change" in raw.json()["errors"][0]["detail"]
        c = emu.cluster("lkc-clinic1")
        assert (c.kind, c.display_name) == ("Basic", "clinic-dev")


def test_dedicated_cannot_be_upgraded_to_standard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path) as emu:
        cli_env(monkeypatch, emu)
        assert run_cli(["cloud", "cluster", "upgrade", "--to", "standard"]) == 2
        assert "Basic clusters to Standard only" in capsys.readouterr().err
        http = CloudHTTP(emu.url, emu.creds, retry=RetryPolicy(sleep=lambda s: None))
        with pytest.raises(BadInput):
            ClusterManagementClient(http).upgrade("lkc-health1", "env-health", "Enterprise")
        with pytest.raises(CloudAPIError) as info:
            ClusterManagementClient(http).upgrade("lkc-health1", "env-health", "Standard")
        assert info.value.code == "invalid_cluster_type_change"
