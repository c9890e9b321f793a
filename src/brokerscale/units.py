"""Parsing of human quantities: sizes, durations and rates.

Units are decimal (1 KB = 1,000 B, 1 MB = 10^6 B), as the scaling guide's arithmetic is. Binary
suffixes (KiB, MiB, GiB, TiB) are accepted too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator

from brokerscale.errors import BadInput

_SIZE_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "k": 10**3, "mb": 10**6, "m": 10**6, "gb": 10**9, "g": 10**9,
    "tb": 10**12, "t": 10**12, "pb": 10**15,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_NUMBER = r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*"


_BIT_SUFFIX = re.compile(r"(?:[kmgtp]i?)?(?:b|bit|bits)", re.IGNORECASE)


def _bits_refusal(what: str, text: str, number: str, suffix: str) -> BadInput:
    """Mb is megabits, MB megabytes: a lowercase b (or 'bit') is refused rather than guessed."""
    prefix = suffix[:-1] if suffix.endswith("b") else suffix.rstrip("sS")[:-3]
    upper = (prefix[:1].upper() + prefix[1:]).replace("I", "i") if prefix else ""
    return BadInput(f"{what}: {text!r} is in bits (a lowercase b is a bit); sizes are bytes: "
                    f"write {number}{upper}B")


def parse_size(text: str, *, what: str = "size") -> int:
    """'5KB' -> 5000 bytes. Raises BadInput naming `what` on anything else.

    Decimal (KB, MB, GB, TB, PB) and binary (KiB ... TiB) units; the B is a capital because a lowercase
    b is a bit: '5Mb' and '5mb' are refused, never read as 5 megabytes.
    """
    m = re.fullmatch(_NUMBER + r"([A-Za-z]*)\s*", str(text))
    if m and m.group(2) and m.group(2) != "B" and _BIT_SUFFIX.fullmatch(m.group(2)) \
            and not m.group(2).endswith("B"):
        raise _bits_refusal(what, str(text).strip(), m.group(1), m.group(2))
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise BadInput(f"{what}: {text!r} is not a size (examples: 512, 5KB, 1.5MB, 2GiB)")
    value = float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
    if value <= 0:
        raise BadInput(f"{what}: must be greater than 0")
    if not math.isfinite(value) or value >= 2**63:
        raise BadInput(f"{what}: {str(text).strip()!r} is too large")
    return round(value)


def parse_byte_rate(text: str, *, what: str = "rate") -> int:
    """'2MB/s', '2 MB/sec' or '2MB' -> 2,000,000 bytes per second (the size rule, per second)."""
    s = str(text).strip()
    m = re.fullmatch(r"(.+?)\s*/\s*(?:s|sec|second)", s, flags=re.IGNORECASE)
    body = m.group(1) if m else s
    try:
        return parse_size(body, what=what)
    except BadInput as exc:
        if "bits" in exc.message or "greater than 0" in exc.message:
            raise
        raise BadInput(f"{what}: {text!r} is not a byte rate (examples: 500KB/s, 2MB/s, 10MB)") from None


def parse_duration(text: str, *, what: str = "duration") -> float:
    """'10s' -> 10.0 seconds; '5m' -> 300.0; '250ms' -> 0.25."""
    m = re.fullmatch(_NUMBER + r"([A-Za-z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _DURATION_UNITS:
        raise BadInput(f"{what}: {text!r} is not a duration (examples: 10s, 5m, 250ms, 1h)")
    value = float(m.group(1)) * _DURATION_UNITS[m.group(2).lower()]
    if value <= 0:
        raise BadInput(f"{what}: must be greater than 0")
    if not math.isfinite(value):
        raise BadInput(f"{what}: {str(text).strip()!r} is too long")
    return value


def format_bytes(n: float) -> str:
    """Decimal, three significant figures: 648000000000000 -> '648 TB'."""
    for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= scale:
            v = n / scale
            return f"{v:.3g} {unit}" if v < 1000 else f"{v:,.0f} {unit}"
    return f"{n:.0f} B"


def plural(n: int, word: str) -> str:
    """'1 partition', '2 partitions', '1 warning', '2 warnings'."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def format_value(value: float, unit: str = "") -> str:
    """A measured value as people write it: 24,000 offsets, 78%, 1.5 MB/s — never 2.4e+04."""
    if value == int(value) or abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:,.1f}"
    else:
        text = f"{value:.2f}".rstrip("0").rstrip(".")
    if not unit:
        return text
    return f"{text}%" if unit == "%" else f"{text} {unit}"


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _lenient(parse: Callable[[str], float | int]) -> Callable[[Any], Any]:
    """A pydantic before-validator: text is parsed with `parse`; numbers pass through to the field's checks."""

    def validate(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return parse(value)
        except BadInput as exc:
            raise ValueError(str(exc).split(": ", 1)[-1]) from None

    return validate


# Model fields that accept a number or human text: `message_bytes: 5KB`, `disk: 2TiB`, `window: 10m`.
SizeBytes = Annotated[int, BeforeValidator(_lenient(parse_size))]
DurationSeconds = Annotated[float, BeforeValidator(_lenient(parse_duration))]
