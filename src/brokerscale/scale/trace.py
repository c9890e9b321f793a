"""Load traces for the simulator: CSV, one row per fixed step, ISO-8601 UTC timestamps.

    timestamp,ingress_mb_s,egress_mb_s,connections,partitions
    2026-01-05T00:00:00Z,8.5,17.0,310,1800

Shipped traces (``brokerscale/data/traces/*.csv``) are made by ``scripts/make_traces.py``; a trace of
a cluster's own recorded history comes from the store (`--trace-from-store`). Bad files are one line
naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from brokerscale.errors import BadInput
from brokerscale.model.files import read_text

COLUMNS = ("timestamp", "ingress_mb_s", "egress_mb_s", "connections", "partitions")
TRACE_DIR = Path(__file__).resolve().parent.parent / "data" / "traces"


@dataclass
class LoadTrace:
    """A load over time at a fixed step. Arrays are parallel, one entry per row."""

    source: str
    timestamps: list[str]
    epoch: npt.NDArray[np.float64]  # Unix seconds of each row
    step_s: float
    ingress: npt.NDArray[np.float64]
    egress: npt.NDArray[np.float64]
    connections: npt.NDArray[np.float64]
    partitions: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.timestamps)


def shipped_traces() -> list[str]:
    return sorted(p.stem for p in TRACE_DIR.glob("*.csv"))


def resolve_trace(name_or_path: str) -> Path:
    shipped = TRACE_DIR / f"{name_or_path}.csv"
    if "/" not in name_or_path and shipped.is_file():
        return shipped
    return Path(name_or_path)


def _parse_time(text: str, source: str, line: int) -> datetime:
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{source}: line {line}: timestamp: {text!r} is not an ISO-8601 time") from None
    if ts.tzinfo is None or ts.utcoffset() != UTC.utcoffset(None):
        raise BadInput(f"{source}: line {line}: timestamp: {text!r} must be UTC (end it with Z)")
    return ts


_STAMP = re.compile(r"^([^,\n]*),", re.M)


def read_trace(path: Path, source: str | None = None) -> LoadTrace:
    """Read and check a trace CSV: the header, UTC times at one fixed step, numbers >= 0.

    A year of minutes is 525,600 rows, so a well-formed file is parsed in bulk (regular expressions and
    numpy, no per-row Python); anything odd is re-read row by row to name the line and column.
    """
    source = source or str(path)
    text = read_text(path, source).replace("\r\n", "\n")
    first, _, body = text.partition("\n")
    if tuple(h.strip() for h in first.split(",")) != COLUMNS:
        raise BadInput(f"{source}: line 1: header must be {','.join(COLUMNS)}")
    body = body.strip("\n")
    data: npt.NDArray[np.float64] | None = None
    stamps: list[str] = []
    epoch: npt.NDArray[np.float64] | None = None
    fast = _canonical(body) if body and "\n\n" not in body else None
    if fast is not None:
        stamps, epoch, data = fast
    elif body and "\n\n" not in body:
        stamps = _STAMP.findall(body)
        try:  # numpy's C reader: raises if a row has a different number of columns or a non-number
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = np.loadtxt(io.StringIO(_STAMP.sub("", body)), delimiter=",", dtype=np.float64, ndmin=2)
        except ValueError:
            data = None
        if data is not None and data.shape != (len(stamps), 4):
            data = None
    if data is None:
        stamps, data = _read_rows(body, source)
    if len(stamps) < 2:
        raise BadInput(f"{source}: needs at least two rows to know its step")
    bad = np.argwhere(~np.isfinite(data) | (data < 0))
    if len(bad):
        i, c = (int(x) for x in bad[0])
        raise BadInput(f"{source}: line {i + 2}: {COLUMNS[c + 1]}: must be a number >= 0")
    if epoch is None:
        epoch = _epochs(stamps, source)
    steps = np.diff(epoch)
    step = float(steps[0])
    if step <= 0 or not np.all(steps == step):
        i = int(np.argmax(steps != step)) + 1 if step > 0 else 1
        raise BadInput(f"{source}: line {i + 2}: timestamp: rows must be one fixed step apart "
                       f"({step:g}s after the first row)")
    return LoadTrace(source=source, timestamps=stamps, epoch=epoch, step_s=step,
                     ingress=data[:, 0].copy(), egress=data[:, 1].copy(), connections=data[:, 2].copy(),
                     partitions=data[:, 3].copy())


def _canonical(body: str) -> tuple[list[str], npt.NDArray[np.float64], npt.NDArray[np.float64]] | None:
    """The fastest path, for the files brokerscale writes itself: five columns on every row and every
    time exactly `YYYY-MM-DDTHH:MM:SSZ`, parsed by numpy as digits. None sends the file down the general
    path (any other ISO-8601 form, a bad cell), which reads it again and names what is wrong."""
    rows = body.count("\n") + 1
    if body.count(",") != 4 * rows or '"' in body:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = np.loadtxt(io.StringIO(body), delimiter=",", usecols=(1, 2, 3, 4), dtype=np.float64, ndmin=2)
            text = np.loadtxt(io.StringIO(body), delimiter=",", usecols=(0,), dtype="U24", ndmin=1)
    except ValueError:
        return None
    if data.shape != (rows, 4) or text.shape != (rows,):
        return None
    c = np.ascontiguousarray(text).view(np.uint32).reshape(rows, 24)
    seps = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: "Z"}
    if c[:, 20].any() or any((c[:, k] != ord(ch)).any() for k, ch in seps.items()):
        return None
    digits = c[:, :19].astype(np.int32) - ord("0")
    digits[:, list(seps)[:-1]] = 0
    if ((digits < 0) | (digits > 9)).any():
        return None

    def num(a: int, b: int) -> npt.NDArray[np.int64]:
        out = np.zeros(rows, dtype=np.int64)
        for k in range(a, b):
            out = out * 10 + digits[:, k]
        return out

    y, mo, d, h, mi, sec = num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19)
    if ((mo < 1) | (mo > 12) | (d < 1) | (h > 23) | (mi > 59) | (sec > 59)).any():
        return None
    month = ((y - 1970) * 12 + mo - 1).astype("datetime64[M]")
    days_in = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(np.int64)
    if (d > days_in).any():
        return None
    day = month.astype("datetime64[D]").astype(np.int64) + d - 1
    epoch = (day * 86400 + h * 3600 + mi * 60 + sec).astype(np.float64)
    return text.tolist(), epoch, data


def _read_rows(body: str, source: str) -> tuple[list[str], npt.NDArray[np.float64]]:
    """The slow path: row by row, so the first bad cell is named by line and column."""
    stamps: list[str] = []
    values: list[list[float]] = []
    for line, row in enumerate(csv.reader(body.split("\n")), start=2):
        if not row:
            continue
        if len(row) != len(COLUMNS):
            raise BadInput(f"{source}: line {line}: expected {len(COLUMNS)} columns, got {len(row)}")
        nums = []
        for col, v in zip(COLUMNS[1:], row[1:], strict=True):
            try:
                nums.append(float(v))
            except ValueError:
                raise BadInput(f"{source}: line {line}: {col}: {v!r} is not a number") from None
        stamps.append(row[0].strip())
        values.append(nums)
    return stamps, np.array(values, dtype=np.float64).reshape(-1, 4)


def _epochs(stamps: list[str], source: str) -> npt.NDArray[np.float64]:
    """Unix seconds of ISO-8601 UTC stamps (`...Z` or `...+00:00`); any other zone is an error."""
    naive = []
    for s in (stamps[0], stamps[-1]):
        _parse_time(s, source, stamps.index(s) + 2)
    for i, s in enumerate(stamps):
        if s.endswith("Z"):
            naive.append(s[:-1])
        elif s.endswith("+00:00"):
            naive.append(s[:-6])
        else:
            _parse_time(s, source, i + 2)
            raise BadInput(f"{source}: line {i + 2}: timestamp: {s!r} must be UTC (end it with Z)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.array(naive, dtype="datetime64[ms]")
    except ValueError:
        for i, s in enumerate(stamps):
            _parse_time(s, source, i + 2)
        raise
    return arr.astype(np.int64).astype(np.float64) / 1000.0


def write_trace(path: Path, times: list[datetime], ingress: list[float], egress: list[float],
                connections: list[float], partitions: list[float]) -> None:
    """Write a trace CSV (used by the trace script and `--trace-from-store`)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS)
        for t, i, e, c, p in zip(times, ingress, egress, connections, partitions, strict=True):
            w.writerow([t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), f"{i:.3f}", f"{e:.3f}",
                        f"{c:.0f}", f"{p:.0f}"])
