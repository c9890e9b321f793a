"""Parsing `--rate`: messages per second, bytes per second, or unthrottled."""

from __future__ import annotations

import re

from brokerscale.errors import BadInput
from brokerscale.units import parse_byte_rate

_HELP = "examples: 2000, 2000/s, 10MB/s, 0 (as fast as possible)"


def parse_rate(text: str, mean_size: int, *, what: str = "--rate") -> float:
    """Messages per second for `text`; a byte rate is divided by the mean message size."""
    s = str(text).strip()
    m = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*(?:msgs?)?\s*(?:/s)?", s, flags=re.IGNORECASE)
    if m:
        return float(m.group(1))
    if re.search(r"[A-Za-z]", s) and re.search(r"/\s*(?:s|sec|second)$", s, flags=re.IGNORECASE):
        # A byte rate says "per second"; a bare size ("10MB") is not a rate.
        try:
            per_second = parse_byte_rate(s, what=what)
        except BadInput as exc:
            if "bits" in exc.message:
                raise
            raise BadInput(f"{what}: {text!r} is not a rate ({_HELP})") from None
        return per_second / mean_size
    raise BadInput(f"{what}: {text!r} is not a rate ({_HELP})")
