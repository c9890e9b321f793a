"""The `brokerscale` command: every verb is wired, teaches with --help, and user errors are one line."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from typing import Any

import pytest

from brokerscale.cli import VERBS

ISSUE_VERBS = ["plan", "dev", "load", "observe", "check", "lag", "topics", "rebalance", "cloud", "forecast", "demo"]


def test_help_lists_the_verbs_in_story_order(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("--help")
    assert code == 0
    listed = [m.group(1) for m in re.finditer(r"^\W*([a-z]+)\s{2,}", out, flags=re.MULTILINE)]
    assert [v for v in listed if v in ISSUE_VERBS] == ISSUE_VERBS


@pytest.mark.parametrize("verb", list(VERBS))
def test_every_verb_has_help_with_usage(cli, verb: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(verb, "--help")
    assert code == 0, err
    assert f"brokerscale {verb}" in out


def _command_paths() -> list[list[str]]:
    """Every verb and every sub-command under it, as click lists them."""
    import typer

    from brokerscale.cli import app

    paths: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        paths.append(path)
        for name in command.list_commands(None) if hasattr(command, "list_commands") else []:
            walk(command.get_command(None, name), [*path, name])

    root = typer.main.get_command(app)
    for verb in root.list_commands(None):  # type: ignore[attr-defined]
        walk(root.get_command(None, verb), [verb])  # type: ignore[attr-defined]
    return paths


def _ragged_lines(help_out: str, width: int) -> list[str]:
    """Description lines that end although the next line's first word would have fitted: a line break
    of the docstring showing through rich's own wrapping. Example lines (indented) and bullets may
    start a line of their own."""
    lines = [line.rstrip() for line in help_out.split("\u256d")[0].splitlines()]  # before the option panels
    ragged = []
    for line, following in itertools.pairwise(lines):
        if not line.strip() or not following.strip() or line.startswith("   ") or following.startswith("   "):
            continue
        if following.lstrip().startswith(("- ", "* ")):
            continue
        if len(line) + 1 + len(following.split()[0]) <= width - 1:
            ragged.append(line)
    return ragged


@pytest.mark.parametrize("width", [80, 132])
def test_help_paragraphs_wrap_to_the_terminal_not_to_the_source(cli, monkeypatch, width: int) -> None:  # type: ignore[no-untyped-def]
    """The docstrings are wrapped at ~105 columns in the source; on an 80-column terminal those breaks
    used to show through as a stub line after every line of help."""
    monkeypatch.setenv("COLUMNS", str(width))
    paths = _command_paths()
    assert len(paths) > len(VERBS)  # the groups' sub-commands are walked too
    ragged: dict[str, list[str]] = {}
    for path in paths:
        code, out, err = cli(*path, "--help")
        assert code == 0, err
        assert max(len(line.rstrip()) for line in out.splitlines()) <= width
        if found := _ragged_lines(out, width):
            ragged[" ".join(path)] = found
    assert not ragged


def test_unknown_verb_and_option_exit_2() -> None:
    res = subprocess.run([sys.executable, "-m", "brokerscale", "no-such-verb"], capture_output=True, text=True)
    assert res.returncode == 2 and "No such command" in res.stderr
    res = subprocess.run([sys.executable, "-m", "brokerscale", "plan", "--no-such-flag"], capture_output=True,
                         text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_readme_names_only_packages_that_exist() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    section = readme.split("## Where things are", 1)[1].split("\n## ", 1)[0]
    named = [n for n in re.findall(r"`([a-z_]+)/`", section) if not (root / n).is_dir()]  # benchmarks/ etc.
    assert len(named) >= 8
    missing = [n for n in named if not (root / "src" / "brokerscale" / n / "__init__.py").is_file()]
    assert missing == []


def test_reflow_joins_prose_and_bullets_but_keeps_examples_and_no_rewrap_paragraphs() -> None:
    from brokerscale.help_text import reflow

    doc = """Summary line.

    A paragraph wrapped
    in the source.

    - a bullet wrapped
      under itself;
    - a second bullet

      brokerscale lag --group billing-etl \\
          --format json

    \b
    kept as
    written
    """
    assert reflow(doc) == ("Summary line.\n\nA paragraph wrapped in the source.\n\n"
                           "- a bullet wrapped under itself;\n- a second bullet\n\n"
                           "  brokerscale lag --group billing-etl \\\n      --format json\n\n\b\nkept as\nwritten")
