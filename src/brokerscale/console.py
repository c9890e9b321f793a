"""Where output goes: rich for people on stdout, diagnostics on stderr, JSON for scripts."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console


def _width(stream: object) -> int | None:
    """Full width on a terminal; a generous fixed width when piped, so tables are not truncated."""
    isatty = getattr(stream, "isatty", None)
    return None if callable(isatty) and isatty() else 160


class _OnFirstUse:
    """Stands in for a rich Console and makes it the first time anything is asked of it.

    Importing rich and making the two consoles cost ~25 ms of CPU in every command, and a command whose
    output is JSON (`brokerscale lag --format json`, a 20,000-partition snapshot: ~2-3 % of the process)
    prints nothing through them. Every attribute, method and assignment goes to the real Console, so
    callers (and rich's Live, Status and Progress, given it as their console) use it as one; the only
    special methods a Console has, entering and leaving it, are passed on too. The width
    is decided when the console is made: on its first use, from the stream of that moment."""

    __slots__ = ("_console", "_make")

    def __init__(self, make: Callable[[], Console]) -> None:
        object.__setattr__(self, "_make", make)
        object.__setattr__(self, "_console", None)

    def _real(self) -> Console:
        real: Console | None = self._console
        if real is None:
            real = self._make()
            object.__setattr__(self, "_console", real)
        return real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._real(), name, value)

    # Special methods are looked up on the type, never through __getattr__: rich's Live (Status,
    # Progress) enters its console as a context manager.
    def __enter__(self) -> Console:
        return self._real().__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._real().__exit__(*exc)

    def __repr__(self) -> str:
        return repr(self._real())


def _stdout_console() -> Console:
    from rich.console import Console

    return Console(highlight=False, width=_width(sys.stdout))


def _stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, width=_width(sys.stderr))


console = cast("Console", _OnFirstUse(_stdout_console))
err = cast("Console", _OnFirstUse(_stderr_console))


def json_bytes(obj: Any) -> bytes:
    """Indented UTF-8 JSON of plain data and pydantic models (anything else as its str()).

    pydantic's serializer (Rust) rather than `json.dumps(indent=2)`, whose indenting encoder is pure
    Python: a lag snapshot of 20,000 partitions is 10 MB of JSON, three times faster this way."""
    from pydantic_core import to_json  # not at start-up: `--help` needs no serializer

    return to_json(obj, indent=2, fallback=str)


def print_json(obj: Any) -> None:
    """Plain JSON on stdout (no colour, no wrapping) so scripts can parse it."""
    data = json_bytes(obj) + b"\n"
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:  # a text-only stream (some test harnesses)
        sys.stdout.write(data.decode())
        sys.stdout.flush()
