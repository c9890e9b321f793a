"""Pausing Python's cyclic garbage collector around bulk work on a million small objects.

The optimizer and the proposal renderer allocate hundreds of thousands of small lists and dicts, and a
snapshot or lag round ~100,000 short-lived acyclic objects (partitions, offsets), freeing almost none of
them until the end. Every few hundred allocations the collector walks all of
them again, finding nothing to free: at a million replicas that costs about a third of the run.
Reference counting still frees everything as usual; only the cycle search waits until the block ends.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Suspend the cycle collector inside the block (nesting is fine); restores the previous setting."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
