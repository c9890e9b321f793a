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


def redact(value: Any) -> Any:
    """A copy of `value` (dicts, lists, scalars) with credential-looking keys masked."""
    if isinstance(value, dict):
        return {k: (MASK if isinstance(k, str) and _SECRET_KEY.search(k) and v not in (None, "")
                    else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value
