"""Keep secrets out of audit records.

Callers put whatever describes a change into intent/before/after; a connection's properties may be
among it. Any key that looks like a credential is masked before it reaches the database, because
the audit log is kept for years and read by many.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_SECRET_KEY = re.compile(r"(password|secret|jaas|token|api[_.-]?key|credential|private[_.-]?key|user\.info)",
                         re.IGNORECASE)


# `password="x"`, `sasl.password=x`, `token: x` inside free text (a JAAS line, a command line)
_SECRET_IN_TEXT = re.compile(r'((?:password|secret|token|api[_.-]?key)\s*[=:]\s*)("[^"]*"|\S+)', re.IGNORECASE)


def redact(value: Any) -> Any:
    """A copy of `value` (dicts, lists, scalars) with credential-looking keys and `key=value` text masked."""
    if isinstance(value, dict):
        return {k: (MASK if isinstance(k, str) and _SECRET_KEY.search(k) and v not in (None, "")
                    else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _SECRET_IN_TEXT.sub(lambda m: m.group(1) + MASK, value)
    return value
