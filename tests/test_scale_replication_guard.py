"""The autoscaler's "replication healthy" pre-check: a critical replication finding (a stopped flow, DR
lag past the critical line) blocks scale-downs of a flow's source or target and lets scale-ups
proceed, saying so; replication state that cannot be read fails closed for scale-downs.

The controller is driven through its public round() with a recording actuator (no platform runs here)
and either a stand-in probe or the real one reading a topology file; `scale run` wiring is checked
through the CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from brokerscale.dr.guard import ReplicationView, TopologyProbe
from brokerscale.model.snapshot import Finding, Snapshot
from brokerscale.observe.rules import load_rules
from brokerscale.scale.controller import Controller
from brokerscale.scale.demand import resolve_capacity
from brokerscale.scale.policy import parse_policy
from brokerscale.store import open_store


class RecordingActuator:
    """A platform at `units` brokers with almost no load; records what it is asked for."""

    def __init__(self, units: int) -> None:
        self.target = "selfmanaged:east"
        self.now = units
        self.requested: list[int] = []

    def units(self) -> tuple[int, int | None]:
        return self.now, None

    def observe(self) -> Snapshot:
        return Snapshot(cluster="east", source="test", taken_at=0.0, bytes_in_per_s=1000.0, bytes_out_per_s=1000.0,
                        connections=3, partition_count=6, under_replicated_partitions=0, offline_partitions=0)

    def request(self, units: int) -> None:
        self.requested.append(units)

    def wait(self, units: int, timeout_s: float) -> float:
        self.now = units
        return 0.0


class StandInProbe:
    def __init__(self, view: ReplicationView | None = None, error: Exception | None = None) -> None:
        self.view, self.error, self.reads = view, error, 0

    def read(self) -> ReplicationView:
        self.reads += 1
        if self.error is not None:
            raise self.error
        assert self.view is not None
        return self.view


STOPPED = Finding(rule="replication_stopped", severity="critical", metric="replication_flow_running", value=0,
                  target="primary-dr (primary -> drsite)",
                  message="replication flow primary-dr (primary -> drsite) is stopped: the target falls behind")
LAGGING = Finding(rule="replication_lag_seconds", severity="warning", metric="replication_lag_seconds", value=95,
                  threshold=60, unit="s", target="primary-dr (primary -> drsite)",
                  message="replication flow primary-dr (primary -> drsite) is 95 s (12,000 records) behind")
FLOWS = ["primary-dr (primary -> drsite, stopped)"]

# 3 brokers over a cost cap of 2: a scale-down to 2. Under a minimum of 4: a scale-up to 4.
DOWN = {"unit": "broker", "min_units": 1, "max_units": 2}
UP = {"unit": "broker", "min_units": 4, "max_units": 6}


def _round(tmp_path: Path, policy: dict[str, Any], probe: Any, *, apply: bool = True
           ) -> tuple[Any, RecordingActuator, list[str], list[dict[str, Any]]]:
    act = RecordingActuator(3)
    logged: list[str] = []
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        ctl = Controller(act, parse_policy(policy, "test"), resolve_capacity(None, "broker"), store,  # type: ignore[arg-type]
                         apply=apply, log=logged.append, replication=probe)
        rnd = ctl.round()
        ctl.release()
        records = store.audit_records("scale.")
    finally:
        store.close()
    return rnd, act, logged, records


def _check_line(logged: list[str]) -> str:
    [line] = [m for m in logged if m.startswith("pre-check replication healthy:")]
    return line


def test_a_stopped_flow_blocks_a_scale_down_and_nothing_is_recorded_or_requested(tmp_path: Path) -> None:
    rnd, act, logged, records = _round(tmp_path, DOWN, StandInProbe(ReplicationView("regions.yaml", FLOWS, [STOPPED])))
    assert rnd.decision is not None and (rnd.decision.action, rnd.decision.target) == ("down", 2)
    assert not rnd.acted and rnd.result == "pre-checks failed"
    line = _check_line(logged)
    assert line.startswith("pre-check replication healthy: FAIL (critical: replication flow primary-dr")
    assert "widens the RPO" in line
    assert "not acting: pre-checks failed (replication healthy)" in logged
    assert act.requested == [] and records == []


def test_a_scale_up_proceeds_past_a_critical_finding_and_says_it(tmp_path: Path) -> None:
    rnd, act, logged, records = _round(tmp_path, UP, StandInProbe(ReplicationView("regions.yaml", FLOWS, [STOPPED])))
    assert rnd.acted and act.requested == [4]
    line = _check_line(logged)
    assert line.startswith("pre-check replication healthy: PASS (critical: replication flow primary-dr")
    assert line.endswith("scale-ups proceed)")
    # the audited intent carries the check as it was judged
    [rec] = records
    [item] = [c for c in rec["intent"]["pre_checks"] if c["item"] == "replication healthy"]
    assert item["outcome"] == "pass" and "is stopped" in item["detail"]


def test_a_warning_does_not_block_a_scale_down(tmp_path: Path) -> None:
    rnd, act, logged, _ = _round(tmp_path, DOWN, StandInProbe(ReplicationView("regions.yaml", FLOWS, [LAGGING])))
    assert rnd.acted and act.requested == [2]
    assert "not critical: scale-downs proceed" in _check_line(logged)


def test_a_cluster_at_no_flows_end_scales_down(tmp_path: Path) -> None:
    rnd, act, logged, _ = _round(tmp_path, DOWN, StandInProbe(ReplicationView("regions.yaml", [], [])))
    assert rnd.acted and act.requested == [2]
    assert "PASS (no flow of regions.yaml has this cluster at an end)" in _check_line(logged)


@pytest.mark.parametrize(("policy", "acts"), [(DOWN, False), (UP, True)])
def test_unreadable_replication_state_fails_closed_for_scale_downs_only(
        tmp_path: Path, policy: dict[str, Any], acts: bool) -> None:
    probe = StandInProbe(error=OSError("positions.json: permission denied"))
    rnd, act, logged, _ = _round(tmp_path, policy, probe)
    assert probe.reads == 1 and rnd.acted is acts
    line = _check_line(logged)
    if acts:
        assert line == "pre-check replication healthy: PASS (positions.json: permission denied; scale-ups proceed)"
    else:
        assert line == ("pre-check replication healthy: FAIL (positions.json: permission denied; scale-downs wait "
                        "until it can be read)")
        assert act.requested == []


def test_a_dry_run_logs_the_checklist_and_its_verdict_and_changes_nothing(tmp_path: Path) -> None:
    rnd, act, logged, records = _round(tmp_path, DOWN, StandInProbe(ReplicationView("regions.yaml", FLOWS, [STOPPED])),
                                       apply=False)
    assert rnd.decision is not None and rnd.decision.action == "down"
    assert not rnd.acted and rnd.result == "dry run: pre-checks failed"
    assert _check_line(logged).startswith("pre-check replication healthy: FAIL")
    assert "would not act: pre-checks failed (replication healthy)" in logged
    assert act.requested == [] and records == []


def _topology(tmp_path: Path, east: str, west: str, flow: str) -> Path:
    path = tmp_path / "regions.yaml"
    path.write_text(f"""version: 1
clusters:
  primary: {{{east}, region: us-east-1, jurisdiction: US}}
  drsite: {{{west}, region: us-west-2, jurisdiction: US}}
flows:
  {flow}: {{source: primary, target: drsite, topics: ['clinical\\\\..*']}}
""")
    return path


def test_the_topology_probe_finds_a_stopped_flow_of_the_scaled_cluster(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real probe: a flow of the topology whose MirrorMaker does not run is `replication_stopped`,
    critical under the default rules, for either end and no other cluster."""
    cfg = tmp_path / "brokerscale.yaml"
    cfg.write_text("clusters:\n  east: {bootstrap: 'east-1:9092,east-2:9092'}\n  west: {bootstrap: 'west-1:9092'}\n")
    monkeypatch.setenv("BROKERSCALE_CONFIG", str(cfg))
    flow = f"guard-{os.getpid()}"  # no MirrorMaker of this name ever ran in this data directory
    topo = _topology(tmp_path, "config: east", "config: west", flow)
    for bootstrap in ("east-2:9092", "west-1:9092"):
        view = TopologyProbe(load_rules(), topology=topo, bootstrap=bootstrap).read()
        assert view.topology == str(topo) and view.flows == [f"{flow} (primary -> drsite, stopped)"]
        assert [(f.rule, f.severity) for f in view.findings] == [("replication_stopped", "critical")]
    other = TopologyProbe(load_rules(), topology=topo, bootstrap="north-1:9092").read()
    assert other.flows == [] and other.findings == []
    rnd, act, logged, _ = _round(tmp_path, DOWN, TopologyProbe(load_rules(), topology=topo, bootstrap="east-1:9092"))
    assert not rnd.acted and act.requested == []
    assert f"replication flow {flow} (primary -> drsite) is stopped" in _check_line(logged)


def test_without_topology_the_probe_reads_the_one_dr_up_started(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from brokerscale.dr.flows import save_topology, saved_topology_path
    from brokerscale.dr.topology import load_topology

    cfg = tmp_path / "brokerscale.yaml"
    cfg.write_text("clusters:\n  east: {bootstrap: 'east-1:9092'}\n  west: {bootstrap: 'west-1:9092'}\n")
    monkeypatch.setenv("BROKERSCALE_CONFIG", str(cfg))
    flow = f"started-{os.getpid()}"
    topo = _topology(tmp_path, "config: east", "config: west", flow)
    probe = TopologyProbe(load_rules(), bootstrap="west-1:9092")
    save_topology(load_topology(topo), str(topo))  # as `dr up --apply` leaves it
    try:
        view = probe.read()
    finally:  # `check` and the exporter judge a started topology's flows: forget it again, as `dr down` does
        saved_topology_path().unlink()
    assert view.topology == f"{topo} (started by `dr up --apply`)"
    assert view.flows == [f"{flow} (primary -> drsite, stopped)"]
    assert [f.rule for f in view.findings] == ["replication_stopped"]
    assert probe.read() == ReplicationView("", [], [])  # `dr down` while the controller runs counts too


def test_a_flow_end_that_cannot_be_resolved_fails_closed(tmp_path: Path) -> None:
    topo = _topology(tmp_path, "dev: gone-east", "dev: gone-west", "primary-dr")
    rnd, act, logged, _ = _round(tmp_path, DOWN, TopologyProbe(load_rules(), topology=topo, bootstrap="east-1:9092"))
    assert not rnd.acted and act.requested == []
    line = _check_line(logged)
    assert line.startswith("pre-check replication healthy: FAIL (replication state unreadable: ")
    assert "clusters.primary.dev: no dev cluster named 'gone-east'" in line and line.endswith("can be read)")


def test_no_topology_started_or_given_passes(tmp_path: Path) -> None:
    from brokerscale.dr.flows import saved_topology_path

    assert not saved_topology_path().exists()
    view = TopologyProbe(load_rules(), bootstrap="east-1:9092").read()
    assert view == ReplicationView("", [], [])


@pytest.mark.parametrize(("body", "field"), [
    ("version: 1\nclusters: {a: {dev: x, region: r, jurisdiction: US}, b: {dev: y, region: r, jurisdiction: US}}\n"
     "flows: {f: {source: a, target: c, topics: ['.*']}}\n", "flows.f.target"),
    ("version: 1\nclusters: {a: {dev: x, region: r, jurisdiction: usa}, b: {dev: y, region: r, jurisdiction: US}}\n"
     "flows: {f: {source: a, target: b, topics: ['.*']}}\n", "clusters.a.jurisdiction"),
])
def test_scale_run_refuses_a_bad_topology_file_before_anything_runs(
        cli: Any, tmp_path: Path, body: str, field: str) -> None:
    bad = tmp_path / "regions.yaml"
    bad.write_text(body)
    code, out, err = cli("scale", "run", "--target", "selfmanaged", "--bootstrap", "127.0.0.1:1", "--policy-name",
                         "default", "--topology", bad)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert str(bad) in err and field in err, err
    assert "scale run:" not in out  # refused before the controller started
