"""`brokerscale forecast storage` reads retained-bytes history from the store (no cluster needed)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

CLI = Callable[..., tuple[int, str, str]]


@pytest.fixture()
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'fc.db'}"
    monkeypatch.setenv("BROKERSCALE_STORE_URL", url)
    return url


def test_basic_tier_advice_from_recorded_history(cli: CLI, store_url: str) -> None:
    from brokerscale.store import Sample, open_store

    now = time.time()
    store = open_store(store_url)
    # 3.9 TB growing 20 GB a day over the last 20 days: 4.3 TB now, passes 5 TB in ~35 days.
    store.write_samples([Sample(now - (20 - d) * 86400, "10.0.0.1:9092", "retained_bytes", 3.9e12 + d * 20e9, {})
                         for d in range(21)])
    store.close()
    code, out, _ = cli("forecast", "storage", "-b", "10.0.0.1:9092", "--tier", "basic", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["ok"] and doc["limit_bytes"] == 5e12
    assert doc["daily_growth_bytes"] == pytest.approx(20e9, rel=0.01)
    assert 30 < doc["days_until_limit"] < 40
    assert any("Standard tier" in a for a in doc["advice"])
    code, out, _ = cli("forecast", "storage", "-b", "10.0.0.1:9092", "--tier", "basic")
    assert code == 0 and "recommendation:" in out and "Standard" in out


def test_too_little_history_says_so(cli: CLI, store_url: str) -> None:
    code, out, _ = cli("forecast", "storage", "-b", "10.9.9.9:9092")
    assert code == 0 and "no forecast" in out and "0 sample(s)" in out


def test_bad_options_are_one_line(cli: CLI, store_url: str) -> None:
    code, _, err = cli("forecast", "storage", "-b", "10.0.0.1:9092", "--disk", "lots")
    assert code == 2 and "--disk" in err
    code, _, err = cli("forecast", "storage", "-b", "10.0.0.1:9092", "--tier", "platinum")
    assert code == 2 and "platinum" in err
