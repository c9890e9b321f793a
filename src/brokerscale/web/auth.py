"""Who may read the dashboard: anyone on loopback; elsewhere only holders of the bearer token.

The token comes from a file (never a flag or the environment of a shared shell), is compared in
constant time, and is accepted as `Authorization: Bearer …` (scripts) or as the cookie a wall screen
gets from the /login form. It is never echoed back, logged or put on a page.
"""

from __future__ import annotations

import hmac
import ipaddress
from pathlib import Path

from brokerscale.errors import BadInput

COOKIE = "brokerscale_token"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise BadInput(f"--token-file: {path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise BadInput(f"--token-file: {path}: not a text file") from None
    if len(token) < 16 or any(c.isspace() for c in token):
        raise BadInput(f"--token-file: {path}: the token must be one word of at least 16 characters")
    return token


def check_listen(listen: str, token_file: Path | None) -> str | None:
    """The token to require, or None on loopback without one. Listening elsewhere without a token is refused."""
    if token_file is not None:
        return read_token(token_file)
    if not is_loopback(listen):
        raise BadInput(f"--listen {listen}: not a loopback address; anyone on the network could read the "
                       "dashboard, so --token-file FILE (a bearer token) is required")
    return None


def token_ok(expected: str, authorization: str | None, cookie: str | None) -> bool:
    """Constant-time comparison of whichever credential the request carries."""
    given = ""
    if authorization and authorization[:7].lower() == "bearer ":
        given = authorization[7:].strip()
    elif cookie:
        given = cookie
    return hmac.compare_digest(given.encode(), expected.encode())
