"""Load traces: a workload over time, as steps. The emulator turns one into Metrics API series and the
autoscaler's simulator replays the same files, so a scaling story can be told end to end offline.

Format (YAML or JSON; a bare list is taken as `steps`)::

    anchor: end          # end: the last step is "now" when the emulator first starts (a history);
                         # start: step t=0 is that moment and the trace plays forward
    time_scale: 1        # trace seconds per wall-clock second (60 = one trace minute per second)
    steps:
      - t: 0             # seconds (or a duration: 90s, 15m, 6h, 30d) from the trace's start
        received_mb_s: 20      # producer bytes in, MB/s (decimal)
        sent_mb_s: 40          # consumer bytes out, MB/s
        requests_per_s: 800
        connections: 350
        partitions: 1200
        retained_bytes: 1.5e12
        lag: 2000              # consumer lag in offsets, summed over groups
        cku: 2                 # optional: dedicated CKU count (history before the emulator's own resizes)
        load_percent: 40       # optional: cluster load 0-100; else derived from throughput and CKUs

Between steps numbers are interpolated linearly (CKUs step: a count holds until the next step);
before the first step and after the last, the nearest step holds. Pure: no clock, no I/O but `load_trace`.
"""

from __future__ import annotations

import bisect
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from brokerscale.errors import BadInput, from_validation_error
from brokerscale.units import parse_duration

FIELDS = ("received_mb_s", "sent_mb_s", "requests_per_s", "connections", "partitions", "retained_bytes", "lag",
          "load_percent")


class TraceStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    t: float = Field(ge=0)
    received_mb_s: float = Field(0.0, ge=0)
    sent_mb_s: float = Field(0.0, ge=0)
    requests_per_s: float = Field(0.0, ge=0)
    connections: float = Field(0.0, ge=0)
    partitions: float = Field(0.0, ge=0)
    retained_bytes: float = Field(0.0, ge=0)
    lag: float = Field(0.0, ge=0)
    cku: int | None = Field(None, ge=1)
    load_percent: float | None = Field(None, ge=0, le=100)

    @field_validator("t", mode="before")
    @classmethod
    def _duration(cls, v: object) -> object:
        if isinstance(v, str):
            try:
                return float(v)
            except ValueError:
                pass
            try:
                return parse_duration(v, what="t")
            except BadInput as exc:  # a field error: pydantic names the step, the loader the file
                raise ValueError(exc.message.split(": ", 1)[-1]) from None
        return v


class Trace(BaseModel):
    model_config = ConfigDict(extra="forbid")

    anchor: Literal["end", "start"] = "end"
    time_scale: float = Field(1.0, gt=0)
    steps: list[TraceStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Trace:
        ts = [s.t for s in self.steps]
        if ts != sorted(ts):
            raise ValueError("steps must be in increasing order of t")
        return self

    @property
    def duration_s(self) -> float:
        return self.steps[-1].t - self.steps[0].t

    def trace_time(self, ts: float, anchor_ts: float) -> float:
        """Where wall-clock `ts` falls in the trace, given the wall-clock moment it was anchored at."""
        offset = (ts - anchor_ts) * self.time_scale
        return (self.steps[-1].t if self.anchor == "end" else self.steps[0].t) + offset

    def at(self, t: float) -> dict[str, float | None]:
        """Every field at trace time `t` (interpolated; CKUs and absent load held step-wise)."""
        times = [s.t for s in self.steps]
        i = bisect.bisect_right(times, t)
        if i == 0:
            lo = hi = self.steps[0]
        elif i >= len(self.steps):
            lo = hi = self.steps[-1]
        else:
            lo, hi = self.steps[i - 1], self.steps[i]
        span = hi.t - lo.t
        w = 0.0 if span <= 0 else min(1.0, max(0.0, (t - lo.t) / span))
        out: dict[str, float | None] = {}
        for name in FIELDS:
            a, b = getattr(lo, name), getattr(hi, name)
            if a is None or b is None:
                out[name] = a if a is not None else None
            else:
                out[name] = a + (b - a) * w
        ckus = [s.cku for s in self.steps[:max(i, 1)] if s.cku is not None]
        out["cku"] = float(ckus[-1]) if ckus else None
        return out


def parse_trace(data: object, source: str) -> Trace:
    if isinstance(data, list):
        data = {"steps": data}
    if not isinstance(data, dict):
        raise BadInput(f"{source}: (top level): must be a list of steps or a mapping with `steps`")
    try:
        return Trace.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(source, exc, Trace) from None


TRACES_DIR = Path(__file__).resolve().parent.parent / "data" / "traces"


def load_trace(path: Path) -> Trace:
    """Read a trace file; a bare name (`cloud-morning-peak`) means a trace shipped with brokerscale."""
    shipped = TRACES_DIR / f"{path}.yaml"
    if not path.exists() and "/" not in str(path) and shipped.is_file():
        path = shipped
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the trace ({exc.strerror})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        raise BadInput(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}") from None
    return parse_trace(data, str(path))


def default_trace() -> Trace:
    """Thirty days of a regional health system's broker: storage growing, one scale-out and back."""
    day = 86400.0
    steps = [
        TraceStep(t=0, received_mb_s=18, sent_mb_s=36, requests_per_s=900, connections=420, partitions=1800,
                  retained_bytes=1.40e12, lag=1500, cku=2),
        TraceStep(t=23 * day, received_mb_s=24, sent_mb_s=50, requests_per_s=1300, connections=520,
                  partitions=1900, retained_bytes=1.95e12, lag=2500, cku=3),
        TraceStep(t=25 * day, received_mb_s=22, sent_mb_s=44, requests_per_s=1100, connections=500,
                  partitions=1900, retained_bytes=2.10e12, lag=1800, cku=2),
        TraceStep(t=30 * day, received_mb_s=26, sent_mb_s=52, requests_per_s=1400, connections=560,
                  partitions=2000, retained_bytes=2.45e12, lag=2200),
    ]
    return Trace(anchor="end", steps=steps)
