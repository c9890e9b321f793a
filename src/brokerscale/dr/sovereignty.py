"""The data-sovereignty rule: "keep patient data in appropriate geographic regions".

A topic of one of the topic policy's PHI classes may only be copied into a jurisdiction the topology
file allows for that class. The rule is applied twice: against the topics that exist when a flow is
started (a selected PHI topic into a disallowed jurisdiction refuses the start, naming topic, class and
jurisdiction), and in every generated MirrorMaker configuration, whose `topics.exclude` carries the
prefixes of every disallowed PHI class — so a PHI topic created later is never mirrored there either.
Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from brokerscale.dr.topology import Flow, Topology
from brokerscale.topics.policy import TopicPolicy


@dataclass(frozen=True)
class Refusal:
    """A PHI topic a flow would copy into a jurisdiction its class is not allowed in."""

    flow: str
    topic: str
    topic_class: str
    source: str
    target: str
    jurisdiction: str
    allowed: tuple[str, ...]

    @property
    def message(self) -> str:
        allowed = ", ".join(self.allowed) or "none"
        return (f"flow {self.flow}: topic {self.topic!r} (PHI class {self.topic_class}) may not be copied to "
                f"{self.target} in jurisdiction {self.jurisdiction} (allowed for {self.topic_class}: {allowed})")


def allowed_jurisdictions(topo: Topology, topic_class: str, source_cluster: str) -> tuple[str, ...]:
    """Where data of a PHI class from `source_cluster` may go: the class's own list, else the file's
    PHI list, else only the source's jurisdiction."""
    rule = topo.data_sovereignty
    if topic_class in rule.classes:
        return tuple(rule.classes[topic_class])
    if rule.phi_jurisdictions is not None:
        return tuple(rule.phi_jurisdictions)
    return (topo.clusters[source_cluster].jurisdiction,)


def disallowed_classes(topo: Topology, policy: TopicPolicy, source: str, target: str) -> list[str]:
    """PHI classes of the policy that may not be copied from `source` into `target`'s jurisdiction."""
    where = topo.clusters[target].jurisdiction
    return [name for name, cls in policy.classes.items()
            if cls.phi and where not in allowed_jurisdictions(topo, name, source)]


def exclusion_patterns(topo: Topology, policy: TopicPolicy, source: str, target: str) -> list[str]:
    """Regexes (MirrorMaker `topics.exclude`) for every topic of a disallowed PHI class.

    A class matches by prefix; excluding every prefix of a disallowed class may also exclude a topic
    whose longer prefix belongs to an allowed class — the safe side for patient data.
    """
    prefixes = sorted({p for name in disallowed_classes(topo, policy, source, target)
                       for p in policy.classes[name].prefixes})
    return [re.escape(p) + ".*" for p in prefixes]


def refusals(topo: Topology, policy: TopicPolicy, flow_name: str, flow: Flow,
             topics_by_cluster: dict[str, list[str]]) -> list[Refusal]:
    """Every topic a flow selects (in each of its directions) that the rule forbids copying."""
    out: list[Refusal] = []
    for source, target in flow.directions():
        where = topo.clusters[target].jurisdiction
        for topic in topics_by_cluster.get(source, []):
            if not flow.selects(topic):
                continue
            found = policy.classify(topic)
            if found is None or not found[1].phi:
                continue
            allowed = allowed_jurisdictions(topo, found[0], source)
            if where not in allowed:
                out.append(Refusal(flow_name, topic, found[0], source, target, where, allowed))
    return out


def check_classes(topo: Topology, policy: TopicPolicy, source: str) -> str | None:
    """`data_sovereignty.classes.X: reason` when the file names a class the policy does not have or that
    is not PHI (a typo there would silently leave the class under the general rule)."""
    for name in topo.data_sovereignty.classes:
        if name not in policy.classes:
            return (f"{source}: data_sovereignty.classes.{name}: no such class in the topic policy "
                    f"(classes: {', '.join(policy.classes)})")
        if not policy.classes[name].phi:
            return f"{source}: data_sovereignty.classes.{name}: class {name!r} is not PHI; the rule only covers PHI"
    return None
