"""`brokerscale audit`: what teammates' changes look like to the person reading the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brokerscale.store import open_store


@pytest.fixture()
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("BROKERSCALE_STORE_URL", url)
    store = open_store(url)
    with store.audited(actor="cli", action="topics.alter_config", target="clinical.adt",
                       intent={"retention.ms": "604800000"}, before={"retention.ms": "86400000"}) as c:
        c.after = {"retention.ms": "604800000"}
    with pytest.raises(RuntimeError), store.audited(actor="controller", action="scale.add_broker",
                                                    target="local", intent={"brokers": 4}):
        raise RuntimeError("quota exceeded")
    store.close()
    return url


def test_json_lists_changes_most_recent_first(cli, store_url: str) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("audit", "--format", "json")
    assert code == 0
    records = json.loads(out)
    assert [r["action"] for r in records] == ["scale.add_broker", "topics.alter_config"]
    assert records[0]["result"] == "error" and "quota exceeded" in records[0]["error"]
    assert records[1]["before"] == {"retention.ms": "86400000"}


def test_filter_limit_and_table(cli, store_url: str) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("audit", "--action", "topics.", "--format", "json")
    assert [r["target"] for r in json.loads(out)] == ["clinical.adt"]
    code, out, _ = cli("audit", "--limit", "1", "--format", "json")
    assert len(json.loads(out)) == 1
    code, out, _ = cli("audit")
    assert code == 0
    assert "topics.alter_config" in out and "scale.add_broker" in out and "quota exceeded" in out
    code, out, _ = cli("audit", "--action", "nothing.")
    assert code == 0 and "no audit records" in out


def test_bad_limit_and_unreachable_store_are_one_line(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("audit", "--limit", "0")
    assert code == 2 and "--limit" in err
    monkeypatch.setenv("BROKERSCALE_STORE_URL", "postgresql+psycopg2://bs:hunter2@127.0.0.1:1/audit")
    code, out, err = cli("audit")
    assert code == 69  # an unreachable store is an outage, not bad input
    assert "cannot open" in err and "hunter2" not in err + out
    assert len(err.strip().splitlines()) == 1
