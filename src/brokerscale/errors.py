"""Errors the user can act on, each one line, each with its own exit code.

Every error a user can cause (a bad file, a bad flag value) is raised as a `BadInput` carrying one line
that names the file, the field and the reason: exit code 2. An outage is not bad input: a cluster, API
or store that does not answer is `Unreachable`, exit code 69 (EX_UNAVAILABLE from sysexits.h), so
scripts can tell "fix your input" from "try again later". The CLI entry point prints the line on stderr
and exits with the code — never a traceback. (`check` keeps the monitoring convention: 3 UNKNOWN.)
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Sequence
from typing import Any


def named(exc: BaseException) -> str:
    """`Name: message` of any exception, the name said once: kafka-python's `str()` already starts with
    it ("NodeNotReadyError: ...", "[Error 3] UnknownTopicOrPartitionError: ..."). The whole message."""
    name = type(exc).__name__
    text = re.sub(rf"^(\[Error -?\d+\] )?{re.escape(name)}(:\s*|$)", "", str(exc).strip())
    return f"{name}: {text}" if text and text != name else name


class BrokerscaleError(Exception):
    """An error with a one-line message for the user and a process exit code."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = " ".join(message.splitlines()).strip()  # one line, whatever breaks it (\r, \u2028 ...)
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


class MetricsUnreachable(Unreachable):
    """The metrics source (Prometheus) did not answer; Kafka did. A long-running verb's round fails, and
    its Kafka client, which is fine, is kept for the next one."""


class NotAuthorized(BrokerscaleError):
    """The principal lacks an ACL the command needs. Exit code 2, like bad input: retrying will not help,
    the credentials or the ACLs must change. The message names the missing operation and resource."""

    exit_code = 2


class OperationFailed(BrokerscaleError):
    """A change was attempted and failed (the audit log says how far it got). Exit code 1."""


def field_path(loc: Sequence[Any]) -> str:
    """Render a pydantic error location as `topics[3].retention_days`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            shown = text if text and text.isprintable() else repr(text)
            out += ("." if out else "") + shown
    return out or "(top level)"


def _model_in(annotation: Any) -> tuple[Any, bool]:
    """The pydantic model inside a field's annotation, and whether a dict key comes before it."""
    origin = typing.get_origin(annotation)
    if origin is None:
        return (annotation if hasattr(annotation, "model_fields") else None), False
    keyed = origin is dict
    for arg in typing.get_args(annotation):
        model, inner_keyed = _model_in(arg)
        if model is not None:
            return model, keyed or inner_keyed
    return None, False


def _keys_at(model: Any, loc: Sequence[Any]) -> list[str]:
    """Field names (and aliases) of the model reached by following `loc` from `model`."""
    skip_key = False
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int) or skip_key:
            skip_key = False
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        model, skip_key = _model_in(field.annotation)
    if model is None:
        return []
    return [name for n, f in model.model_fields.items() for name in (n, f.alias) if name]


def unknown_key(loc: Sequence[Any], model: Any = None) -> str:
    """'unknown field' plus the closest valid key when there is one: a misspelt key is named, not ignored."""
    close = difflib.get_close_matches(str(loc[-1]), _keys_at(model, loc[:-1]), n=1, cutoff=0.6) \
        if model is not None and loc else []
    return f"unknown field (did you mean {close[0]!r}?)" if close else "unknown field (check the spelling)"


def from_validation_error(source: str, exc: Any, model: Any = None) -> BadInput:
    """Turn a pydantic ValidationError into one line: `file: field.path: reason; other.field: reason`.

    Every problem is listed; with `model` (the class validated), an unknown key also names the closest
    valid key.
    """
    parts = []
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        if error.get("type") == "extra_forbidden":
            reason = unknown_key(loc, model)
        else:
            reason = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
            reason = reason[0].lower() + reason[1:] if reason else reason
        part = f"{field_path(loc)}: {reason}"
        if part not in parts:
            parts.append(part)
    return BadInput(f"{source}: {'; '.join(parts)}")
