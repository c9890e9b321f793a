"""Provisioned capacity and how much of it a Snapshot uses.

Capacity comes from one of two places: a limits profile and a CKU count (Confluent Cloud Dedicated,
figures read from `brokerscale.model.limits`, never repeated here), or a broker capacity file for a
self-managed cluster (what one broker carries; the cluster's capacity is the sum over its brokers).

Broker capacity file (YAML)::

    broker:                     # every broker, unless overridden below
      throughput_mb_s: 20       # client bytes in + out per second, MB/s (decimal)
      ingress_mb_s: 12          # optional: separate limits for bytes in / bytes out
      egress_mb_s: 30
      disk: 100GB               # log disk per broker (size: 500GB, 2TiB, or bytes)
      connections: 1000
      partition_replicas: 2000
      requests_per_s: 5000      # optional
    brokers:                    # optional per-broker overrides by id
      3: {disk: 50GB}

`utilization()` is pure: snapshot and capacity in, one row per dimension and scope out.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from brokerscale.errors import BadInput, from_validation_error
from brokerscale.model.files import read_yaml
from brokerscale.model.snapshot import Snapshot
from brokerscale.units import SizeBytes

MB = 1_000_000
Dimension = Literal["throughput", "ingress", "egress", "connections", "partitions", "requests", "disk"]


class BrokerCapacity(BaseModel):
    """What one broker is provisioned to carry. Missing dimensions are not judged."""

    model_config = ConfigDict(extra="forbid")

    throughput_mb_s: float | None = Field(None, gt=0)
    ingress_mb_s: float | None = Field(None, gt=0)
    egress_mb_s: float | None = Field(None, gt=0)
    disk: SizeBytes | None = Field(None, gt=0, description="bytes")
    connections: int | None = Field(None, gt=0)
    partition_replicas: int | None = Field(None, gt=0)
    requests_per_s: float | None = Field(None, gt=0)



class CapacityFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    broker: BrokerCapacity
    brokers: dict[int, BrokerCapacity] = Field(default_factory=dict)


class Capacity(BaseModel):
    """Cluster capacity plus, for self-managed clusters, per-broker capacity. Bytes are per second."""

    model_config = ConfigDict(extra="forbid")

    description: str
    unit: Literal["cku", "broker"]
    units: int
    throughput_bytes_per_s: float | None = None
    ingress_bytes_per_s: float | None = None
    egress_bytes_per_s: float | None = None
    connections: int | None = None
    partitions: int | None = None
    requests_per_s: float | None = None
    disk_bytes: int | None = None
    broker: BrokerCapacity | None = None
    broker_overrides: dict[int, BrokerCapacity] = Field(default_factory=dict)

    def for_broker(self, broker_id: int) -> BrokerCapacity | None:
        if self.broker is None:
            return None
        over = self.broker_overrides.get(broker_id)
        if over is None:
            return self.broker
        return self.broker.model_copy(update=over.model_dump(exclude_none=True))


class Utilization(BaseModel):
    """One dimension at one scope: `used` of `capacity`, as a percentage."""

    model_config = ConfigDict(extra="forbid")

    dimension: Dimension
    scope: Literal["cluster", "broker"]
    target: str
    used: float
    capacity: float
    percent: float


def from_ckus(ckus: int, limits_name: str = "design-doc") -> Capacity:
    """Capacity of `ckus` CKUs under a limits profile (design-doc: the scaling guide's figures)."""
    from brokerscale.model.limits import load_limits

    if ckus < 1:
        raise BadInput(f"--ckus: must be at least 1, got {ckus}")
    limits = load_limits(limits_name)
    cap = limits.cku_capacity(ckus)

    def mb(v: float | None) -> float | None:
        return None if v is None else v * MB

    return Capacity(description=f"{ckus} CKU ({limits.name} limits)", unit="cku", units=ckus,
                    throughput_bytes_per_s=mb(cap.throughput_mb_s), ingress_bytes_per_s=mb(cap.ingress_mb_s),
                    egress_bytes_per_s=mb(cap.egress_mb_s), connections=cap.connections,
                    partitions=cap.partitions, requests_per_s=cap.requests_per_second)


def load_capacity_file(path: Path) -> CapacityFile:
    """Read a broker capacity file; any problem is one BadInput line naming the file and field."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise BadInput(f"{path}: (top level): must be a mapping with a `broker:` section")
    try:
        return CapacityFile.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(str(path), exc, CapacityFile) from None


def from_brokers(spec: CapacityFile, broker_ids: list[int], description: str = "capacity file") -> Capacity:
    """Cluster capacity = the sum of its brokers' (a dimension counts only if every broker has it)."""
    caps = [spec.broker.model_copy(update=spec.brokers[b].model_dump(exclude_none=True))
            if b in spec.brokers else spec.broker for b in broker_ids]

    def total(attr: str, scale: float = 1.0) -> float | None:
        vals = [getattr(c, attr) for c in caps]
        if not vals or any(v is None for v in vals):
            return None
        return sum(vals) * scale

    def total_int(attr: str) -> int | None:
        v = total(attr)
        return None if v is None else int(v)

    return Capacity(description=f"{len(broker_ids)} broker(s) ({description})", unit="broker",
                    units=len(broker_ids), throughput_bytes_per_s=total("throughput_mb_s", MB),
                    ingress_bytes_per_s=total("ingress_mb_s", MB),
                    egress_bytes_per_s=total("egress_mb_s", MB),
                    connections=total_int("connections"), partitions=total_int("partition_replicas"),
                    requests_per_s=total("requests_per_s"), disk_bytes=total_int("disk"),
                    broker=spec.broker, broker_overrides=spec.brokers)


def _pct(used: float, cap: float) -> float:
    return round(100.0 * used / cap, 2)


def utilization(snap: Snapshot, cap: Capacity) -> list[Utilization]:
    """Every dimension the snapshot and the capacity both know, cluster-wide and (self-managed) per broker."""
    out: list[Utilization] = []
    s = snap.with_totals()

    def add(dim: Dimension, scope: Literal["cluster", "broker"], target: str,
            used: float | None, capacity: float | None) -> None:
        if used is not None and capacity:
            out.append(Utilization(dimension=dim, scope=scope, target=target, used=used,
                                   capacity=capacity, percent=_pct(used, capacity)))

    replicas = sum(len(p.replicas) for t in s.topics for p in t.partitions) if s.topics else None
    # CKU limits count partitions before replication; broker limits count replicas hosted.
    partitions_used = s.partition_count if cap.unit == "cku" else replicas
    add("throughput", "cluster", "cluster", s.throughput_bytes_per_s, cap.throughput_bytes_per_s)
    add("ingress", "cluster", "cluster", s.bytes_in_per_s, cap.ingress_bytes_per_s)
    add("egress", "cluster", "cluster", s.bytes_out_per_s, cap.egress_bytes_per_s)
    add("connections", "cluster", "cluster", s.connections, cap.connections)
    add("partitions", "cluster", "cluster", partitions_used, cap.partitions)
    add("requests", "cluster", "cluster", s.requests_per_s, cap.requests_per_s)
    add("disk", "cluster", "cluster", s.retained_bytes, cap.disk_bytes)
    if cap.broker is None:
        return out
    for b in s.brokers:
        if not b.alive:
            continue
        bc = cap.for_broker(b.id)
        if bc is None:
            continue
        name = f"broker {b.id}"
        thr = None if b.bytes_in_per_s is None and b.bytes_out_per_s is None else \
            (b.bytes_in_per_s or 0.0) + (b.bytes_out_per_s or 0.0)
        add("throughput", "broker", name, thr, bc.throughput_mb_s * MB if bc.throughput_mb_s else None)
        add("ingress", "broker", name, b.bytes_in_per_s, bc.ingress_mb_s * MB if bc.ingress_mb_s else None)
        add("egress", "broker", name, b.bytes_out_per_s, bc.egress_mb_s * MB if bc.egress_mb_s else None)
        add("connections", "broker", name, b.connections, bc.connections)
        add("partitions", "broker", name, b.partition_replicas, bc.partition_replicas)
        add("requests", "broker", name, b.requests_per_s, bc.requests_per_s)
        add("disk", "broker", name, b.disk_used_bytes, bc.disk)
    return out


def units_needed(percent: float, units: int, target_percent: float) -> int:
    """How many units (CKUs or brokers) bring `percent` of `units` under `target_percent`."""
    if target_percent <= 0:
        return units + 1
    return max(units + 1, math.ceil(units * percent / target_percent))
