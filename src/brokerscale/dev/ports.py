"""Ports for the nodes of a local cluster.

Asking the kernel for port 0 and closing the socket gives a number that nobody holds *now*; the
next request may be handed the same number, and anything on the machine may take it before the
JVM binds it. So a cluster's ports are drawn by one `PortAllocator` per start attempt, which never
hands out the same port twice, skips ports other clusters of this data directory are configured
with, and prefers ports below the kernel's ephemeral range (where outgoing connections take their
source ports). What can still be lost is a race with another process; the cluster start detects
that from the node's log and retries with a fresh allocator.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Iterable
from pathlib import Path

from brokerscale.errors import OperationFailed

PortSource = Callable[[], int]
"""Something that proposes a port that looks free (the allocator still checks it is distinct)."""

_FALLBACK_EPHEMERAL = (32768, 60999)
_LOW_PORT = 20000
_MAX_DRAWS = 200


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for automatically assigned (outgoing and port-0) ports."""
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return _FALLBACK_EPHEMERAL


def bindable(port: int) -> bool:
    """True if nothing is bound to 127.0.0.1:`port` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def kernel_port() -> int:
    """A port the kernel says is free now (port 0 binding): the classic, racy way."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def quiet_port(rng: random.Random | None = None) -> int:
    """A bindable port below the ephemeral range (fewer collisions with outgoing connections);
    falls back to the kernel's choice when that range is too small or crowded."""
    rng = rng or random.SystemRandom()
    lo_eph, _ = ephemeral_range()
    top = min(lo_eph - 1, 32767)
    if top - _LOW_PORT >= 1000:
        for _ in range(50):
            port = rng.randint(_LOW_PORT, top)
            if bindable(port):
                return port
    return kernel_port()


class PortAllocator:
    """Distinct ports for one start attempt of one cluster."""

    def __init__(self, source: PortSource = quiet_port, avoid: Iterable[int] = ()) -> None:
        self._source = source
        self._avoid = set(avoid)
        self.given: list[int] = []

    def __call__(self) -> int:
        for _ in range(_MAX_DRAWS):
            port = self._source()
            if port not in self._avoid and port not in self.given:
                self.given.append(port)
                return port
        raise OperationFailed(f"could not find a free port after {_MAX_DRAWS} tries "
                              f"(ports already given: {sorted(self.given)})")


BIND_ERROR_MARKERS = ("Address already in use", "BindException", "failed to bind")


def is_bind_error(log_text: str) -> bool:
    """True if a node's log says it lost a port race."""
    return any(m in log_text for m in BIND_ERROR_MARKERS)
