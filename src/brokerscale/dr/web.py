"""What the dashboard's DR page shows: the started flows' status and their last failovers."""

from __future__ import annotations

import json
from typing import Any

from brokerscale.errors import BrokerscaleError


def dr_status() -> dict[str, Any]:
    from brokerscale.dr.failover import state_path
    from brokerscale.dr.flows import current_topology, saved_topology_path
    from brokerscale.dr.status import collect
    from brokerscale.topics.policy import load_policy

    if not saved_topology_path().exists():
        return {"available": False, "message": "Disaster recovery: no replication flows started yet. Start them with "
                "`brokerscale dr up --topology FILE --apply`; this page then shows each flow's lag, checkpoints "
                "and last failover."}
    try:
        topo, source = current_topology(None)
        from brokerscale.dr import links as dr_links

        with dr_links.clients(topo, source) as cl:
            flows = [d.to_json() for name in topo.flows
                     for d in (dr_links.collect(topo, name, load_policy(), cl) if topo.is_link(name)
                               else collect(topo, name, load_policy()))]
    except BrokerscaleError as exc:
        return {"available": False, "message": f"Disaster recovery: the flows' status could not be read: {exc.message}"}
    failovers = []
    for name in topo.flows:
        path = state_path(name)
        if path.exists():
            doc = json.loads(path.read_text())
            failovers.append({k: doc.get(k) for k in ("flow", "source", "target", "rpo_records", "rpo_seconds",
                                                      "rpo_exact", "rto_seconds", "bootstrap", "failed_over_at")})
    return {"available": True, "topology": source, "flows": flows, "failovers": failovers}
