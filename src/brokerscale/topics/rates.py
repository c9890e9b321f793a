"""Traffic per topic and per partition from two samples of offsets — the fallback when no metrics exist.

Any cluster that answers the admin API can be measured this way, Confluent Cloud included: the
log-end offset delta is messages in, the committed-offset delta of every consumer group is messages
out, and an average record size (bytes on disk ÷ records retained, per partition) turns messages
into bytes. Pure: the adapter takes the samples, this module only does arithmetic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from brokerscale.topics.model import TopicRate

TP = tuple[str, int]
#: Used when a partition holds no records to size from: the middle of HL7 v2's 0.5-2 KB.
DEFAULT_RECORD_BYTES = 1000.0


@dataclass(frozen=True)
class OffsetSample:
    """Offsets at one moment. `group_offsets` is keyed by (group, topic, partition)."""

    taken_at: float
    end_offsets: dict[TP, int]
    group_offsets: dict[tuple[str, str, int], int] = field(default_factory=dict)


def record_sizes(size_bytes: Mapping[TP, int], start_offsets: Mapping[TP, int], end_offsets: Mapping[TP, int],
                 default: float = DEFAULT_RECORD_BYTES) -> dict[TP, float]:
    """Average bytes per record per partition; partitions without data borrow their topic's average."""
    per_tp: dict[TP, float] = {}
    topic_bytes: dict[str, float] = defaultdict(float)
    topic_records: dict[str, int] = defaultdict(int)
    for tp, end in end_offsets.items():
        records = end - start_offsets.get(tp, 0)
        size = size_bytes.get(tp)
        if records > 0 and size is not None and size > 0:
            per_tp[tp] = size / records
            topic_bytes[tp[0]] += size
            topic_records[tp[0]] += records
    out: dict[TP, float] = {}
    for tp in end_offsets:
        if tp in per_tp:
            out[tp] = per_tp[tp]
        elif topic_records.get(tp[0]):
            out[tp] = topic_bytes[tp[0]] / topic_records[tp[0]]
        else:
            out[tp] = default
    return out


def _window(first: OffsetSample, second: OffsetSample) -> float:
    window = second.taken_at - first.taken_at
    if window <= 0:
        raise ValueError("the second offset sample must be taken after the first")
    return window


def partition_bytes_in(first: OffsetSample, second: OffsetSample,
                       sizes: Mapping[TP, float]) -> dict[TP, float]:
    """Bytes/s appended to each partition between the samples (partitions in both samples only)."""
    window = _window(first, second)
    out: dict[TP, float] = {}
    for tp, end in second.end_offsets.items():
        if tp not in first.end_offsets:
            continue
        delta = max(0, end - first.end_offsets[tp])
        out[tp] = delta * sizes.get(tp, DEFAULT_RECORD_BYTES) / window
    return out


def _slope(points: list[tuple[float, int]]) -> float:
    """Least-squares offsets/second: one late batch at either end of the window moves it far less than
    it moves a two-point difference."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_o = sum(o for _, o in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var <= 0:
        return 0.0
    return sum((t - mean_t) * (o - mean_o) for t, o in points) / var


def partition_bytes_in_series(samples: list[OffsetSample], sizes: Mapping[TP, float]) -> dict[TP, float]:
    """Bytes/s appended to each partition, fitted over all samples (two samples: the plain difference)."""
    if len(samples) < 2:
        raise ValueError("need at least two offset samples")
    if len(samples) == 2:
        return partition_bytes_in(samples[0], samples[1], sizes)
    _window(samples[0], samples[-1])
    out: dict[TP, float] = {}
    for tp in samples[-1].end_offsets:
        points = [(s.taken_at, s.end_offsets[tp]) for s in samples if tp in s.end_offsets]
        if len(points) < 2 or any(b[1] < a[1] for a, b in pairwise(points)):
            # new partition or a reset offset: fall back to the first/last difference rule
            first = OffsetSample(points[0][0], {tp: points[0][1]})
            last = OffsetSample(points[-1][0], {tp: points[-1][1]})
            if len(points) >= 2:
                out.update(partition_bytes_in(first, last, sizes))
            continue
        out[tp] = max(0.0, _slope(points)) * sizes.get(tp, DEFAULT_RECORD_BYTES)
    return out


def partition_bytes_out(first: OffsetSample, second: OffsetSample,
                        sizes: Mapping[TP, float]) -> dict[TP, float]:
    """Bytes/s consumed from each partition, summed over consumer groups (each group reads it once)."""
    window = _window(first, second)
    out: dict[TP, float] = defaultdict(float)
    for (group, topic, partition), offset in second.group_offsets.items():
        before = first.group_offsets.get((group, topic, partition))
        if before is None:
            continue
        delta = max(0, offset - before)
        out[(topic, partition)] += delta * sizes.get((topic, partition), DEFAULT_RECORD_BYTES) / window
    return dict(out)


def topic_bytes_out_series(samples: list[OffsetSample], sizes: Mapping[TP, float]) -> dict[str, float]:
    """Bytes/s consumed per topic (summed over groups), timed between observed commits.

    Consumers commit in steps (every 5 s by default) and read a partition in bursts, so the window's
    two ends are off by up to a whole commit interval. Per (group, topic) the committed position in
    bytes (Σ offset × record size over partitions) is followed across the samples; between the first
    and the last *change* seen, the steps line up with real progress. With fewer than two changes
    the window's ends are used.
    """
    if len(samples) < 2:
        raise ValueError("need at least two offset samples")
    with_groups = [s for s in samples if s.group_offsets]
    if len(with_groups) < 2:
        return {}
    keys: dict[tuple[str, str], list[int]] = defaultdict(list)  # (group, topic) -> partitions now
    for group, topic, partition in with_groups[-1].group_offsets:
        keys[(group, topic)].append(partition)
    out: dict[str, float] = defaultdict(float)
    for (group, topic), partitions in keys.items():
        points: list[tuple[float, float]] = []
        for sample in with_groups:
            offs = {p: sample.group_offsets.get((group, topic, p)) for p in partitions}
            if all(o is not None for o in offs.values()):
                position = sum((o or 0) * sizes.get((topic, p), DEFAULT_RECORD_BYTES) for p, o in offs.items())
                points.append((sample.taken_at, position))
        if len(points) < 2:
            continue
        changes = [i for i in range(1, len(points)) if points[i][1] != points[i - 1][1]]
        (t0, b0), (t1, b1) = (points[changes[0]], points[changes[-1]]) if len(changes) >= 2 else (points[0], points[-1])
        if t1 > t0:
            out[topic] += max(0.0, b1 - b0) / (t1 - t0)
    return dict(out)


def topic_rates(first: OffsetSample, second: OffsetSample, sizes: Mapping[TP, float],
                bytes_in: Mapping[TP, float] | None = None,
                bytes_out: Mapping[str, float] | None = None) -> dict[str, TopicRate]:
    """Ingress and egress per topic. `bytes_in` (per partition) and `bytes_out` (per topic), when
    given, are already fitted over more samples; otherwise the two samples' difference is used."""
    ins = dict(bytes_in) if bytes_in is not None else partition_bytes_in(first, second, sizes)
    totals_in: dict[str, float] = defaultdict(float)
    totals_out: dict[str, float] = defaultdict(float)
    for (topic, _), v in ins.items():
        totals_in[topic] += v
    if bytes_out is not None:
        totals_out.update(bytes_out)
    else:
        for (topic, _), v in partition_bytes_out(first, second, sizes).items():
            totals_out[topic] += v
    window = second.taken_at - first.taken_at
    source = f"offset deltas over {window:.1f} s"
    return {t: TopicRate(totals_in[t], totals_out.get(t, 0.0), source) for t in totals_in}
