from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from brokerscale.store import Store, open_store
from store_backends import BACKENDS, store_url


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    for url in store_url(request.param, tmp_path):
        s = open_store(url)
        yield s
        s.close()


def test_intent_is_written_before_the_change_runs(store: Store) -> None:
    seen_inside: list[dict] = []
    with store.audited(actor="cli", action="topics.alter_config", target="clinical.adt",
                       intent={"retention.ms": "604800000"}, before={"retention.ms": "86400000"}) as change:
        seen_inside.extend(store.audit_records())
        change.after = {"retention.ms": "604800000"}
    assert len(seen_inside) == 1
    assert seen_inside[0]["result"] == "pending"
    assert seen_inside[0]["intent"] == {"retention.ms": "604800000"}
    [rec] = store.audit_records()
    assert rec["change_id"] == change.change_id
    assert rec["result"] == "ok"
    assert rec["before"] == {"retention.ms": "86400000"}
    assert rec["after"] == {"retention.ms": "604800000"}
    assert rec["finished_ts"] >= rec["ts"]
    assert (rec["actor"], rec["action"], rec["target"]) == ("cli", "topics.alter_config", "clinical.adt")


def test_failed_change_records_error_and_reraises(store: Store) -> None:
    with pytest.raises(RuntimeError, match="broker said no"), \
            store.audited(actor="controller", action="scale.add_broker", target="local", intent={"n": 4},
                          correlation_id="decision-7"):
        raise RuntimeError("broker said no")
    [rec] = store.audit_records()
    assert rec["result"] == "error"
    assert "broker said no" in rec["error"]
    assert rec["correlation_id"] == "decision-7"
    assert rec["after"] is None


def test_change_does_not_run_when_intent_cannot_be_written(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE audit_log")
    ran = False
    with pytest.raises(SQLAlchemyError), store.audited(actor="cli", action="x", target="y", intent={}):
        ran = True
    assert not ran


def test_audit_rows_cannot_be_updated_or_deleted(store: Store) -> None:
    with store.audited(actor="cli", action="a", target="t", intent={"x": 1}) as change:
        change.after = {"x": 1}
    statements = ["UPDATE audit_log SET result = 'ok' WHERE kind = 'intent'", "DELETE FROM audit_log"]
    if store.engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_log")
    for sql in statements:
        with pytest.raises(SQLAlchemyError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(sql))
    assert store.audit_records()[0]["result"] == "ok"


def test_secrets_never_reach_the_audit_log(store: Store) -> None:
    intent = {"bootstrap": "b:9092", "properties": {"sasl.jaas.config": 'x password="hunter2";',
                                                     "sasl.password": "hunter2", "api_key": "ABC"},
              "items": [{"client_secret": "s3cr3t"}],
              "argv": ["--producer-props", 'sasl.jaas.config=x required username="u" password="pw-in-argv";',
                       "ssl.key.password=keypw1"]}
    with store.audited(actor="cli", action="cloud.resize", target="lkc-1", intent=intent) as change:
        change.after = {"token": "tok-999", "cku": 3}
    with store.engine.connect() as conn:
        raw = json.dumps([list(r) for r in conn.execute(text("SELECT * FROM audit_log"))], default=str)
    for secret in ("hunter2", "ABC", "s3cr3t", "tok-999", "pw-in-argv", "keypw1"):
        assert secret not in raw
    rec = store.audit_records()[0]
    assert rec["intent"]["bootstrap"] == "b:9092"
    assert rec["after"]["cku"] == 3
    assert rec["intent"]["argv"][0] == "--producer-props" and 'username="u"' in rec["intent"]["argv"][1]


def test_records_are_most_recent_first_filtered_and_limited(store: Store) -> None:
    for i, action in enumerate(["topics.create", "topics.alter_config", "scale.add_broker", "topics_x.odd"]):
        with store.audited(actor="cli", action=action, target=f"t{i}", intent={"i": i}):
            pass
    assert [r["action"] for r in store.audit_records()] == [
        "topics_x.odd", "scale.add_broker", "topics.alter_config", "topics.create"]
    assert [r["target"] for r in store.audit_records(action_prefix="topics.")] == ["t1", "t0"]
    assert len(store.audit_records(limit=2)) == 2
    # LIKE wildcards in the prefix are literal: "topics_" must not match "topics."
    assert [r["action"] for r in store.audit_records(action_prefix="topics_")] == ["topics_x.odd"]


def test_unfinished_change_shows_pending(store: Store) -> None:
    cm = store.audited(actor="cli", action="rebalance.execute", target="local", intent={"moves": 3})
    cm.__enter__()  # the process "dies" here: no result row
    [rec] = store.audit_records()
    assert rec["result"] == "pending"
    assert rec["finished_ts"] is None
