"""Reading a reassignment: Kafka's own JSON file, or brokerscale's proposal that embeds one."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from brokerscale.errors import BadInput, from_validation_error


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str = Field(min_length=1)
    partition: int = Field(ge=0)
    replicas: list[int] = Field(min_length=1)
    log_dirs: list[str] | None = None


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    partitions: list[_Entry]


def read_reassignment(path: Path) -> dict[tuple[str, int], list[int]]:
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the file ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    source = str(path)
    if isinstance(doc, dict) and "reassignment" in doc:
        doc = doc["reassignment"]
        source += " (reassignment)"
    try:
        spec = _File.model_validate(doc)
    except ValidationError as exc:
        raise from_validation_error(source, exc) from None
    out: dict[tuple[str, int], list[int]] = {}
    for i, e in enumerate(spec.partitions):
        if len(set(e.replicas)) != len(e.replicas):
            raise BadInput(f"{source}: partitions[{i}].replicas: a broker appears twice in {e.replicas}")
        if (e.topic, e.partition) in out:
            raise BadInput(f"{source}: partitions[{i}]: {e.topic}-{e.partition} appears twice")
        out[(e.topic, e.partition)] = e.replicas
    return out
