"""An in-process Confluent Cloud emulator for the cloud tests, contract-checked at teardown.

Every test that uses `running_emulator` gets every exchange the emulator served validated against
Confluent's OpenAPI files when the test ends, so each behaviour test is also a contract test.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from brokerscale.cloud.credentials import CloudCredentials
from brokerscale.cloud.emulator import EmulatorServer, EmulatorState
from brokerscale.cloud.emulator.state import EmulatorConfig, default_config
from cloud_contract import ContractLog


@dataclass
class Emu:
    url: str
    state: EmulatorState
    creds: CloudCredentials
    state_file: Path

    def cluster(self, cluster_id: str) -> Any:
        self.state.advance()
        c = self.state.cluster(cluster_id)
        assert c is not None
        return c

    def patches(self) -> list[tuple[str, str, int]]:
        return [r for r in self.state.requests if r[0] == "PATCH"]


@contextmanager
def running_emulator(tmp_path: Path, *, delay_s: float = 0.0, config: EmulatorConfig | None = None,
                     check_contract: bool = True, check_requests: bool = True) -> Iterator[Emu]:
    creds = CloudCredentials(key="TESTKEY" + secrets.token_hex(4).upper(), secret="s3cr3t-" + secrets.token_hex(16))
    cfg = config or default_config(time.time())
    cfg.api_keys = {creds.key: creds.secret}
    cfg.provisioning_delay_s = delay_s
    state_file = tmp_path / "emulator-state.json"
    state = EmulatorState(cfg, path=state_file)
    state.save()
    state.record_exchanges = True
    with EmulatorServer(state) as srv:
        yield Emu(srv.url, state, creds, state_file)
    if check_contract:
        log = ContractLog()
        log.check_exchanges(state.exchanges, requests=check_requests)
        log.assert_clean()


def cli_env(monkeypatch: pytest.MonkeyPatch, emu: Emu, *, cluster: str = "lkc-health1") -> None:
    """Point the `brokerscale cloud` commands at the emulator, credentials from the environment."""
    monkeypatch.setenv("CONFLUENT_CLOUD_API_URL", emu.url)
    monkeypatch.setenv("CONFLUENT_CLOUD_METRICS_URL", emu.url)
    monkeypatch.setenv("CONFLUENT_CLOUD_API_KEY", emu.creds.key)
    monkeypatch.setenv("CONFLUENT_CLOUD_API_SECRET", emu.creds.secret)
    monkeypatch.setenv("CONFLUENT_ENVIRONMENT", "env-health")
    monkeypatch.setenv("CONFLUENT_CLUSTER_ID", cluster)
    monkeypatch.delenv("CONFLUENT_CLOUD_CREDENTIALS_FILE", raising=False)


def run_cli(args: list[str]) -> int:
    from brokerscale.cli import main

    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
