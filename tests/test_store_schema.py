from __future__ import annotations

import getpass
import multiprocessing
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, inspect, text

from brokerscale.errors import BadInput, Unreachable
from brokerscale.store import open_store
from brokerscale.store import schema as tables
from brokerscale.store.migrations import LATEST, MIGRATIONS
from store_backends import BACKENDS, store_url


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from store_url(request.param, tmp_path)


def test_new_store_is_at_latest_version_with_samples_index(url: str) -> None:
    store = open_store(url)
    assert store.schema_version() == LATEST
    indexes = inspect(store.engine).get_indexes("metric_samples")
    assert any(ix["column_names"] == ["cluster", "metric", "ts"] for ix in indexes)
    store.close()


def test_reopening_keeps_data_and_version(url: str) -> None:
    s1 = open_store(url)
    with s1.audited(actor="cli", action="a", target="t", intent={}):
        pass
    s1.close()
    s2 = open_store(url)
    assert s2.schema_version() == LATEST
    assert len(s2.audit_records()) == 1
    s2.close()


def test_old_database_is_migrated_forward(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables.schema_version.create(conn)
        MIGRATIONS[0].apply(conn)
        conn.execute(tables.schema_version.insert().values(version=1, applied_at=0.0, description="v1"))
        conn.execute(tables.audit_log.insert().values(change_id="c1", kind="intent", ts=1.0, actor="old",
                                                      action="a", target="t", result="pending"))
    engine.dispose()
    store = open_store(url)
    assert store.schema_version() == LATEST
    assert store.audit_records()[0]["actor"] == "old"
    with pytest.raises(Exception, match="append-only"), store.engine.begin() as conn:  # v2 trigger now there
        conn.execute(text("DELETE FROM audit_log"))
    store.close()


def _v2_database(url: str) -> None:
    """A database as brokerscale left it at schema version 2 (audit_log without os_user/host)."""
    legacy = MetaData()
    audit = Table("audit_log", legacy,
                  Column("id", Integer, primary_key=True, autoincrement=True),
                  *[Column(n, String(200), nullable=n not in ("change_id", "kind", "actor", "action", "target",
                                                              "result"))
                    for n in ("change_id", "kind", "actor", "action", "target", "correlation_id", "result")],
                  Column("ts", Float, nullable=False),
                  *[Column(n, Text) for n in ("intent", "before", "after", "error")])
    engine = create_engine(url)
    with engine.begin() as conn:
        tables.schema_version.create(conn)
        legacy.create_all(conn)
        tables.metric_samples.create(conn)
        MIGRATIONS[1].apply(conn)
        for v in (1, 2):
            conn.execute(tables.schema_version.insert().values(version=v, applied_at=0.0, description=f"v{v}"))
        conn.execute(audit.insert().values(change_id="c1", kind="intent", ts=1.0, actor="old", action="a",
                                           target="t", result="pending"))
    engine.dispose()


def test_v2_database_gains_who_columns(url: str) -> None:
    _v2_database(url)
    store = open_store(url)
    assert store.schema_version() == LATEST >= 3
    with store.audited(actor="cli", action="b", target="t", intent={}):
        pass
    new, old = store.audit_records()
    assert (old["actor"], old["os_user"]) == ("old", None)
    assert new["os_user"] == getpass.getuser() and new["host"] == socket.gethostname()
    store.close()


def test_database_from_a_newer_brokerscale_is_refused(url: str) -> None:
    open_store(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        newer = tables.schema_version.insert().values(version=LATEST + 1, applied_at=0.0, description="x")
        conn.execute(newer)
    engine.dispose()
    with pytest.raises(BadInput, match="upgrade brokerscale"):
        open_store(url)


def test_default_location_and_env_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROKERSCALE_STORE_URL", raising=False)
    monkeypatch.setenv("BROKERSCALE_DATA_DIR", str(tmp_path / "data"))
    open_store().close()
    assert (tmp_path / "data" / "brokerscale.db").exists()
    monkeypatch.setenv("BROKERSCALE_STORE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    open_store().close()
    assert (tmp_path / "env.db").exists()
    open_store(str(tmp_path / "plain-path.db")).close()
    assert (tmp_path / "plain-path.db").exists()


def test_bad_and_unreachable_urls_are_one_line_errors() -> None:
    with pytest.raises(BadInput, match="not a database URL"):
        open_store("bad url://x")
    with pytest.raises(BadInput, match="unsupported database driver"):
        open_store("nosuchdb://u@h/x")
    with pytest.raises(Unreachable, match="cannot open") as info:
        open_store("postgresql+psycopg2://u:topsecret@127.0.0.1:1/x")
    assert "topsecret" not in str(info.value)


def _writer(url: str, n: int) -> None:
    store = open_store(url)
    for i in range(n):
        with store.audited(actor="proc", action="concurrent", target=str(i), intent={}):
            pass
    store.close()


def test_processes_sharing_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(url, 10)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    store = open_store(url)
    records = store.audit_records(limit=100)
    assert len(records) == 30 and all(r["result"] == "ok" for r in records)
    store.close()


def test_an_open_reader_does_not_block_a_writer(tmp_path: Path) -> None:
    """Observers read history while controllers write audit rows: on SQLite a reader must not hold the
    write lock (it would stall every writer for the busy timeout)."""
    store = open_store(f"sqlite:///{tmp_path / 'rw.db'}")
    reader = open_store(f"sqlite:///{tmp_path / 'rw.db'}")
    with reader.engine.connect().execution_options(brokerscale_read_only=True) as conn:
        conn.execute(text("SELECT count(*) FROM audit_log")).scalar()  # read transaction now open
        started = time.monotonic()
        with store.audited(actor="cli", action="a", target="t", intent={}):
            pass
        # a blocked writer waits out the 30 s busy timeout (then fails); an unblocked one is far quicker
        # even when a busy machine makes each fsync slow
        assert time.monotonic() - started < 20
    assert len(store.audit_records()) == 1
    store.close()
    reader.close()
