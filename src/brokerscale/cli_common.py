"""Options shared by every command that talks to Kafka, so they read the same everywhere."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from brokerscale.connect import ConnectionProfile, resolve

BootstrapOpt = Annotated[
    str | None,
    typer.Option("--bootstrap", "-b", envvar="BROKERSCALE_BOOTSTRAP", metavar="HOST:PORT",
                 help="Kafka bootstrap servers. Default: the running local dev cluster.", show_default=False),
]
CommandConfigOpt = Annotated[
    Path | None,
    typer.Option("--command-config", metavar="FILE",
                 help="Client properties file (security.protocol, sasl.mechanism, sasl.jaas.config, ssl.*).",
                 show_default=False),
]
ClusterOpt = Annotated[
    str | None,
    typer.Option("--cluster", "-c", metavar="NAME",
                 help="A named cluster from brokerscale.yaml, or a local dev cluster's name.", show_default=False),
]


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="table for people, json for scripts.")]


def profile(bootstrap: str | None, command_config: Path | None, cluster: str | None) -> ConnectionProfile:
    return resolve(bootstrap, command_config, cluster)
