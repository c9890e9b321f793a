"""The `brokerscale` command: one sub-command per verb (plan, observe, decide, act, record).

Each verb lives in its own package and exposes either a Typer app (a group of sub-commands) or a
single command function; this module only wires them together and turns user errors into one line
and exit code 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
from rich.markup import escape

from brokerscale import __version__
from brokerscale.console import err
from brokerscale.errors import BrokerscaleError

app = typer.Typer(
    name="brokerscale",
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
    """brokerscale — plan, observe and safely scale the Kafka cluster that carries clinical events."""


def _register() -> None:
    """Attach every verb. Imports are here so `--help` stays fast and a verb's deps stay its own."""
    # Verbs are added here as they are built: one import and one add_typer/command line each.
    from brokerscale.cloud.cli import app as cloud_app
    app.add_typer(cloud_app, name="cloud")
    from brokerscale.plan.cli import plan_command
    app.command("plan")(plan_command)
    from brokerscale.balance.cli import app as rebalance_app
    app.add_typer(rebalance_app, name="rebalance")
    from brokerscale.topics.cli import app as topics_app
    app.add_typer(topics_app, name="topics")
    from brokerscale.dev.cli import app as dev_app

    app.add_typer(dev_app, name="dev")
    from brokerscale.demo import demo

    app.command("demo")(demo)
    from brokerscale.audit import audit_command
    app.command("audit")(audit_command)
    from brokerscale.load import load_command
    app.command("load")(load_command)
    from brokerscale.observe.cli import register as register_observe
    register_observe(app)  # observe, check, lag, exporter
    from brokerscale.forecast.cli import app as forecast_app
    app.add_typer(forecast_app, name="forecast")


_register()


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point. User errors become one line on stderr and exit code 2."""
    try:
        app(args=list(argv) if argv is not None else None, prog_name="brokerscale")
    except BrokerscaleError as exc:
        err.print("[bold red]error:[/] " + escape(exc.message), soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
