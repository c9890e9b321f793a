"""The `brokerscale` command: one sub-command per verb (plan, observe, decide, act, record).

Each verb lives in its own package and exposes either a Typer app (a group of sub-commands) or a
single command function; this module only wires them together and turns user errors into one line
and exit code 2.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from typer._click import exceptions as click_errors  # the click typer vendors (and raises)
from typer.core import TyperGroup

from brokerscale import __version__
from brokerscale.console import err
from brokerscale.errors import BrokerscaleError
from brokerscale.help_text import reflow_command

# verb -> (module, attribute, kind): "group" is a Typer app of sub-commands, "command" one function.
# Listed in the order of the story (plan, run, observe, decide, act, record); each is imported only
# when it is used, so `brokerscale check` does not pay for the cloud client or the optimizer.
VERBS: dict[str, tuple[str, str, str]] = {
    "plan": ("brokerscale.plan.cli", "plan_command", "command"),
    "lint": ("brokerscale.plan.lint_cli", "lint_command", "command"),
    "dev": ("brokerscale.dev.cli", "app", "group"),
    "load": ("brokerscale.load.command", "load_command", "command"),
    "observe": ("brokerscale.observe.cli", "observe_command", "command"),
    "check": ("brokerscale.observe.cli", "check_command", "command"),
    "lag": ("brokerscale.observe.cli", "lag_command", "command"),
    "exporter": ("brokerscale.observe.exporter", "exporter_command", "command"),
    "rules": ("brokerscale.observe.rules_cli", "app", "group"),
    "topics": ("brokerscale.topics.cli", "app", "group"),
    "rebalance": ("brokerscale.balance.cli", "app", "group"),
    "cloud": ("brokerscale.cloud.cli", "app", "group"),
    "scale": ("brokerscale.scale.cli", "app", "group"),
    "dr": ("brokerscale.dr.cli", "app", "group"),
    "forecast": ("brokerscale.forecast.cli", "app", "group"),
    "audit": ("brokerscale.audit.command", "audit_command", "command"),
    "doctor": ("brokerscale.doctor.command", "doctor_command", "command"),
    "web": ("brokerscale.web.command", "web_command", "command"),
    "demo": ("brokerscale.demo", "demo", "command"),
}


# Verbs after which `console_main` may end the process without tearing the interpreter down: one-shot
# commands that close everything they opened (admin client, store) before they return.
QUICK_EXIT_VERBS = frozenset({"lag"})
_loaded_verbs: set[str] = set()

# Start-up (the verb's module, pydantic models, the Kafka client) allocates ~0.5 million objects that all
# live to the end; the cyclic collector walking them again and again cost ~0.05-0.1 s of every command.
# `main` pauses it until the verb's module is loaded (and always turns it back on when it paused it).
_startup_paused = False


def _end_startup_pause() -> None:
    global _startup_paused
    if _startup_paused:
        _startup_paused = False
        gc.enable()


class _LazyVerbs(TyperGroup):
    """A click group that imports a verb's module only when that verb is asked for."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(VERBS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in VERBS:
            return None
        module, attr, kind = VERBS[cmd_name]
        _loaded_verbs.add(cmd_name)
        obj = getattr(importlib.import_module(module), attr)
        _end_startup_pause()
        sub: Any
        if kind == "group":
            sub = typer.main.get_group(obj)
        else:
            single = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="rich")
            single.command(cmd_name)(obj)
            sub = typer.main.get_command(single)
        sub.name = cmd_name
        reflow_command(sub)
        return sub


app = typer.Typer(
    name="brokerscale",
    cls=_LazyVerbs,
    help="brokerscale — plan, observe and safely scale the Kafka cluster that carries clinical events.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"brokerscale {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """brokerscale — plan, observe and safely scale the Kafka cluster that carries clinical events.

    Every verb has its own --help with examples. Mutating commands are dry runs unless --apply.
    """


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point. User errors become one line on stderr and exit code 2."""
    global _startup_paused
    if gc.isenabled():
        gc.disable()
        _startup_paused = True
    try:
        _run(argv)
    finally:
        _end_startup_pause()


def console_main() -> NoReturn:
    """The `brokerscale` program (console script and `python -m brokerscale`); `main` is the same
    command for callers that go on running.

    After a verb in QUICK_EXIT_VERBS the process ends as the interpreter would end it, but without
    freeing its objects one by one: a 20,000-partition `lag` leaves about half a million (the imported
    modules, pydantic's schemas, kafka-python's protocol tables) whose teardown and final collections
    took ~0.07-0.1 s CPU, a tenth of the command. Only when that teardown has nothing left to finish:
    no other non-daemon thread alive (the interpreter would wait for it), every atexit callback run
    (logging's flush among them) and stdout and stderr flushed without error. Otherwise, and for an
    exit code that is not a number, the ordinary exit."""
    code: Any = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    if isinstance(code, int) and _loaded_verbs and _loaded_verbs <= QUICK_EXIT_VERBS and not _other_threads():
        atexit._run_exitfuncs()  # what the interpreter runs at exit, now (it runs each callback once)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed pipe: the interpreter reports it as it always does
            pass
        else:
            os._exit(code)
    raise SystemExit(code)


def _other_threads() -> bool:
    """A non-daemon thread besides this one is still running (the interpreter joins those at exit)."""
    main_thread = threading.main_thread()
    return any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate())


def _error(text: str) -> None:
    """One line on stderr: `error: <text>`, the text shown as it is (no rich markup read in it). rich is
    imported here, not at start-up: a command that succeeds with JSON output never loads it."""
    from rich.markup import escape

    err.print("[bold red]error:[/] " + escape(text), soft_wrap=True)


def _run(argv: Sequence[str] | None) -> None:
    try:
        code = app(args=list(argv) if argv is not None else None, prog_name="brokerscale", standalone_mode=False)
    except BrokerscaleError as exc:
        _error(exc.message)
        sys.exit(exc.exit_code)
    except click_errors.UsageError as exc:  # a bad flag value, an unknown option: one line too, exit 2
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as before
            exc.show()
            sys.exit(exc.exit_code)
        where = f"`{exc.ctx.command_path} --help`" if exc.ctx is not None else "`brokerscale --help`"
        text = " ".join(exc.format_message().split())
        _error(f"{text} (see {where})")
        sys.exit(exc.exit_code)
    except click_errors.ClickException as exc:
        _error(" ".join(exc.format_message().split()))
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("interrupted")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    if isinstance(code, int) and code != 0:  # typer.Exit(code) without standalone mode returns the code
        sys.exit(code)
