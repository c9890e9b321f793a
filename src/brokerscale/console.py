"""Where output goes: rich for people on stdout, diagnostics on stderr, JSON for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console


def _width(stream: object) -> int | None:
    """Full width on a terminal; a generous fixed width when piped, so tables are not truncated."""
    isatty = getattr(stream, "isatty", None)
    return None if callable(isatty) and isatty() else 160


console = Console(highlight=False, width=_width(sys.stdout))
err = Console(stderr=True, highlight=False, width=_width(sys.stderr))


def print_json(obj: Any) -> None:
    """Plain JSON on stdout (no colour, no wrapping) so scripts can parse it."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()
