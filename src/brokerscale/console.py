"""Where output goes: rich for people on stdout, diagnostics on stderr, JSON for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def print_json(obj: Any) -> None:
    """Plain JSON on stdout (no colour, no wrapping) so scripts can parse it."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()
