"""The topic policy: which topic classes exist, how names map to them and what each class requires.

The policy is data (YAML), not code, so a health system can add its own prefixes (`imaging.`,
`pharmacy.`) without a release. The shipped default lives in `brokerscale/data/topic-policy.yaml`.
Validation is strict: a typo in a policy must fail loudly (one line, exit 2), because a silently
ignored `min_insync_replicas` would leave PHI under-replicated.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from brokerscale.errors import BadInput, from_validation_error
from brokerscale.model.files import parse_yaml, read_text
from brokerscale.plan.partitions import CLASS_BOUNDS
from brokerscale.units import parse_size

ENV_POLICY = "BROKERSCALE_TOPIC_POLICY"
DAY_MS = 86_400_000
CleanupPolicy = Literal["delete", "compact", "compact,delete"]
TimestampType = Literal["CreateTime", "LogAppendTime"]
#: The replication floor for PHI: one broker may fail and another restart while writes still reach two.
PHI_MIN_RF = 3
PHI_MIN_ISR = 2


class TopicClass(BaseModel):
    """What every topic of one class must look like."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    prefixes: list[str] = Field(min_length=1)
    partition_class: str
    phi: bool
    partition_key: str | None = None
    replication_factor: int = Field(3, ge=1, le=10)
    min_insync_replicas: int = Field(2, ge=1, le=10)
    retention_min_days: float | None = Field(None, gt=0)
    # A number of days, "infinite" (the class may keep data forever), or null (no ceiling for a
    # non-PHI class; for a PHI class infinite retention is still flagged: data minimisation).
    retention_max_days: float | Literal["infinite"] | None = Field(None, validate_default=True)
    cleanup_policy: CleanupPolicy | None = Field(None, validate_default=True)
    max_message_bytes: int | None = None
    unclean_leader_election: bool = Field(False, validate_default=True)
    message_timestamp_type: TimestampType | None = None

    @field_validator("prefixes")
    @classmethod
    def _prefixes_not_blank(cls, v: list[str]) -> list[str]:
        for p in v:
            if not p or p.strip() != p:
                raise ValueError(f"prefix {p!r} must be non-empty without surrounding spaces")
        return v

    @field_validator("partition_class")
    @classmethod
    def _known_partition_class(cls, v: str) -> str:
        if v not in CLASS_BOUNDS:
            raise ValueError(f"{v!r} is not a planner class (one of: {', '.join(CLASS_BOUNDS)})")
        return v

    @field_validator("partition_key")
    @classmethod
    def _key_is_identifier(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", v):
            raise ValueError(f"{v!r} is not a field name (examples: patient_id, encounter_id)")
        return v

    @field_validator("max_message_bytes", mode="before")
    @classmethod
    def _size(cls, v: Any) -> Any:
        if v is None or (isinstance(v, int) and not isinstance(v, bool)):
            return v
        if isinstance(v, str):
            try:
                return parse_size(v, what="max_message_bytes")
            except BadInput as exc:
                raise ValueError(str(exc).removeprefix("max_message_bytes: ")) from None
        raise ValueError("must be a size such as 1MB or 1048576")

    @field_validator("min_insync_replicas")
    @classmethod
    def _isr_within_rf(cls, v: int, info: ValidationInfo) -> int:
        rf = info.data.get("replication_factor")
        if rf is not None and v > rf:
            raise ValueError(f"cannot exceed replication_factor ({v} > {rf})")
        return v

    @field_validator("replication_factor")
    @classmethod
    def _phi_replicated(cls, v: int, info: ValidationInfo) -> int:
        if info.data.get("phi") and v < PHI_MIN_RF:
            raise ValueError(f"must be at least {PHI_MIN_RF} for PHI topics (one broker down and one "
                             "restarting must still leave a copy)")
        return v

    @field_validator("min_insync_replicas")
    @classmethod
    def _phi_isr(cls, v: int, info: ValidationInfo) -> int:
        rf = info.data.get("replication_factor")
        if info.data.get("phi"):
            if v < PHI_MIN_ISR:
                raise ValueError(f"must be at least {PHI_MIN_ISR} for PHI topics (an acknowledged write must "
                                 "survive the loss of one broker)")
            if rf is not None and v >= rf:
                raise ValueError(f"must be below replication_factor ({v} >= {rf}) for PHI topics, or one "
                                 "broker down stops every acks=all write")
        return v

    @field_validator("retention_max_days", mode="before")
    @classmethod
    def _max_after_min(cls, v: Any, info: ValidationInfo) -> Any:
        if v is None or v == "infinite":
            return v
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError("must be a number of days or \"infinite\"")
        if v <= 0:
            raise ValueError("must be greater than 0")
        low = info.data.get("retention_min_days")
        if low is not None and v < low:
            raise ValueError(f"cannot be below retention_min_days ({v:g} < {low:g})")
        return v

    @field_validator("unclean_leader_election")
    @classmethod
    def _phi_clean_elections(cls, v: bool, info: ValidationInfo) -> bool:
        if v and info.data.get("phi"):
            raise ValueError("must be false for PHI topics: an unclean election makes an out-of-sync replica "
                             "leader and silently drops acknowledged clinical events")
        return v

    @field_validator("cleanup_policy")
    @classmethod
    def _phi_never_compacted(cls, v: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("phi"):
            if v is None:
                raise ValueError("required for PHI topics: set cleanup_policy: delete")
            if "compact" in v:
                raise ValueError("must be delete for PHI topics, never compact "
                                 "(compaction keeps the latest record per key indefinitely)")
        return v

    @property
    def retention_min_ms(self) -> int | None:
        return None if self.retention_min_days is None else round(self.retention_min_days * DAY_MS)

    @property
    def retention_max_ms(self) -> int | None:
        """The ceiling in ms; None when there is none ("infinite" or unset)."""
        m = self.retention_max_days
        return None if m is None or m == "infinite" else round(m * DAY_MS)

    @property
    def allows_infinite_retention(self) -> bool:
        return self.retention_max_days == "infinite" or (self.retention_max_days is None and not self.phi)


class TopicPolicy(BaseModel):
    """All topic classes. Topics matching no prefix are reported as unmanaged and never changed.

    `non_phi` lists topic names or prefixes a person has looked at and declared free of patient data:
    they stay unmanaged, but the finding says so instead of asking for a class.
    """

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    extends: Literal["default"] | None = None
    non_phi: list[str] = Field(default_factory=list)
    classes: dict[str, TopicClass] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_classes(self) -> TopicPolicy:
        if not self.classes and self.extends is None:
            raise ValueError("classes: at least one class is needed (or start the file with `extends: default`)")
        return self

    def marked_non_phi(self, topic: str) -> str | None:
        """The `non_phi` entry (exact name or prefix) that covers `topic`, if any."""
        for entry in self.non_phi:
            if topic == entry or (entry.endswith((".", "-", "_")) and topic.startswith(entry)):
                return entry
        return None

    def prefix_clash(self) -> str | None:
        """`classes.X.prefixes: reason` when two classes claim the same prefix (ambiguous match)."""
        seen: dict[str, str] = {}
        for name, cls in self.classes.items():
            for p in cls.prefixes:
                if p in seen and seen[p] != name:
                    return f"classes.{name}.prefixes: {p!r} is already used by class {seen[p]!r}"
                seen[p] = name
        return None

    def classify(self, topic: str) -> tuple[str, TopicClass] | None:
        """The class whose longest prefix matches `topic`, or None (unmanaged)."""
        best: tuple[int, str, TopicClass] | None = None
        for name, cls in self.classes.items():
            for p in cls.prefixes:
                if topic.startswith(p) and (best is None or len(p) > best[0]):
                    best = (len(p), name, cls)
        return None if best is None else (best[1], best[2])


def _parse(doc: Any, source: str) -> TopicPolicy:
    if not isinstance(doc, dict):
        raise BadInput(f"{source}: (top level): must be a mapping with `version` and `classes`")
    try:
        policy = TopicPolicy.model_validate(doc)
    except ValidationError as exc:
        raise from_validation_error(source, exc, TopicPolicy) from None
    clash = policy.prefix_clash()
    if clash:
        raise BadInput(f"{source}: {clash}")
    return policy


def default_policy() -> TopicPolicy:
    text = resources.files("brokerscale").joinpath("data/topic-policy.yaml").read_text()
    return _parse(parse_yaml(text, "topic-policy.yaml (shipped)"), "topic-policy.yaml (shipped)")


def parse_policy(text: str, source: str) -> TopicPolicy:
    """Validate a policy document; `extends: default` merges its classes over the shipped ones."""
    doc = parse_yaml(text, source)
    policy = _parse(doc, source)
    if policy.extends == "default":
        shipped = default_policy()
        merged = {**shipped.classes, **policy.classes}
        # Re-validate the merged set so a user prefix clashing with a shipped one is still caught.
        raw = {"version": 1, "non_phi": list(dict.fromkeys(shipped.non_phi + policy.non_phi)),
               "classes": {k: v.model_dump() for k, v in merged.items()}}
        return _parse(raw, source)
    return policy


def load_policy(path: Path | None = None) -> TopicPolicy:
    """The policy from `path`, else $BROKERSCALE_TOPIC_POLICY, else the shipped default."""
    if path is None and os.environ.get(ENV_POLICY):
        path = Path(os.environ[ENV_POLICY])
    if path is None:
        return default_policy()
    return parse_policy(read_text(path), str(path))
