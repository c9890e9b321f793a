"""Capacity limits profiles: what one CKU, one tier and one self-managed broker can carry.

Limits change over time and differ between the design document and Confluent's current figures, so
they live in data files (``brokerscale/data/limits/*.yaml``) rather than in code. The planner sizes
against a profile; observe computes utilisation from a profile and a CKU count; the Confluent Cloud
work reads the tier limits. Everyone reads the same figures from here.

Usage::

    limits = load_limits()                     # the scaling guide's figures (the organisation's standard)
    limits = load_limits("confluent-2026")     # Confluent's published figures
    limits = load_limits("ops/limits.yaml")    # your own file, same schema
    cap = limits.cku_capacity(5)               # what 5 CKUs carry
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from brokerscale.errors import BadInput, from_validation_error
from brokerscale.model.files import read_yaml
from brokerscale.units import SizeBytes

LIMITS_DIR = Path(__file__).resolve().parent.parent / "data" / "limits"
DEFAULT_LIMITS = "design-doc"
TierName = Literal["basic", "standard", "enterprise", "dedicated"]


class CkuLimits(BaseModel):
    """One Confluent Kafka Unit. Throughput is either combined (in + out) or split ingress/egress."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    throughput_mb_s: float | None = Field(None, gt=0, description="in + out combined, MB/s")
    ingress_mb_s: float | None = Field(None, gt=0)
    egress_mb_s: float | None = Field(None, gt=0)
    connections: int = Field(gt=0)
    partitions: int = Field(gt=0)
    requests_per_second: float | None = Field(
        None, gt=0, description="request-rate quota per CKU; None when the source gives no figure")
    min_multi_zone: int = Field(2, ge=1)
    source: str = ""

    @model_validator(mode="after")
    def _one_throughput_model(self) -> CkuLimits:
        split = self.ingress_mb_s is not None or self.egress_mb_s is not None
        if self.throughput_mb_s is None and not (self.ingress_mb_s and self.egress_mb_s):
            raise ValueError("give throughput_mb_s (in + out) or both ingress_mb_s and egress_mb_s")
        if self.throughput_mb_s is not None and split:
            raise ValueError("give throughput_mb_s or ingress_mb_s/egress_mb_s, not both")
        return self

    @property
    def split_throughput(self) -> bool:
        return self.throughput_mb_s is None


class TierLimits(BaseModel):
    """A Confluent Cloud cluster type. None means no published limit (unlimited or by CKU)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: TierName
    throughput_mb_s: float | None = Field(None, gt=0, description="in + out combined, MB/s")
    ingress_mb_s: float | None = Field(None, gt=0)
    egress_mb_s: float | None = Field(None, gt=0)
    partitions: int | None = Field(None, gt=0)
    connections: int | None = Field(None, gt=0)
    storage_bytes: SizeBytes | None = Field(None, gt=0)
    retention_days: float | None = Field(None, gt=0)
    by_cku: bool = False
    phi: bool = True
    private_networking: bool = False
    multi_region: bool = False
    uptime_sla: str | None = None
    source: str = ""


class BrokerProfile(BaseModel):
    """One self-managed broker (Strimzi or a StatefulSet): the unit of self-managed sizing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    throughput_mb_s: float = Field(gt=0, description="client + replication bytes in + out, MB/s")
    disk_bytes: SizeBytes = Field(gt=0)
    max_partition_replicas: int = Field(gt=0)
    connections: int = Field(gt=0)
    target_utilization: float = Field(0.7, gt=0, le=1)
    source: str = ""


class CkuCapacity(BaseModel):
    """What a given number of CKUs carries; None where the profile has no figure."""

    model_config = ConfigDict(frozen=True)

    ckus: int
    throughput_mb_s: float | None
    ingress_mb_s: float | None
    egress_mb_s: float | None
    connections: int
    partitions: int
    requests_per_second: float | None


class LimitsProfile(BaseModel):
    """A named set of limits. Tiers are listed from smallest to largest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    source: str = ""
    cku: CkuLimits
    tiers: list[TierLimits] = Field(min_length=1)
    broker: BrokerProfile
    replication_factor: int = Field(3, ge=1)
    min_insync_replicas: int = Field(2, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> LimitsProfile:
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError("tiers: each tier name may appear once")
        if "dedicated" not in names:
            raise ValueError("tiers: a dedicated tier is required (CKU sizing)")
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError("min_insync_replicas must not exceed replication_factor")
        return self

    def tier(self, name: str) -> TierLimits:
        for t in self.tiers:
            if t.name == name:
                return t
        raise BadInput(f"limits {self.name}: no tier {name!r} (has: {', '.join(t.name for t in self.tiers)})")

    def cku_capacity(self, ckus: int) -> CkuCapacity:
        """Capacity of `ckus` CKUs: each dimension scales linearly with the CKU count."""
        c = self.cku

        def times(v: float | None) -> float | None:
            return None if v is None else v * ckus

        return CkuCapacity(
            ckus=ckus,
            throughput_mb_s=times(c.throughput_mb_s),
            ingress_mb_s=times(c.ingress_mb_s),
            egress_mb_s=times(c.egress_mb_s),
            connections=c.connections * ckus,
            partitions=c.partitions * ckus,
            requests_per_second=times(c.requests_per_second),
        )


def shipped_profiles() -> list[str]:
    """Names of the profiles that ship with brokerscale."""
    return sorted(p.stem for p in LIMITS_DIR.glob("*.yaml"))


def _resolve(name_or_path: str) -> Path:
    shipped = LIMITS_DIR / f"{name_or_path}.yaml"
    if "/" not in name_or_path and "\\" not in name_or_path and shipped.is_file():
        return shipped
    path = Path(name_or_path)
    if path.is_file():
        return path
    raise BadInput(
        f"limits: {name_or_path!r} is neither a shipped profile ({', '.join(shipped_profiles())}) "
        "nor a readable file")


def load_limits(name_or_path: str = DEFAULT_LIMITS) -> LimitsProfile:
    """Load a shipped profile by name or a limits YAML file by path. Bad files raise BadInput."""
    path = _resolve(name_or_path)
    source = str(path) if path.parent != LIMITS_DIR else path.name
    data = read_yaml(path, source)
    if not isinstance(data, dict):
        raise BadInput(f"{source}: (top level): must be a mapping of limits")
    try:
        return LimitsProfile.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(source, exc, LimitsProfile) from None
