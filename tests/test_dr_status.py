"""Replication lag arithmetic, MirrorMaker record decoding and the replication triggers (no cluster)."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from brokerscale.dr.positions import OffsetSync, decode_checkpoint, decode_offset_sync
from brokerscale.dr.status import checkpoint_lag, evaluate, mirrored_position
from brokerscale.dr.triggers import findings
from brokerscale.observe.rules import load_rules


def _s(text: str) -> bytes:
    return struct.pack(">h", len(text)) + text.encode()


def test_offset_sync_and_checkpoint_records_decode_as_mirrormaker_writes_them() -> None:
    tp, sync = decode_offset_sync(_s("clinical.adt") + struct.pack(">i", 2), struct.pack(">qq", 1500, 1490))
    assert tp == ("clinical.adt", 2) and sync == OffsetSync(1500, 1490)
    cp = decode_checkpoint(_s("ehr-ingest") + _s("clinical.adt") + struct.pack(">i", 1),
                           struct.pack(">h", 0) + struct.pack(">qq", 700, 690) + _s(""))
    assert (cp.group, cp.topic, cp.partition, cp.upstream, cp.downstream) == ("ehr-ingest", "clinical.adt", 1, 700, 690)


def test_mirrored_position_follows_the_newest_sync() -> None:
    assert mirrored_position(None, None) == 0
    assert mirrored_position(500, None) == 500  # no sync yet: identity offsets
    # upstream 1000 was written at downstream 900; the target has appended 50 more since
    assert mirrored_position(950, OffsetSync(1000, 900)) == 1050


def _samples(ends: list[tuple[float, int]], target: int) -> list[dict[str, object]]:
    return [{"ts": ts, "directions": {"a->b": {"source": {"t:0": e}, "target": {"t:0": min(e, target)},
                                               "target_bytes": {"t:0": min(e, target) * 100}}}} for ts, e in ends]


def test_lag_in_records_and_seconds_interpolated_from_the_source_history() -> None:
    # the source grows 100 records/s from t=0; the target stopped at offset 400 (written at t=4 s)
    hist = [(float(t), 100 * t) for t in range(0, 11)]
    st = evaluate("f", "a", "b", now=10.0, source_end={("t", 0): 1000}, target_end={("t", 0): 400},
                  remote={("t", 0): ("t", 0)}, syncs={}, samples=_samples(hist, 400), state="stopped",
                  mm2_pid=None, watcher=True, source_seen_at=10.0)
    assert st.lag_records == 600
    # record 400 (the oldest not mirrored) was appended when the log end passed 401: t = 4.01 s
    assert st.lag_seconds == pytest.approx(5.99, abs=0.01)
    assert st.topics[0].lag_records == 600 and not st.topics[0].lower_bound
    assert st.records_per_s == 40.0 and st.bytes_per_s == 4000.0  # 400 records (100 B each) over the 10 s window


def test_checkpoint_lag_per_group() -> None:
    from brokerscale.dr.positions import Checkpoint

    cps = {("g", ("t", 0)): Checkpoint("g", "t", 0, 90, 88), ("g", ("t", 1)): Checkpoint("g", "t", 1, 50, 50)}
    [gc] = checkpoint_lag({"g": {("t", 0): 100, ("t", 1): 50, ("t", 2): None}}, cps)
    assert (gc.group, gc.partitions, gc.committed_source, gc.checkpointed, gc.lag_records) == ("g", 2, 150, 140, 10)


def test_replication_triggers_lag_and_stopped_flow() -> None:
    rules = load_rules()
    hist = [(float(t), 10 * t) for t in range(0, 400, 10)]
    st = evaluate("primary-dr", "a", "b", now=390.0, source_end={("t", 0): 3900}, target_end={("t", 0): 100},
                  remote={("t", 0): ("t", 0)}, syncs={}, samples=_samples(hist, 100), state="stopped",
                  mm2_pid=None, watcher=True, source_seen_at=390.0)
    found = {f.rule: f for f in findings([st], rules, now=390.0)}
    assert found["replication_stopped"].severity == "critical"
    assert found["replication_lag_seconds"].severity == "critical"  # ~380 s > 300
    assert found["replication_lag_seconds"].threshold == 300
    st.state, st.lag_seconds = "running", 90.0
    found = {f.rule: f for f in findings([st], rules, now=390.0)}
    assert set(found) == {"replication_lag_seconds"} and found["replication_lag_seconds"].severity == "warning"
    st.lag_seconds = 10.0
    assert findings([st], rules, now=390.0) == []
    # a watcher that has not sampled for a while: its lag is not judged (stale), the state still is
    st.state, st.lag_seconds = "stopped", 900.0
    assert [f.rule for f in findings([st], rules, now=390.0 + 120)] == ["replication_stopped"]
    # a flow stopped by a failover is not an incident: the target is the primary now
    st.state = "failed-over"
    assert findings([st], rules, now=390.0 + 120) == []


def test_dashboard_dr_api_without_flows_says_how_to_start_them(tmp_path: Any, monkeypatch: Any) -> None:
    from fastapi.testclient import TestClient

    from brokerscale.store import open_store
    from brokerscale.web.app import WebConfig, create_app

    monkeypatch.setenv("BROKERSCALE_DATA_DIR", str(tmp_path))
    store = open_store(f"sqlite:///{tmp_path / 'web.db'}")
    try:
        c = TestClient(create_app(WebConfig(clusters=["prod"], rules=load_rules(), store=store)))
        doc = c.get("/api/dr").json()
    finally:
        store.close()
    assert doc["available"] is False
    assert "Disaster recovery" in doc["message"] and "brokerscale dr up" in doc["message"]


class _ExitingMirrorMaker:
    """A flow process whose MirrorMaker exits during start until its `ok_on`-th launch."""

    name = "primary-dr"

    def __init__(self, logs: Path, ok_on: int) -> None:
        self.logs, self.ok_on, self.launches = logs, ok_on, 0
        (logs / "mm2-stdout.log").write_text("Error: cluster west not reachable\n")

    def launch(self) -> None:
        self.launches += 1

    def log_tail(self, lines: int | None = 200) -> list[str]:
        return ["INFO Finished starting connectors and tasks"] if self.launches >= self.ok_on else []

    def mm2_alive(self) -> bool:
        return False

    def state(self) -> dict[str, int]:
        return {"mm2_pid": 1}


def test_mirrormaker_exiting_during_start_is_started_again_and_reported_when_it_keeps_exiting(
        tmp_path: Path) -> None:
    from brokerscale.dr.flows import ExitedDuringStart, start_supervised

    said: list[str] = []
    settles = _ExitingMirrorMaker(tmp_path, ok_on=2)
    start_supervised(settles, settles.launch, said.append, timeout=5)  # type: ignore[arg-type]
    assert settles.launches == 2 and "starting it again (attempt 2 of 3)" in said[0]
    assert "cluster west not reachable" in said[0]  # the reason comes from stdout when mm2.log has none

    never = _ExitingMirrorMaker(tmp_path, ok_on=99)
    with pytest.raises(ExitedDuringStart, match="cluster west not reachable"):
        start_supervised(never, never.launch, said.append, timeout=5)  # type: ignore[arg-type]
    assert never.launches == 3
