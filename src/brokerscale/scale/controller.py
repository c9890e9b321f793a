"""The controller: observe -> decide -> act -> record, one round per interval, crash-safe.

Crash safety comes from the audit log, not from memory:
- before acting, the intent (from, to, reason, policy) is written; after, the result;
- on start, `reconcile()` looks for intents without a result for this target and compares them with the
  capacity the platform reports: a request that reached the platform is waited for and recorded as done;
  one that never left is recorded as not applied. Nothing is ever requested twice, so `kill -9` at any
  moment cannot double-scale;
- cooldowns are read back from the audit log (when the last change took effect), so a restart does not
  forget them.
Only one controller acts per target: a lease in the store; a second one waits and says so.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from brokerscale.forecast.load import level_ratio_at, peak_at, surged_between
from brokerscale.model.snapshot import Finding, Snapshot
from brokerscale.scale.decide import Decision, Facts, LoadHistory, decide
from brokerscale.scale.demand import UnitCapacity, snapshot_load
from brokerscale.scale.policy import Policy
from brokerscale.store.store import Store

if TYPE_CHECKING:
    from brokerscale.dr.guard import ReplicationView

ACTOR = "scale-controller"


class Actuator(Protocol):
    """What a platform must offer the controller. A real self-managed fleet, Confluent Cloud and Strimzi
    each implement it; the controller never knows which it drives."""

    target: str  # a stable name, e.g. "confluent:lkc-abc123"

    def units(self) -> tuple[int, int | None]:
        """(units in effect, units requested but not yet in effect or None)."""
        ...

    def observe(self) -> Snapshot:
        """The current load (metadata and metrics only)."""
        ...

    def request(self, units: int) -> None:
        """Ask the platform for `units` (returns once the request is accepted)."""
        ...

    def wait(self, units: int, timeout_s: float) -> float:
        """Block until `units` are in effect; returns the seconds waited."""
        ...


class ReplicationProbe(Protocol):
    """Replication with the scaled cluster at one end (`dr/guard.py` reads it from the DR topology)."""

    def read(self) -> ReplicationView:
        """The flows and their replication findings; raises when the state cannot be read."""
        ...


@dataclass
class Round:
    """One observe-decide-act round, for the log line and the metrics."""

    at: float
    units: int
    decision: Decision | None
    acted: bool = False
    waiting_for_lease: str | None = None
    result: str = ""


@dataclass
class Controller:
    actuator: Actuator
    policy: Policy
    capacity: UnitCapacity
    store: Store
    apply: bool = False
    lease_ttl_s: float = 60.0
    clock: Callable[[], float] = time.time
    log: Callable[[str], None] = print
    wait_timeout_s: float = 3600.0
    holder: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    history: LoadHistory = field(default_factory=LoadHistory)
    history_s: float = 3 * 3600.0
    on_decision: Callable[[Decision], None] | None = None
    on_event: Callable[[Decision, str, dict[str, Any]], None] | None = None  # (decision, result, event)
    document: Callable[[int], list[str]] | None = None  # regenerates deployment files for a new size
    replication: ReplicationProbe | None = None  # flows with this cluster at an end: the "replication healthy" check

    def __post_init__(self) -> None:
        if hasattr(self.actuator, "on_wait"):  # keep the lease while waiting for capacity to land
            self.actuator.on_wait = self._renew

    def _renew(self) -> None:
        if self.apply:
            self.store.acquire_lease(self.lease_name, self.holder, self.lease_ttl_s)

    @property
    def lease_name(self) -> str:
        return f"scale:{self.actuator.target}"

    def action_name(self, direction: str) -> str:
        return f"scale.{direction}"

    # -- memory from the audit log ---------------------------------------------------------------
    def _records(self) -> list[dict[str, Any]]:
        return [r for r in self.store.audit_records("scale.", limit=500) if r["target"] == self.actuator.target]

    def last_changes(self) -> tuple[float | None, float | None]:
        """When the last scale-up and scale-down took effect (from the audit log)."""
        up = down = None
        for r in self._records():
            if r["result"] != "ok" or r["finished_ts"] is None:
                continue
            if r["action"] == "scale.up" and up is None:
                up = r["finished_ts"]
            if r["action"] == "scale.down" and down is None:
                down = r["finished_ts"]
        return up, down

    def reconcile(self) -> list[str]:
        """Finish the record of every intent a previous controller left without a result; never re-act."""
        notes = []
        for r in self._records():
            if r["result"] != "pending" or not self.apply:
                continue
            want = int((r["intent"] or {}).get("to", -1))
            effective, requested = self.actuator.units()
            if requested == want or effective == want:
                waited = self.actuator.wait(want, self.wait_timeout_s) if effective != want else 0.0
                self.store.record_result(r["change_id"], actor=ACTOR, action=r["action"], target=r["target"],
                                         result="ok", after={"units": want, "reconciled": True,
                                                             "in_effect_after_s": round(self.clock() - r["ts"], 1)})
                notes.append(f"reconciled {r['action']} to {want}: the request had reached the platform "
                             f"(in effect{'' if not waited else f' after {waited:.0f}s more'})")
            else:
                self.store.record_result(r["change_id"], actor=ACTOR, action=r["action"], target=r["target"],
                                         result="error", error="not applied: the controller stopped before the "
                                         f"request reached the platform (units are {effective})")
                notes.append(f"reconciled {r['action']} to {want}: never requested; recorded as not applied")
        if self.apply and getattr(self.actuator, "finishes_interrupted", False):
            notes += self._finish_interrupted()
        return notes

    def _finish_interrupted(self) -> list[str]:
        """A change the platform still has in flight whose recorded attempt failed (its intent has an error
        result): finish it under a new intent, so the cluster is not left half-changed and the log says so."""
        effective, requested = self.actuator.units()
        if requested is None or requested == effective:
            return []
        direction = "up" if requested > effective else "down"
        intent = {"from": effective, "to": requested, "direction": direction, "trigger": "resume",
                  "reason": f"finishing an interrupted change from {effective} to {requested} {self.policy.unit}s",
                  "policy": self.policy.name, "unit": self.policy.unit}
        started = self.clock()
        with self.store.audited(actor=ACTOR, action=self.action_name(direction), target=self.actuator.target,
                                intent=intent, before={"units": effective}) as change:
            waited = self.actuator.wait(requested, self.wait_timeout_s)
            change.after = {"units": requested, "in_effect_after_s": round(self.clock() - started, 1),
                            "waited_s": round(waited, 1)}
        return [f"finished an interrupted {direction} to {requested} (its earlier attempt had failed)"]

    # -- one round -------------------------------------------------------------------------------
    def round(self) -> Round:
        now = self.clock()
        if self.apply and not self.store.acquire_lease(self.lease_name, self.holder, self.lease_ttl_s):
            lease = self.store.lease(self.lease_name) or {}
            return Round(now, -1, None, waiting_for_lease=str(lease.get("holder", "?")))
        snap = self.actuator.observe()
        effective, requested = self.actuator.units()
        ing, egr, conns, parts = snapshot_load(snap)
        dem = self.capacity.demand(ing, egr, conns, parts)
        dim = max(dem, key=lambda d: dem[d]) if dem else "throughput"
        self.history.append(now, dem.get(dim, 0.0), dim, dem.get("partitions", 0.0))
        self._trim(now)
        up, down = self.last_changes()
        forecast, level = self._forecast(now)
        facts = Facts(units=effective, pending_units=requested if requested != effective else None,
                      forecast_demand=forecast, forecast_level=level, last_up_at=up, last_down_at=down,
                      reassignment_running=self._reassigning(),
                      under_replicated=int(snap.under_replicated_partitions or 0))
        d = decide(facts, self.history, self.policy, now)
        if self.on_decision is not None:
            self.on_decision(d)
        rnd = Round(now, effective, d)
        if d.action is None:
            return rnd
        if not self.apply:  # a dry run shows the checklist it would act on, and its verdict
            pre = self.pre_checks(d, snap)
            self._log_checks("pre", pre)
            failed = [c["item"] for c in pre if c["outcome"] == "fail"]
            if failed:
                self.log(f"would not act: pre-checks failed ({', '.join(failed)})")
            rnd.result = "dry run: pre-checks failed" if failed else "dry run"
            return rnd
        rnd.acted = self._act(d, snap)
        rnd.result = "ok" if rnd.acted else "pre-checks failed"
        return rnd

    def seed(self, ts: list[float], demand: list[float], dimension: list[str], partitions: list[float]) -> int:
        """Start the history from recorded load (the store), older than anything observed; returns the count."""
        h = self.history
        first = h.ts[0] if h.end else float("inf")
        rows = [r for r in zip(ts, demand, dimension, partitions, strict=True) if r[0] < first]
        h.ts[:0], h.demand[:0] = [r[0] for r in rows], [r[1] for r in rows]
        h.dimension[:0], h.partitions[:0] = [r[2] for r in rows], [r[3] for r in rows]
        h.end = len(h.ts)
        return len(rows)

    def forecast(self, now: float) -> float | None:
        """The policy's forecast (the same hours one period ago, at today's level) from this controller's
        history, seeded from the store at start; None until the history reaches back far enough."""
        return self._forecast(now)[0]

    def forecast_level(self, now: float) -> float | None:
        """Today's load against the same hours of the period the forecast used (1.0: alike)."""
        return self._forecast(now)[1]

    def _forecast(self, now: float) -> tuple[float | None, float | None]:
        f = self.policy.forecast
        if f is None:
            return None, None
        h = self.history
        for period in self.policy.forecast_periods():  # the preferred period first, once the history reaches it
            peak = peak_at(h.ts, h.demand, h.end, now, period=period, ahead=self.policy.forecast_ahead(),
                           horizon=f.horizon, level_window=f.level_window)
            if peak is None:
                continue
            level = level_ratio_at(h.ts, h.demand, h.end, now, period=period, level_window=f.level_window)
            # Hours that ran much hotter than today (last week's surge day, yesterday's mass-casualty
            # event) say little about the coming ones: the next period's, else none (the trend speaks).
            if f.min_level is not None and (level is None or level < f.min_level):
                continue
            reach, tr = self.policy.surge_reach(), self.policy.trend
            if reach is not None and tr is not None and tr.surge is not None and surged_between(
                    h.ts, h.demand, h.end, now - period - f.level_window, now - period + reach,
                    window=tr.surge.window, rate=tr.surge.rate):
                continue  # a surge then (an incident) is not expected again at the same hour
            return peak, level
        return None, None

    def _reassigning(self) -> bool:
        """A partition reassignment running now (platforms that expose one: self-managed Kafka)."""
        probe = getattr(self.actuator, "reassignment_running", None)
        return bool(probe()) if probe is not None else False

    # -- the scaling guide's checklist, as code ----------------------------------------------------
    def pre_checks(self, d: Decision, snap: Snapshot) -> list[dict[str, Any]]:
        """Before acting: each item of the scaling checklist with its outcome (pass / fail / info)."""
        from brokerscale.scale.decide import regime

        r = regime(self.policy, self.clock())
        s = snap.with_totals()
        offline, urp = int(s.offline_partitions or 0), int(s.under_replicated_partitions or 0)
        out = [
            {"item": "monitor utilization", "outcome": "pass",
             "detail": f"{d.dimension} at {d.utilization:.0f}% of {d.units} {self.policy.unit}s"},
            {"item": "identify triggers and bottlenecks", "outcome": "pass",
             "detail": f"{d.trigger}: binding dimension {d.dimension}"},
            {"item": "plan capacity on projected growth", "outcome": "pass",
             "detail": f"projected {d.projected_utilization:.0f}% when new capacity lands"},
            {"item": "cluster healthy", "outcome": "pass" if offline == 0 and urp == 0 else "fail",
             "detail": f"{offline} offline, {urp} under-replicated partitions"},
            self._reassignment_check(),
            self._capacity_check(d),
            {"item": "maintenance window", "outcome": "pass" if d.action == "up" or r.in_window else "fail",
             "detail": "scale-ups any time" if d.action == "up" else
             ("inside a window" if self.policy.maintenance_windows else "no window configured")},
            {"item": "peak-hour rules", "outcome": "pass" if d.action == "up" or r.can_shrink else "fail",
             "detail": (r.why or "outside peak hours and seasons") + f"; thresholds {r.up:g}/{r.down:g}%"},
            {"item": "retention and replication unchanged", "outcome": "pass",
             "detail": "the autoscaler changes capacity only"},
        ]
        if self.replication is not None:
            out.append(self._replication_check(self.replication, d))
        return out

    def _replication_check(self, probe: ReplicationProbe, d: Decision) -> dict[str, Any]:
        """A critical replication finding (lag past the rules' critical line, a stopped flow) blocks a
        scale-down of either end: draining a broker while the DR copy lags widens what a failover would
        lose. Scale-ups proceed and say so. Unknown replication state fails closed for scale-downs."""
        item = "replication healthy"
        try:
            view = probe.read()
        except Exception as exc:  # whatever stops the probe: the state is unknown, which must not allow a drain
            why = str(exc) or type(exc).__name__
            if d.action == "down":
                return {"item": item, "outcome": "fail", "detail": f"{why}; scale-downs wait until it can be read"}
            return {"item": item, "outcome": "pass", "detail": f"{why}; scale-ups proceed"}
        if not view.flows:
            where = f"no flow of {view.topology} has this cluster at an end" if view.topology else \
                "no replication topology (none started by `dr up --apply`, no --topology)"
            return {"item": item, "outcome": "pass", "detail": where}
        found: list[Finding] = list(view.findings)
        critical = [f for f in found if f.severity == "critical"]
        said = "; ".join(f"{f.severity}: {f.message}" for f in critical or found)
        if critical and d.action == "down":
            return {"item": item, "outcome": "fail",
                    "detail": f"{said}. No scale-down of a flow's source or target while its replication is "
                              "critical: draining a broker now widens the RPO"}
        if found:
            return {"item": item, "outcome": "pass", "detail": f"{said}; "
                    + ("scale-ups proceed" if d.action == "up" else "not critical: scale-downs proceed")}
        return {"item": item, "outcome": "pass", "detail": f"{', '.join(view.flows)}: within the replication rules"}

    def _reassignment_check(self) -> dict[str, Any]:
        if not hasattr(self.actuator, "reassignment_running"):
            return {"item": "no running reassignment", "outcome": "pass", "detail": "checked by the platform"}
        running = self._reassigning()
        return {"item": "no running reassignment", "outcome": "fail" if running else "pass",
                "detail": "a partition reassignment is running" if running else "none running"}

    def _capacity_check(self, d: Decision) -> dict[str, Any]:
        """Whether the platform can provide the new size (a fleet brokerscale cannot start machines for
        needs its operator to register brokers first)."""
        probe = getattr(self.actuator, "shortfall", None)
        why = probe(d.target) if probe is not None and d.action == "up" else None
        return {"item": "capacity available", "outcome": "fail" if why else "pass",
                "detail": why or ("the platform provides it" if d.action == "up" else "removing capacity")}

    def post_checks(self, d: Decision, before: Snapshot) -> list[dict[str, Any]]:
        """After the change is in effect: capacity in place, utilization under the threshold, lag."""
        effective, requested = self.actuator.units()
        snap = self.actuator.observe()
        ing, egr, conns, parts = snapshot_load(snap)
        dem = self.capacity.demand(ing, egr, conns, parts)
        util = 100.0 * max(dem.values(), default=0.0) / max(1, effective)
        limit = self.policy.scale_up_utilization if d.action == "up" else self.policy.shrink_guard_utilization
        lag_before = sum(g.lag_offsets for g in before.groups)
        lag_after = sum(g.lag_offsets for g in snap.groups)
        return [
            {"item": "capacity in place", "outcome": "pass" if effective == d.target and requested is None else "fail",
             "detail": f"{effective} {self.policy.unit}s in effect"},
            {"item": "utilization under the threshold", "outcome": "pass" if util <= limit else "fail",
             "detail": f"{util:.0f}% (limit {limit:g}%)"},
            {"item": "lag not growing", "outcome": "pass" if lag_after <= max(lag_before * 1.1, lag_before + 1000)
             else "fail", "detail": f"consumer lag {lag_before:,} -> {lag_after:,} offsets"},
        ]

    def _document(self, units: int) -> dict[str, Any] | None:
        """The checklist's "update documentation": deployment files regenerated for the new size."""
        if self.document is None:
            return None
        from brokerscale.errors import BrokerscaleError

        try:
            files = self.document(units)
        except (OSError, BrokerscaleError) as exc:  # the change is in effect either way: say so, do not fail it
            return {"item": "update documentation", "outcome": "fail", "detail": f"files not regenerated: {exc}"}
        return {"item": "update documentation", "outcome": "pass", "files": files,
                "detail": f"{len(files)} files regenerated for {units} {self.policy.unit}s in "
                          f"{os.path.commonpath(files) if files else '-'}"}

    def _log_checks(self, when: str, checks: list[dict[str, Any]]) -> None:
        for c in checks:
            self.log(f"{when}-check {c['item']}: {c['outcome'].upper()} ({c['detail']})")

    def _act(self, d: Decision, snap: Snapshot) -> bool:
        pre = self.pre_checks(d, snap)
        self._log_checks("pre", pre)
        failed = [c["item"] for c in pre if c["outcome"] == "fail"]
        if failed:
            self.log(f"not acting: pre-checks failed ({', '.join(failed)})")
            return False
        intent = {"from": d.units, "to": d.target, "direction": d.action, "reason": d.reason, "trigger": d.trigger,
                  "dimension": d.dimension, "utilization": round(d.utilization, 1),
                  "projected_utilization": round(d.projected_utilization, 1), "policy": self.policy.name,
                  "unit": self.policy.unit, "pre_checks": pre}
        started = self.clock()
        event = {"target": self.actuator.target, "ts": started, **intent}
        try:
            with self.store.audited(actor=ACTOR, action=self.action_name(d.action or ""),
                                    target=self.actuator.target, intent=intent, before={"units": d.units}) as change:
                self.log(f"intent {change.change_id[:8]}: {d.action} {d.units} -> {d.target} ({d.reason})")
                self.actuator.request(d.target)
                waited = self.actuator.wait(d.target, self.wait_timeout_s)
                took = round(self.clock() - started, 1)
                post = self.post_checks(d, snap)
                docs = self._document(d.target)
                if docs is not None:
                    post.append(docs)
                self._log_checks("post", post)
                change.after = {"units": d.target, "in_effect_after_s": took, "waited_s": round(waited, 1),
                                "post_checks": post}
                if docs is not None and docs["outcome"] == "pass":
                    change.after["documentation"] = docs["files"]
        except Exception as exc:
            if self.on_event is not None:
                self.on_event(d, "error", {**event, "result": "error", "error": str(exc)})
            raise
        if self.on_event is not None:
            self.on_event(d, "ok", {**event, "result": "ok", "change_id": change.change_id,
                                    "duration_s": (change.after or {}).get("in_effect_after_s")})
        self.log(f"result {change.change_id[:8]}: {d.target} {self.policy.unit}s in effect after "
                 f"{self.clock() - started:.0f}s")
        return True

    def _trim(self, now: float) -> None:
        h = self.history
        f = self.policy.forecast
        keep = max(self.history_s, max(self.policy.forecast_periods(), default=0.0) + f.level_window + 600.0
                   if f is not None else 0.0)
        cut = h.index_at(now - keep)
        if cut > 1000:
            for lst in (h.ts, h.demand, h.dimension, h.partitions):
                del lst[:cut]
            h.end = len(h.ts)

    def release(self) -> None:
        if self.apply:
            self.store.release_lease(self.lease_name, self.holder)
