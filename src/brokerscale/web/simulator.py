"""The simulator page: a shipped or uploaded trace through shipped or uploaded policies, against the oracle.

Runs the autoscaler's own `simulate` (the same as `brokerscale scale simulate`) and turns its results
into the page's chart (units in effect per policy against the units the load needs) and table.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from brokerscale.errors import BadInput
from brokerscale.web.charts import Chart, Series, to_plotly

MAX_POINTS = 1500
MAX_UPLOAD_BYTES = 64 * 1024 * 1024


def options() -> dict[str, Any]:
    from brokerscale.scale.policy import shipped_policies
    from brokerscale.scale.trace import shipped_traces

    return {"available": True, "traces": shipped_traces(), "policies": shipped_policies()}


def _bucket_max(values: np.ndarray, n: int) -> np.ndarray:
    """At most `n` points, each the maximum of its bucket (a short peak must stay visible)."""
    if len(values) <= n:
        return values
    size = -(-len(values) // n)
    pad = (-len(values)) % size
    padded = np.concatenate([values, np.full(pad, values[-1])]) if pad else values
    return np.asarray(padded.reshape(-1, size).max(axis=1))


def run(trace: str | None, trace_csv: str | None, policies: list[str], policy_yaml: str | None,
        unit: str | None = None, limits: str | None = None) -> dict[str, Any]:
    """Simulate each policy on the trace; any bad input is a BadInput naming the field."""
    from brokerscale.scale.demand import resolve_capacity, trigger_thresholds
    from brokerscale.scale.policy import load_policy, parse_policy
    from brokerscale.scale.simulate import simulate, trace_demand
    from brokerscale.scale.trace import read_trace, resolve_trace, shipped_traces

    if (trace is None) == (trace_csv is None):
        raise BadInput("trace: choose a shipped trace or upload one (not both)")
    if unit is not None and unit not in ("cku", "broker"):
        raise BadInput(f"unit: {unit!r} must be cku or broker")
    pols = []
    for name in policies:
        pols.append(load_policy(None, name, unit))  # type: ignore[arg-type]
    if policy_yaml:
        try:
            doc = yaml.safe_load(policy_yaml)
        except yaml.YAMLError as exc:
            raise BadInput(f"uploaded policy: not YAML ({str(exc).splitlines()[0]})") from None
        pols.append(parse_policy(doc, "uploaded policy", unit))  # type: ignore[arg-type]
    if not pols:
        raise BadInput("policies: choose at least one policy (or upload a policy file)")
    if trace is not None:
        if trace not in shipped_traces():
            raise BadInput(f"trace: {trace!r} is not a shipped trace ({', '.join(shipped_traces())})")
        tr = read_trace(resolve_trace(trace), trace)
    else:
        assert trace_csv is not None
        if len(trace_csv) > MAX_UPLOAD_BYTES:
            raise BadInput("uploaded trace: larger than 64 MB")
        with tempfile.TemporaryDirectory(prefix="bs-trace-") as d:
            path = Path(d) / "uploaded.csv"
            path.write_text(trace_csv, encoding="utf-8")
            tr = read_trace(path, "uploaded trace")
    cap = resolve_capacity(limits, pols[0].unit)
    thr = trigger_thresholds()
    results = [simulate(tr, p, cap, thr) for p in pols]
    need = np.maximum(pols[0].min_units, np.floor(trace_demand(tr, cap, thr).k_crit) + 1)
    return _view(tr.source, tr.epoch, need, results, cap.description)


def _view(source: str, epoch: np.ndarray, need: np.ndarray, results: list[Any], capacity: str) -> dict[str, Any]:
    n = len(epoch)
    size = max(1, -(-n // MAX_POINTS))
    xs: list[float | str] = [float(x) for x in epoch[::size]]
    unit = results[0].unit
    series = [Series(name="units needed to stay out of critical", kind="step", color="#9ca3af",
                     x=xs, y=[float(v) for v in _bucket_max(need, MAX_POINTS)][:len(xs)])]
    for r in results:
        series.append(Series(name=r.policy, kind="step", x=xs,
                             y=[float(v) for v in _bucket_max(r.units.astype(float), MAX_POINTS)][:len(xs)]))
    chart = Chart(id="simulation", title=f"{source}: {unit}s in effect vs needed", y_title=f"{unit}s",
                  series=series)
    r0 = results[0]
    rows = [{"policy": r.policy, "unit_hours": round(r.unit_hours, 2),
             "vs_oracle": round(r.unit_hours / r.oracle_unit_hours, 4) if r.oracle_unit_hours else None,
             "critical_minutes": r.critical_minutes, "warning_minutes": r.warning_minutes,
             "actions": len(r.actions)} for r in results]
    rows.append({"policy": "oracle", "unit_hours": round(r0.oracle_unit_hours, 2), "vs_oracle": 1.0,
                 "critical_minutes": r0.oracle_critical_minutes, "warning_minutes": None, "actions": None})
    return {"trace": source, "steps": n, "step_s": r0.step_s, "unit": unit, "capacity": capacity,
            "rows": rows, "chart": to_plotly(chart)}
