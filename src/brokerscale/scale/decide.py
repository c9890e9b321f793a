"""decide(): the policy engine. Pure — no I/O, no clock: time, load and facts are passed in.

One call answers "what should the cluster's size be now, and why?": scale up by some units, scale down
by one, or hold — always with a reason a person can read, naming the binding dimension. The controller
(`scale run`) and the simulator (`scale simulate`) call the same function, so a policy that wins on a
recorded trace behaves the same on the live cluster.

Order of the rules (the scaling checklist as code):
1. Safety guards: a change already in flight, a running reassignment or under-replicated partitions:
   hold. Nothing else is judged while the cluster is not in a state to change.
2. Floor and cap: below the minimum in effect (base, clinic hours, season) scale up to it; above the
   cost cap scale down.
3. Scale up when the load projected to the moment new capacity would land (trend over the policy's
   window, the forecast) exceeds the threshold in effect; size for the target utilization.
4. Scale down by one unit when the load is under the threshold, it is not rising, no projected rise,
   the shrink guards pass (load after shrinking under 70 %, partitions fit), outside peak hours if the
   policy says so, inside a maintenance window if any is configured, and at the day's trough.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from brokerscale.forecast.load import rose_steadily
from brokerscale.scale.policy import Policy

Direction = Literal["up", "down"]


@dataclass
class LoadHistory:
    """Recent load, oldest first, as demand in units' worth (see `demand.UnitCapacity`).

    Parallel lists so the simulator can share one history over a year of steps and only move `end`;
    the controller builds a short one from its recent snapshots. Only points before `end` are seen.
    """

    ts: list[float] = field(default_factory=list)
    demand: list[float] = field(default_factory=list)
    dimension: list[str] = field(default_factory=list)
    partitions: list[float] = field(default_factory=list)
    end: int = 0

    def append(self, ts: float, demand: float, dimension: str, partitions: float = 0.0) -> None:
        self.ts.append(ts)
        self.demand.append(demand)
        self.dimension.append(dimension)
        self.partitions.append(partitions)
        self.end = len(self.ts)

    def index_at(self, t: float) -> int:
        """Index of the first point at or after `t` (within [0, end))."""
        return bisect.bisect_left(self.ts, t, 0, self.end)


@dataclass(slots=True)
class Facts:
    """What decide needs to know about the cluster besides its load. Times are Unix seconds."""

    units: int
    pending_units: int | None = None
    last_up_at: float | None = None
    last_down_at: float | None = None
    reassignment_running: bool = False
    under_replicated: int = 0
    forecast_demand: float | None = None  # the forecaster's projected peak (units' worth) ahead
    forecast_level: float | None = None  # today's load / the same hours one period ago (1.0: alike)


@dataclass(slots=True)
class Regime:
    """The thresholds in effect at one moment (base policy, clinic hours, season)."""

    up: float
    down: float
    min_units: int
    peak: bool
    can_shrink: bool
    in_window: bool
    why: str


@dataclass(slots=True)
class Decision:
    action: Direction | None
    units: int
    target: int
    why: str  # the reason, or a str.format template for `why_args` (formatted only when read)
    dimension: str = ""
    utilization: float = 0.0
    projected_utilization: float = 0.0
    trigger: str = "hold"  # what fired: threshold, trend, surge, forecast, minimum, budget, or hold
    checks: tuple[str, ...] = ()
    why_args: tuple[object, ...] = ()

    @property
    def reason(self) -> str:
        """The reason in words. Built on demand: the simulator asks a year of minutes and reads few."""
        return self.why.format(*self.why_args) if self.why_args else self.why


# Regimes change only at the policy's window edges, local midnight, and (DST) on the hour or half hour,
# so one evaluation holds until the next such edge: the simulator evaluates a year of minutes ~50x less.


def regime(policy: Policy, now: float) -> Regime:
    """Which thresholds apply at `now` (Unix seconds) under `policy`."""
    return _regime_at(policy, now, 2)


def _regime_at(policy: Policy, t: float, slot: int) -> Regime:
    """`regime` at Unix time `t`, cached until the next edge. `slot` keeps separate entries for callers
    that look at two moments (now, and when a change would land), so they do not evict each other."""
    cache = _constants(policy).regimes
    hit = cache[slot]
    if hit is not None and hit[0] <= t < hit[1]:
        return hit[2]
    r, local = _regime(policy, datetime.fromtimestamp(t, UTC))
    if policy.peak_hours is None and not policy.seasons and not policy.maintenance_windows:
        cache[slot] = (-math.inf, math.inf, r)  # nothing depends on the time
        return r
    tod = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    edges = [1800.0 * k for k in range(49)]
    for w in ([policy.peak_hours] if policy.peak_hours else []) + list(policy.maintenance_windows):
        edges += [w.start.hour * 3600.0 + w.start.minute * 60, w.end.hour * 3600.0 + w.end.minute * 60]
    nxt = min(e for e in edges if e > tod)
    cache[slot] = (t, t + (nxt - tod), r)
    return r


def _regime(policy: Policy, now: datetime) -> tuple[Regime, datetime]:
    up, down, floor = policy.scale_up_utilization, policy.scale_down_utilization, policy.min_units
    peak, can_shrink, why = False, True, ""
    windows = policy.maintenance_windows
    local = now.astimezone(policy.zone())
    ph = policy.peak_hours
    if ph is not None and ph.contains(local):
        peak = True
        up = ph.scale_up_utilization if ph.scale_up_utilization is not None else up
        down = ph.scale_down_utilization if ph.scale_down_utilization is not None else down
        floor = max(floor, ph.min_units or 0)
        can_shrink = ph.scale_down
        why = "peak hours"
    for s in policy.seasons:
        if s.contains(local):
            floor = max(floor, s.min_units or 0)
            up = min(up, s.scale_up_utilization) if s.scale_up_utilization is not None else up
            why = f"{why}, {s.name}" if why else s.name
    in_window = not windows or any(w.contains(local) for w in windows)
    return Regime(up=up, down=min(down, up), min_units=min(floor, policy.cap()), peak=peak,
                  can_shrink=can_shrink, in_window=in_window, why=why), local


@dataclass(frozen=True)
class _Constants:
    cap: int
    delay_up: float
    raises_floor: bool
    max_floor: int  # the highest minimum any period can set: at or above it, no minimum is ahead
    # per caller slot: (valid from, valid until, regime); see _regime_at
    regimes: list[tuple[float, float, Regime] | None] = field(default_factory=lambda: [None, None, None])


_CONSTANTS: dict[int, tuple[Policy, _Constants]] = {}


def _constants(policy: Policy) -> _Constants:
    """Figures derived from a policy, once per policy object (policies are frozen)."""
    hit = _CONSTANTS.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    ph = policy.peak_hours
    floors = [policy.min_units, (ph.min_units or 0) if ph else 0, *(s.min_units or 0 for s in policy.seasons)]
    c = _Constants(cap=policy.cap(), delay_up=policy.delay("up"),
                   raises_floor=any(s.min_units for s in policy.seasons) or bool(ph and ph.min_units),
                   max_floor=min(max(floors), policy.cap()))
    _CONSTANTS[id(policy)] = (policy, c)
    return c


def broker_step(units: int) -> int:
    """The scaling guide's broker size classes: +2 for 3-5 brokers, +3 for 6-12, +5 for 13 or more."""
    if units >= 13:
        return 5
    if units >= 6:
        return 3
    if units >= 3:
        return 2
    return 1


def up_target(policy: Policy, units: int, needed: int) -> int:
    """Units after one scale-up from `units` toward `needed`, by the policy's step rule, capped."""
    cap = policy.cap()
    if policy.scale_up_step != "auto":
        return min(cap, units + int(policy.scale_up_step))
    if policy.unit == "broker":
        return min(cap, units + broker_step(units))
    return min(cap, max(units + 1, needed))


def _slope(h: LoadHistory, now: float, window: float, min_points: int) -> float:
    """Demand change per second over the window: the mean of the newest three points against the
    mean of the three oldest in the window (robust to one noisy sample, O(1) per call)."""
    first = h.index_at(now - window)
    n = h.end - first
    if n < min_points:
        return 0.0
    d, ts, e = h.demand, h.ts, h.end
    if n >= 6:
        a, b = d[first] + d[first + 1] + d[first + 2], d[e - 3] + d[e - 2] + d[e - 1]
        ta, tb = ts[first] + ts[first + 1] + ts[first + 2], ts[e - 3] + ts[e - 2] + ts[e - 1]
    else:
        k = n // 2
        a, b = sum(d[first:first + k]), sum(d[e - k:e])
        ta, tb = sum(ts[first:first + k]), sum(ts[e - k:e])
    return (b - a) / (tb - ta) if tb > ta else 0.0


def surge_slope(h: LoadHistory, now: float, window: float, rate: float) -> float:
    """Demand change per second over the newest `window` when every sample in it rose by at least
    `rate` (fraction of the window's first load per minute) over the one before; 0.0 otherwise."""
    first = h.index_at(now - window)
    e, d, ts = h.end, h.demand, h.ts
    if not rose_steadily(ts, d, first, e, rate):
        return 0.0
    return (d[e - 1] - d[first]) / (ts[e - 1] - ts[first])


def _rise_goes_on(policy: Policy, h: LoadHistory, now: float, trigger: str) -> bool:
    """Whether a scale-up may skip the cooldown: the trend or a surge projects past the threshold on the
    units just landed AND the load still rose over the newest `trend.waive_cooldown`. Only one change is
    in flight at a time and each is sized one unit at a time on a ramp, so on a long first-day ramp every
    step also waited out the cooldown after the one before and the ramp outran them; a threshold or
    forecast trigger, or a rise that has stopped, keeps the cooldown."""
    tr = policy.trend
    if tr is None or tr.waive_cooldown is None or trigger not in ("trend", "surge"):
        return False
    return _slope(h, now, tr.waive_cooldown, tr.min_points) > 0


def _sustained(h: LoadHistory, now: float, seconds: float, above: float | None, below: float | None) -> bool:
    if seconds <= 0:
        return True
    start = h.index_at(now - seconds)
    pts = h.demand[start:h.end]
    if above is not None:
        return all(x > above for x in pts)
    return all(x < (below or 0.0) for x in pts)


def _hold(f: Facts, reason: str, dim: str = "", util: float = 0.0, proj: float = 0.0,
          checks: tuple[str, ...] = (), args: tuple[object, ...] = ()) -> Decision:
    return Decision(None, f.units, f.units, reason, dim, util, proj, "hold", checks, args)


def decide(facts: Facts, history: LoadHistory, policy: Policy, now: float) -> Decision:
    """Scale up, scale down by one, or hold — with the reason. `now` is Unix seconds (the caller's clock
    or the trace's time: decide never reads a clock)."""
    units = facts.units
    if facts.pending_units is not None:
        return _hold(facts, f"waiting for the change to {facts.pending_units} units to take effect")
    if facts.reassignment_running:
        return _hold(facts, "a partition reassignment is running: no scaling until it finishes",
                     checks=("no running reassignment: FAIL",))
    if facts.under_replicated > 0:
        return _hold(facts, f"{facts.under_replicated} under-replicated partitions: fix before scaling",
                     checks=("no under-replicated partitions: FAIL",))
    if history.end == 0:
        return _hold(facts, "no load observed yet")
    t = now
    r = _regime_at(policy, t, 0)
    k = _constants(policy)
    i = history.end - 1
    demand, dim = history.demand[i], history.dimension[i]
    util = 100.0 * demand / units
    cap = k.cap
    where = f" ({r.why})" if r.why else ""
    name = "CKUs" if policy.unit == "cku" else "brokers"

    # A higher minimum about to start (clinic hours, a season) is provisioned ahead, so that it is in
    # effect when its period begins, not one provisioning delay later.
    ahead = _regime_at(policy, t + k.delay_up, 1) if k.raises_floor and units < k.max_floor else r
    if ahead.min_units > r.min_units and units < ahead.min_units:
        return Decision("up", units, ahead.min_units, f"minimum of {ahead.min_units} {name} for {ahead.why} "
                        "provisioned ahead of its start", dim, util, util, "minimum")
    if units < r.min_units:
        return Decision("up", units, r.min_units, f"below the minimum of {r.min_units} {name}{where}",
                        dim, util, util, "minimum")
    if units > cap:
        return Decision("down", units, units - 1, f"above the cost cap of {cap} {name}", dim, util, util, "budget")

    projected, trigger = demand, "threshold"
    slope = 0.0
    forecast = facts.forecast_demand
    if policy.trend is not None:
        tr = policy.trend
        slope = _slope(history, t, tr.window, tr.min_points)
        horizon = k.delay_up if tr.lookahead == "provisioning" else float(tr.lookahead)
        # The calendar knows where a daily ramp levels off; a straight line through its last half hour
        # does not. While today runs like the same hours one period ago and the load is not above the
        # forecast, the forecast speaks for the coming hour; otherwise (a surge, a Monday after a quiet
        # Sunday, a surge day in flu season) the trend does.
        tol = tr.calendar_tolerance
        trusted = (tol is None or forecast is None or facts.forecast_level is None or demand > forecast * (1.0 + tol)
                   or abs(facts.forecast_level - 1.0) > tol)
        if slope > 0 and trusted and demand + slope * horizon > projected:
            projected, trigger = demand + slope * horizon, "trend"
        if tr.surge is not None:
            # A surge outruns both the calendar and the trend's half-hour line: project it along its own rise.
            fast = surge_slope(history, t, tr.surge.window, tr.surge.rate)
            if fast > 0 and demand + fast * horizon > projected:
                slope, projected, trigger = max(slope, fast), demand + fast * horizon, "surge"
    if forecast is not None and forecast > projected:
        projected, trigger = forecast, "forecast"
    proj_util = 100.0 * projected / units
    up, level = r.up, ""
    if proj_util > up and policy.plateau is not None:
        # Not rising: the projection is within the tolerance of the recent mean. Only the noise margin
        # is needed below the critical line, not the margin for a rise that outruns new capacity.
        pl = policy.plateau
        start = min(history.index_at(t - pl.window), i)
        mean = sum(history.demand[start:history.end]) / (history.end - start)
        if projected <= mean * (1.0 + pl.tolerance):
            up, level = min(100.0, r.up + pl.extra_points), ", level load"

    if proj_util > up and units < cap:
        if not _sustained(history, t, policy.sustain, above=r.up * units / 100.0, below=None):
            return _hold(facts, f"{dim} at {util:.0f}% (threshold {r.up:g}%) for less than "
                         f"{policy.sustain:.0f}s", dim, util, proj_util)
        rising = _rise_goes_on(policy, history, t, trigger)
        if facts.last_up_at is not None and t - facts.last_up_at < policy.scale_up_cooldown and not rising:
            left = policy.scale_up_cooldown - (t - facts.last_up_at)
            return _hold(facts, "{} at {:.0f}% but in scale-up cooldown ({:.0f}s left)",
                         dim, util, proj_util, args=(dim, util, left))
        goal = min(policy.target_utilization or r.up, r.up)
        needed = math.ceil(round(100.0 * projected / goal, 9))
        target = up_target(policy, units, needed)
        where = f" ({r.why}{level})" if r.why else f" ({level[2:]})" if level else ""
        if rising and facts.last_up_at is not None and t - facts.last_up_at < policy.scale_up_cooldown:
            where += "; still rising: scale-up cooldown waived"
        how = {"threshold": f"{dim} at {util:.0f}% > {up:g}%{where}",
               "trend": f"{dim} at {util:.0f}% rising, projected {proj_util:.1f}% > {up:g}% when new capacity "
                        f"lands{where}",
               "surge": f"{dim} at {util:.0f}% surging, projected {proj_util:.1f}% > {up:g}% when new capacity "
                        f"lands{where}",
               "forecast": f"forecast {dim} {proj_util:.1f}% > {up:g}%{where}"}[trigger]
        return Decision("up", units, target, how, dim, util, proj_util, trigger)

    if units <= r.min_units or util >= r.down:
        if units <= r.min_units:
            return _hold(facts, "{} at {:.0f}% (minimum {}{}): within thresholds", dim, util, proj_util,
                         args=(dim, util, r.min_units, where))
        return _hold(facts, "{} at {:.0f}%: within thresholds", dim, util, proj_util, args=(dim, util))
    # A scale-down candidate: the guards, in the scaling checklist's order.
    if not r.can_shrink:
        return _hold(facts, "{} at {:.0f}% < {:g}% but no scale-down in peak hours", dim, util, proj_util,
                     args=(dim, util, r.down))
    if not _sustained(history, t, policy.sustain, above=None, below=r.down * units / 100.0):
        return _hold(facts, f"{dim} under {r.down:g}% for less than {policy.sustain:.0f}s", dim, util, proj_util)
    if slope > 0:
        # A rise matters to a shrink only if it would take the smaller size past the shrink guard by the
        # time the shrink lands; a load drifting up by noise or a slow afternoon creep does not.
        landed = 100.0 * (demand + slope * policy.delay("down")) / (units - 1)
        if landed > policy.shrink_guard_utilization:
            return _hold(facts, "{} at {:.0f}% but rising, {:.0f}% after shrinking when it lands > {:g}%: "
                         "no scale-down into a rise", dim, util, proj_util,
                         args=(dim, util, landed, policy.shrink_guard_utilization))
    if forecast is not None and 100.0 * forecast / (units - 1) > policy.shrink_guard_utilization:
        return _hold(facts, f"forecast load would be {100 * forecast / (units - 1):.0f}% after shrinking: "
                     "no scale-down into a projected rise", dim, util, proj_util)
    dg = policy.dip_guard
    if dg is not None and forecast is None and r.peak \
            and _regime_at(policy, t + policy.delay("down") + k.delay_up, 1).peak:
        start = history.index_at(t - dg.window)
        back = 100.0 * max(history.demand[start:history.end]) / (units - 1)
        if back > dg.utilization:
            return _hold(facts, "{} at {:.0f}% but the last {:.0f} min's load would be {:.0f}% after shrinking, "
                         "> {:g}%: a dip in peak hours comes back", dim, util, proj_util,
                         args=(dim, util, dg.window / 60, back, dg.utilization))
    after = 100.0 * demand / (units - 1)
    if after > policy.shrink_guard_utilization:
        return _hold(facts, "{} at {:.0f}% < {:g}% but {:.0f}% after shrinking > {:g}% shrink guard", dim, util,
                     proj_util, args=(dim, util, r.down, after, policy.shrink_guard_utilization))
    parts = history.partitions[i]
    if parts > units - 1:
        return _hold(facts, f"partitions would exceed the limit of {units - 1} {name}", dim, util, proj_util)
    last = max(facts.last_up_at or -math.inf, facts.last_down_at or -math.inf)
    if t - last < policy.scale_down_cooldown:
        left = policy.scale_down_cooldown - (t - last)
        return _hold(facts, "{} at {:.0f}% but in scale-down cooldown ({:.0f}s left)", dim, util, proj_util,
                     args=(dim, util, left))
    if not r.in_window:
        return _hold(facts, f"{dim} at {util:.0f}%: scale-down waits for a maintenance window", dim, util, proj_util)
    if policy.wait_for_trough > 0:
        start = history.index_at(t - policy.wait_for_trough)
        low = min(history.demand[start:history.end])
        if demand > low * 1.05:
            return _hold(facts, f"{dim} at {util:.0f}%: scale-down waits for the trough", dim, util, proj_util)
    return Decision("down", units, units - 1, f"{dim} at {util:.0f}% < {r.down:g}%; {after:.0f}% after "
                    f"removing one {policy.unit}", dim, util, proj_util, "threshold")
