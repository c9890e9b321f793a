"""`brokerscale` pauses the cyclic garbage collector only while it starts (loading the verb's module):
the command itself runs with the collector on, and it is on again however the command ends."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from brokerscale import cli as cli_module
from brokerscale.errors import BadInput

seen: list[bool] = []


def probe_command(fail: bool = False) -> None:
    """Records whether the collector is on while a command runs."""
    seen.append(gc.isenabled())
    if fail:
        raise BadInput("--fail: as asked")


@pytest.fixture
def probe_verb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli_module.VERBS, "gc-probe", (__name__, "probe_command", "command"))
    seen.clear()


def test_the_command_runs_with_the_collector_on(probe_verb: None, cli: Any) -> None:
    assert gc.isenabled()
    code, _out, _err = cli("gc-probe")
    assert (code, seen, gc.isenabled()) == (0, [True], True)


def test_the_collector_is_on_again_after_an_error_or_a_usage_error(probe_verb: None, cli: Any) -> None:
    code, _out, err = cli("gc-probe", "--fail")
    assert (code, seen, gc.isenabled()) == (2, [True], True)
    assert "as asked" in err
    code, _out, _err = cli("gc-probe", "--no-such-flag")
    assert code == 2 and gc.isenabled()
    code, _out, _err = cli("no-such-verb")
    assert code == 2 and gc.isenabled()


def test_a_caller_that_turned_the_collector_off_keeps_it_off(probe_verb: None, cli: Any) -> None:
    gc.disable()
    try:
        code, _out, _err = cli("gc-probe")
        assert (code, seen, gc.isenabled()) == (0, [False], False)
    finally:
        gc.enable()

