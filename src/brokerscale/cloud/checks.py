"""Confluent Cloud Snapshot -> observe's triggers (pure): utilisation against the cluster's CKUs.

The point of mapping Confluent's metrics onto the shared Snapshot is that nothing here is new: the
rules, the utilisation arithmetic and the findings are observe's. Only the capacity differs: CKUs
from `dedicated_cku_count` (or status.cku) under a limits profile. Basic and Standard clusters have no
CKUs; they get the lag and health rules only.
"""

from __future__ import annotations

from pathlib import Path

from brokerscale.model.snapshot import Finding, Snapshot
from brokerscale.observe.capacity import from_ckus, utilization
from brokerscale.observe.rules import load_rules
from brokerscale.observe.summary import check_text
from brokerscale.observe.triggers import evaluate


def run_check(snap: Snapshot, *, rules_file: Path | None, limits_name: str,
              cluster_id: str | None = None) -> tuple[int, str, list[Finding]]:
    """(exit code, check text, findings) in the monitoring convention: 0 OK, 1 WARNING, 2 CRITICAL.

    The text is `brokerscale check`'s: the summary line first, then one line per finding. With
    `cluster_id`, the replication triggers of every started cluster-link flow with that cluster at an
    end join in (from the link watcher's samples: no extra request)."""
    rules = load_rules(rules_file)
    cap = from_ckus(snap.cku_count, limits_name) if snap.cku_count else None
    utils = utilization(snap, cap) if cap is not None else []
    findings = evaluate(snap, rules, utils, cap)
    if cluster_id is not None:
        from brokerscale.dr.triggers import link_findings

        findings += link_findings(cluster_id, rules)
    load = "" if snap.cluster_load_percent is None else f", cluster load {snap.cluster_load_percent:.0f}%"
    ckus = f"{snap.cku_count} CKU" if snap.cku_count else "no CKUs"
    code, text = check_text(findings, f"{snap.cluster} ({ckus}{load})")
    return code, text, findings
