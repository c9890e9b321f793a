"""Interrupted cluster changes, settled the next time the cluster is read.

A Ctrl-C during `cloud cluster resize --apply` leaves the audit saying only what was known then
(request not sent, sent without an answer, or accepted). Whether the change took effect is a fact of
the cluster, so every command that reads the cluster settles it: the outcome (applied / not applied)
and the cluster as read are appended to the audit log, next to the interrupted change.
"""

from __future__ import annotations

from typing import Any

from brokerscale.cloud.cmk import CloudCluster
from brokerscale.console import err
from brokerscale.errors import BrokerscaleError


def outcome(intent: dict[str, Any] | None, cluster: CloudCluster) -> str:
    """'applied' when the cluster's spec is what the interrupted PATCH asked for, else 'not applied'."""
    config = (((intent or {}).get("body") or {}).get("spec") or {}).get("config") or {}
    if "cku" in config:
        return "applied" if cluster.spec_cku == config["cku"] else "not applied"
    if "kind" in config:
        return "applied" if cluster.kind == config["kind"] else "not applied"
    return "not applied"


def settle_interrupted(cluster: CloudCluster) -> None:
    """Record the outcome of interrupted changes to `cluster` and say so on stderr. Never fails the read."""
    from brokerscale.store import open_store

    try:
        store = open_store()
    except BrokerscaleError as exc:
        err.print(f"[yellow]note:[/] interrupted changes to {cluster.id} not checked ({exc.message})", soft_wrap=True)
        return
    try:
        for change in store.interrupted_changes(cluster.id, "cloud.cluster."):
            found = outcome(change["intent"], cluster)
            store.record_outcome(change, found, cluster.summary())
            what = change["action"].removeprefix("cloud.cluster.")
            err.print(f"audit: the interrupted {what} of {cluster.id} (change {change['change_id'][:8]}) was "
                      f"{found}: {cluster.kind}, spec {cluster.spec_cku} / status {cluster.status_cku} CKUs, "
                      f"phase {cluster.phase}; recorded", soft_wrap=True)
    finally:
        store.close()
