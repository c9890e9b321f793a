"""`scale simulate --plot FILE`: one picture of a policy on a trace (PNG or SVG, by the file's suffix).

Top: units in effect against the units the load needs to stay out of critical (the oracle's floor at
each step). Bottom: utilization of the units in effect, with the warning and critical levels. matplotlib
renders it headless (Agg), so it works on a server and in CI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brokerscale.errors import BadInput
from brokerscale.scale.simulate import SimResult


def plot(results: list[SimResult], k_crit: np.ndarray, title: str, out: Path,
         floor: int = 1) -> None:
    if out.suffix.lower() not in (".png", ".svg"):
        raise BadInput(f"--plot: {out}: the file name must end in .png or .svg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    r0 = results[0]
    assert r0.epoch is not None
    times = (r0.epoch * 1000).astype(np.int64).astype("datetime64[ms]")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 6.5), sharex=True, height_ratios=[3, 2])
    top.plot(times, np.maximum(floor, np.floor(k_crit) + 1), color="#bbbbbb", lw=0.8, drawstyle="steps-post",
             label="units needed to stay out of critical")
    for r in results:
        top.plot(times, r.units, lw=1.4, drawstyle="steps-post",
                 label=f"{r.policy}: {r.unit_hours:,.0f} {r.unit}-h, {r.critical_minutes:,.0f} critical min")
        bottom.plot(times, r.utilization, lw=0.8, label=r.policy)
    top.set_ylabel(f"{r0.unit}s in effect")
    top.set_title(f"{title} — oracle {r0.oracle_unit_hours:,.0f} {r0.unit}-h, "
                  f"{r0.oracle_critical_minutes:,.0f} critical min")
    top.legend(loc="upper left", fontsize=8)
    bottom.axhline(70, color="#e0a000", lw=0.8, ls="--")
    bottom.axhline(85, color="#c00000", lw=0.8, ls="--")
    bottom.set_ylabel("utilization %")
    bottom.legend(loc="upper left", fontsize=8)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(bottom.xaxis.get_major_locator()))
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=110)
    except OSError as exc:
        raise BadInput(f"--plot: {out}: cannot write ({exc.strerror})") from None
    finally:
        plt.close(fig)
