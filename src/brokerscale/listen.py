"""Where an HTTP endpoint of brokerscale may listen, and the bearer token that guards it off-host.

The rule, shared by every server brokerscale starts (the exporter, the dashboard): loopback needs no
token; any other address needs `--token-file`, and then every request must carry
`Authorization: Bearer <token>` (compared in constant time). The token never appears in output or logs.
"""

from __future__ import annotations

import hmac
import ipaddress
from pathlib import Path

from brokerscale.errors import BadInput


def is_loopback(addr: str) -> bool:
    if addr == "localhost":
        return True
    try:
        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


def listen_token(addr: str, token_file: Path | None) -> str | None:
    """The token requests must carry (None: no token needed); refuses off-host listening without one."""
    if addr != "localhost":
        try:
            ipaddress.ip_address(addr)
        except ValueError:
            raise BadInput(f"--listen: {addr!r} is not an IP address (e.g. 0.0.0.0 or 10.0.0.5)") from None
    if token_file is None:
        if not is_loopback(addr):
            raise BadInput(f"--listen: {addr} is reachable from other hosts; give --token-file FILE "
                           "(a bearer token every request must carry)")
        return None
    try:
        token = token_file.read_text().strip()
    except OSError as exc:
        raise BadInput(f"--token-file: {token_file}: cannot read the file ({exc.strerror})") from None
    if len(token) < 16:
        raise BadInput(f"--token-file: {token_file}: the token must be at least 16 characters")
    return token


def authorized(header: str | None, token: str | None) -> bool:
    """Whether an Authorization header carries the token (always, when no token is needed)."""
    if token is None:
        return True
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer "):].strip().encode(), token.encode())
