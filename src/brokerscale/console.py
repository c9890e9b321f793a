"""Where output goes: rich for people on stdout, diagnostics on stderr, JSON for scripts."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console


def _width(stream: object) -> int | None:
    """Full width on a terminal; a generous fixed width when piped, so tables are not truncated."""
    isatty = getattr(stream, "isatty", None)
    return None if callable(isatty) and isatty() else 160


console = Console(highlight=False, width=_width(sys.stdout))
err = Console(stderr=True, highlight=False, width=_width(sys.stderr))


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
