"""Forward-only schema migrations, numbered; the `schema_version` table records which ran.

Opening a store brings its schema up to the newest version this code knows. A database written by
a newer brokerscale (a higher version than we know) is refused rather than silently misread.
Each step must be idempotent enough to survive two processes racing to migrate the same file: the
race is serialised by a write lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL advisory lock).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, inspect, select

from brokerscale.errors import BadInput
from brokerscale.store import schema


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _v1_tables(conn: Connection) -> None:
    schema.audit_log.create(conn, checkfirst=True)
    schema.metric_samples.create(conn, checkfirst=True)


_SQLITE_APPEND_ONLY = [
    """CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
]
_PG_APPEND_ONLY = [
    """CREATE OR REPLACE FUNCTION brokerscale_audit_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
       FOR EACH ROW EXECUTE FUNCTION brokerscale_audit_append_only()""",
]


def _v2_append_only(conn: Connection) -> None:
    dialect = conn.dialect.name
    statements = {"sqlite": _SQLITE_APPEND_ONLY, "postgresql": _PG_APPEND_ONLY}.get(dialect, [])
    for sql in statements:
        conn.exec_driver_sql(sql)


def _v3_who(conn: Connection) -> None:
    have = {c["name"] for c in inspect(conn).get_columns("audit_log")}
    for name, size in (("os_user", 200), ("host", 255)):
        if name not in have:  # a database created at v1 by this code already has them
            conn.exec_driver_sql(f"ALTER TABLE audit_log ADD COLUMN {name} VARCHAR({size})")


def _v4_no_truncate(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":  # SQLite has no TRUNCATE; its DELETE is already refused
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        conn.exec_driver_sql("""CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
                                FOR EACH STATEMENT EXECUTE FUNCTION brokerscale_audit_append_only()""")


def _v5_leases(conn: Connection) -> None:
    schema.leases.create(conn, checkfirst=True)


def _v6_where(conn: Connection) -> None:
    have = {c["name"] for c in inspect(conn).get_columns("audit_log")}
    for name in ("cluster", "environment"):
        if name not in have:  # a database created at v1 by this code already has them
            conn.exec_driver_sql(f"ALTER TABLE audit_log ADD COLUMN {name} VARCHAR(200)")


MIGRATIONS: list[Migration] = [
    Migration(1, "audit_log and metric_samples tables", _v1_tables),
    Migration(2, "audit_log append-only triggers", _v2_append_only),
    Migration(3, "audit_log: OS user and host of every change", _v3_who),
    Migration(4, "audit_log: refuse TRUNCATE (PostgreSQL)", _v4_no_truncate),
    Migration(5, "leases: one acting controller per target", _v5_leases),
    Migration(6, "audit_log: the cluster and environment of every change", _v6_where),
]
LATEST = MIGRATIONS[-1].version


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table("schema_version"):
        return 0
    return int(conn.execute(select(func.coalesce(func.max(schema.schema_version.c.version), 0))).scalar_one())


def migrate(conn: Connection, source: str) -> int:
    """Apply every migration newer than the database's version, inside the caller's transaction."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(424242)")
    schema.schema_version.create(conn, checkfirst=True)
    version = current_version(conn)
    if version > LATEST:
        raise BadInput(f"{source}: schema_version: database is at version {version}, this brokerscale "
                       f"knows up to {LATEST} (upgrade brokerscale)")
    for step in MIGRATIONS:
        if step.version > version:
            step.apply(conn)
            conn.execute(insert(schema.schema_version).values(
                version=step.version, applied_at=time.time(), description=step.description))
    return LATEST
