"""The audit log and metric history, in SQLite (default) or PostgreSQL (by URL).

This is an adapter: it owns the database connection and the clock used to stamp audit rows.
Everything that changes a cluster goes through `Store.audited(...)`, which writes the intent row
*before* the change runs and the result row after it, so a crash mid-change still leaves a trace.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, create_engine, delete, event, insert, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, OperationalError, SQLAlchemyError

from brokerscale.errors import BadInput, Unreachable, named
from brokerscale.paths import data_dir
from brokerscale.store import schema
from brokerscale.store.migrations import current_version, migrate
from brokerscale.store.redact import redact
from brokerscale.store.samples import Sample

ENV_URL = "BROKERSCALE_STORE_URL"


def default_url() -> str:
    return f"sqlite:///{data_dir() / 'brokerscale.db'}"


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers): the actor alone must do
        return None


def _dumps(obj: Any) -> str | None:
    return None if obj is None else json.dumps(redact(obj), sort_keys=True, default=str)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass
class AuditedChange:
    """Handle given to the block inside `Store.audited`; set `after` to record the resulting state.

    `stage` says how far the change got ("not sent", "sent, no answer yet", "accepted", ...): if the
    block is interrupted (Ctrl-C), the result row records it, so the audit says what is known — not
    an error that did not happen.
    """

    change_id: str
    action: str
    target: str
    correlation_id: str | None = None
    after: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    stage: str = "not sent"


class Store:
    """Audit log + metric history. Create with `open_store()`."""

    def __init__(self, engine: Engine, source: str) -> None:
        self.engine = engine
        self.source = source  # the URL with any password hidden: safe to print

    # -- schema ---------------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self._read() as conn:
            return current_version(conn)

    def close(self) -> None:
        self.engine.dispose()

    def _read(self) -> Connection:
        """A connection for reading: on SQLite its transaction is deferred, so readers never take the
        write lock (writes use `engine.begin()`, which takes it up front)."""
        return self.engine.connect().execution_options(brokerscale_read_only=True)

    # -- audit ----------------------------------------------------------------------------------
    def _append(self, row: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(schema.audit_log).values(**row))

    @contextmanager
    def audited(self, *, actor: str, action: str, target: str, intent: dict[str, Any] | None = None,
                before: dict[str, Any] | None = None, correlation_id: str | None = None,
                cluster: str | None = None, environment: str | None = None) -> Iterator[AuditedChange]:
        """Record a change: intent row now (committed), result row when the block ends.

        If the intent cannot be written the block does not run. If the block raises, the result row
        says `error` with the exception text and the exception propagates. An interrupt (Ctrl-C) is
        recorded as `interrupted` with the change's `stage`: whether the request was sent is known, its
        outcome is not until the target is read again (`record_outcome`). `cluster` (and
        `environment`) name where the target lives.
        """
        change = AuditedChange(change_id=uuid.uuid4().hex, action=action, target=target,
                               correlation_id=correlation_id)
        common = {"change_id": change.change_id, "actor": actor, "action": action, "target": target,
                  "correlation_id": correlation_id, "os_user": _os_user(), "host": socket.gethostname(),
                  "cluster": cluster, "environment": environment}
        self._append({**common, "kind": "intent", "ts": time.time(), "intent": _dumps(intent),
                      "before": _dumps(before), "result": "pending"})
        try:
            yield change
        except KeyboardInterrupt:
            self._append({**common, "kind": "result", "ts": time.time(), "after": _dumps(change.after),
                          "result": "interrupted", "error": f"interrupted; {change.stage}"})
            raise
        except BaseException as exc:
            text = named(exc)
            self._append({**common, "kind": "result", "ts": time.time(), "after": _dumps(change.after),
                          "result": "error", "error": text[:4000]})
            raise
        self._append({**common, "kind": "result", "ts": time.time(), "after": _dumps(change.after),
                      "result": "ok"})

    def interrupted_changes(self, target: str, action_prefix: str) -> list[dict[str, Any]]:
        """Changes to `target` that were interrupted and whose outcome has not been recorded yet."""
        return [r for r in self.audit_records(action_prefix=action_prefix, limit=50)
                if r["target"] == target and r["result"] == "interrupted" and r["outcome"] is None]

    def record_outcome(self, change: dict[str, Any], outcome: str, after: dict[str, Any] | None) -> None:
        """Append what reading the target later found for an interrupted change (the log stays append-only)."""
        self._append({"change_id": change["change_id"], "actor": change["actor"], "action": change["action"],
                      "target": change["target"], "correlation_id": change["correlation_id"],
                      "os_user": _os_user(), "host": socket.gethostname(), "cluster": change.get("cluster"),
                      "environment": change.get("environment"), "kind": "outcome", "ts": time.time(),
                      "after": _dumps(after), "result": outcome[:16]})

    def record_result(self, change_id: str, *, actor: str, action: str, target: str, result: str,
                      after: dict[str, Any] | None = None, error: str | None = None,
                      correlation_id: str | None = None) -> None:
        """Append the result of a change whose intent an earlier process wrote and never finished
        (a controller reconciling after a crash). Append-only, like every audit row."""
        self._append({"change_id": change_id, "actor": actor, "action": action, "target": target,
                      "correlation_id": correlation_id, "os_user": _os_user(), "host": socket.gethostname(),
                      "kind": "result", "ts": time.time(), "after": _dumps(after), "result": result,
                      "error": error})

    # -- leases ---------------------------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take or renew the lease `name` for `holder` until now + ttl_s. True if `holder` has it.

        One conditional UPDATE (ours, or expired) and, if no row exists yet, one INSERT whose primary
        key makes a concurrent second INSERT fail: atomic on SQLite and PostgreSQL alike.
        """
        t = schema.leases
        now = time.time()
        with self.engine.begin() as conn:
            got = conn.execute(update(t).where(t.c.name == name, or_(t.c.holder == holder, t.c.expires_at < now))
                               .values(holder=holder, acquired_at=now, expires_at=now + ttl_s)).rowcount
            if got:
                return True
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(t).values(name=name, holder=holder, acquired_at=now, expires_at=now + ttl_s))
            return True
        except IntegrityError:
            return False

    def release_lease(self, name: str, holder: str) -> None:
        t = schema.leases
        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.name == name, t.c.holder == holder))

    def lease(self, name: str) -> dict[str, Any] | None:
        """The lease's row (holder, acquired_at, expires_at) or None."""
        t = schema.leases
        with self._read() as conn:
            row = conn.execute(select(t).where(t.c.name == name)).mappings().first()
        return dict(row) if row else None

    def audit_records(self, action_prefix: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Most recent changes first, intent and result merged into one dict per change.

        Keys: change_id, ts (intent time), finished_ts, actor, os_user, host, action, target, cluster,
        environment, correlation_id, intent, before, after, result ("ok" | "error" | "interrupted" |
        "pending" when no result was written), error, outcome (for an interrupted change, what reading
        the target later found, else None) and outcome_ts.
        """
        t = schema.audit_log
        query = select(t).where(t.c.kind == "intent")
        if action_prefix:
            query = query.where(t.c.action.startswith(action_prefix, autoescape=True))
        query = query.order_by(t.c.id.desc()).limit(max(0, int(limit)))
        with self._read() as conn:
            intents = conn.execute(query).mappings().all()
            ids = [r["change_id"] for r in intents]
            results: dict[str, Any] = {}
            outcomes: dict[str, Any] = {}
            if ids:
                rq = select(t).where(and_(t.c.kind.in_(("result", "outcome")), t.c.change_id.in_(ids)))
                for row in conn.execute(rq).mappings().all():
                    (results if row["kind"] == "result" else outcomes)[row["change_id"]] = row
        out = []
        for r in intents:
            res = results.get(r["change_id"])
            found = outcomes.get(r["change_id"])
            after = _loads(res["after"]) if res else None
            if found is not None and after is None:
                after = _loads(found["after"])
            out.append({
                "change_id": r["change_id"], "ts": r["ts"], "finished_ts": res["ts"] if res else None,
                "actor": r["actor"], "os_user": r["os_user"], "host": r["host"],
                "action": r["action"], "target": r["target"], "cluster": r["cluster"],
                "environment": r["environment"],
                "correlation_id": r["correlation_id"], "intent": _loads(r["intent"]),
                "before": _loads(r["before"]), "after": after,
                "result": res["result"] if res else "pending", "error": res["error"] if res else None,
                "outcome": found["result"] if found is not None else None,
                "outcome_ts": found["ts"] if found is not None else None,
            })
        return out

    # -- metric history -------------------------------------------------------------------------
    def write_samples(self, samples: list[Sample]) -> None:
        if not samples:
            return
        rows = [{"ts": float(s.ts), "cluster": s.cluster, "metric": s.metric, "value": float(s.value),
                 "labels": json.dumps(dict(s.labels), sort_keys=True)} for s in samples]
        with self.engine.begin() as conn:
            conn.execute(insert(schema.metric_samples), rows)

    def read_samples(self, cluster: str, metric: str, since: float | None = None, until: float | None = None,
                     labels: dict[str, str] | None = None) -> list[Sample]:
        """Samples in time order; `since`/`until` are inclusive; `labels` must all match (subset)."""
        t = schema.metric_samples
        query = select(t.c.ts, t.c.value, t.c.labels).where(t.c.cluster == cluster, t.c.metric == metric)
        if since is not None:
            query = query.where(t.c.ts >= since)
        if until is not None:
            query = query.where(t.c.ts <= until)
        query = query.order_by(t.c.ts, t.c.id)
        want = {str(k): str(v) for k, v in (labels or {}).items()}
        out = []
        with self._read() as conn:
            for ts, value, raw in conn.execute(query):
                lab = json.loads(raw)
                if all(lab.get(k) == v for k, v in want.items()):
                    out.append(Sample(ts=ts, cluster=cluster, metric=metric, value=value, labels=lab))
        return out

    def prune_samples(self, older_than: float, cluster: str | None = None) -> int:
        """Delete metric samples with ts < `older_than` (history is bounded; the audit log never is).

        Returns how many were deleted.
        """
        t = schema.metric_samples
        stmt = delete(t).where(t.c.ts < older_than)
        if cluster is not None:
            stmt = stmt.where(t.c.cluster == cluster)
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).rowcount or 0)


def _sqlite_pragmas(engine: Engine) -> None:
    """Let several processes share the file: WAL, a busy timeout, and write-locking transactions."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (pysqlite's own handling is lax)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 30000")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get("brokerscale_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def open_store(url: str | None = None) -> Store:
    """Open (creating and migrating as needed) the store at `url`.

    `url`: an SQLAlchemy URL (`sqlite:///path.db`, `postgresql+psycopg2://user@host/db`) or a plain file
    path for SQLite. None -> `$BROKERSCALE_STORE_URL`, else `brokerscale.db` under the data dir.
    """
    raw = url or os.environ.get(ENV_URL) or default_url()
    if "://" not in raw:
        raw = f"sqlite:///{Path(raw).expanduser()}"
    try:
        parsed = make_url(raw)
    except ArgumentError:
        raise BadInput(f"{ENV_URL}: {raw.split('://')[0]}://...: not a database URL "
                       "(examples: sqlite:///audit.db, postgresql+psycopg2://user@host/db)") from None
    shown = parsed.render_as_string(hide_password=True)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database and parsed.database != ":memory:":
        try:
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"{shown}: cannot create the directory ({exc.strerror})") from None
    try:
        if is_sqlite:
            engine = create_engine(parsed, connect_args={"timeout": 30})
            _sqlite_pragmas(engine)
        else:
            timeout = {"connect_timeout": 5} if "postgres" in parsed.drivername else {}
            engine = create_engine(parsed, pool_pre_ping=True, connect_args=timeout)
    except (NoSuchModuleError, ImportError) as exc:
        raise BadInput(f"{shown}: unsupported database driver ({exc})") from None
    try:
        with engine.begin() as conn:
            migrate(conn, shown)
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise Unreachable(f"store {shown}: cannot open ({reason})") from None
    except SQLAlchemyError as exc:
        engine.dispose()
        raise BadInput(f"store {shown}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    return Store(engine, shown)
