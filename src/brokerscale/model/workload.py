"""The workload a cluster must carry: the planner's input, written by people in YAML.

People type these files, so validation is strict: unknown keys (typos), duplicate keys and bad values
are all rejected with one line naming the file, the field path and the reason. A typo that silently
falls back to a default would size a clinical cluster wrongly without anyone noticing.

Units are decimal (1 KB = 1,000 B) as the scaling guide's arithmetic is; sizes may be written as numbers of
bytes or as text (``message_bytes: 5KB``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from brokerscale.errors import BadInput, field_path, unknown_key
from brokerscale.model.files import read_yaml
from brokerscale.units import SizeBytes

TopicClass = Literal["high-volume-clinical", "standard-operational", "low-volume-reference"]
Requirement = Literal["phi", "multi-region", "private-networking"]
Availability = Literal["single-zone", "multi-zone"]
PartitionKey = Literal["patient_id", "encounter_id", "none"]

_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
_PRINCIPAL = re.compile(r"[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?")
SECONDS_PER_DAY = 86_400


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TopicSpec(_Strict):
    """One topic's expected peak load."""

    name: str
    topic_class: TopicClass = Field(alias="class")
    messages_per_second: float = Field(gt=0, allow_inf_nan=False)
    message_bytes: SizeBytes = Field(gt=0)
    retention_days: float | None = Field(None, gt=0, allow_inf_nan=False)
    consumer_groups: int | None = Field(None, ge=0)
    key: PartitionKey | None = None
    # Applications writing / reading this topic: each becomes a least-privilege principal (KafkaUser)
    # in the emitted files of a PHI workload. A consumer's name is also its consumer group.
    producers: list[str] = Field(default_factory=list)
    consumers: list[str] = Field(default_factory=list)

    @field_validator("producers", "consumers")
    @classmethod
    def _principal_names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not _PRINCIPAL.fullmatch(name):
                raise ValueError(f"{name!r} must be lowercase letters, digits, '.' and '-' (a Kubernetes name)")
        if len(set(v)) != len(v):
            raise ValueError("each application may appear once")
        return v

    @field_validator("name")
    @classmethod
    def _kafka_topic_name(cls, v: str) -> str:
        if not _TOPIC_NAME.fullmatch(v) or v in {".", ".."}:
            raise ValueError("must be 1-249 characters of letters, digits, '.', '_' or '-'")
        return v



class DeployTarget(_Strict):
    """Where the generated Terraform / Kubernetes files point. Defaults suit a first draft."""

    cloud: Literal["AWS", "AZURE", "GCP"] = "AWS"
    region: str = Field("us-east-1", min_length=1)
    environment: str = Field("Healthcare Production", min_length=1)
    max_ecku: int | None = Field(None, gt=0, description="elastic tiers only; unset = provider default")
    namespace: str = Field("event-broker", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    storage_class: str = Field("fast-storage", min_length=1)
    kafka_version: str = Field("4.1.0", pattern=r"^\d+\.\d+\.\d+$")
    image: str = Field("apache/kafka:4.1.0", min_length=1)
    # PHI hardening of the emitted files (used only when the workload declares the requirement):
    private_network: Literal["privatelink", "peering"] = Field(
        "privatelink", description="Confluent network for private-networking (peering: Dedicated only)")
    superusers: list[str] = Field(default_factory=lambda: ["brokerscale-admin"], min_length=1,
                                  description="principals with unlimited access (operators, brokerscale)")
    client_authentication: Literal["scram-sha-512", "tls"] = "scram-sha-512"
    kubectl_image: str = Field("docker.io/alpine/k8s:1.33.4", min_length=1,
                               description="image with sh and kubectl (reads the node zone for broker.rack)")


class Workload(_Strict):
    """A named workload: peak load per topic plus cluster-wide demands."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    limits: str = "design-doc"
    availability: Availability = "multi-zone"
    connections: int = Field(0, ge=0)
    partitions: int = Field(0, ge=0, description="partitions beyond the listed topics")
    retention_days: float = Field(7, gt=0, allow_inf_nan=False)
    replication_factor: int | None = Field(None, ge=1, le=7)
    requirements: list[Requirement] = Field(default_factory=list)
    deploy: DeployTarget = Field(default_factory=DeployTarget)
    topics: list[TopicSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Workload:
        seen: set[str] = set()
        for i, t in enumerate(self.topics):
            if t.name in seen:
                raise _AtPath(("topics", i, "name"), f"duplicate topic name {t.name!r}")
            seen.add(t.name)
        if len(set(self.requirements)) != len(self.requirements):
            raise ValueError("requirements: each requirement may appear once")
        return self

    def retention_of(self, topic: TopicSpec) -> float:
        return topic.retention_days if topic.retention_days is not None else self.retention_days


class _AtPath(ValueError):
    """A model-level check that knows which field it is about."""

    def __init__(self, loc: tuple[str | int, ...], reason: str) -> None:
        super().__init__(reason)
        self.loc = loc
        self.reason = reason


_REASONS = {
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "missing": "required field is missing",
    "extra_forbidden": "unknown field (check the spelling)",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "string_type": "must be text",
    "list_type": "must be a list",
    "model_type": "must be a mapping of fields",
    "dict_type": "must be a mapping of fields",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
    "string_pattern_mismatch": "must be lowercase letters, digits and '-'",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
}


def _reason(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    ctx = {k: (int(v) if isinstance(v, float) and v.is_integer() else v)
           for k, v in (error.get("ctx") or {}).items()}
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"must be one of: {expected}"
    if kind in _REASONS:
        try:
            return _REASONS[kind].format(**ctx)
        except (KeyError, IndexError):
            return _REASONS[kind]
    at_path = (error.get("ctx") or {}).get("error")
    if kind == "value_error" and isinstance(at_path, _AtPath):
        return at_path.reason
    msg = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


def describe_validation_error(source: str, exc: ValidationError, model: Any = None) -> BadInput:
    """One line naming every problem: `file: topics[3].retention_days: must be greater than 0; name: …`.

    Every problem is listed (a user fixing a file should not have to run the command once per mistake);
    a misspelt key is named with the closest valid key.
    """
    parts = []
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        err_ctx = (error.get("ctx") or {}).get("error")
        if isinstance(err_ctx, _AtPath):
            loc = loc + err_ctx.loc
        reason = unknown_key(loc, model) if error.get("type") == "extra_forbidden" else _reason(dict(error))
        part = f"{field_path(loc)}: {reason}"
        if part not in parts:
            parts.append(part)
    return BadInput(f"{source}: {'; '.join(parts)}")


def parse_workload(data: Any, source: str = "workload") -> Workload:
    """Validate already-parsed data (a dict) as a Workload; errors name `source`."""
    if not isinstance(data, dict):
        raise BadInput(f"{source}: (top level): must be a mapping with name, topics, ...")
    try:
        return Workload.model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(source, exc, Workload) from None


def load_workload(path: str | Path) -> Workload:
    """Read and validate a workload YAML file."""
    source = str(path)
    return parse_workload(read_yaml(Path(path), source), source)
