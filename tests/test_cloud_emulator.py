"""The emulator: auth, trace-driven metrics that follow the CKU count, persistence, pagination,
the export endpoint, Kafka REST v3, and the `brokerscale cloud emulator` command itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from brokerscale.cloud.cmk import ClusterManagementClient
from brokerscale.cloud.credentials import CloudCredentials
from brokerscale.cloud.emulator import EmulatorState
from brokerscale.cloud.http import CloudAPIError, CloudHTTP
from brokerscale.cloud.kafkarest import KafkaRestClient
from brokerscale.cloud.metrics import ALL_METRICS, DEDICATED_CKU, RETAINED_BYTES, MetricsClient
from brokerscale.model.snapshot import Snapshot
from brokerscale.store import open_store
from cloud_contract import ContractLog
from cloud_fixtures import cli_env, run_cli, running_emulator


def test_every_client_call_and_every_emulator_answer_follows_the_openapi_files(tmp_path: Path) -> None:
    log = ContractLog()
    with running_emulator(tmp_path, delay_s=0.0) as emu:
        http = CloudHTTP(emu.url, emu.creds, event_hooks=log.hooks())
        cmk = ClusterManagementClient(http)
        assert {c.id for c in cmk.list_clusters("env-health", page_size=1)} == {"lkc-health1", "lkc-clinic1"}
        cmk.resize("lkc-health1", "env-health", 3)
        cmk.upgrade("lkc-clinic1", "env-health", "Standard")
        metrics = MetricsClient(http)
        now = time.time()
        for metric in ALL_METRICS:
            assert metrics.query(metric, "lkc-health1", start=now - 3600, end=now, granularity="PT5M")
        by_topic = metrics.query(RETAINED_BYTES, "lkc-health1", start=now - 120, end=now, group_by=["metric.topic"],
                                 limit=1)  # one topic per page: pagination is followed
        assert {p["metric.topic"] for p in by_topic} == {"clinical.adt", "clinical.oru", "fhir.resources"}
        assert "confluent_kafka_server_received_bytes" in metrics.export(["lkc-health1"])
        rest = KafkaRestClient.for_cluster(cmk.get_cluster("lkc-health1", "env-health"), emu.creds,
                                           event_hooks=log.hooks())  # the cluster's spec.http_endpoint
        assert rest.cluster()["cluster_id"] == "lkc-health1"
        assert next(t["topic_name"] for t in rest.list_topics()) == "clinical.adt"
        assert rest.get_topic("fhir.resources")["partitions_count"] == 24
        assert len(rest.list_partitions("clinical.adt")) == 12
        rest.alter_topic_configs("clinical.adt", {"retention.ms": "86400000", "cleanup.policy": None})
        assert rest.list_topic_configs("clinical.adt")["retention.ms"] == "86400000"
        assert rest.list_links()[0]["link_name"] == "dr-link"
        assert rest.list_mirrors("dr-link")[0]["mirror_status"] == "ACTIVE"
        checked = rest.alter_mirrors("dr-link", "failover", ["clinical.adt"], validate_only=True)
        assert checked[0]["error_code"] is None
        assert rest.list_mirrors("dr-link")[0]["mirror_status"] == "ACTIVE"
        result = rest.alter_mirrors("dr-link", "failover", ["clinical.adt", "fhir.resources"])
        assert [r["error_code"] for r in result] == [None, 40403]
        assert rest.list_mirrors("dr-link")[0]["mirror_status"] == "STOPPED"
        with pytest.raises(CloudAPIError):
            rest.get_topic("no.such.topic")
        with pytest.raises(CloudAPIError):
            cmk.resize("lkc-health1", "env-health", 1)
    log.assert_clean()
    assert {"GET /cmk/v2/clusters", "PATCH /cmk/v2/clusters/lkc-health1", "POST /v2/metrics/cloud/query",
            "GET /v2/metrics/cloud/export", "POST /kafka/v3/clusters/lkc-health1/topics/clinical.adt/configs:alter",
            "GET /kafka/v3/clusters/lkc-health1/links/dr-link/mirrors"} <= log.operations


def test_no_key_or_a_wrong_key_is_401_everywhere(tmp_path: Path) -> None:
    with running_emulator(tmp_path, check_requests=False) as emu:  # the requests lack auth on purpose
        for path in ("/cmk/v2/clusters?environment=env-health", "/kafka/v3/clusters/lkc-health1/topics"):
            assert httpx.get(emu.url + path).status_code == 401
            assert httpx.get(emu.url + path, auth=(emu.creds.key, "nope")).status_code == 401
        r = httpx.get(emu.url + "/cmk/v2/clusters?environment=env-health")
        assert r.json()["errors"][0]["code"] == "user_unauthenticated"
        assert httpx.post(emu.url + "/v2/metrics/cloud/query", json={}).status_code == 401


def test_load_follows_the_ckus_so_scaling_shows_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path, delay_s=0.3) as emu:
        cli_env(monkeypatch, emu)
        assert run_cli(["cloud", "metrics", "--format", "json", "--window", "5m"]) == 0
        before = Snapshot.model_validate(json.loads(capsys.readouterr().out))
        assert before.cku_count == 2
        assert before.cluster_load_percent == pytest.approx(78, abs=1)  # (26 + 52) MB/s over 2 x 50 MB/s
        assert run_cli(["cloud", "cluster", "resize", "--cku", "3", "--apply", "--poll", "0.1s"]) == 0
        capsys.readouterr()
        # The query interval is in whole seconds: in the first second of a minute its newest bucket is the
        # minute before, which still ends at 2 CKUs if the resize finished in that second (CI saw it on a
        # busy machine). What a monitoring system sees is the next query's answer: poll until the newest
        # bucket shows the resize, then record one snapshot and judge it.
        deadline = time.monotonic() + 60
        shown: list[int | None] = []
        while not shown or (shown[-1] != 3 and time.monotonic() < deadline):
            assert run_cli(["cloud", "metrics", "--format", "json", "--window", "1m"]) == 0
            shown.append(Snapshot.model_validate(json.loads(capsys.readouterr().out)).cku_count)
            if shown[-1] != 3:
                time.sleep(0.5)
        assert shown[-1] == 3, shown
        assert run_cli(["cloud", "metrics", "--format", "json", "--window", "1m", "--record"]) == 0
        after = Snapshot.model_validate(json.loads(capsys.readouterr().out))
        recorded = open_store().read_samples("lkc-health1", "cluster_load_percent", since=after.taken_at - 1)
        assert [s.value for s in recorded] == [after.cluster_load_percent]
        assert after.cku_count == 3
        assert after.cluster_load_percent == pytest.approx(52, abs=1)
        assert after.bytes_in_per_s == pytest.approx(26e6, rel=0.01)
        assert {g.group for g in after.groups} == {"adt-router", "fhir-indexer"}
        assert run_cli(["cloud", "events", "--days", "0.5", "--format", "json"]) == 0
        events = json.loads(capsys.readouterr().out)
        assert [(e["direction"], e["from_cku"], e["to_cku"]) for e in events["events"]] == [("UP", 2, 3)]
        assert (events["min_cku"], events["max_cku"], events["count"]) == (2, 3, 1)


def test_events_from_the_trace_history_and_storage_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator(tmp_path) as emu:
        cli_env(monkeypatch, emu)
        # The default trace scales 2 -> 3 seven days before its end and back to 2 five days before it.
        assert run_cli(["cloud", "events", "--days", "10", "--format", "json"]) == 0
        events = json.loads(capsys.readouterr().out)
        assert [(e["direction"], e["from_cku"], e["to_cku"]) for e in events["events"]] == [("UP", 2, 3),
                                                                                           ("DOWN", 3, 2)]
        assert run_cli(["cloud", "storage", "--days", "30", "--format", "json"]) == 0
        storage = json.loads(capsys.readouterr().out)
        assert len(storage["days"]) in (30, 31)
        assert storage["ok"] and storage["daily_growth_bytes"] > 0
        assert storage["projected_90d_bytes"] > storage["projected_30d_bytes"]
        assert any("no storage limit" in a for a in storage["advice"])
        assert run_cli(["cloud", "events", "-k", "lkc-clinic1"]) == 2
        assert "Dedicated clusters only" in capsys.readouterr().err


def test_state_survives_a_restart(tmp_path: Path) -> None:
    with running_emulator(tmp_path) as emu:
        ClusterManagementClient(CloudHTTP(emu.url, emu.creds)).resize("lkc-health1", "env-health", 3)
        state_file = emu.state_file
    reloaded = EmulatorState.load(state_file)
    c = reloaded.cluster("lkc-health1")
    assert c is not None and c.cku == 3
    assert reloaded.config.api_keys == {emu.creds.key: emu.creds.secret}


def test_bad_queries_get_confluent_error_bodies(tmp_path: Path) -> None:
    with running_emulator(tmp_path) as emu:
        auth = (emu.creds.key, emu.creds.secret)
        base = {"aggregations": [{"metric": DEDICATED_CKU, "agg": "SUM"}], "granularity": "PT1M",
                "filter": {"field": "resource.kafka.id", "op": "EQ", "value": "lkc-clinic1"},
                "intervals": ["PT10M/now"]}
        r = httpx.post(emu.url + "/v2/metrics/cloud/query", json=base, auth=auth)
        assert r.status_code == 400 and "only available for Dedicated" in r.json()["errors"][0]["detail"]
        r = httpx.post(emu.url + "/v2/metrics/cloud/query", auth=auth,
                       json={**base, "aggregations": [{"metric": "io.confluent.kafka.server/nope"}]})
        assert r.status_code == 400 and "Unknown metric" in r.json()["errors"][0]["detail"]
        r = httpx.post(emu.url + "/v2/metrics/cloud/query", auth=auth,
                       json={**base, "filter": {"field": "resource.kafka.id", "op": "EQ", "value": "lkc-health1"},
                             "format": "GROUPED"})
        assert r.status_code == 200 and "points" in r.json()["data"][0]


def test_bad_state_file_is_one_line(tmp_path: Path) -> None:
    from brokerscale.errors import BadInput

    bad = tmp_path / "state.json"
    bad.write_text(json.dumps({"clusters": [{"id": "lkc-1", "environment": "e", "display_name": "x", "cku": 0}]}))
    with pytest.raises(BadInput, match=r"state.json: clusters\[0\].cku: input should be greater than or equal to 1"):
        EmulatorState.load(bad)


def test_emulator_command_serves_with_generated_credentials(tmp_path: Path) -> None:
    state = tmp_path / "ccloud.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFLUENT_")}
    proc = subprocess.Popen([sys.executable, "-m", "brokerscale", "cloud", "emulator", "--port", "0", "--state",
                             str(state), "--provisioning-delay", "1s"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        url = ""
        deadline = time.monotonic() + 30
        while not url and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if "emulator on " in line:
                url = line.split("emulator on ", 1)[1].split()[0]
        assert url, "the emulator did not announce itself"
        creds_file = Path(str(state) + ".credentials")
        doc = json.loads(creds_file.read_text())
        for _ in range(50):
            try:
                r = httpx.get(url + "/cmk/v2/clusters", params={"environment": "env-health"},
                              auth=(doc["key"], doc["secret"]))
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert r.status_code == 200 and len(r.json()["data"]) == 2
        assert oct(creds_file.stat().st_mode & 0o777) == "0o600"
        assert CloudCredentials(doc["key"], doc["secret"]).secret not in proc.args
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_shipped_trace_plays_forward_at_its_time_scale(tmp_path: Path) -> None:
    clock = {"now": 1_800_000_000.0}
    state = EmulatorState.load(None, clock=lambda: clock["now"], trace_file=Path("cloud-morning-peak"))
    c = state.cluster("lkc-health1")
    assert c is not None
    start = state.load_values(c, clock["now"])
    assert start["received_mb_s"] == pytest.approx(12)
    peak = state.load_values(c, clock["now"] + 120)  # two wall-clock minutes = two trace hours
    assert peak["received_mb_s"] == pytest.approx(34) and peak["lag"] == pytest.approx(9000)
    assert peak["load_percent"] == pytest.approx(98)  # (34 + 64) MB/s on 2 x 50 MB/s
    clock["now"] += 60  # the emulator's resizes change the load the same trace produces
    from brokerscale.cloud.emulator.app import apply_update

    assert apply_update(state, c, {"config": {"kind": "Dedicated", "cku": 3}}) is None
    clock["now"] += state.config.provisioning_delay_s
    state.advance()
    assert state.load_values(c, clock["now"] + 1)["cku"] == 3
    assert state.load_values(c, 1_800_000_120.0)["load_percent"] == pytest.approx(98 * 2 / 3)  # 3 CKUs now
    assert state.cku_at(c, 1_800_000_080.0) == 2  # before the resize finished: still 2


def test_a_query_a_fraction_of_a_second_into_a_minute_sees_that_minutes_resize() -> None:
    """The query's end is rounded up to the next whole second: truncated, a query 0.5 s into a minute
    ended at the minute's start and its newest bucket was the minute before, still at the old size."""
    from brokerscale.cloud.emulator.app import apply_update
    from brokerscale.cloud.emulator.server import EmulatorServer

    minute = 1_800_000_000.0  # a whole minute
    clock = {"now": minute - 10.0}
    state = EmulatorState.load(None, clock=lambda: clock["now"])
    creds = CloudCredentials(key="TESTKEY", secret="s3cr3t-test")
    state.config.api_keys = {creds.key: creds.secret}
    state.config.provisioning_delay_s = 10.2  # the resize to 3 CKUs completes at minute + 0.2 s
    c = state.cluster("lkc-health1")
    assert c is not None and apply_update(state, c, {"config": {"kind": "Dedicated", "cku": 3}}) is None
    clock["now"] = minute + 0.5
    with EmulatorServer(state) as srv:
        metrics = MetricsClient(CloudHTTP(srv.url, creds))
        points = metrics.query(DEDICATED_CKU, "lkc-health1", start=clock["now"] - 60, end=clock["now"])
    assert [(p["timestamp"] - minute, p["value"]) for p in points] == [(-60.0, 2.0), (0.0, 3.0)]
