"""What the autoscaler reads about replication before it changes a cluster (the "replication healthy"
item of `scale run`'s pre-checks).

Draining a broker of a flow's source or target while the disaster-recovery copy lags or has stopped
widens what a failover would lose, so `scale run` blocks scale-downs of either end on a critical
replication finding. The probe answers two questions for the scaled cluster: which flows have it at an
end, and what the replication rules (`replication_lag_seconds`, `replication_stopped`) find for them —
the same findings `check`, the exporter and `cloud check` show, read from the flows' watcher files
(no request to either cluster).

Which flows: those of `--topology FILE` when given (validated when `scale run` starts), else those the
last `dr up --apply` started (re-read every time: a `dr up` or `dr down` while the controller runs
counts). Anything that stops the probe from answering is raised, so the controller can fail closed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from brokerscale.dr.status import DirectionStatus
from brokerscale.dr.topology import Topology, load_topology
from brokerscale.errors import BrokerscaleError
from brokerscale.model.snapshot import Finding
from brokerscale.observe.rules import RuleSet


@dataclass(frozen=True)
class ReplicationView:
    """The flows with the scaled cluster at an end, and their replication findings."""

    topology: str  # where the flows were declared ("" when no topology is started or given)
    flows: list[str]  # "name (source -> target, state[, lag N s])", one per direction
    findings: list[Finding]


class ReplicationUnreadable(BrokerscaleError):
    """The probe could not tell which flows touch the cluster or how they are doing."""


class TopologyProbe:
    """Replication of one cluster: a self-managed one by its bootstrap, a Confluent one by its id."""

    def __init__(self, rules: RuleSet, *, topology: Path | None = None, bootstrap: str | None = None,
                 confluent_id: str | None = None) -> None:
        self.rules, self.bootstrap, self.confluent_id = rules, bootstrap, confluent_id
        self.path = topology
        self.fixed: Topology | None = load_topology(topology) if topology is not None else None

    def _topology(self) -> tuple[Topology | None, str]:
        """The topology and the file it came from (None, "": no topology given or started)."""
        if self.fixed is not None:
            return self.fixed, str(self.path)
        from brokerscale.dr.flows import current_topology, saved_topology_path

        if not saved_topology_path().exists():
            return None, ""
        return current_topology(None)

    def matching(self, topo: Topology, source: str = "topology") -> list[str]:
        """Names of the flows with this cluster at one end."""
        from brokerscale.dr.clusters import profile
        from brokerscale.dr.triggers import endpoints, link_bootstraps

        mine = endpoints(self.bootstrap or "")
        names = []
        for name, flow in topo.flows.items():
            ends = (flow.source, flow.target)
            if self.confluent_id is not None:
                if self.confluent_id in (topo.clusters[c].confluent for c in ends):
                    names.append(name)
                continue
            if topo.is_link(name):  # Confluent ends: the bootstraps the link's watcher recorded
                known = link_bootstraps(name)
                boots = [known.get(c, "") for c in ends]
            else:
                boots = [profile(topo, c, source).bootstrap for c in ends]
            if any(mine & endpoints(boot) for boot in boots):
                names.append(name)
        return names

    def read(self) -> ReplicationView:
        from brokerscale.dr.triggers import findings, watched

        try:
            topo, source = self._topology()
            if topo is None:
                return ReplicationView("", [], [])
            names = self.matching(topo, source)
            now = time.time()
            statuses = [st for n in names for st in watched(topo, n, now=now)]
        except (BrokerscaleError, OSError, ValueError, KeyError) as exc:
            raise ReplicationUnreadable(f"replication state unreadable: {exc}") from None
        where = source if self.fixed is not None else f"{source} (started by `dr up --apply`)"
        return ReplicationView(where, [describe(st) for st in statuses], findings(statuses, self.rules, now=now))


def describe(st: DirectionStatus) -> str:
    lag = f", lag {st.lag_seconds:.0f} s" if st.lag_seconds is not None and st.state == "running" else ""
    return f"{st.flow} ({st.source} -> {st.target}, {st.state}{lag})"
