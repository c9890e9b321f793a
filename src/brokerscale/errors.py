"""Errors the user can act on, each one line, each with its own exit code.

Every error a user can cause (a bad file, a bad flag value) is raised as a `BadInput` carrying one line
that names the file, the field and the reason: exit code 2. An outage is not bad input: a cluster, API
or store that does not answer is `Unreachable`, exit code 69 (EX_UNAVAILABLE from sysexits.h), so
scripts can tell "fix your input" from "try again later". The CLI entry point prints the line on stderr
and exits with the code — never a traceback. (`check` keeps the monitoring convention: 3 UNKNOWN.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class BrokerscaleError(Exception):
    """An error with a one-line message for the user and a process exit code."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message.replace("\n", " ").strip()
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class BadInput(BrokerscaleError):
    """Invalid user input: a file, a field or a flag value. Exit code 2."""

    exit_code = 2


class Unreachable(BrokerscaleError):
    """A cluster, API or store the command needs does not answer. Exit code 69 (EX_UNAVAILABLE)."""

    exit_code = 69


class OperationFailed(BrokerscaleError):
    """A change was attempted and failed (the audit log says how far it got). Exit code 1."""


def field_path(loc: Sequence[Any]) -> str:
    """Render a pydantic error location as `topics[3].retention_days`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def from_validation_error(source: str, exc: Any) -> BadInput:
    """Turn a pydantic ValidationError into one line: `file: field.path: reason`."""
    errors = exc.errors()
    first = errors[0]
    loc = field_path(first.get("loc", ()))
    if first.get("type") == "extra_forbidden":
        reason = "unknown field (check the spelling)"
    else:
        reason = str(first.get("msg", "invalid value"))
        reason = reason.removeprefix("Value error, ")
        reason = reason[0].lower() + reason[1:] if reason else reason
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return BadInput(f"{source}: {loc}: {reason}{more}")
