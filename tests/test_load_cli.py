"""`brokerscale load` input errors: one line, exit 2, no traceback, no cluster needed."""

from __future__ import annotations

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


def test_unreachable_bootstrap_fails_fast_without_traceback(cli) -> None:  # type: ignore[no-untyped-def]
    # In-process, so the clock measures the command and not an interpreter starting on a busy machine.
    started = time.monotonic()
    code, _out, err = cli("load", "--bootstrap", "127.0.0.1:1", "--duration", "2s")
    assert code == 69  # an outage, not bad input
    assert "cannot reach Kafka at 127.0.0.1:1" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert time.monotonic() - started < 20  # the 5 s probe, not the producer's minutes of retries


def test_help_teaches_with_examples(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("load", "--help")
    assert code == 0
    assert "--verify" in out and "brokerscale load --rate 2000" in out
