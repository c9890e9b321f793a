"""The emulator's world: clusters, keys, injected faults and the trace its metrics come from.

Kept in one JSON file (`--state FILE`) so a restarted emulator resumes where it was. The clock is
injected, so tests can move time instead of waiting.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from brokerscale.cloud.trace import Trace, default_trace, load_trace
from brokerscale.errors import BadInput, from_validation_error


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmulatedTopic(_M):
    name: str
    partitions: int = Field(6, ge=1)
    replication_factor: int = Field(3, ge=1)
    configs: dict[str, str] = Field(default_factory=dict)


class EmulatedMirror(_M):
    """A mirror topic. `lags` is the records behind the source per partition (what the link reports);
    `fetched`: per partition, the source offset the link last fetched (`last_source_fetch_offset`);
    `pending_until`: a promote in progress (PENDING_STOPPED until then, STOPPED after)."""

    source_topic_name: str
    mirror_topic_name: str
    status: str = "ACTIVE"
    lags: list[int] = Field(default_factory=list)
    fetched: list[int] = Field(default_factory=list)
    pending_until: float | None = None


class EmulatedLink(_M):
    link_name: str
    source_cluster_id: str
    link_id: str = "b1c2d3e4-0000-4000-8000-000000000001"
    mirrors: list[EmulatedMirror] = Field(default_factory=list)


class EmulatedCluster(_M):
    id: str
    environment: str
    display_name: str
    kind: Literal["Basic", "Standard", "Dedicated"] = "Dedicated"
    availability: Literal["SINGLE_ZONE", "MULTI_ZONE", "LOW", "HIGH"] = "MULTI_ZONE"
    cloud: str = "AWS"
    region: str = "us-east-1"
    cku: int | None = Field(None, ge=1, description="spec.config.cku (Dedicated)")
    status_cku: int | None = Field(None, ge=1)
    phase: Literal["PROVISIONING", "PROVISIONED", "FAILED"] = "PROVISIONED"
    pending_until: float | None = None
    pending_kind: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    cku_history: list[tuple[float, int]] = Field(default_factory=list)
    topics: list[EmulatedTopic] = Field(default_factory=list)
    links: list[EmulatedLink] = Field(default_factory=list)
    consumer_groups: list[str] = Field(default_factory=lambda: ["adt-router", "fhir-indexer"])
    trace_file: str | None = None


class Fault(_M):
    """Answer the next `count` matching requests with `status` (429 carries `retry_after`).

    Only the statuses Confluent's OpenAPI files document for every operation (429, 500) can be injected."""

    status: Literal[429, 500]
    count: int = Field(1, ge=0)
    method: str | None = None
    path_prefix: str = "/"
    retry_after: int | None = Field(None, ge=0)


class EmulatorConfig(_M):
    api_keys: dict[str, str] = Field(default_factory=dict)
    provisioning_delay_s: float = Field(30.0, ge=0)
    cku_capacity_mb_s: float = Field(50.0, gt=0)
    trace_file: str | None = None
    trace_anchor: float | None = None
    clusters: list[EmulatedCluster] = Field(default_factory=list)
    faults: list[Fault] = Field(default_factory=list)


def _clinical_topics() -> list[EmulatedTopic]:
    return [
        EmulatedTopic(name="clinical.adt", partitions=12, configs={"retention.ms": "2592000000"}),
        EmulatedTopic(name="clinical.oru", partitions=12, configs={"retention.ms": "2592000000"}),
        EmulatedTopic(name="fhir.resources", partitions=24, configs={"retention.ms": "604800000"}),
    ]


def default_config(now: float) -> EmulatorConfig:
    """Two clusters in env-health: a 2-CKU multi-zone Dedicated and a Basic one (for upgrades)."""
    dedicated = EmulatedCluster(id="lkc-health1", environment="env-health", display_name="clinical-events",
                                kind="Dedicated", availability="MULTI_ZONE", cku=2, status_cku=2,
                                created_at=now, updated_at=now, cku_history=[(now, 2)], topics=_clinical_topics(),
                                links=[EmulatedLink(link_name="dr-link", source_cluster_id="lkc-dr0001",
                                                    mirrors=[EmulatedMirror(source_topic_name="clinical.adt",
                                                                            mirror_topic_name="clinical.adt")])])
    basic = EmulatedCluster(id="lkc-clinic1", environment="env-health", display_name="clinic-dev",
                            kind="Basic", availability="SINGLE_ZONE", created_at=now, updated_at=now,
                            topics=[EmulatedTopic(name="clinic.scheduling", partitions=3)])
    return EmulatorConfig(clusters=[dedicated, basic])


@dataclass
class Exchange:
    """One request and the emulator's answer, as seen on the wire (for contract tests)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes


class EmulatorState:
    """Thread-safe holder of the config, persisted to `path` after every change."""

    def __init__(self, config: EmulatorConfig, *, path: Path | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.path = path
        self.clock = clock
        self.lock = threading.RLock()
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) — for tests and the demo
        self.record_exchanges = False
        self.exchanges: list[Exchange] = []  # full exchanges when record_exchanges (contract tests)
        self._traces: dict[str, Trace] = {}
        if self.config.trace_anchor is None:
            self.config.trace_anchor = clock()
        for c in self.config.clusters:
            if not c.cku_history and c.kind == "Dedicated" and c.status_cku:
                c.cku_history = [(c.created_at or clock(), c.status_cku)]
        self.trace(None)  # bad trace files fail at start, not at the first query
        for c in self.config.clusters:
            self.trace(c.trace_file)

    @classmethod
    def load(cls, path: Path | None, *, clock: Callable[[], float] = time.time,
             provisioning_delay_s: float | None = None, trace_file: Path | None = None,
             api_keys: dict[str, str] | None = None) -> EmulatorState:
        """Read `path` (or start a default world there); flags override what the file says."""
        if path is not None and path.exists():
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise BadInput(f"{path}: not a readable emulator state file ({exc})") from None
            try:
                config = EmulatorConfig.model_validate(raw)
            except ValidationError as exc:
                raise from_validation_error(str(path), exc, EmulatorConfig) from None
        else:
            config = default_config(clock())
        if provisioning_delay_s is not None:
            config.provisioning_delay_s = provisioning_delay_s
        if trace_file is not None:
            config.trace_file = str(trace_file)
        if api_keys:
            config.api_keys.update(api_keys)
        state = cls(config, path=path, clock=clock)
        state.save()
        return state

    def save(self) -> None:
        if self.path is None:
            return
        with self.lock:
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            tmp.write_text(self.config.model_dump_json(indent=2), encoding="utf-8")
            os.chmod(tmp, 0o600)  # it holds the emulator's (throwaway) API secrets
            tmp.replace(self.path)

    def trace(self, file: str | None) -> Trace:
        key = file or self.config.trace_file or ""
        if key not in self._traces:
            self._traces[key] = load_trace(Path(key)) if key else default_trace()
        return self._traces[key]

    def cluster(self, cluster_id: str) -> EmulatedCluster | None:
        return next((c for c in self.config.clusters if c.id == cluster_id), None)

    def advance(self) -> None:
        """Finish changes whose provisioning time has passed (status catches up with spec)."""
        now = self.clock()
        changed = False
        with self.lock:
            for c in self.config.clusters:
                if c.pending_until is not None and now >= c.pending_until:
                    if c.kind == "Dedicated" and c.cku is not None:
                        c.status_cku = c.cku
                        c.cku_history.append((c.pending_until, c.cku))
                    c.phase = "PROVISIONED"
                    c.updated_at = c.pending_until
                    c.pending_until = None
                    c.pending_kind = None
                    changed = True
        if changed:
            self.save()

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for f in self.config.faults:
                if f.count > 0 and path.startswith(f.path_prefix) and (f.method is None or
                                                                         f.method.upper() == method.upper()):
                    f.count -= 1
                    return f.model_copy()
        return None

    def inject(self, fault: Fault) -> None:
        with self.lock:
            self.config.faults.append(fault)

    def cku_at(self, c: EmulatedCluster, ts: float) -> int | None:
        """Dedicated CKU count at `ts`: the emulator's own history, before that the trace's."""
        if c.kind != "Dedicated":
            return None
        hist = sorted(c.cku_history)
        if hist and ts >= hist[0][0]:
            value = hist[0][1]
            for at, cku in hist:
                if at <= ts:
                    value = cku
            return value
        trace = self.trace(c.trace_file)
        anchor = self.config.trace_anchor or 0.0
        from_trace = trace.at(trace.trace_time(ts, anchor)).get("cku")
        if from_trace is not None:
            return int(from_trace)
        return hist[0][1] if hist else c.status_cku

    def load_values(self, c: EmulatedCluster, ts: float) -> dict[str, Any]:
        trace = self.trace(c.trace_file)
        values = trace.at(trace.trace_time(ts, self.config.trace_anchor or 0.0))
        cku = self.cku_at(c, ts)
        values["cku"] = cku
        if values.get("load_percent") is None:
            capacity = (cku or 1) * self.config.cku_capacity_mb_s
            mb = float(values["received_mb_s"] or 0.0) + float(values["sent_mb_s"] or 0.0)
            values["load_percent"] = min(100.0, 100.0 * mb / capacity)
        if not values.get("partitions"):
            values["partitions"] = float(sum(t.partitions for t in c.topics))
        return values

