"""`brokerscale load` input errors: one line, exit 2, no traceback, no cluster needed."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest


@pytest.mark.parametrize(("args", "needle"), [
    (["--size", "abc"], "--size: 'abc' is not a size"),
    (["--size", "10"], "--size"),
    (["--rate", "fast"], "--rate: 'fast' is not a rate"),
    (["--duration", "soon"], "--duration"),
    (["--kinds", "hl7-adt,csv"], "--kinds: csv"),
    (["--verify", "--consume", "g1"], "--verify"),
    (["--bootstrap", "not a host"], "--bootstrap"),
    (["--patients", "1000", "--size", "500KB"], "--patients: 1,000 patients"),
])
def test_bad_input_is_one_line_and_exit_2(cli, args: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("load", "--bootstrap", "127.0.0.1:1", *args) if "--bootstrap" not in args \
        else cli("load", *args)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_unreachable_bootstrap_fails_fast_without_traceback() -> None:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "brokerscale", "load", "--bootstrap", "127.0.0.1:1",
                           "--duration", "2s"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 69  # an outage, not bad input
    assert "cannot reach Kafka at 127.0.0.1:1" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 20


def test_help_teaches_with_examples(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("load", "--help")
    assert code == 0
    assert "--verify" in out and "brokerscale load --rate 2000" in out
