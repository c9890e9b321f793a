"""What a workload's requirements ask of the emitted deployment files, in words for their header.

Every emitted file opens with these lines so a reviewer of a change request can see, without running
anything, which requirement each file claims to satisfy and how; `brokerscale lint` checks the claim.
"""

from __future__ import annotations

from brokerscale.model.workload import Workload

#: PHI replication defaults (the scaling guide's: RF 3, min ISR 2, never an unclean election).
PHI_REPLICATION_FACTOR = 3
PHI_MIN_INSYNC_REPLICAS = 2

_HOW = {
    "terraform": {
        "phi": "topics replicated with min.insync.replicas 2, cleanup.policy delete, finite retention",
        "private-networking": "a confluent_network (or private link attachment) and its access resource; "
                              "the cluster has no public endpoint",
        "multi-region": "not covered by this file: run `brokerscale dr` for the second region",
    },
    "strimzi": {
        "phi": "TLS-only listeners with authentication, simple authorization with super users, rack "
               "awareness, RF 3 / min ISR 2 / unclean election off, least-privilege KafkaUsers",
        "private-networking": "internal listeners only (no route, load balancer or node port)",
        "multi-region": "not covered by this file: run `brokerscale dr` for the second region",
    },
    "statefulset": {
        "phi": "SSL listeners with client certificates (keystore Secret mounted), StandardAuthorizer with "
               "super users, broker.rack from the node's zone, anti-affinity across zones, "
               "PodDisruptionBudget maxUnavailable 1, RF 3 / min ISR 2 / unclean election off",
        "private-networking": "a headless ClusterIP Service only (nothing exposed outside the cluster)",
        "multi-region": "not covered by this file: run `brokerscale dr` for the second region",
    },
    "clients": {
        "phi": "TLS to the cluster CA with hostname verification, the application's own principal "
               "(SCRAM-SHA-512 or a client certificate), its secret read from a mounted Secret at start-up "
               "(never in this file), acks=all with idempotence",
        "private-networking": "the cluster's internal bootstrap service only",
        "multi-region": "not covered by this file: run `brokerscale dr` for the second region",
    },
}


def is_phi(workload: Workload) -> bool:
    return "phi" in workload.requirements


def requirements_header(workload: Workload, kind: str) -> list[str]:
    """Comment lines (without the comment marker) naming each requirement and how the file meets it."""
    if not workload.requirements:
        return ["Requirements: none declared (no phi, private-networking or multi-region): plain listeners "
                "and defaults. Declare `requirements: [phi]` in the workload for PHI-safe files."]
    lines = [f"Requirements: {', '.join(workload.requirements)}"]
    for req in workload.requirements:
        lines.append(f"  {req}: {_HOW[kind][req]}")
    return lines
