"""One chart description for the dashboard and for `--plot FILE`: the pages and the CLI draw the same chart.

Pure: builders take data already read (samples, utilizations, forecasts) and return a `Chart`. The page
hands `to_plotly(chart)` to plotly.js; `plot_file.write_chart` draws the same `Chart` with matplotlib.
Times are Unix seconds here and become UTC date strings only when rendered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SeriesKind = Literal["line", "step", "markers", "bar", "tick"]

WARNING_COLOR = "#d97706"
CRITICAL_COLOR = "#dc2626"
PALETTE = ("#2563eb", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#ea580c", "#4b5563")


class Series(BaseModel):
    """One named series. `x` is Unix seconds on time charts, a category name otherwise."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: SeriesKind = "line"
    x: list[float | str]
    y: list[float | None]
    text: list[str] | None = None
    color: str | None = None
    axis: Literal["y", "y2"] = "y"
    dash: bool = False


class HLine(BaseModel):
    """A horizontal limit line (a tier's storage limit, a disk)."""

    model_config = ConfigDict(extra="forbid")

    y: float
    label: str
    color: str = CRITICAL_COLOR


class Marker(BaseModel):
    """A moment worth a vertical line: a scaling event, a rebalance, the day a limit is crossed."""

    model_config = ConfigDict(extra="forbid")

    x: float
    label: str
    color: str = "#6b7280"


class Chart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    y_title: str = ""
    y2_title: str | None = None
    time_axis: bool = True
    series: list[Series] = Field(default_factory=list)
    hlines: list[HLine] = Field(default_factory=list)
    markers: list[Marker] = Field(default_factory=list)
    note: str = ""

    def points(self) -> int:
        return sum(sum(1 for v in s.y if v is not None) for s in self.series)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _color(chart: Chart, i: int, s: Series) -> str:
    return s.color or PALETTE[i % len(PALETTE)]


def to_plotly(chart: Chart) -> dict[str, Any]:
    """plotly.js figure: {data, layout}. Time axes get UTC date strings (plotly reads them as dates)."""
    xs = (lambda x: iso(float(x))) if chart.time_axis else (lambda x: x)
    data: list[dict[str, Any]] = []
    for i, s in enumerate(chart.series):
        color = _color(chart, i, s)
        trace: dict[str, Any] = {"name": s.name, "x": [xs(x) for x in s.x], "y": s.y}
        if s.kind == "bar":
            trace.update(type="bar", marker={"color": color})
        elif s.kind in ("markers", "tick"):
            symbol = "line-ew-open" if s.kind == "tick" else "diamond"
            trace.update(type="scatter", mode="markers",
                         marker={"color": color, "symbol": symbol, "size": 28 if s.kind == "tick" else 11,
                                 "line": {"width": 3, "color": color}})
        else:
            trace.update(type="scatter", mode="lines",
                         line={"color": color, "shape": "hv" if s.kind == "step" else "linear",
                               "dash": "dash" if s.dash else "solid"})
        if s.text is not None:
            trace.update(text=s.text, hovertemplate="%{text}<extra>" + s.name + "</extra>")
        if s.axis == "y2":
            trace["yaxis"] = "y2"
        data.append(trace)
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for h in chart.hlines:
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": h.y, "y1": h.y,
                       "line": {"color": h.color, "dash": "dash", "width": 2}})
        annotations.append({"xref": "paper", "x": 1, "y": h.y, "text": h.label, "showarrow": False,
                            "xanchor": "right", "yanchor": "bottom", "font": {"color": h.color}})
    for m in chart.markers:
        x = xs(m.x)
        shapes.append({"type": "line", "yref": "paper", "y0": 0, "y1": 1, "x0": x, "x1": x,
                       "line": {"color": m.color, "dash": "dot", "width": 1.5}})
        annotations.append({"yref": "paper", "y": 1, "x": x, "text": m.label, "showarrow": False,
                            "textangle": -90, "xanchor": "right", "yanchor": "top", "font": {"color": m.color,
                                                                                              "size": 10}})
    layout: dict[str, Any] = {
        "title": {"text": chart.title}, "margin": {"l": 60, "r": 60 if chart.y2_title else 20, "t": 40, "b": 40},
        "yaxis": {"title": {"text": chart.y_title}, "rangemode": "tozero"},
        "xaxis": {"type": "date"} if chart.time_axis else {"type": "category"},
        "legend": {"orientation": "h"}, "shapes": shapes, "annotations": annotations, "height": 340,
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "#ffffff",
    }
    if chart.y2_title:
        layout["yaxis2"] = {"title": {"text": chart.y2_title}, "overlaying": "y", "side": "right",
                            "rangemode": "tozero"}
    return {"id": chart.id, "data": data, "layout": layout, "points": chart.points(), "note": chart.note}
