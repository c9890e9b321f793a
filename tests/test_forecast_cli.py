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


def test_forecast_by_name_works_from_history_after_the_cluster_is_gone(cli: CLI, store_url: str,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    from brokerscale.observe.collect import TOPIC_BYTES_IN, TOPIC_REPLICATION, TOPIC_RETENTION_MS, TOPIC_SIZE
    from brokerscale.store import Sample, open_store

    monkeypatch.setenv("BROKERSCALE_CONFIG", str(tmp_path / "absent.yaml"))  # no named clusters, no dev cluster
    now = time.time()
    day = 86400.0
    store = open_store(store_url)
    rows = []
    for d in range(15):  # one topic, 57.7 GB/day on disk (RF 3), 30 days retention, 15 days filled
        ts = now - (14 - d) * day
        size = d * 57.7e9
        rows += [Sample(ts, "trial1", "retained_bytes", size, {}),
                 Sample(ts, "trial1", TOPIC_SIZE, size, {"topic": "clinical.adt"}),
                 Sample(ts, "trial1", TOPIC_BYTES_IN, 57.7e9 / 3 / day, {"topic": "clinical.adt"}),
                 Sample(ts, "trial1", TOPIC_REPLICATION, 3, {"topic": "clinical.adt"}),
                 Sample(ts, "trial1", TOPIC_RETENTION_MS, 30 * day * 1000, {"topic": "clinical.adt"})]
    store.write_samples(rows)
    store.close()
    code, out, err = cli("forecast", "storage", "-c", "trial1", "--tier", "basic", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["cluster"] == "trial1" and doc["basis"] == "retention (per topic)"
    assert doc["days_until_limit"] is None
    assert doc["projected_90d_bytes"] == pytest.approx(30 * 57.7e9, rel=0.01)
    assert [t["basis"] for t in doc["topics"]] == ["retention"]
    code, out, _ = cli("forecast", "storage", "-c", "trial1", "--tier", "basic")
    assert code == 0 and "projection: retention (per topic)" in out and "not reached" in out
    assert "clinical.adt" in out


def test_cloud_storage_and_forecast_storage_agree(cli: CLI, store_url: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """One forecaster: the emulator's retained-bytes series, read by `cloud storage` and recorded for
    `forecast storage`, gives the same growth and projections."""
    from datetime import UTC, datetime

    from brokerscale.store import Sample, open_store
    from cloud_fixtures import cli_env, running_emulator

    with running_emulator(tmp_path) as emu:
        cli_env(monkeypatch, emu)
        code, out, err = cli("cloud", "storage", "--days", "30", "--retention", "30d", "--format", "json")
        assert code == 0, err
        cloud = json.loads(out)
    store = open_store(store_url)  # the same daily points (P1D buckets start at midnight UTC)
    store.write_samples([Sample(datetime.strptime(d["date"], "%Y-%m-%d").replace(tzinfo=UTC).timestamp(),
                                "cc-health1", "retained_bytes", d["retained_bytes"], {}) for d in cloud["days"]])
    store.close()
    code, out, err = cli("forecast", "storage", "-c", "cc-health1", "--retention", "30d", "--history", "32d",
                         "--format", "json")
    assert code == 0, err
    local = json.loads(out)
    assert cloud["samples"] == local["samples"] >= 20
    assert cloud["daily_growth_bytes"] == pytest.approx(local["daily_growth_bytes"], rel=1e-6)
    assert cloud["ceiling_bytes"] == pytest.approx(local["ceiling_bytes"], rel=1e-6)
    assert cloud["projected_90d_bytes"] == pytest.approx(local["projected_90d_bytes"], rel=1e-3)
    assert cloud["basis"] == local["basis"]
