"""brokerscale's two consoles are rich Consoles made on first use: a command whose output is JSON never
imports rich (~25 ms of every `lag --format json`), and everything else uses them exactly as before."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from brokerscale import console as console_module


def test_starting_a_command_and_loading_the_lag_verb_does_not_import_rich() -> None:
    code = ("import sys; import brokerscale.cli, brokerscale.observe.cli, brokerscale.console; "
            "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_consoles_print_and_take_settings_as_rich_consoles(capsys: pytest.CaptureFixture[str]) -> None:
    from rich.console import Console
    from rich.status import Status

    console_module.console.print("[bold]ward 7[/]: 3 beds")
    console_module.err.print("to stderr")
    out, err = capsys.readouterr()
    assert out == "ward 7: 3 beds\n" and err == "to stderr\n"
    real = console_module.console._real()  # type: ignore[attr-defined]
    assert isinstance(real, Console) and console_module.console.width == real.width
    console_module.err.quiet = True  # an assignment reaches the real console
    try:
        console_module.err.print("not shown")
        assert capsys.readouterr().err == ""
    finally:
        console_module.err.quiet = False
    with Status("working", console=console_module.err):  # rich's own widgets take it as their console
        pass


def test_an_error_line_still_shows_brackets_as_typed(cli: Any) -> None:
    code, _out, err = cli("lag", "--bootstrap", "[red]x[/red]")
    assert code == 2
    assert "error:" in err and "'[red]x[/red]' is not HOST:PORT" in err
