"""Pure parts of the Confluent Cloud work: scaling-event reports, the shrink guard,
load traces and the Snapshot mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from brokerscale.cloud.cmk import CloudCluster
from brokerscale.cloud.guard import check_resize
from brokerscale.cloud.metrics import CLUSTER_LOAD, DEDICATED_CKU, RECEIVED_BYTES, SENT_BYTES
from brokerscale.cloud.reports import scaling_events
from brokerscale.cloud.snapshot import build_snapshot
from brokerscale.cloud.trace import load_trace, parse_trace
from brokerscale.errors import BadInput
from brokerscale.model.limits import load_limits

DAY = 86400.0
LIMITS = load_limits()


def _dedicated(status: int, spec: int | None = None, availability: str = "MULTI_ZONE",
               phase: str = "PROVISIONED") -> CloudCluster:
    return CloudCluster(id="lkc-1", environment="env-1", kind="Dedicated", availability=availability,
                        spec_cku=spec or status, status_cku=status, phase=phase)


def test_scaling_events_counts_changes_not_distinct_values() -> None:
    points = [(0, 2), (3600, 2), (7200, 3), (10800, 3), (14400, 2), (18000, 2)]
    s = scaling_events("lkc-1", 1, points)
    assert [(e.direction, e.from_cku, e.to_cku, e.ts) for e in s.events] == [
        ("UP", 2, 3, 7200), ("DOWN", 3, 2, 14400)]
    assert (s.min_cku, s.max_cku, s.count) == (2, 3, 2)
    assert s.avg_cku == pytest.approx(14 / 6)
    empty = scaling_events("lkc-1", 1, [])
    assert empty.count == 0 and empty.min_cku is None


def test_guard_allows_growth_and_one_step_shrinks_on_a_quiet_cluster() -> None:
    assert check_resize(_dedicated(2), 4, partitions=None, load_ratio=None, limits=LIMITS).allowed
    v = check_resize(_dedicated(3), 2, partitions=1000, load_ratio=0.3, limits=LIMITS)
    assert v.allowed and v.direction == "down"
    assert check_resize(_dedicated(3), 3, partitions=1000, load_ratio=0.3, limits=LIMITS).direction == "none"


@pytest.mark.parametrize(("cluster", "target", "partitions", "load", "reason"), [
    (_dedicated(4), 2, 100, 0.1, "one CKU at a time"),
    (_dedicated(3), 2, 9001, 0.1, "9,001 partitions exceed what 2 CKUs hold (4,500 x 2 = 9,000)"),
    (_dedicated(3), 2, 100, 0.71, "cluster load is 71%"),
    (_dedicated(3), 2, None, 0.1, "cannot read the partition count"),
    (_dedicated(3), 2, 100, None, "cannot read cluster_load_percent"),
    (_dedicated(2), 1, 100, 0.1, "multi-zone Dedicated cluster needs at least 2 CKUs"),
    (_dedicated(2, spec=3, phase="PROVISIONING"), 4, None, None, "still changing"),
])
def test_guard_refusals(cluster: CloudCluster, target: int, partitions: float | None, load: float | None,
                        reason: str) -> None:
    v = check_resize(cluster, target, partitions=partitions, load_ratio=load, limits=LIMITS)
    assert not v.allowed
    assert any(reason in r for r in v.refusals), v.refusals


def test_guard_single_zone_may_go_to_one_cku() -> None:
    assert check_resize(_dedicated(2, availability="SINGLE_ZONE"), 1, partitions=10, load_ratio=0.1,
                        limits=LIMITS).allowed


def test_trace_interpolates_and_holds_ckus() -> None:
    trace = parse_trace({"anchor": "start", "steps": [
        {"t": 0, "received_mb_s": 10, "cku": 2}, {"t": "10m", "received_mb_s": 30}, {"t": "1h", "cku": 4}]}, "t")
    assert trace.at(300)["received_mb_s"] == pytest.approx(20)
    assert trace.at(599)["cku"] == 2
    assert trace.at(3600)["cku"] == 4
    assert trace.at(-5)["received_mb_s"] == 10 and trace.at(99999)["received_mb_s"] == 0
    assert trace.trace_time(1000 + 60, anchor_ts=1000) == 60
    end = parse_trace([{"t": 0}, {"t": 100}], "t")
    assert end.trace_time(1000, anchor_ts=1000) == 100  # anchor end: now is the last step


def test_trace_errors_name_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "trace.yaml"
    bad.write_text("steps:\n  - t: 0\n    recieved_mb_s: 3\n")
    with pytest.raises(BadInput, match=r"trace.yaml: steps\[0\].recieved_mb_s: unknown field"):
        load_trace(bad)
    bad.write_text("steps:\n  - t: 10\n  - t: 5\n")
    with pytest.raises(BadInput, match="increasing order"):
        load_trace(bad)
    bad.write_text("steps: [\n")
    with pytest.raises(BadInput, match="not valid YAML"):
        load_trace(bad)
    with pytest.raises(BadInput, match="cannot read"):
        load_trace(tmp_path / "none.yaml")


def test_snapshot_from_metrics_series() -> None:
    series = {
        RECEIVED_BYTES: [{"timestamp": 0, "value": 60e6}, {"timestamp": 60, "value": 120e6}],  # per minute
        SENT_BYTES: [{"timestamp": 0, "value": 120e6}],
        CLUSTER_LOAD: [{"timestamp": 0, "value": 0.2}, {"timestamp": 60, "value": 0.55}],
        DEDICATED_CKU: [{"timestamp": 60, "value": 3}],
    }
    snap = build_snapshot(_dedicated(3), series, {"adt-router": 42}, taken_at=120, window_s=120)
    assert snap.bytes_in_per_s == pytest.approx(1.5e6)
    assert snap.bytes_out_per_s == pytest.approx(2e6)
    assert snap.cluster_load_percent == pytest.approx(55)
    assert snap.cku_count == 3
    assert snap.connections is None  # unknown stays unknown, never 0
    assert snap.groups[0].group == "adt-router" and snap.groups[0].lag_offsets == 42
    assert snap.source == "confluent-cloud-metrics"


def test_snapshot_ckus_are_the_ones_in_effect_not_the_last_metric_bucket() -> None:
    # right after a resize 2 -> 3 the last one-minute bucket of dedicated_cku_count still says 2
    series = {DEDICATED_CKU: [{"timestamp": 0, "value": 2}, {"timestamp": 60, "value": 2}]}
    assert build_snapshot(_dedicated(3), series, {}, taken_at=120, window_s=120).cku_count == 3
    unknown = _dedicated(3).model_copy(update={"status_cku": None})  # a cluster that does not say: the metric
    assert build_snapshot(unknown, series, {}, taken_at=120, window_s=120).cku_count == 2
