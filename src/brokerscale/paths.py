"""Where brokerscale keeps its cache (jars) and its state (dev clusters, the store)."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """State that must survive: dev clusters, the default SQLite store. `BROKERSCALE_DATA_DIR` overrides."""
    env = os.environ.get("BROKERSCALE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "brokerscale"


def cache_dir() -> Path:
    """Downloads that can be fetched again (the Kafka jars). `BROKERSCALE_CACHE_DIR` overrides."""
    env = os.environ.get("BROKERSCALE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "brokerscale"
