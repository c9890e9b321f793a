"""Where each cluster of a topology is and how to reach it (the connection adapter for `dr`).

A `dev` cluster is found in the data directory, a `config` cluster in brokerscale.yaml (its secrets
come from its `command_config` file). A Confluent cluster replicates by cluster link, never by
MirrorMaker (`dr/links.py` reaches it through Kafka REST v3).
"""

from __future__ import annotations

from brokerscale.connect import ConnectionProfile, resolve
from brokerscale.dr.topology import Topology
from brokerscale.errors import BadInput


def profile(topo: Topology, name: str, source: str = "topology") -> ConnectionProfile:
    """How to reach cluster `name` of the topology."""
    ref = topo.clusters[name]
    if ref.dev:
        from brokerscale.dev.cluster import DevCluster

        dev = DevCluster.find(ref.dev)
        if dev is None:
            raise BadInput(f"{source}: clusters.{name}.dev: no dev cluster named {ref.dev!r} "
                           f"(start it with `brokerscale dev up --name {ref.dev}`)")
        return ConnectionProfile(dev.bootstrap, dev.client_properties(), name)
    if ref.config:
        found = resolve(cluster=ref.config)
        return ConnectionProfile(found.bootstrap, found.properties, name)
    raise BadInput(f"{source}: clusters.{name}.confluent: a Confluent cluster has no bootstrap brokerscale reaches "
                   "with the admin API; it replicates through a cluster link (a flow between two confluent clusters)")
