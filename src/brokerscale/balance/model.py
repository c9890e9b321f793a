"""The cluster model the optimizer works on, and its loader from a JSON file.

The model is plain, index-based data (lists, not objects per replica) because the optimizer walks
90,000 replicas in pure Python within a few seconds; pydantic validates the file once at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from brokerscale.errors import from_validation_error
from brokerscale.model.files import read_json


class BrokerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=0)
    rack: str | None = None
    disk_bytes: int | None = Field(default=None, gt=0)
    network_mb_s: float | None = Field(default=None, gt=0)


class PartitionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str = Field(min_length=1)
    partition: int = Field(ge=0)
    replicas: list[int] = Field(min_length=1)
    size_bytes: int = Field(default=0, ge=0)
    bytes_in_per_s: float = Field(default=0.0, ge=0)

    @field_validator("replicas")
    @classmethod
    def _distinct(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError(f"a broker appears twice in {v}")
        return v


class ClusterSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brokers: list[BrokerSpec] = Field(min_length=1)
    partitions: list[PartitionSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> ClusterSpec:
        ids = [b.id for b in self.brokers]
        if len(set(ids)) != len(ids):
            raise ValueError("brokers: a broker id appears twice")
        known = set(ids)
        seen: set[tuple[str, int]] = set()
        for i, p in enumerate(self.partitions):
            key = (p.topic, p.partition)
            if key in seen:
                raise ValueError(f"partitions[{i}]: {p.topic}-{p.partition} appears twice")
            seen.add(key)
            unknown = [r for r in p.replicas if r not in known]
            if unknown:
                raise ValueError(f"partitions[{i}].replicas: unknown broker id {unknown[0]}")
        return self


@dataclass(frozen=True)
class Broker:
    id: int
    rack: str | None = None
    disk_bytes: int | None = None
    network_bytes_s: float | None = None


@dataclass
class ClusterModel:
    """Brokers and partitions; `replicas[i]` lists broker ids, the first being the leader."""

    brokers: dict[int, Broker]
    topics: list[str] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)
    replicas: list[list[int]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    bytes_in: list[float] = field(default_factory=list)

    def add(self, topic: str, partition: int, replicas: list[int], size: int = 0,
            bytes_in: float = 0.0) -> None:
        self.topics.append(topic)
        self.partitions.append(partition)
        self.replicas.append(list(replicas))
        self.sizes.append(int(size))
        self.bytes_in.append(float(bytes_in))

    def __len__(self) -> int:
        return len(self.topics)

    def copy(self) -> ClusterModel:
        return ClusterModel(dict(self.brokers), list(self.topics), list(self.partitions),
                            [list(r) for r in self.replicas], list(self.sizes), list(self.bytes_in))

    def to_dict(self) -> dict:
        """The same JSON shape `load_cluster_file` reads (for saving a live cluster for offline planning)."""
        brokers = []
        for b in sorted(self.brokers.values(), key=lambda x: x.id):
            d: dict = {"id": b.id, "rack": b.rack}
            if b.disk_bytes is not None:
                d["disk_bytes"] = b.disk_bytes
            if b.network_bytes_s is not None:
                d["network_mb_s"] = b.network_bytes_s / 1e6
            brokers.append(d)
        parts = [{"topic": t, "partition": p, "replicas": r, "size_bytes": s, "bytes_in_per_s": bi}
                 for t, p, r, s, bi in zip(self.topics, self.partitions, self.replicas, self.sizes,
                                           self.bytes_in, strict=True)]
        return {"brokers": brokers, "partitions": parts}


def model_from_spec(spec: ClusterSpec) -> ClusterModel:
    brokers = {b.id: Broker(b.id, b.rack, b.disk_bytes,
                            b.network_mb_s * 1e6 if b.network_mb_s is not None else None)
               for b in spec.brokers}
    model = ClusterModel(brokers)
    for p in spec.partitions:
        model.add(p.topic, p.partition, p.replicas, p.size_bytes, p.bytes_in_per_s)
    return model


def model_from_dict(doc: object, source: str) -> ClusterModel:
    try:
        spec = ClusterSpec.model_validate(doc)
    except ValidationError as exc:
        raise from_validation_error(source, exc, ClusterSpec) from None
    return model_from_spec(spec)


def load_cluster_file(path: Path) -> ClusterModel:
    """Read a cluster JSON file; any problem becomes one `BadInput` line naming file and field."""
    doc = read_json(path)
    return model_from_dict(doc, str(path))
