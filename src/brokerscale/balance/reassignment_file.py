"""Reading a plan: Kafka's own reassignment JSON, or brokerscale's proposal, which *is* one.

A proposal file is Kafka's reassignment format (`version`, `partitions`) with extra fields Kafka's
tool ignores: each partition's `size_bytes` (the largest copy when proposed) and, beside the
partitions, the `summary` and `rollback` the operator reviewed. So the reviewed file can be handed
to `kafka-reassign-partitions --execute` unchanged, and `rebalance execute` learns sizes from it
instead of re-scanning every broker's log dirs. Files from other tools simply have no sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from brokerscale.errors import BadInput, from_validation_error
from brokerscale.model.files import read_json

TP = tuple[str, int]
SIZE_FIELD = "size_bytes"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str = Field(min_length=1)
    partition: int = Field(ge=0)
    replicas: list[int] = Field(min_length=1)
    log_dirs: list[str] | None = None
    size_bytes: int | None = Field(default=None, ge=0)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    partitions: list[_Entry]
    # the proposal's review material, carried beside Kafka's fields
    summary: dict[str, Any] | None = None
    rollback: dict[str, Any] | None = None


@dataclass(frozen=True)
class Plan:
    """Target replicas per partition, and sizes when the file carries them (a brokerscale proposal)."""

    source: str
    targets: dict[TP, list[int]]
    sizes: dict[TP, int]

    @property
    def sized(self) -> bool:
        return bool(self.targets) and all(tp in self.sizes for tp in self.targets)


def read_plan(path: Path) -> Plan:
    doc = read_json(path)
    source = str(path)
    if isinstance(doc, dict) and "reassignment" in doc and "partitions" not in doc:
        doc = doc["reassignment"]  # proposals written before the file became Kafka's format itself
        source += " (reassignment)"
    try:
        spec = _File.model_validate(doc)
    except ValidationError as exc:
        raise from_validation_error(source, exc, _File) from None
    if spec.version != 1:
        raise BadInput(f"{source}: version: {spec.version} is not supported (Kafka's reassignment format is 1)")
    targets: dict[TP, list[int]] = {}
    sizes: dict[TP, int] = {}
    for i, e in enumerate(spec.partitions):
        if len(set(e.replicas)) != len(e.replicas):
            raise BadInput(f"{source}: partitions[{i}].replicas: a broker appears twice in {e.replicas}")
        if (e.topic, e.partition) in targets:
            raise BadInput(f"{source}: partitions[{i}]: {e.topic}-{e.partition} appears twice")
        targets[(e.topic, e.partition)] = e.replicas
        if e.size_bytes is not None:
            sizes[(e.topic, e.partition)] = e.size_bytes
    return Plan(source, targets, sizes)
