"""Ctrl-C as a request to stop, not an exception thrown into librdkafka.

A KeyboardInterrupt raised while confluent-kafka is running a Python delivery callback inside
`poll()` comes back as `SystemError: ... returned NULL without setting an exception`, and the run
ends with a traceback instead of its summary. So while records are produced or read back, SIGINT
only sets a flag; the loops check it between calls and stop cleanly, and the command prints what
was acknowledged and exits 130.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class StopRequest:
    """Set by SIGINT; loops call it to ask whether to stop."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


@contextmanager
def sigint_requests_stop(*, final: bool = False) -> Iterator[StopRequest]:
    """Within the block SIGINT sets the returned flag instead of raising (main thread only; elsewhere
    the flag is never set and KeyboardInterrupt behaves as usual).

    `final`: for a command that ends when it was asked to stop. Once Ctrl-C was pressed, later presses
    are ignored after the block too, so an impatient second press cannot cut off the exit (130) that
    follows the summary; the handler goes straight from the flag to ignoring, with no gap between.
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGINT, stop._on_signal)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN if final and stop.requested else previous)
