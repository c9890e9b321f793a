"""The store's tables, declared once for SQLite and PostgreSQL alike.

The audit log is append-only by design: a change is two rows sharing a `change_id` — the intent,
written before anything happens, and the result, written after — so no row ever needs an UPDATE.
JSON payloads are stored as text so one schema serves both databases.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", Float, nullable=False),
    Column("description", String(200), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("change_id", String(32), nullable=False, index=True),
    Column("kind", String(8), nullable=False),  # "intent" | "result" | "outcome" (an interrupted change, reconciled)
    Column("ts", Float, nullable=False),
    Column("actor", String(200), nullable=False),  # the program part: "cli", "controller", "web"...
    Column("action", String(200), nullable=False, index=True),
    Column("target", String(500), nullable=False),
    Column("correlation_id", String(200), nullable=True, index=True),
    Column("intent", Text, nullable=True),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    # "pending" on intent rows; "ok" | "error" | "interrupted" on results; on outcome rows what reading the
    # target later found: "applied" | "not applied" | "in progress"
    Column("result", String(16), nullable=False),
    Column("error", Text, nullable=True),
    Column("os_user", String(200), nullable=True),  # the person (OS account) behind the actor; v3
    Column("host", String(255), nullable=True),  # v3
    Column("cluster", String(200), nullable=True),  # the cluster the target belongs to; v5
    Column("environment", String(200), nullable=True),  # e.g. a Confluent environment (env-...); v5
)

metric_samples = Table(
    "metric_samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("cluster", String(200), nullable=False),
    Column("metric", String(200), nullable=False),
    Column("value", Float, nullable=False),
    Column("labels", Text, nullable=False),  # canonical JSON (sorted keys)
    Index("ix_metric_samples_cluster_metric_ts", "cluster", "metric", "ts"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),  # what is led, e.g. "scale:confluent:lkc-abc"
    Column("holder", String(200), nullable=False),  # host:pid:uuid of the process that holds it
    Column("acquired_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)
