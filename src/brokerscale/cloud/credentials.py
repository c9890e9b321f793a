"""Cloud API key and secret: from the environment or a file, never from a command-line argument.

The secret is kept out of `repr()`, `str()` and error text, because these objects end up in logs,
tracebacks and audit records that are kept for years.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from brokerscale.errors import BadInput

KEY_ENV = "CONFLUENT_CLOUD_API_KEY"
SECRET_ENV = "CONFLUENT_CLOUD_API_SECRET"
FILE_ENV = "CONFLUENT_CLOUD_CREDENTIALS_FILE"


@dataclass(frozen=True)
class CloudCredentials:
    """A Cloud API key (shown) and its secret (never shown)."""

    key: str
    secret: str = field(repr=False)

    def __repr__(self) -> str:
        return f"CloudCredentials(key={self.key!r}, secret='***')"

    __str__ = __repr__


def _from_file(path: Path) -> CloudCredentials:
    """Accept `key`/`secret` YAML or JSON, `KEY=...` lines, or the Confluent CLI's `api-key` JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the credentials file ({exc.strerror})") from None
    data: object
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    found: dict[str, str] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            found[str(k).lower().replace("-", "_")] = str(v)
    else:
        for line in text.splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                k, _, v = line.partition("=")
                found[k.strip().lower().replace("-", "_")] = v.strip().strip('"')
    key = (found.get("key") or found.get("api_key") or found.get(KEY_ENV.lower()) or "").strip()
    secret = (found.get("secret") or found.get("api_secret") or found.get(SECRET_ENV.lower()) or "").strip()
    if not key:
        raise BadInput(f"{path}: key: field required (give `key:` and `secret:`)")
    if not secret:
        raise BadInput(f"{path}: secret: field required (give `key:` and `secret:`)")
    return CloudCredentials(key=key, secret=secret)


def load_credentials(credentials_file: Path | None = None) -> CloudCredentials:
    """Credentials from `--credentials-file`, else CONFLUENT_CLOUD_API_KEY/SECRET, else the file named
    by CONFLUENT_CLOUD_CREDENTIALS_FILE. Missing credentials are a one-line BadInput."""
    if credentials_file is not None:
        return _from_file(credentials_file)
    key = os.environ.get(KEY_ENV, "").strip()
    secret = os.environ.get(SECRET_ENV, "").strip()
    if key and secret:
        return CloudCredentials(key=key, secret=secret)
    env_file = os.environ.get(FILE_ENV)
    if env_file:
        return _from_file(Path(env_file))
    if key or secret:
        missing = SECRET_ENV if key else KEY_ENV
        raise BadInput(f"{missing}: not set (set both {KEY_ENV} and {SECRET_ENV})")
    raise BadInput(f"no Confluent Cloud credentials: set {KEY_ENV} and {SECRET_ENV}, "
                   "or pass --credentials-file FILE (key: ..., secret: ...)")


def credentials_json(creds: CloudCredentials) -> str:
    """The file format `--credentials-file` reads; for tests and the demo's throwaway keys."""
    return json.dumps({"key": creds.key, "secret": creds.secret})
