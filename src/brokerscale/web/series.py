"""Charts and tables for each page, built from data already read (rounds, samples, audit rows, forecasts).

Pure: nothing here reads the store, the clock or the network, so the pages, the API and `--plot` share one
answer and tests can feed it fixed data.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from brokerscale.balance.state import ExecState
from brokerscale.forecast.storage import DAY, StorageForecast
from brokerscale.observe.capacity import Capacity, Utilization
from brokerscale.observe.lag_eval import time_lag
from brokerscale.observe.rules import RuleSet, Threshold
from brokerscale.observe.triggers import dimension_rule
from brokerscale.store.samples import Sample
from brokerscale.web.charts import CRITICAL_COLOR, WARNING_COLOR, Chart, HLine, Marker, Series, to_plotly

MB = 1_000_000
# The audit actions that change a cluster's size or layout: drawn as markers on the timeline.
EVENT_PREFIXES = ("scale", "rebalance", "cloud.cluster", "topics", "dev.")


def severity(percent: float, rule: Threshold) -> str:
    """OK / WARNING / CRITICAL of one utilization against its rule (the same `>` as the triggers)."""
    if not rule.enabled:
        return "OK"
    if rule.critical is not None and percent > rule.critical:
        return "CRITICAL"
    if rule.warning is not None and percent > rule.warning:
        return "WARNING"
    return "OK"


def utilization_rows(utils: Sequence[Utilization], rules: RuleSet) -> list[dict[str, Any]]:
    """Cluster-wide utilization per dimension with its warning/critical lines and status."""
    rows = []
    for u in utils:
        if u.scope != "cluster":
            continue
        name, rule = dimension_rule(rules, u.dimension)
        rows.append({"dimension": u.dimension, "rule": name, "percent": u.percent, "used": u.used,
                     "capacity": u.capacity, "warning": rule.warning if rule.enabled else None,
                     "critical": rule.critical if rule.enabled else None, "status": severity(u.percent, rule)})
    return rows


def utilization_chart(cluster: str, rows: Sequence[dict[str, Any]]) -> Chart:
    dims = [r["dimension"] for r in rows]
    series = [Series(name="utilization %", kind="bar", x=list(dims), y=[r["percent"] for r in rows],
                     text=[f"{r['dimension']}: {r['percent']:.1f}% ({r['status']})" for r in rows], color="#60a5fa"),
              Series(name="warning", kind="tick", x=list(dims), y=[r["warning"] for r in rows], color=WARNING_COLOR),
              Series(name="critical", kind="tick", x=list(dims), y=[r["critical"] for r in rows],
                     color=CRITICAL_COLOR)]
    return Chart(id=f"util-{cluster}", title=f"{cluster}: utilization of provisioned capacity", y_title="%",
                 time_axis=False, series=series,
                 note="" if rows else "no capacity given (--capacity FILE or --ckus N): utilization is not judged")


def _xy(samples: Iterable[Sample], scale: float = 1.0) -> tuple[list[float | str], list[float | None]]:
    xs: list[float | str] = []
    ys: list[float | None] = []
    for s in samples:
        xs.append(s.ts)
        ys.append(s.value * scale)
    return xs, ys


def downsample(samples: Sequence[Sample], max_points: int) -> list[Sample]:
    """At most `max_points` samples, evenly spaced in index (a day of minutes fits a wall screen)."""
    if len(samples) <= max_points or max_points < 2:
        return list(samples)
    step = (len(samples) - 1) / (max_points - 1)
    return [samples[round(i * step)] for i in range(max_points)]


def event_markers(audit: Sequence[dict[str, Any]], since: float, until: float) -> list[Marker]:
    """Scaling events and rebalances from the audit log, labelled with their reason where one was recorded."""
    out = []
    for r in audit:
        if not (since <= r["ts"] <= until) or not str(r["action"]).startswith(EVENT_PREFIXES):
            continue
        intent = r.get("intent") or {}
        reason = intent.get("reason") if isinstance(intent, dict) else None
        label = f"{r['action']} {r['target']}" + (f": {reason}" if reason else "") + \
            ("" if r["result"] == "ok" else f" ({r['result']})")
        color = CRITICAL_COLOR if r["result"] == "error" else WARNING_COLOR if r["result"] == "pending" else "#6b7280"
        out.append(Marker(x=r["ts"], label=label[:80], color=color))
    return sorted(out, key=lambda m: m.x)


def timeline_charts(cluster: str, history: dict[str, list[Sample]], capacity: Capacity | None,
                    markers: list[Marker], max_points: int = 720) -> list[Chart]:
    """Throughput in/out, utilization and units over time, every chart carrying the same event markers."""
    bin_, bout = history.get("bytes_in_per_s", []), history.get("bytes_out_per_s", [])
    tput = [Series(name=name, x=x, y=y) for name, (x, y) in
            (("bytes in (MB/s)", _xy(downsample(bin_, max_points), 1 / MB)),
             ("bytes out (MB/s)", _xy(downsample(bout, max_points), 1 / MB)))]
    charts = [Chart(id="throughput", title=f"{cluster}: throughput", y_title="MB/s", series=tput, markers=markers)]
    util: list[Series] = []
    if capacity is not None:
        if capacity.throughput_bytes_per_s:
            outs = {s.ts: s.value for s in bout}
            pts = [(s.ts, 100.0 * (s.value + outs.get(s.ts, 0.0)) / capacity.throughput_bytes_per_s) for s in bin_]
            util.append(_pct_series("throughput %", pts, max_points))
        for metric, cap_value, name in (("connections", capacity.connections, "connections %"),
                                        ("requests_per_s", capacity.requests_per_s, "requests %"),
                                        ("retained_bytes", capacity.disk_bytes, "disk %")):
            if cap_value:
                util.append(_pct_series(name, [(s.ts, 100.0 * s.value / cap_value)
                                               for s in history.get(metric, [])], max_points))
    charts.append(Chart(id="utilization", title=f"{cluster}: utilization", y_title="%", series=util,
                        markers=markers, note="" if capacity else "no capacity given: utilization is not judged"))
    units = history.get("units", [])
    ux, uy = _xy(downsample(units, max_points))
    charts.append(Chart(id="units", title=f"{cluster}: units (CKUs or brokers)", y_title="units",
                        series=[Series(name="units", kind="step", x=ux, y=uy)], markers=markers))
    return charts


def _pct_series(name: str, pts: list[tuple[float, float]], max_points: int) -> Series:
    samples = downsample([Sample(t, "", name, v) for t, v in pts], max_points)
    return Series(name=name, x=[s.ts for s in samples], y=[round(s.value, 3) for s in samples])


def lag_history(leo: Sequence[Sample], committed: Sequence[Sample], groups: Iterable[str] | None = None,
                max_points: int = 300) -> dict[str, list[tuple[float, int, float | None]]]:
    """(ts, lag in offsets, max time lag in seconds) per group at each recorded observation.

    Lag offsets are log-end minus committed summed over the group's partitions; time lag is read off the
    log-end history with the same interpolation as `lag` (never extrapolated).
    """
    wanted = set(groups) if groups is not None else None
    leo_hist: dict[tuple[str, int], list[tuple[float, int]]] = defaultdict(list)
    leo_at: dict[tuple[float, str, int], int] = {}
    for s in leo:
        tp = (s.labels["topic"], int(s.labels["partition"]))
        leo_hist[tp].append((s.ts, int(s.value)))
        leo_at[(s.ts, *tp)] = int(s.value)
    for h in leo_hist.values():
        h.sort()
    by_group: dict[str, dict[float, list[tuple[tuple[str, int], int]]]] = defaultdict(lambda: defaultdict(list))
    for s in committed:
        g = s.labels["group"]
        if wanted is not None and g not in wanted:
            continue
        by_group[g][s.ts].append(((s.labels["topic"], int(s.labels["partition"])), int(s.value)))
    out: dict[str, list[tuple[float, int, float | None]]] = {}
    for g, at in sorted(by_group.items()):
        times = sorted(at)
        if len(times) > max_points:
            step = (len(times) - 1) / (max_points - 1)
            times = [times[round(i * step)] for i in range(max_points)]
        rows = []
        for ts in times:
            lag_off = 0
            secs: float | None = None
            for tp, pos in at[ts]:
                end = leo_at.get((ts, *tp))
                if end is None:
                    continue
                lag_off += max(0, end - pos)
                hist = leo_hist[tp]
                tl = time_lag(pos, ts, hist[:bisect.bisect_right(hist, (ts, float("inf")))])
                if tl is not None:
                    secs = tl.seconds if secs is None else max(secs, tl.seconds)
            rows.append((ts, lag_off, secs))
        out[g] = rows
    return out


def lag_charts(history: dict[str, list[tuple[float, int, float | None]]]) -> list[Chart]:
    offsets = [Series(name=g, x=[r[0] for r in rows], y=[float(r[1]) for r in rows]) for g, rows in history.items()]
    seconds = [Series(name=g, x=[r[0] for r in rows], y=[r[2] for r in rows]) for g, rows in history.items()]
    note = "" if history else "no lag history recorded yet (the dashboard, `observe`, `lag` and the exporter record it)"
    return [Chart(id="lag-offsets", title="consumer lag (offsets)", y_title="offsets", series=offsets, note=note),
            Chart(id="lag-seconds", title="consumer lag (seconds)", y_title="seconds", series=seconds, note=note)]


def storage_chart(cluster: str, points: Sequence[tuple[float, float]], fc: StorageForecast, now: float) -> Chart:
    """Retained bytes per day, the fitted 90-day projection, the limit line and the day it is crossed."""
    gb = 1e9
    days: dict[int, tuple[float, float]] = {}
    for t, v in sorted(points):
        days[int(t // DAY)] = (t, v)  # the last sample of each day
    series = [Series(name="retained (GB, last sample of each day)", kind="markers",
                     x=[t for t, _ in days.values()], y=[v / gb for _, v in days.values()]),
              Series(name="retained (GB)", x=[t for t, _ in sorted(points)], y=[v / gb for _, v in sorted(points)])]
    markers: list[Marker] = []
    hlines: list[HLine] = []
    if fc.ok and fc.projection:  # the forecaster's own curve: linear, or levelling off at retention
        xs: list[float | str] = [now + d * DAY for d, _ in fc.projection]
        series.append(Series(name="projection (GB)", x=xs, y=[v / gb for _, v in fc.projection],
                             dash=True, color="#7c3aed"))
    if fc.limit_bytes is not None:
        hlines.append(HLine(y=fc.limit_bytes / gb, label=fc.limit_label or "limit"))
        if fc.days_until_limit is not None:
            markers.append(Marker(x=now + fc.days_until_limit * DAY, color=CRITICAL_COLOR,
                                  label=f"limit crossed in {fc.days_until_limit:,.0f} days"))
    return Chart(id="storage", title=f"{cluster}: retained bytes and projection", y_title="GB", series=series,
                 hlines=hlines, markers=markers, note="" if fc.ok else fc.reason)


def rebalance_view(state: ExecState) -> dict[str, Any]:
    """Per-broker before/after (replicas, leaders, bytes) of the partitions a run moves, and its progress."""
    done = set(state.completed)
    per: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(
        ("replicas_before", "replicas_after", "leaders_before", "leaders_after", "bytes_before", "bytes_after"), 0))
    for m in state.moves:
        for b in m.original:
            per[b]["replicas_before"] += 1
            per[b]["bytes_before"] += m.size
        for b in m.target:
            per[b]["replicas_after"] += 1
            per[b]["bytes_after"] += m.size
        if m.original:
            per[m.original[0]]["leaders_before"] += 1
        if m.target:
            per[m.target[0]]["leaders_after"] += 1
    brokers = sorted(per)
    rows = [{"broker": b, **per[b]} for b in brokers]
    xs: list[float | str] = [f"broker {b}" for b in brokers]
    chart = Chart(id="rebalance", title="replicas of the moved partitions, before and after", y_title="replicas",
                  time_axis=False, series=[
                      Series(name="before", kind="bar", x=xs, y=[float(per[b]["replicas_before"]) for b in brokers],
                             color="#9ca3af"),
                      Series(name="after", kind="bar", x=xs, y=[float(per[b]["replicas_after"]) for b in brokers])])
    partitions = [{"partition": m.key, "from": m.original, "to": m.target, "bytes": m.bytes, "done": m.key in done}
                  for m in state.moves]
    return {"run": {"plan_id": state.plan_id, "status": state.status, "message": state.message,
                    "completed": len(done), "total": len(state.moves),
                    "bytes_done": sum(m.bytes for m in state.moves if m.key in done),
                    "bytes_total": sum(m.bytes for m in state.moves), "throttle_bytes_s": state.throttle_bytes_s,
                    "throttled_brokers": state.throttled_brokers},
            "brokers": rows, "partitions": partitions, "chart": to_plotly(chart)}
