"""Confluent cluster links for DR against the emulator: create a link, mirror topics, read the lag per
partition, promote (waits for lag 0) and fail over (stops at once: the lag is the RPO) — every request
brokerscale sends and every answer the emulator gives validated against Confluent's Kafka REST v3 file."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from brokerscale.cloud.cmk import ClusterManagementClient
from brokerscale.cloud.emulator.state import EmulatedCluster, EmulatedLink, EmulatorConfig, Fault, default_config
from brokerscale.cloud.http import CloudAPIError, CloudHTTP
from brokerscale.cloud.kafkarest import KafkaRestClient
from brokerscale.store import open_store
from cloud_contract import ContractLog
from cloud_fixtures import Emu, cli_env, run_cli, running_emulator


def test_cluster_link_create_mirror_lag_promote_and_failover(tmp_path: Path) -> None:
    log = ContractLog()
    with running_emulator(tmp_path) as emu:
        http = CloudHTTP(emu.url, emu.creds, event_hooks=log.hooks())
        cmk = ClusterManagementClient(http)
        dr = KafkaRestClient.for_cluster(cmk.get_cluster("lkc-clinic1", "env-health"), emu.creds,
                                         event_hooks=log.hooks())
        secret = "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required " \
                 "username='KEY' password='link-s3cret';"
        dr.create_link("primary-dr", "lkc-health1", {"bootstrap.servers": "pkc-1:9092", "sasl.jaas.config": secret},
                       validate_only=True)
        assert "primary-dr" not in [ln["link_name"] for ln in dr.list_links()]
        dr.create_link("primary-dr", "lkc-health1", {"bootstrap.servers": "pkc-1:9092", "sasl.jaas.config": secret})
        link = next(ln for ln in dr.list_links() if ln["link_name"] == "primary-dr")
        assert link["source_cluster_id"] == "lkc-health1" and link["topic_names"] == []
        with pytest.raises(CloudAPIError):
            dr.create_link("primary-dr", "lkc-health1")  # exists already
        dr.create_mirror("primary-dr", "clinical.adt")
        dr.create_mirror("primary-dr", "fhir.resources")
        with pytest.raises(CloudAPIError):
            dr.create_mirror("primary-dr", "no.such.topic")
        m = dr.get_mirror("primary-dr", "clinical.adt")
        assert (m["mirror_status"], m["num_partitions"], m["source_topic_name"]) == ("ACTIVE", 12, "clinical.adt")
        assert dr.get_topic("clinical.adt")["partitions_count"] == 12  # the mirror topic exists on the target

        # The link falls behind: lag per partition is what the link reports.
        with emu.state.lock:
            mirrors = emu.state.cluster("lkc-clinic1").links[-1].mirrors  # type: ignore[union-attr]
            mirrors[0].lags = [p * 10 for p in range(12)]
            mirrors[1].lags = [7] * 24
        lags = {x["mirror_topic_name"]: sum(p["lag"] for p in x["mirror_lags"]) for x in dr.list_mirrors("primary-dr")}
        assert lags == {"clinical.adt": 660, "fhir.resources": 168}

        # Planned switch: promote waits until the mirror caught up, then stops it (no data lost). The
        # emulator's clock stands still meanwhile: the promote's wait (PROMOTE_S of emulator time) cannot
        # be over before the test reads it, however slow a busy machine makes the next request.
        from brokerscale.cloud.emulator.rest_v3 import PROMOTE_S

        frozen = [time.time()]
        emu.state.clock = lambda: frozen[0]
        [res] = dr.alter_mirrors("primary-dr", "promote", ["clinical.adt"])
        assert res["error_code"] is None and sum(p["lag"] for p in res["mirror_lags"]) == 660
        assert dr.get_mirror("primary-dr", "clinical.adt")["mirror_status"] == "PENDING_STOPPED"
        frozen[0] += PROMOTE_S
        deadline = time.monotonic() + 30
        while dr.get_mirror("primary-dr", "clinical.adt")["mirror_status"] != "STOPPED":
            assert time.monotonic() < deadline, "promote never finished"
            time.sleep(0.3)
        assert sum(p["lag"] for p in dr.get_mirror("primary-dr", "clinical.adt")["mirror_lags"]) == 0

        # Unplanned switch (source region down): failover stops at once; what was behind is the RPO.
        [res] = dr.alter_mirrors("primary-dr", "failover", ["fhir.resources"])
        after = dr.get_mirror("primary-dr", "fhir.resources")
        assert after["mirror_status"] == "STOPPED" and sum(p["lag"] for p in after["mirror_lags"]) == 168
    log.assert_clean()
    assert {"POST /kafka/v3/clusters/lkc-clinic1/links", "POST /kafka/v3/clusters/lkc-clinic1/links/primary-dr/mirrors",
            "GET /kafka/v3/clusters/lkc-clinic1/links/primary-dr/mirrors/clinical.adt",
            "POST /kafka/v3/clusters/lkc-clinic1/links/primary-dr/mirrors:promote",
            "POST /kafka/v3/clusters/lkc-clinic1/links/primary-dr/mirrors:failover"} <= log.operations
    # the link's credentials went in a request body only: never in a URL the emulator saw
    assert all("link-s3cret" not in op for op in log.operations)


# -- the DR verbs driving cluster links (`dr up / status / failover / down` on a confluent topology) -----------

TOPOLOGY = """\
version: 1
clusters:
  primary: {confluent: lkc-health1, environment: env-health, region: us-east-1, jurisdiction: US}
  dr: {confluent: lkc-clinic1, environment: env-health, region: us-west-2, jurisdiction: US}
  analytics: {confluent: lkc-eu0001, environment: env-health, region: eu-west-1, jurisdiction: EU}
flows:
  primary-dr:
    source: primary
    target: dr
    topics: ['clinical\\..*', 'fhir\\..*']
    groups: ['.*']
  primary-analytics:
    source: primary
    target: analytics
    mode: one-way
    topics: ['clinical\\..*']
    groups: []
data_sovereignty:
  phi_jurisdictions: [US]
"""


def _world() -> EmulatorConfig:
    cfg = default_config(time.time())
    cfg.clusters.append(EmulatedCluster(id="lkc-eu0001", environment="env-health", display_name="analytics-eu",
                                        kind="Basic", availability="SINGLE_ZONE", region="eu-west-1"))
    return cfg


def _dr(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run_cli(["dr", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _link(emu: Emu, cluster: str, name: str) -> EmulatedLink | None:
    with emu.state.lock:
        c = emu.state.cluster(cluster)
        assert c is not None
        return next((ln for ln in c.links if ln.link_name == name), None)


@pytest.fixture()
def link_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Emu, Path]]:
    """The emulator (every exchange contract-checked at the end) and a data directory of this test's own."""
    monkeypatch.setenv("BROKERSCALE_DATA_DIR", str(tmp_path / "data"))
    topo = tmp_path / "topology.yaml"
    topo.write_text(TOPOLOGY)
    with running_emulator(tmp_path, config=_world()) as emu:
        cli_env(monkeypatch, emu)
        try:
            yield emu, topo
        finally:
            from brokerscale.dr.process import known_flows

            for f in known_flows():  # `dr up` started a lag watcher per link
                f.stop(timeout=10)


def test_dr_up_creates_the_link_and_mirrors_and_a_500_midway_leaves_the_audit_truthful(
        link_env: tuple[Emu, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    emu, topo = link_env
    code, out, err = _dr(["up", "-t", str(topo), "--flow", "primary-dr", "--format", "json"], capsys)
    assert code == 0, err
    [shown] = json.loads(out)["flows"]
    assert shown["mirror_topics"] == ["clinical.adt", "clinical.oru", "fhir.resources"]
    assert shown["link_configs"]["sasl.jaas.config"] == "***" and emu.creds.secret not in out + err
    assert json.loads(shown["link_configs"]["consumer.offset.group.filters"])["groupFilters"][0]["name"] == "*"
    assert _link(emu, "lkc-clinic1", "primary-dr") is None  # a dry run creates nothing

    # The second mirror topic's creation fails for good (500 three times, after the first was created).
    original = emu.state.take_fault
    created: list[str] = []

    def take(method: str, path: str) -> Fault | None:
        fault = original(method, path)
        if method == "POST" and path.endswith("/links/primary-dr/mirrors") and fault is None:
            created.append(path)
            if len(created) == 1:
                emu.state.inject(Fault(status=500, count=3, method="POST", path_prefix=path))
        return fault

    monkeypatch.setattr(emu.state, "take_fault", take)
    code, out, err = _dr(["up", "-t", str(topo), "--flow", "primary-dr", "--apply"], capsys)
    assert code == 1 and "HTTP 500" in err and len(err.strip().splitlines()[-1:]) == 1
    link = _link(emu, "lkc-clinic1", "primary-dr")
    assert link is not None and [m.mirror_topic_name for m in link.mirrors] == ["clinical.adt"]
    [rec] = open_store().audit_records("dr.link.start")
    assert rec["result"] == "error" and "HTTP 500" in rec["error"]
    # the audit says exactly what exists: the link and one mirror topic, not the three intended
    assert rec["intent"]["mirror_topics"] == ["clinical.adt", "clinical.oru", "fhir.resources"]
    assert (rec["after"]["link_created"], rec["after"]["mirrors_created"]) == (True, ["clinical.adt"])

    # Run again under a 429 (Retry-After 1 s): it finishes what is missing, creating nothing twice.
    emu.state.inject(Fault(status=429, count=1, method="POST", retry_after=1,
                           path_prefix="/kafka/v3/clusters/lkc-clinic1/links/primary-dr/mirrors"))
    code, out, err = _dr(["up", "-t", str(topo), "--flow", "primary-dr", "--apply"], capsys)
    assert code == 0, err
    assert "3 mirror topic(s) (2 created now)" in out
    link = _link(emu, "lkc-clinic1", "primary-dr")
    assert link is not None and sorted(m.mirror_topic_name for m in link.mirrors) == [
        "clinical.adt", "clinical.oru", "fhir.resources"]
    rec = open_store().audit_records("dr.link.start")[0]
    assert rec["result"] == "ok" and rec["before"]["link"] is True
    assert not rec["after"]["link_created"] and rec["after"]["mirrors_created"] == ["clinical.oru", "fhir.resources"]
    assert emu.creds.secret not in json.dumps(open_store().audit_records("dr."))

    # dr down deletes the link (force: its mirror topics are active); the mirror topics stay on the target.
    code, out, err = _dr(["down"], capsys)
    assert code == 0, err
    assert _link(emu, "lkc-clinic1", "primary-dr") is None
    assert {"clinical.adt", "fhir.resources"} <= {t.name for t in emu.cluster("lkc-clinic1").topics}
    assert open_store().audit_records("dr.link.delete")[0]["result"] == "ok"
    assert ("DELETE", "/kafka/v3/clusters/lkc-clinic1/links/primary-dr", 200) in emu.state.requests


def test_a_phi_topic_headed_for_a_disallowed_jurisdiction_refuses_the_link_before_anything_is_created(
        link_env: tuple[Emu, Path], capsys: pytest.CaptureFixture[str]) -> None:
    emu, topo = link_env
    code, _out, err = _dr(["up", "-t", str(topo), "--apply"], capsys)
    assert code == 2
    [line] = err.strip().splitlines()
    assert "topic 'clinical.adt' (PHI class clinical) may not be copied to analytics in jurisdiction EU" in line
    assert "nothing was started" in line
    assert _link(emu, "lkc-eu0001", "primary-analytics") is None and _link(emu, "lkc-clinic1", "primary-dr") is None
    assert not [r for r in emu.state.requests if r[0] in ("POST", "DELETE")]


def test_dr_status_shows_the_link_lag_and_failover_with_the_source_dead_reports_it_as_the_rpo(
        link_env: tuple[Emu, Path], capsys: pytest.CaptureFixture[str]) -> None:
    emu, topo = link_env
    assert _dr(["up", "-t", str(topo), "--flow", "primary-dr", "--apply"], capsys)[0] == 0
    link = _link(emu, "lkc-clinic1", "primary-dr")
    assert link is not None
    with emu.state.lock:
        lags = {"clinical.adt": [3] * 12, "clinical.oru": [0] * 12, "fhir.resources": [p for p in range(24)]}
        for m in link.mirrors:
            m.lags = lags[m.mirror_topic_name]
    code, out, err = _dr(["status", "--format", "json"], capsys)
    assert code == 0, err
    st, eu = json.loads(out)["flows"]
    assert (st["flow"], st["state"], st["lag_records"]) == ("primary-dr", "running", 36 + 276)
    # the flow to the EU was never started; its PHI topics are listed as refused
    assert (eu["flow"], eu["state"]) == ("primary-analytics", "stopped")
    assert {r["topic"] for r in eu["refused_topics"]} == {"clinical.adt", "clinical.oru"}
    assert {t["topic"]: (t["partitions"], t["lag_records"]) for t in st["topics"]} == {
        "clinical.adt": (12, 36), "clinical.oru": (12, 0), "fhir.resources": (24, 276)}
    # the same shape as a MirrorMaker flow's status
    from brokerscale.dr.status import DirectionStatus, TopicLag
    assert set(st) == set(DirectionStatus.__dataclass_fields__)
    assert set(st["topics"][0]) == set(TopicLag.__dataclass_fields__)
    code, out, _ = _dr(["status"], capsys)
    assert "flow primary-dr primary -> dr: running (cluster link)" in out and "fhir.resources" in out

    # The primary region dies: every request to it fails. Failover stops the mirrors at once (:failover);
    # what they were behind is the RPO, and a 429 on the way is waited out.
    emu.state.inject(Fault(status=500, count=1000, path_prefix="/kafka/v3/clusters/lkc-health1"))
    emu.state.inject(Fault(status=429, count=1, method="POST", retry_after=1,
                           path_prefix="/kafka/v3/clusters/lkc-clinic1/links/primary-dr/mirrors:failover"))
    code, out, err = _dr(["failover", "--flow", "primary-dr", "--apply", "--format", "json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert (report["action"], report["rpo_records"], report["rpo_exact"]) == ("failover", 312, False)
    assert report["rpo_by_topic"] == {"clinical.adt": 36, "clinical.oru": 0, "fhir.resources": 276}
    assert report["bootstrap"] == "lkc-clinic1.us-east-1.aws.confluent.cloud:9092" and report["fenced"] == {}
    assert {m.status for m in link.mirrors} == {"STOPPED"}
    failovers = [r for r in emu.state.requests if r[1].endswith("mirrors:failover")]
    assert [r[2] for r in failovers] == [429, 200]  # applied once
    rec = open_store().audit_records("dr.failover")[0]
    assert rec["result"] == "ok" and rec["after"]["rpo_records"] == 312
    code, out, _ = _dr(["status", "--flow", "primary-dr", "--format", "json"], capsys)
    assert json.loads(out)["flows"][0]["state"] == "failed-over"


def test_failover_with_the_source_answering_fences_it_and_promotes_the_drained_mirrors(
        link_env: tuple[Emu, Path], capsys: pytest.CaptureFixture[str]) -> None:
    emu, topo = link_env
    assert _dr(["up", "-t", str(topo), "--flow", "primary-dr", "--apply"], capsys)[0] == 0
    code, out, err = _dr(["failover", "--flow", "primary-dr"], capsys)
    assert code == 0 and "promote or fail over the mirror topics" in out and "dry run" in out
    code, out, err = _dr(["failover", "--flow", "primary-dr", "--apply", "--format", "json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert (report["action"], report["rpo_records"], report["rpo_exact"]) == ("promote", 0, True)
    assert sorted(report["fenced"]) == ["clinical.adt", "clinical.oru", "fhir.resources"]
    src = emu.cluster("lkc-health1")
    assert {t.name: t.configs.get("max.message.bytes") for t in src.topics if t.name != "clinic.scheduling"} == {
        "clinical.adt": "1", "clinical.oru": "1", "fhir.resources": "1"}
    link = _link(emu, "lkc-clinic1", "primary-dr")
    assert link is not None and {m.status for m in link.mirrors} == {"STOPPED"}
    assert any(r[1].endswith("mirrors:promote") and r[2] == 200 for r in emu.state.requests)
    assert not any(r[1].endswith("mirrors:failover") for r in emu.state.requests)


def test_link_lag_in_seconds_and_a_paused_link_fire_the_replication_triggers_of_cloud_check(
        link_env: tuple[Emu, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The link's watcher samples its mirrors' lag; `cloud check` of either end (and the observer's
    bootstrap match, which `check` and the exporter use) judge it with MirrorMaker's rules and names."""
    from brokerscale.dr.triggers import replication_findings
    from brokerscale.observe.rules import load_rules

    emu, topo = link_env
    rules = tmp_path / "rules.yaml"
    rules.write_text("replication_lag_seconds: {warning: 3, critical: 3600}\n")
    assert _dr(["up", "-t", str(topo), "--flow", "primary-dr", "--apply"], capsys)[0] == 0
    link = _link(emu, "lkc-clinic1", "primary-dr")
    assert link is not None
    rate = 50.0  # records/s into each partition of clinical.adt on the source
    t0 = time.time()
    stalled: dict[str, float] = {}
    stop = threading.Event()

    def source_writes() -> None:
        """clinical.adt grows steadily; the link keeps up until `stalled` says when it stopped fetching."""
        while not stop.is_set():
            end = int(rate * (time.time() - t0))
            with emu.state.lock:
                for m in link.mirrors:
                    if m.mirror_topic_name == "clinical.adt":
                        fetched = int(rate * (stalled["at"] - t0)) if stalled else end
                        m.fetched, m.lags = [fetched] * 12, [end - fetched] * 12
            time.sleep(0.1)

    writer = threading.Thread(target=source_writes, daemon=True)
    writer.start()

    def check(cluster: str) -> tuple[int, dict[str, Any]]:
        code = run_cli(["cloud", "check", "-k", cluster, "-e", "env-health", "--rules", str(rules),
                        "--format", "json"])
        return code, json.loads(capsys.readouterr().out)

    def lag_finding(doc: dict[str, Any]) -> dict[str, Any] | None:
        return next((f for f in doc["findings"] if f["rule"] == "replication_lag_seconds"), None)

    try:
        # a few samples of a link keeping up first: nothing fires
        deadline = time.monotonic() + 60
        while len(_samples_of("primary-dr")) < 3:
            assert time.monotonic() < deadline, "the link watcher wrote no samples"
            time.sleep(0.5)
        code, doc = check("lkc-clinic1")
        assert lag_finding(doc) is None, doc
        stalled["at"] = time.time()
        deadline = time.monotonic() + 90
        while True:
            before = time.time() - stalled["at"]
            code, doc = check("lkc-clinic1")
            after = time.time() - stalled["at"]
            found = lag_finding(doc)
            if found is not None:
                break
            assert time.monotonic() < deadline, (doc, _samples_of("primary-dr")[-2:])
            time.sleep(1)
        assert code == 1 and found["severity"] == "warning" and found["target"] == "primary-dr (primary -> dr)"
        # its age: the oldest record not fetched was written when the link stalled (interpolated between the
        # watcher's samples, the watcher's newest sample up to 2 s old)
        assert before - 2.5 <= found["value"] <= after + 0.5, (before, found, after)
        # the source cluster's check sees the same flow; so does the observer's match by bootstrap
        assert lag_finding(check("lkc-health1")[1]) is not None
        observed = replication_findings("lkc-clinic1.us-east-1.aws.confluent.cloud:9092", load_rules(rules))
        assert [f.rule for f in observed] == ["replication_lag_seconds"], observed
        code, out, err = _dr(["status", "--flow", "primary-dr", "--format", "json"], capsys)
        assert code == 0, err
        st = json.loads(out)["flows"][0]
        assert st["watcher"] is True and st["lag_seconds"] is not None and st["lag_seconds"] >= before - 2.5, st

        # The link is paused: the flow is not replicating (replication_stopped, critical).
        with emu.state.lock:
            for m in link.mirrors:
                m.status = "PAUSED"
        deadline = time.monotonic() + 60
        while True:
            doc = check("lkc-clinic1")[1]
            if any(f["rule"] == "replication_stopped" for f in doc["findings"]):
                break
            assert time.monotonic() < deadline, doc
            time.sleep(1)
        [stopped] = [f for f in doc["findings"] if f["rule"] == "replication_stopped"]
        assert stopped["severity"] == "critical" and "is stopped" in stopped["message"], stopped
        assert doc["exit_code"] == 2
    finally:
        stop.set()
        writer.join(5)
    # dr down stops the watcher and forgets the topology: nothing is judged any more
    assert _dr(["down"], capsys)[0] == 0
    assert check("lkc-clinic1")[1]["findings"] == []


def _samples_of(flow: str) -> list[dict[str, Any]]:
    from brokerscale.dr.process import FlowProcess

    try:
        samples: list[dict[str, Any]] = json.loads((FlowProcess(flow).root / "positions.json").read_text())["samples"]
    except (OSError, ValueError, KeyError):
        return []
    return samples
