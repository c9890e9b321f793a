"""Retries: 429 waits as long as Confluent says, 5xx backs off and gives up with a clear error,
other 4xx are never retried, timeouts end as Unreachable."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from brokerscale.cloud.cmk import ClusterManagementClient
from brokerscale.cloud.credentials import CloudCredentials
from brokerscale.cloud.emulator import Fault
from brokerscale.cloud.http import CloudAPIError, CloudHTTP, RetryPolicy
from brokerscale.errors import Unreachable
from brokerscale.store import open_store
from cloud_contract import ContractLog
from cloud_fixtures import cli_env, run_cli, running_emulator


def _client(url: str, creds: CloudCredentials, waits: list[float], log: ContractLog | None = None,
            **policy: int) -> ClusterManagementClient:
    hooks = log.hooks() if log else None
    http = CloudHTTP(url, creds, retry=RetryPolicy(sleep=waits.append, **policy), event_hooks=hooks)
    return ClusterManagementClient(http)


def test_429_retry_after_is_honoured_and_the_patch_applies_once(tmp_path: Path) -> None:
    waits: list[float] = []
    log = ContractLog()
    with running_emulator(tmp_path, delay_s=0) as emu:
        emu.state.inject(Fault(status=429, count=2, method="PATCH", retry_after=7))
        cmk = _client(emu.url, emu.creds, waits, log)
        result = cmk.resize("lkc-health1", "env-health", 3)
        assert result.spec_cku == 3
        assert waits == [7.0, 7.0]
        assert emu.patches() == [("PATCH", "/cmk/v2/clusters/lkc-health1", 429)] * 2 + [
            ("PATCH", "/cmk/v2/clusters/lkc-health1", 200)]
        c = emu.cluster("lkc-health1")
        assert c.status_cku == 3
        assert [cku for _, cku in c.cku_history].count(3) == 1  # one resize, not three
    log.assert_clean()


def test_429_with_a_real_one_second_retry_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with running_emulator(tmp_path) as emu:
        emu.state.inject(Fault(status=429, count=1, method="PATCH", retry_after=1))
        cli_env(monkeypatch, emu)
        started = time.monotonic()
        assert run_cli(["cloud", "cluster", "resize", "--cku", "3", "--apply", "--poll", "0.1s"]) == 0
        assert time.monotonic() - started >= 1.0
        assert len([p for p in emu.patches() if p[2] == 200]) == 1
        assert emu.cluster("lkc-health1").status_cku == 3


def test_rate_limit_reset_is_used_when_retry_after_is_missing() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(429, headers={"X-RateLimit-Reset": "3"}, json={"errors": [{"status": "429"}]})
        return httpx.Response(200, json={"api_version": "cmk/v2", "kind": "ClusterList", "metadata": {}, "data": []})

    waits: list[float] = []
    http = CloudHTTP("https://api.example", CloudCredentials("k", "s"), transport=httpx.MockTransport(handler),
                     retry=RetryPolicy(sleep=waits.append))
    assert ClusterManagementClient(http).list_clusters("env-1") == []
    assert waits == [3.0]


def test_500_three_times_is_a_clear_error_and_nothing_is_applied(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path) as emu:
        emu.state.inject(Fault(status=500, count=3, method="PATCH"))
        cli_env(monkeypatch, emu)
        code = run_cli(["cloud", "cluster", "resize", "--cku", "3", "--apply"])
        err = capsys.readouterr().err
        assert code == 1
        assert "HTTP 500 internal_server_error" in err and "gave up after 3 attempts" in err
        assert len(err.strip().splitlines()) == 1
        assert emu.patches() == [("PATCH", "/cmk/v2/clusters/lkc-health1", 500)] * 3
        c = emu.cluster("lkc-health1")
        assert (c.cku, c.status_cku, c.phase) == (2, 2, "PROVISIONED")
    rec = next(r for r in open_store().audit_records("cloud.cluster.resize") if r["target"] == "lkc-health1")
    assert rec["result"] == "error" and "HTTP 500" in rec["error"]


def test_backoff_grows_between_server_errors(tmp_path: Path) -> None:
    waits: list[float] = []
    with running_emulator(tmp_path) as emu:
        emu.state.inject(Fault(status=500, count=2, method="GET"))
        cmk = _client(emu.url, emu.creds, waits)
        assert cmk.get_cluster("lkc-health1", "env-health").status_cku == 2
    assert waits == [0.5, 1.0]


def test_other_4xx_are_not_retried(tmp_path: Path) -> None:
    waits: list[float] = []
    with running_emulator(tmp_path) as emu:
        cmk = _client(emu.url, emu.creds, waits)
        with pytest.raises(CloudAPIError) as info:
            cmk.get_cluster("lkc-health1", "env-other")
        assert info.value.status == 404 and info.value.code == "resource_not_found"
        assert waits == []
        assert len([r for r in emu.state.requests if r[2] == 404]) == 1


def test_wrong_key_is_401_with_confluents_code(tmp_path: Path) -> None:
    with running_emulator(tmp_path) as emu:
        cmk = _client(emu.url, CloudCredentials(emu.creds.key, "wrong"), [])
        with pytest.raises(CloudAPIError) as info:
            cmk.list_clusters("env-health")
        assert info.value.status == 401 and info.value.code == "user_unauthenticated"
        assert "wrong" not in str(info.value)


def test_timeouts_are_retried_then_unreachable() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        raise httpx.ReadTimeout("slow", request=request)

    waits: list[float] = []
    http = CloudHTTP("https://api.example", CloudCredentials("k", "s"), transport=httpx.MockTransport(handler),
                     retry=RetryPolicy(sleep=waits.append))
    with pytest.raises(Unreachable) as info:
        ClusterManagementClient(http).get_cluster("lkc-1", "env-1")
    assert calls["n"] == 3 and waits == [0.5, 1.0]
    assert "ReadTimeout after 3 attempts" in str(info.value)


def test_unreachable_emulator_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CONFLUENT_CLOUD_API_KEY", "k")
    monkeypatch.setenv("CONFLUENT_CLOUD_API_SECRET", "s")
    monkeypatch.setattr("brokerscale.cloud.http.RetryPolicy.backoff_initial_s", 0.01)
    code = run_cli(["cloud", "cluster", "list", "-e", "env-1", "--api-url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 69  # an outage, not bad input
    assert "cannot reach Confluent Cloud" in err and "Traceback" not in err


def test_rate_limit_gives_up_after_its_own_budget(tmp_path: Path) -> None:
    waits: list[float] = []
    with running_emulator(tmp_path) as emu:
        emu.state.inject(Fault(status=429, count=10, method="GET", retry_after=2))
        cmk = _client(emu.url, emu.creds, waits, rate_limited_attempts=4)
        with pytest.raises(CloudAPIError) as info:
            cmk.get_cluster("lkc-health1", "env-health")
    assert waits == [2.0, 2.0, 2.0]
    assert info.value.status == 429 and "rate limited, gave up after 4 attempts" in str(info.value)


def test_server_errors_while_waiting_do_not_end_the_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("brokerscale.cloud.http.RetryPolicy.backoff_initial_s", 0.01)
    with running_emulator(tmp_path, delay_s=0.5) as emu:
        cli_env(monkeypatch, emu)
        emu.state.inject(Fault(status=500, count=1, method="PATCH"))  # retried by the client: applies once
        original = emu.state.take_fault

        def take(method: str, path: str) -> Fault | None:
            fault = original(method, path)
            if method == "PATCH" and fault is None:  # accepted: the next 6 reads fail (two whole polls)
                emu.state.inject(Fault(status=500, count=6, method="GET"))
            return fault

        monkeypatch.setattr(emu.state, "take_fault", take)
        code = run_cli(["cloud", "cluster", "resize", "--cku", "3", "--apply", "--poll", "0.1s", "--timeout", "30s"])
        out = capsys.readouterr().out
        assert code == 0
        assert "status.cku 3 -> 3 (PROVISIONED)" in out
        assert emu.cluster("lkc-health1").status_cku == 3
        assert len([r for r in emu.state.requests if r[0] == "GET" and r[2] == 500]) == 6
        assert len([p for p in emu.patches() if p[2] == 200]) == 1


def test_a_4xx_while_waiting_ends_the_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path, delay_s=30) as emu:
        cli_env(monkeypatch, emu)
        original = emu.state.take_fault

        patched = {"seen": False}

        def take(method: str, path: str) -> Fault | None:
            if method == "PATCH":
                patched["seen"] = True
            elif patched["seen"]:  # the cluster "disappears" from the environment while we wait
                c = emu.state.cluster("lkc-health1")
                assert c is not None
                c.environment = "env-elsewhere"
            return original(method, path)

        monkeypatch.setattr(emu.state, "take_fault", take)
        code = run_cli(["cloud", "cluster", "resize", "--cku", "3", "--apply", "--poll", "0.1s"])
        assert code == 2
        assert "GET /cmk/v2/clusters/lkc-health1: HTTP 404 resource_not_found" in capsys.readouterr().err
        assert [p[2] for p in emu.patches()] == [200]
