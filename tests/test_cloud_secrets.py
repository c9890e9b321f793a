"""The Cloud API secret never appears in output, logs or audit records; credentials come from env or file."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from brokerscale.cloud.credentials import CloudCredentials, load_credentials
from brokerscale.cloud.emulator import Fault
from brokerscale.errors import BadInput
from brokerscale.store import open_store
from cloud_fixtures import cli_env, run_cli, running_emulator


def test_secret_never_in_output_logs_or_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str],
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with running_emulator(tmp_path, delay_s=0.2) as emu:
        secret = emu.creds.secret
        cli_env(monkeypatch, emu)
        emu.state.inject(Fault(status=429, count=1, method="PATCH", retry_after=0))
        emu.state.inject(Fault(status=500, count=1, method="GET", path_prefix="/v2/metrics/"))
        commands = [
            ["cloud", "cluster", "list"],
            ["cloud", "cluster", "show", "--format", "json"],
            ["cloud", "cluster", "resize", "--cku", "3"],
            ["cloud", "cluster", "resize", "--cku", "3", "--apply", "--poll", "0.1s"],
            ["cloud", "metrics", "--format", "json"],
            ["cloud", "events", "--days", "2"],
            ["cloud", "storage", "--days", "5"],
            ["cloud", "cluster", "upgrade", "--to", "basic"],
        ]
        codes = [run_cli(c) for c in commands]
        monkeypatch.setenv("CONFLUENT_CLOUD_API_SECRET", "not-" + secret)  # a failing login, too
        codes.append(run_cli(["cloud", "cluster", "list"]))
        captured = capsys.readouterr()
    assert codes == [0, 0, 0, 0, 0, 0, 0, 2, 2]
    records = [r.getMessage() for r in caplog.records]
    assert any("PATCH /cmk/v2/clusters/lkc-health1 -> 429" in m for m in records)  # the log is not empty
    audit = json.dumps(open_store().audit_records("cloud.", limit=1000))
    for text in (captured.out, captured.err, "\n".join(records), audit):
        assert secret not in text
    assert emu.state_file.exists()


def test_secret_not_in_subprocess_output(tmp_path: Path) -> None:
    with running_emulator(tmp_path) as emu:
        env = {**os.environ, "CONFLUENT_CLOUD_API_URL": emu.url, "CONFLUENT_CLOUD_METRICS_URL": emu.url,
               "CONFLUENT_CLOUD_API_KEY": emu.creds.key, "CONFLUENT_CLOUD_API_SECRET": emu.creds.secret}
        proc = subprocess.run([sys.executable, "-m", "brokerscale", "cloud", "cluster", "show", "-k", "lkc-health1",
                               "-e", "env-health", "--format", "json"], env=env, capture_output=True, text=True,
                              timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["id"] == "lkc-health1"
    assert emu.creds.secret not in proc.stdout + proc.stderr


def test_credentials_repr_hides_the_secret() -> None:
    creds = CloudCredentials("KEY1", "very-secret-value")
    assert "very-secret-value" not in repr(creds) and "very-secret-value" not in str(creds)
    assert "KEY1" in repr(creds)


def test_credentials_file_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONFLUENT_CLOUD_API_KEY", raising=False)
    monkeypatch.delenv("CONFLUENT_CLOUD_API_SECRET", raising=False)
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("key: K1\nsecret: S1\n")
    assert load_credentials(yaml_file) == CloudCredentials("K1", "S1")
    env_file = tmp_path / "c.env"
    env_file.write_text("# keys\nCONFLUENT_CLOUD_API_KEY=K2\nCONFLUENT_CLOUD_API_SECRET=\"S2\"\n")
    assert load_credentials(env_file) == CloudCredentials("K2", "S2")
    bad = tmp_path / "bad.yaml"
    bad.write_text("key: K3\n")
    with pytest.raises(BadInput, match=r"bad.yaml: secret: field required"):
        load_credentials(bad)
    with pytest.raises(BadInput, match="cannot read"):
        load_credentials(tmp_path / "missing.yaml")


def test_missing_credentials_are_a_one_line_error(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("CONFLUENT_CLOUD_API_KEY", "CONFLUENT_CLOUD_API_SECRET", "CONFLUENT_CLOUD_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert run_cli(["cloud", "cluster", "list", "-e", "env-1"]) == 2
    err = capsys.readouterr().err
    assert "no Confluent Cloud credentials" in err and "Traceback" not in err
    monkeypatch.setenv("CONFLUENT_CLOUD_API_KEY", "only-the-key")
    with pytest.raises(BadInput, match="CONFLUENT_CLOUD_API_SECRET: not set"):
        load_credentials()
