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


def test_translation_is_exact_where_the_syncs_show_a_one_to_one_copy() -> None:
    from brokerscale.dr.translate import translate

    # syncs every 20 records; the target topic holds 5 older records first (offsets shifted by 5)
    syncs = [OffsetSync(u, u + 5) for u in range(0, 2001, 20)]
    # MirrorMaker's checkpoint of the same commit, from its thinned-out store: 600 records short
    t = translate(1213, syncs, target_end=2006, checkpoint=(1213, 618))
    assert (t.offset, t.how) == (1218, "exact")
    assert translate(1220, syncs, 2006).offset == 1225  # on a sync
    # past the newest sync nothing shows the copy was one to one: the sync's next record, never further
    assert translate(2010, syncs, 2015) == translate(2010, syncs, None)
    assert translate(2010, syncs, 2015).offset == 2006
    assert translate(3, [], 2006).how == "none"


def test_translation_never_skips_across_a_gap_or_a_restart() -> None:
    from brokerscale.dr.translate import translate

    # upstream 100..119 lost 5 offsets (transaction markers / compaction): 15 records copied, not 20
    gap = [OffsetSync(100, 100), OffsetSync(120, 115)]
    assert translate(110, gap, 200).offset == 101  # 100 + 10 could skip up to 5 unprocessed records
    # a restart copied 100..111 again: upstream 100 synced twice; the first copy is the one to resume at
    restart = [OffsetSync(100, 100), OffsetSync(110, 110), OffsetSync(100, 112), OffsetSync(130, 142)]
    assert (translate(105, restart, 200).offset, translate(105, restart, 200).how) == (105, "exact")
    # ... and when the first run left no sync after it, the restart's stretch is not taken as exact
    cut = [OffsetSync(100, 100), OffsetSync(100, 112), OffsetSync(130, 140)]
    assert translate(105, cut, 200).offset == 101
    # never past what the target holds
    assert translate(500, [OffsetSync(400, 400), OffsetSync(600, 600)], 450).offset == 450
    # MirrorMaker's checkpoint wins when it is the tighter of two safe answers (syncs compacted away)
    assert translate(900, [OffsetSync(400, 400)], 1000, checkpoint=(900, 880)).offset == 880
    # ... and is ignored when it checkpointed an older commit
    assert translate(900, [OffsetSync(400, 400)], 1000, checkpoint=(700, 680)).offset == 401


def _dead_source_status(lag_records: int, lag_seconds: float) -> Any:
    from brokerscale.dr.status import DirectionStatus

    return DirectionStatus("f", "a", "b", "source-unreachable", None, True, lag_records, lag_seconds, None, None,
                           source_seen_at=100.0, measured_at=103.0)


def test_unplanned_rpo_is_measured_up_to_the_last_look_and_estimated_for_the_window_after_it() -> None:
    from brokerscale.dr.failover import measure_rpo

    # the source took 100 records/s; the watcher's last look left at 99.9 s (answered at 100.0 s), the
    # source first failed to answer at 100.4 s; the target lacks 30 of the records seen at that look
    hist = [(float(t), 100 * t) for t in range(80, 101)]
    probe = {"sent": 99.9, "at": 100.0, "ends": {"t:0": 10000}, "lost_at": 100.4}
    got = measure_rpo(_dead_source_status(30, 3.3), False, probe, _samples(hist, 9970), probed_at=101.0)
    assert (got["rpo_records"], got["rpo_exact"], got["rpo_window_s"]) == (30, False, 0.5)
    assert got["source_rate_per_s"] == 100.0 and got["rpo_unseen_records_estimate"] == 50
    assert got["rpo_records_max_estimate"] == 80
    assert got["rpo_seconds"] == 0.3  # 3.3 s old at 103 s: 0.3 s old when the source was last seen
    assert got["rpo_seconds_max"] == 0.8
    assert "between 30 and ~80" in got["rpo_note"]
    # no failure seen by the watcher yet: failover's own failed probe closes the window
    late = measure_rpo(_dead_source_status(30, 3.3), False, {**probe, "lost_at": None}, _samples(hist, 9970),
                       probed_at=101.0)
    assert late["rpo_window_s"] == 1.1 and late["rpo_unseen_records_estimate"] == 110


def test_planned_rpo_is_exact() -> None:
    from brokerscale.dr.failover import measure_rpo

    got = measure_rpo(_dead_source_status(0, 0.0), True, None, [], probed_at=101.0)
    assert got["rpo_exact"] is True and got["rpo_records"] == 0 and "rpo_records_max_estimate" not in got


def test_last_look_at_a_dead_source_is_the_newer_of_the_sample_and_the_probe(tmp_path: Path) -> None:
    from brokerscale.dr.status import last_source_sample, read_probe
    from brokerscale.dr.watch import LAST_SEEN_FILE, LastSeen

    samples = _samples([(100.0, 1000)], 1000)
    last = LastSeen(tmp_path / LAST_SEEN_FILE)
    last.seen("a->b", 100.2, {"t:0": 1030})
    last.lost("a->b", "connection refused")
    first_lost = read_probe(tmp_path, "a->b")
    last.lost("a->b", "still refused")  # the first failure after the last answer is the one kept
    probe = read_probe(tmp_path, "a->b")
    assert probe is not None and first_lost is not None and probe["lost_at"] == first_lost["lost_at"]
    assert probe["error"] == "connection refused" and probe["sent"] == 100.2
    seen, ends = last_source_sample(samples, "a->b", {**probe, "at": 100.3})
    assert (seen, ends) == (100.3, {("t", 0): 1030})
    assert last_source_sample(samples, "a->b", {**probe, "at": 99.0}) == (100.0, {("t", 0): 1000})
    assert read_probe(tmp_path, "b->a") is None


def test_bootstraps_match_whatever_way_one_cluster_is_written() -> None:
    from brokerscale.dr.triggers import endpoints

    assert endpoints("b-2:9092, b-1:9092") == endpoints("b-1:9092,b-2:9092")
    assert endpoints("localhost:9192") == endpoints("127.0.0.1:9192")
    assert endpoints("PLAINTEXT://Broker-1.Example.org:9092") == endpoints("broker-1.example.org")
    assert endpoints("[::1]:9093") == {"::1:9093"} and endpoints("") == frozenset()
    assert not endpoints("127.0.0.1:9092") & endpoints("127.0.0.1:9093")


def test_replication_findings_name_a_flow_end_that_cannot_be_resolved(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A flow whose DR end is a dev cluster that no longer exists: the primary's observer matches the
    flow (its bootstrap written another way) and says the DR end cannot be resolved; an unrelated
    cluster cannot rule out being that end, so it is told too. Never silence ("healthy" by omission)."""
    from brokerscale.dr.flows import save_topology
    from brokerscale.dr.topology import load_topology
    from brokerscale.dr.triggers import replication_findings

    monkeypatch.setenv("BROKERSCALE_DATA_DIR", str(tmp_path / "data"))
    cfg = tmp_path / "brokerscale.yaml"
    cfg.write_text("clusters:\n  east: {bootstrap: 'localhost:9192, east-2:9092'}\n")
    monkeypatch.setenv("BROKERSCALE_CONFIG", str(cfg))
    topo = tmp_path / "topology.yaml"
    topo.write_text("version: 1\nclusters:\n  primary: {config: east, region: us-east-1, jurisdiction: US}\n"
                    "  drsite: {dev: gone-west, region: us-west-2, jurisdiction: US}\n"
                    "flows:\n  primary-dr: {source: primary, target: drsite, topics: ['clinical\\\\..*']}\n")
    save_topology(load_topology(topo), str(topo))
    rules = load_rules()
    found = {(f.rule, f.severity, f.metric): f for f in replication_findings("EAST-2:9092,127.0.0.1:9192", rules)}
    # the flow is judged (its MirrorMaker never ran: stopped) and its unresolvable end is named
    assert set(found) == {("replication_stopped", "critical", "replication_flow_running"),
                          ("replication_stopped", "warning", "replication_flow_judged")}, found
    unresolved = found[("replication_stopped", "warning", "replication_flow_judged")]
    assert unresolved.target == "primary-dr (primary -> drsite)"
    assert "cluster drsite cannot be resolved" in unresolved.message and "'gone-west'" in unresolved.message
    other = replication_findings("north-1:9092", rules)
    assert [(f.severity, f.metric) for f in other] == [("warning", "replication_flow_judged")]
    # an unreadable started topology is said too
    from brokerscale.dr.flows import saved_topology_path

    saved_topology_path().write_text("{not json")
    [broken] = replication_findings("north-1:9092", rules)
    assert broken.severity == "warning" and "cannot be read" in broken.message
