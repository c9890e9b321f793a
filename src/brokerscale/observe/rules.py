"""Trigger rules: the scaling guide's scaling-trigger table as data, overridable by a YAML file.

A user's file only needs the rules and fields it changes; the rest keep the shipped defaults
(`data/rules/default.yaml`). Any mistake is one line naming the file, the field and the reason.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from brokerscale.errors import BadInput, from_validation_error
from brokerscale.model.files import read_yaml
from brokerscale.model.snapshot import LagStatus
from brokerscale.units import DurationSeconds


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Threshold(_M):
    """Fires above `warning` / `critical` (both optional); `enabled: false` switches the rule off."""

    warning: float | None = None
    critical: float | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if self.warning is not None and self.critical is not None and self.warning > self.critical:
            raise ValueError(f"warning ({self.warning:g}) must not be above critical ({self.critical:g})")
        return self


class BelowThreshold(_M):
    """Fires below `warning` / `critical` (idle percentages)."""

    warning: float | None = Field(None, ge=0, le=100)
    critical: float | None = Field(None, ge=0, le=100)
    enabled: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> BelowThreshold:
        if self.warning is not None and self.critical is not None and self.warning < self.critical:
            raise ValueError(f"warning ({self.warning:g}) must not be below critical ({self.critical:g}) "
                             "for an idle-time rule")
        return self


class LagRule(_M):
    warning_statuses: list[LagStatus] = Field(default_factory=lambda: [LagStatus.WARNING, LagStatus.REWIND])
    critical_statuses: list[LagStatus] = Field(default_factory=lambda: [LagStatus.STALL, LagStatus.STOP])
    max_lag_offsets: int | None = Field(None, gt=0)
    max_lag_seconds: float | None = Field(None, gt=0)
    window: DurationSeconds = Field(600.0, description="seconds")
    min_observations: int = Field(3, ge=2)
    enabled: bool = True



class RuleSet(_M):
    throughput: Threshold
    partitions: Threshold
    connections: Threshold
    request_rate: Threshold
    request_latency_p99_ms: Threshold
    request_queue_time_ms: Threshold
    consumer_lag: LagRule
    disk: Threshold
    request_handler_idle_percent: BelowThreshold
    partition_throughput_mb_s: Threshold
    under_replicated_partitions: Threshold
    under_min_isr_partitions: Threshold
    offline_partitions: Threshold
    replication_lag_seconds: Threshold
    replication_stopped: Threshold


def _default_doc() -> dict[str, Any]:
    text = resources.files("brokerscale").joinpath("data/rules/default.yaml").read_text(encoding="utf-8")
    # our own file, read by every observe/check/lag: libyaml's parser (~4 -> ~0.5 ms) where PyYAML has it
    doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # a safe loader, C or Python
    assert isinstance(doc, dict)
    return doc


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    return out


def load_rules(path: Path | None = None) -> RuleSet:
    """The default rules, with `path`'s rules merged over them field by field."""
    doc = _default_doc()
    source = "default rules"
    if path is not None:
        source = str(path)
        user = read_yaml(path)
        if user is None:
            user = {}
        if not isinstance(user, dict):
            raise BadInput(f"{path}: (top level): must be a mapping of rule name -> settings")
        for name, body in user.items():
            if name in RuleSet.model_fields and not isinstance(body, dict):
                raise BadInput(f"{path}: {name}: must be a mapping (e.g. warning: 70, critical: 85)")
        doc = _merge(doc, user)
    try:
        return RuleSet.model_validate(doc)
    except ValidationError as exc:
        raise from_validation_error(source, exc, RuleSet) from None
