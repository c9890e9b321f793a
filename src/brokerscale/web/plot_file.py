"""`--plot FILE.png|svg`: the dashboard's chart written to a file, for reports and tickets.

The same `Chart` the page hands to plotly.js is drawn here with matplotlib (Agg, no display needed):
series, limit lines and event markers alike. matplotlib is imported only when a file is written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from brokerscale.errors import BadInput

if TYPE_CHECKING:  # the chart models only when a file is drawn: `lag`, `forecast` take --plot as an option
    from brokerscale.web.charts import Chart

FORMATS = (".png", ".svg")

PlotOpt = Annotated[
    Path | None,
    typer.Option("--plot", metavar="FILE.png|FILE.svg", show_default=False,
                 help="Also write the chart (the same one as the web dashboard's) to a PNG or SVG file."),
]


def check_plot_path(path: Path | None) -> Path | None:
    """Refuse a bad --plot before any work: wrong suffix or a missing directory."""
    if path is None:
        return None
    if path.suffix.lower() not in FORMATS:
        raise BadInput(f"--plot: {path}: the file name must end in .png or .svg")
    parent = path.expanduser().resolve().parent
    if not parent.is_dir():
        raise BadInput(f"--plot: {path}: directory {parent} does not exist")
    return path.expanduser()


def write_chart(chart: Chart, path: Path) -> None:
    """Draw `chart` into `path` (format from the suffix)."""
    import matplotlib

    from brokerscale.web.charts import PALETTE

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # SVG text stays text: searchable, small, selectable
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    def xv(x: float | str) -> Any:
        return datetime.fromtimestamp(float(x), UTC) if chart.time_axis else x

    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    ax2 = ax.twinx() if chart.y2_title else None
    try:
        bars = [s for s in chart.series if s.kind == "bar"]
        for i, s in enumerate(chart.series):
            color = s.color or PALETTE[i % len(PALETTE)]
            target = ax2 if (s.axis == "y2" and ax2 is not None) else ax
            pts = [(xv(x), y) for x, y in zip(s.x, s.y, strict=False) if y is not None]
            if not pts:
                continue
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            if s.kind == "bar":
                target.bar(xs, ys, color=color, label=s.name, width=0.6 if len(bars) == 1 else 0.35)
            elif s.kind == "tick":
                target.scatter(xs, ys, marker="_", s=900, linewidths=3, color=color, label=s.name, zorder=3)
            elif s.kind == "markers":
                target.scatter(xs, ys, marker="D", s=30, color=color, label=s.name, zorder=3)
            else:
                target.plot(xs, ys, color=color, label=s.name, linestyle="--" if s.dash else "-",
                            drawstyle="steps-post" if s.kind == "step" else "default")
        for h in chart.hlines:
            ax.axhline(h.y, color=h.color, linestyle="--", linewidth=1.5)
            ax.annotate(h.label, xy=(1, h.y), xycoords=("axes fraction", "data"), ha="right", va="bottom",
                        color=h.color, fontsize=9)
        for m in chart.markers:
            ax.axvline(xv(m.x), color=m.color, linestyle=":", linewidth=1.2)
            ax.annotate(m.label, xy=(xv(m.x), 1), xycoords=("data", "axes fraction"), rotation=90, ha="right",
                        va="top", color=m.color, fontsize=8)
        ax.set_title(chart.title)
        ax.set_ylabel(chart.y_title)
        ax.set_ylim(bottom=0)
        if ax2 is not None:
            ax2.set_ylabel(chart.y2_title or "")
            ax2.set_ylim(bottom=0)
        if chart.time_axis:
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M", tz=UTC))
            fig.autofmt_xdate()
            ax.set_xlabel("UTC")
        if chart.note:
            ax.text(0.5, 0.5, chart.note, transform=ax.transAxes, ha="center", va="center", fontsize=9,
                    color="#6b7280", wrap=True)
        if any(s.y for s in chart.series):
            ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, format=path.suffix.lower().lstrip("."))
    finally:
        plt.close(fig)


def save_plot(chart: Chart, path: Path) -> None:
    """Write the chart and say where on stderr (stdout stays clean for --format json)."""
    from brokerscale.console import err

    try:
        write_chart(chart, path)
    except OSError as exc:
        raise BadInput(f"--plot: {path}: cannot write ({exc.strerror})") from None
    err.print(f"chart written to {path} ({chart.points()} data points)")
