"""The `brokerscale` command: every verb is wired, teaches with --help, and user errors are one line."""

from __future__ import annotations

import re
import subprocess
import sys

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
