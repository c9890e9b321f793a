"""Audit log and metric history: SQLite file by default, PostgreSQL by URL (`BROKERSCALE_STORE_URL`)."""

from brokerscale.store.samples import Sample
from brokerscale.store.store import AuditedChange, Store, data_dir, default_url, open_store

__all__ = ["AuditedChange", "Sample", "Store", "data_dir", "default_url", "open_store"]
