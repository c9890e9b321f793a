"""The controller against the Confluent Cloud emulator (the sanctioned stand-in for Confluent's API):
trace-driven scale up and down, kill -9 between intent and result, two controllers at once."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from brokerscale.cloud.emulator.state import default_config
from brokerscale.store import open_store
from cloud_fixtures import Emu, running_emulator

BROKERSCALE = str(Path(sys.executable).parent / "brokerscale")
TARGET = "confluent:lkc-health1"


def emulator_trace(path: Path, steps: list[str], time_scale: float) -> Path:
    path.write_text(f"anchor: start\ntime_scale: {time_scale}\nsteps:\n" + "".join(f"  - {s}\n" for s in steps))
    return path


@pytest.fixture()
def hot_emulator(tmp_path: Path) -> Iterator[Emu]:
    """A 2-CKU cluster carrying 130 MB/s in + out (130 % of 2 CKUs) from the start; resizes take 6 s."""
    cfg = default_config(time.time())
    cfg.trace_file = str(emulator_trace(tmp_path / "hot.yaml", [
        "{t: 0, received_mb_s: 50, sent_mb_s: 80, connections: 900, partitions: 1200, requests_per_s: 500}"], 1))
    with running_emulator(tmp_path, delay_s=6.0, config=cfg, check_contract=False) as emu:
        yield emu


def env_for(emu: Emu, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"CONFLUENT_CLOUD_API_URL": emu.url, "CONFLUENT_CLOUD_METRICS_URL": emu.url,
                "CONFLUENT_CLOUD_API_KEY": emu.creds.key, "CONFLUENT_CLOUD_API_SECRET": emu.creds.secret,
                "CONFLUENT_ENVIRONMENT": "env-health", "CONFLUENT_CLUSTER_ID": "lkc-health1",
                "BROKERSCALE_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}"})
    env.pop("CONFLUENT_CLOUD_CREDENTIALS_FILE", None)
    return env


def policy_file(tmp_path: Path, **fields: object) -> Path:
    body = {"min_units": 2, "max_units": 3, "scale_up_cooldown": "5s", "scale_down_cooldown": "5s",
            "provisioning_delay": {"up": "6s", "down": "6s"}, **fields}
    import yaml

    p = tmp_path / "policy.yaml"
    p.write_text(yaml.safe_dump(body))
    return p


def controller(env: dict[str, str], policy: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([BROKERSCALE, "scale", "run", "--target", "confluent", "--policy", str(policy),
                             "--apply", "--interval", "1s", "--metrics-window", "1m", *extra],
                            env=env, stdout=out.open("wb"), stderr=subprocess.STDOUT)


def scale_records(tmp_path: Path) -> list[dict]:  # type: ignore[type-arg]
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        return [r for r in store.audit_records("scale.") if r["target"] == TARGET]
    finally:
        store.close()


def wait_for(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_kill_9_between_intent_and_result_then_restart_acts_once(hot_emulator: Emu, tmp_path: Path) -> None:
    env, pol = env_for(hot_emulator, tmp_path), policy_file(tmp_path)
    first = controller(env, pol, tmp_path / "first.log")
    try:
        wait_for(lambda: (tmp_path / "store.db").exists() and any(r["result"] == "pending"
                                                                 for r in scale_records(tmp_path)),
                 120, "the first controller's intent")
        wait_for(lambda: hot_emulator.patches(), 30, "the PATCH")
        os.kill(first.pid, signal.SIGKILL)  # the resize takes 6 s: the result row is not written yet
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert [r["result"] for r in scale_records(tmp_path)] == ["pending"]
    second = controller(env, pol, tmp_path / "second.log", "--duration", "20s")  # waits out the dead lease
    assert second.wait(120) == 0, (tmp_path / "second.log").read_text()
    log = (tmp_path / "second.log").read_text()
    assert "reconcile: reconciled scale.up to 3: the request had reached the platform" in log
    first_log = (tmp_path / "first.log").read_text()
    assert "pre-check cluster healthy: PASS" in first_log and "pre-check peak-hour rules: PASS" in first_log
    records = scale_records(tmp_path)
    assert [(r["action"], r["result"], r["intent"]["to"]) for r in records] == [("scale.up", "ok", 3)]
    assert len(hot_emulator.patches()) == 1  # never requested twice
    c = hot_emulator.cluster("lkc-health1")
    assert c.cku == c.status_cku == 3


def test_two_controllers_at_once_exactly_one_acts(hot_emulator: Emu, tmp_path: Path) -> None:
    env, pol = env_for(hot_emulator, tmp_path), policy_file(tmp_path)
    procs = [controller(env, pol, tmp_path / f"c{i}.log", "--duration", "15s") for i in range(2)]
    for p in procs:
        assert p.wait(180) == 0
    logs = [(tmp_path / f"c{i}.log").read_text() for i in range(2)]
    acted = [log for log in logs if "intent " in log]
    waited = [log for log in logs if "waiting: another controller" in log]
    assert len(acted) == 1 and len(waited) == 1, logs
    assert len(hot_emulator.patches()) == 1
    assert [(r["action"], r["result"]) for r in scale_records(tmp_path)] == [("scale.up", "ok")]


def test_events_webhook_and_metrics_of_one_scale_up(hot_emulator: Emu, tmp_path: Path) -> None:
    """One scale-up: `scale events` lists it with its duration and the statistics; the webhook got the
    event as JSON; the controller's Prometheus metrics show it (and promtool accepts the exposition)."""
    import json
    import shutil
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import httpx

    posted: list[dict] = []  # type: ignore[type-arg]

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    hook = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env, pol = env_for(hot_emulator, tmp_path), policy_file(tmp_path)
    env["BROKERSCALE_SCALE_WEBHOOK"] = f"http://127.0.0.1:{hook.server_port}/scaling"
    workload = Path(__file__).resolve().parent.parent / "examples" / "health-system.yaml"
    run = controller(env, pol, tmp_path / "run.log", "--duration", "15s", "--metrics-port", str(port),
                     "--workload", str(workload), "--emit", "terraform", "--emit-dir", str(tmp_path / "deploy"))
    try:
        wait_for(lambda: posted, 90, "the webhook")
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        assert run.wait(120) == 0
        hook.shutdown()
    [event] = posted
    assert (event["direction"], event["from"], event["to"], event["result"]) == ("up", 2, 3, "ok")
    assert 'brokerscale_scale_current_units{target="confluent:lkc-health1"} 3.0' in text
    assert 'brokerscale_scale_actions_total{direction="up",result="ok",target="confluent:lkc-health1",' \
           'trigger="threshold"} 1.0' in text
    assert "brokerscale_scale_last_action_timestamp_seconds{" in text
    if shutil.which("promtool"):
        check = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True)
        assert check.returncode == 0, check.stderr
    out = subprocess.run([BROKERSCALE, "scale", "events", "--format", "json"], env=env, capture_output=True,
                         check=True).stdout
    doc = json.loads(out)
    [ev] = doc["events"]
    run_log = (tmp_path / "run.log").read_text()
    # max_units 3 caps the scale-up: 130 MB/s is still 87 % of 3 CKUs, and the post-check says so.
    for item in ("capacity in place: PASS", "utilization under the threshold: FAIL (87% (limit 80%)",
                 "lag not growing"):
        assert f"post-check {item}" in run_log, run_log
    assert (ev["direction"], ev["from"], ev["to"], ev["result"]) == ("up", 2, 3, "ok")
    # "update documentation": the Terraform files for the new size, their paths in the audit entry
    [record] = scale_records(tmp_path)
    files = record["after"]["documentation"]
    main_tf = tmp_path / "deploy" / "terraform" / "main.tf"
    assert str(main_tf) in files and all(Path(f).is_file() for f in files)
    assert "cku = 3" in main_tf.read_text()
    assert "post-check update documentation: PASS (4 files regenerated for 3 ckus" in run_log
    assert ev["trigger"] == "threshold" and "throughput at 130% > 80%" in ev["reason"]
    assert 5.0 <= ev["duration_s"] < 60  # the emulator's 6 s provisioning delay, and polling
    assert doc["statistics"]["events"] == 1
    assert (doc["statistics"]["min_units"], doc["statistics"]["max_units"]) == (2, 3)
    table = subprocess.run([BROKERSCALE, "scale", "events"], env=env, capture_output=True, check=True).stdout.decode()
    assert "2 -> 3" in table and "1 scaling events" in table


def test_trace_driven_load_scales_up_then_back_down_one_cku_at_a_time(tmp_path: Path) -> None:
    """130 MB/s for 90 s, then 10 MB/s: up from 2 CKUs in one step, then down one CKU at a time, each
    scale-down at least the cooldown after the previous change took effect."""
    cfg = default_config(time.time())
    cfg.trace_file = str(emulator_trace(tmp_path / "wave.yaml", [
        "{t: 0, received_mb_s: 50, sent_mb_s: 80, connections: 900, partitions: 1200, requests_per_s: 500}",
        "{t: 89, received_mb_s: 50, sent_mb_s: 80, connections: 900, partitions: 1200, requests_per_s: 500}",
        "{t: 90, received_mb_s: 4, sent_mb_s: 6, connections: 300, partitions: 1200, requests_per_s: 100}"], 1))
    with running_emulator(tmp_path, delay_s=2.0, config=cfg, check_contract=False) as emu:
        env = env_for(emu, tmp_path)
        pol = policy_file(tmp_path, max_units=6, scale_down_cooldown="10s", target_utilization=70)
        run = controller(env, pol, tmp_path / "wave.log", "--duration", "240s")
        try:
            wait_for(lambda: (tmp_path / "store.db").exists() and sum(
                r["result"] == "ok" and r["action"] == "scale.down" for r in scale_records(tmp_path)) >= 2,
                330, "two scale-downs")
        finally:
            run.terminate()
            run.wait(30)
        c = emu.cluster("lkc-health1")
    records = [r for r in reversed(scale_records(tmp_path)) if r["result"] == "ok"]
    steps = [(r["action"], r["intent"]["from"], r["intent"]["to"]) for r in records]
    assert steps[:3] == [("scale.up", 2, 4), ("scale.down", 4, 3), ("scale.down", 3, 2)], steps
    for prev, nxt in itertools.pairwise(records):
        if nxt["action"] == "scale.down":
            assert nxt["ts"] - prev["finished_ts"] >= 10.0  # the scale-down cooldown
    assert c.cku == c.status_cku == 2


def test_confluent_forecast_starts_from_the_clusters_recorded_history(tmp_path: Path) -> None:
    """The store holds yesterday's load of lkc-health1 (`cloud metrics --record`): quiet, except a rise to
    60 MB/s in the hours starting now. Today is quiet (10 MB/s on 2 CKUs, 10 %), so one CKU fewer would
    pass the shrink guard (20 %) and a controller without history shrinks; the forecast from the
    recorded history says the rise is coming, so the controller holds from its first round. Each round's
    figures are recorded under the cluster id, as the next start's history."""
    from brokerscale.store import Sample

    cfg = default_config(time.time())
    cfg.trace_file = str(emulator_trace(tmp_path / "quiet.yaml", [
        "{t: 0, received_mb_s: 4, sent_mb_s: 6, connections: 300, partitions: 1200, requests_per_s: 100}"], 1))
    pol = policy_file(tmp_path, min_units=1, forecast={"period": "24h", "horizon": "1h", "level_window": "1h"})
    now = time.time()
    rows = []
    for m in range(26 * 60, 0, -1):
        ts = now - 60.0 * m
        total = 60.0 if now - 86400 <= ts < now - 86400 + 2 * 3600 else 10.0  # MB/s in + out
        rows += [Sample(ts, "lkc-health1", "bytes_in_per_s", total * 0.4e6, {}),
                 Sample(ts, "lkc-health1", "bytes_out_per_s", total * 0.6e6, {}),
                 Sample(ts, "lkc-health1", "connections", 300.0, {}),
                 Sample(ts, "lkc-health1", "partition_count", 1200.0, {})]
    with running_emulator(tmp_path, delay_s=4.0, config=cfg, check_contract=False) as emu:
        env = env_for(emu, tmp_path)
        store = open_store(env["BROKERSCALE_STORE_URL"])
        try:
            store.write_samples(rows)
        finally:
            store.close()
        out = subprocess.run([BROKERSCALE, "scale", "run", "--target", "confluent", "--policy", str(pol),
                              "--interval", "1s", "--metrics-window", "1m", "--duration", "3s"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    log = out.stdout
    assert "recorded load points of lkc-health1 since" in log, log
    holds = [line for line in log.splitlines() if " cku 2: " in line]
    assert holds and all("no scale-down into a projected rise" in line for line in holds), log
    assert "down 2 -> 1" not in log
    store = open_store(env["BROKERSCALE_STORE_URL"])
    try:
        recorded = store.read_samples("lkc-health1", "bytes_in_per_s", since=now)
    finally:
        store.close()
    assert recorded and recorded[-1].value == pytest.approx(4e6, rel=0.01)  # this run's own observations
