"""A cluster's own recorded history as a simulator trace (`scale simulate --trace-from-store`).

`observe`, `check`, the exporter and the cloud commands record bytes in/out, connections and partition
counts in the store; this resamples them onto a fixed step (last value at or before each step), so a
policy can be tried on the cluster's real load before it runs there — the checklist's "test in
non-production".
"""

from __future__ import annotations

import bisect
from datetime import UTC, datetime

import numpy as np

from brokerscale.errors import BadInput
from brokerscale.observe.history_keys import read_history
from brokerscale.scale.trace import LoadTrace
from brokerscale.store.store import Store

METRICS = ("bytes_in_per_s", "bytes_out_per_s", "connections", "partition_count")


def trace_from_store(store: Store, cluster: str, since: float, until: float, step_s: float) -> LoadTrace:
    series = {m: read_history(store, cluster, m, since=since, until=until) for m in METRICS}
    if not series["bytes_in_per_s"]:
        raise BadInput(f"--trace-from-store: no recorded load for cluster {cluster!r} in the window "
                       "(run `brokerscale observe --record` or the exporter first)")
    first = max(s[0].ts for s in series.values() if s) if all(series.values()) else series["bytes_in_per_s"][0].ts
    last = series["bytes_in_per_s"][-1].ts
    n = int((last - first) // step_s) + 1
    if n < 2:
        raise BadInput(f"--trace-from-store: cluster {cluster!r} has less than two steps of history "
                       f"at a {step_s:g}s step")
    grid = [first + i * step_s for i in range(n)]

    def resample(metric: str, scale: float) -> np.ndarray:
        pts = series[metric]
        if not pts:
            return np.zeros(n)
        ts = [p.ts for p in pts]
        out = np.empty(n)
        for i, t in enumerate(grid):
            j = max(0, bisect.bisect_right(ts, t) - 1)
            out[i] = pts[j].value * scale
        return out

    stamps = [datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in grid]
    return LoadTrace(source=f"store:{cluster}", timestamps=stamps, epoch=np.array(grid), step_s=step_s,
                     ingress=resample("bytes_in_per_s", 1e-6),
                     egress=resample("bytes_out_per_s", 1e-6), connections=resample("connections", 1.0),
                     partitions=resample("partition_count", 1.0))
