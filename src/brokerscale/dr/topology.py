"""The topology file: which clusters exist (by name, region and jurisdiction) and which replication
flows run between them.

It is the one place a platform engineer declares regions, so validation is strict: an unknown key, a
flow naming a cluster that is not declared, a regex that does not compile or an identity replication
policy on an active-active flow (records would loop between the clusters forever) is one line naming
the file and the field, exit 2, before anything is started.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from brokerscale.errors import BadInput, from_validation_error
from brokerscale.model.files import read_yaml

NAME_RE = r"[A-Za-z][A-Za-z0-9_-]{0,39}"
JURISDICTION_RE = r"[A-Z][A-Z0-9-]{1,15}"
FlowMode = Literal["active-passive", "active-active", "one-way"]
PolicyName = Literal["identity", "default"]

#: MirrorMaker's replication policy classes, by the short name the topology file uses.
POLICY_CLASSES = {
    "identity": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
    "default": "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
}


def _regexes(values: list[str]) -> list[str]:
    for v in values:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"{v!r} is not a valid regular expression ({exc})") from None
    return values


class ClusterRef(BaseModel):
    """One cluster: exactly one of a local dev cluster, a brokerscale.yaml cluster or a Confluent cluster id."""

    model_config = ConfigDict(extra="forbid")

    dev: str | None = Field(None, description="name of a local dev cluster (`brokerscale dev up --name …`)")
    config: str | None = Field(None, description="name of a cluster in brokerscale.yaml")
    confluent: str | None = Field(None, pattern=r"^lkc-[a-z0-9]+$", description="Confluent cluster id (lkc-…)")
    environment: str | None = Field(None, pattern=r"^env-[a-z0-9]+$",
                                    description="Confluent environment id (env-…) of a confluent cluster")
    credentials_file: str | None = Field(
        None, description="file with `key:` and `secret:` of an API key of this Confluent cluster (its REST "
                          "endpoint, and the cluster link's login when it is a source); default: the Cloud key "
                          "from CONFLUENT_CLOUD_API_KEY / _SECRET")
    region: str = Field(min_length=1)
    jurisdiction: str = Field(pattern=f"^{JURISDICTION_RE}$",
                              description="where the data lives legally, e.g. US, EU, CA")

    @model_validator(mode="after")
    def _one_kind(self) -> ClusterRef:
        given = [k for k in ("dev", "config", "confluent") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of dev, config or confluent "
                             f"({'none' if not given else ' and '.join(given)} given)")
        if self.environment and not self.confluent:
            raise ValueError("environment: only for a confluent cluster")
        if self.credentials_file and not self.confluent:
            raise ValueError("credentials_file: only for a confluent cluster")
        if self.confluent and not self.environment:
            raise ValueError("environment: a confluent cluster needs its environment id (env-…)")
        return self

    @property
    def kind(self) -> str:
        return "dev" if self.dev else "config" if self.config else "confluent"

    @property
    def ref(self) -> str:
        return str(self.dev or self.config or self.confluent)


class Flow(BaseModel):
    """A replication flow from one cluster to another, with the topics and consumer groups it carries."""

    model_config = ConfigDict(extra="forbid")

    source: str
    target: str
    mode: FlowMode = "active-passive"
    topics: list[str] = Field(min_length=1, description="regular expressions of topic names to replicate")
    exclude: list[str] = Field(default_factory=list, description="regular expressions of topics never to replicate")
    groups: list[str] = Field(default_factory=lambda: [".*"], description="consumer groups whose offsets are synced")
    replication_policy: PolicyName = "identity"
    replication_factor: int = Field(3, ge=1, le=10)

    @field_validator("topics", "exclude", "groups")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        return _regexes(v)

    @model_validator(mode="after")
    def _no_loops(self) -> Flow:
        if self.source == self.target:
            raise ValueError("target: must differ from source")
        if self.mode == "active-active" and self.replication_policy == "identity":
            raise ValueError("replication_policy: identity cannot be used with mode active-active (a record "
                             "would be copied back and forth forever); use replication_policy: default")
        return self

    def directions(self) -> list[tuple[str, str]]:
        """(source, target) pairs this flow copies along: both ways for active-active."""
        pairs = [(self.source, self.target)]
        if self.mode == "active-active":
            pairs.append((self.target, self.source))
        return pairs

    def selects(self, topic: str) -> bool:
        """True if the flow's selectors take `topic` (and its own exclusions do not drop it)."""
        return (any(re.fullmatch(p, topic) for p in self.topics)
                and not any(re.fullmatch(p, topic) for p in self.exclude))


class Sovereignty(BaseModel):
    """Where data of the topic policy's PHI classes may be copied to.

    `phi_jurisdictions` applies to every PHI class; `classes` overrides it for one class. Left out, PHI
    may only be copied within the jurisdiction of the cluster it comes from.
    """

    model_config = ConfigDict(extra="forbid")

    phi_jurisdictions: list[str] | None = None
    classes: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("phi_jurisdictions")
    @classmethod
    def _codes(cls, v: list[str] | None) -> list[str] | None:
        for code in v or []:
            if not re.fullmatch(JURISDICTION_RE, code):
                raise ValueError(f"{code!r} is not a jurisdiction code (upper case, e.g. US, EU)")
        return v

    @field_validator("classes")
    @classmethod
    def _class_codes(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for codes in v.values():
            for code in codes:
                if not re.fullmatch(JURISDICTION_RE, code):
                    raise ValueError(f"{code!r} is not a jurisdiction code (upper case, e.g. US, EU)")
        return v


class Topology(BaseModel):
    """The whole file: clusters, flows and the data-sovereignty rule."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    clusters: dict[str, ClusterRef] = Field(min_length=2)
    flows: dict[str, Flow] = Field(min_length=1)
    data_sovereignty: Sovereignty = Field(default_factory=Sovereignty)

    def flow(self, name: str) -> Flow:
        if name not in self.flows:
            raise BadInput(f"--flow: no flow named {name!r} in the topology (flows: {', '.join(self.flows)})")
        return self.flows[name]

    def is_link(self, name: str) -> bool:
        """True if flow `name` runs between Confluent clusters: a cluster link, not MirrorMaker."""
        return self.clusters[self.flows[name].target].kind == "confluent"


def _references(topo: Topology) -> str | None:
    """`field: reason` for the first cross-reference the schema alone cannot check."""
    for name in topo.clusters:
        if not re.fullmatch(NAME_RE, name):
            return f"clusters.{name}: a cluster name is a letter then letters, digits, '-' or '_' (at most 40)"
    for name, flow in topo.flows.items():
        if not re.fullmatch(NAME_RE, name):
            return f"flows.{name}: a flow name is a letter then letters, digits, '-' or '_' (at most 40)"
        for end in ("source", "target"):
            ref = getattr(flow, end)
            if ref not in topo.clusters:
                return f"flows.{name}.{end}: no cluster named {ref!r} (clusters: {', '.join(topo.clusters)})"
        kinds = {topo.clusters[flow.source].kind == "confluent", topo.clusters[flow.target].kind == "confluent"}
        if kinds == {True, False}:
            return (f"flows.{name}: {flow.source} and {flow.target} must both be Confluent clusters (a cluster "
                    "link) or both self-managed (MirrorMaker 2)")
        if kinds == {True}:
            if flow.mode == "active-active":
                return (f"flows.{name}.mode: a cluster link copies one way; declare a second flow for the other "
                        "direction (bidirectional links are not driven by brokerscale)")
            if flow.replication_policy != "identity":
                return f"flows.{name}.replication_policy: a cluster link keeps topic names; use identity"
    seen: dict[tuple[str, str], str] = {}
    for name, flow in topo.flows.items():
        for pair in flow.directions():
            if pair in seen:
                return (f"flows.{name}: copies {pair[0]} -> {pair[1]} like flow {seen[pair]!r} "
                        "(one flow per direction: merge their topics)")
            seen[pair] = name
    return None


class _UnknownKeysFirst:
    """A validation error whose unknown keys come first: a misspelt `clusterz` is the cause of the
    missing `clusters`, so it is the one line worth showing."""

    def __init__(self, exc: ValidationError) -> None:
        self._errors = sorted(exc.errors(), key=lambda e: e.get("type") != "extra_forbidden")

    def errors(self) -> list[Any]:
        return self._errors


def parse_topology(doc: object, source: str) -> Topology:
    if not isinstance(doc, dict):
        raise BadInput(f"{source}: (top level): must be a mapping with clusters and flows")
    try:
        topo = Topology.model_validate(doc)
    except ValidationError as exc:
        raise from_validation_error(source, _UnknownKeysFirst(exc), Topology) from None
    problem = _references(topo)
    if problem:
        raise BadInput(f"{source}: {problem}")
    return topo


def load_topology(path: Path) -> Topology:
    """Read and validate a topology file; any problem is a `BadInput` naming the file and field."""
    return parse_topology(read_yaml(path), str(path))
