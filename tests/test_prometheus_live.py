"""brokerscale with a real Prometheus (Debian's) and Alertmanager beside the real cluster.

- `observe --prometheus` against a Prometheus configured as a user would (plain `static_configs`, no
  broker label): per-broker figures agree with a direct scrape of the exporters, or are absent with
  a note — never put on the wrong broker.
- `dev up --prometheus`'s Prometheus (labels each broker target with broker_id, picks up
  brokerscale's exporter) loads the rules `brokerscale rules emit` writes; load past a small
  capacity fires the matching alert, Alertmanager delivers it to a webhook, and it resolves when
  the load stops.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from test_observe_live import _create_topic, _Producer

CLI = Callable[..., tuple[int, str, str]]
# A JMX-exporter scrape walks every MBean: seconds on a busy machine. Raise this there.
SCRAPE_S = int(os.environ.get("BROKERSCALE_TEST_SCRAPE_SECONDS", "10"))
PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = [pytest.mark.kafka,
              pytest.mark.skipif(PROMETHEUS is None, reason="Debian's prometheus is not installed")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(pred: Callable[[], Any], timeout: float, what: str, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class _Server:
    """A Prometheus or Alertmanager process started from a config, stopped by the test."""

    def __init__(self, argv: list[str], ready_url: str, log: Path) -> None:
        self.log = log
        with open(log, "wb") as f:
            self.proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            _wait(lambda: self._ready(ready_url), 60, f"{argv[0]} to be ready", every=0.3)
        except AssertionError:
            self.stop()
            raise AssertionError(log.read_text()[-2000:]) from None

    def _ready(self, url: str) -> bool:
        assert self.proc.poll() is None, self.log.read_text()[-2000:]
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def _users_prometheus(tmp: Path, targets: list[str]) -> tuple[_Server, str]:
    """Prometheus as a user would write it: one job, a plain list of exporter addresses, no labels (only
    the exporter's series brokerscale reads are asked for, to keep scrapes cheap on a busy test machine)."""
    from brokerscale.observe.jmx import EXPORTER_NAMES

    port = _free_port()
    cfg = {"global": {"scrape_interval": f"{SCRAPE_S}s", "scrape_timeout": f"{SCRAPE_S}s"},
           "scrape_configs": [{"job_name": "kafka", "params": {"name[]": list(EXPORTER_NAMES)},
                               "static_configs": [{"targets": targets}]}]}
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    url = f"http://127.0.0.1:{port}"
    server = _Server([str(PROMETHEUS), f"--config.file={tmp / 'prometheus.yml'}",
                      f"--storage.tsdb.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                     f"{url}/-/ready", tmp / "prometheus.log")
    return server, url


def _query(url: str, q: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{url}/api/v1/query", params={"query": q}, timeout=10).json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def _leader_with_misleading_port(cluster: Any) -> int:
    """A broker whose exporter port does not sort into its own id's place (where the old mapping erred)."""
    by_port = sorted(cluster.nodes.values(), key=lambda n: n.metrics_port)
    wrong = [n.id for rank, n in enumerate(by_port, start=1) if n.id != rank]
    return wrong[0] if wrong else by_port[-1].id


def _one_partition_topic(bootstrap: str, leader: int, others: list[int]) -> str:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    topic = f"prom.one.{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        admin.create_topics([NewTopic(topic, replica_assignments={0: [leader, *others]})])
        admin.wait_for_topics([topic], timeout_ms=20000)
    finally:
        admin.close()
    return topic


def _observe(cli: CLI, bootstrap: str, *args: str) -> dict[str, Any]:
    # Longer than the scrape interval, so both samples see a new scrape.
    code, out, err = cli("observe", "-b", bootstrap, "--no-history", "--interval", f"{SCRAPE_S + 5}s",
                         "--format", "json", *args)
    assert code == 0, err
    return dict(json.loads(out)["snapshot"])


def _brokers(doc: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(b["id"]): b for b in doc["brokers"]}


def test_prometheus_per_broker_figures_match_the_direct_scrape_or_are_absent(
        healthy_cluster: Any, cli: CLI, tmp_path: Path) -> None:
    kafka_cluster = healthy_cluster  # every broker up and scraped, none left over from an earlier test
    bootstrap = kafka_cluster.bootstrap
    leader = _leader_with_misleading_port(kafka_cluster)
    others = [b for b in sorted(kafka_cluster.nodes) if b != leader]
    topic = _one_partition_topic(bootstrap, leader, others)
    targets = [f"127.0.0.1:{n.metrics_port}" for n in kafka_cluster.nodes.values()]
    prom, url = _users_prometheus(tmp_path, targets)
    prod: _Producer | None = None
    try:
        prod = _Producer(bootstrap, topic, rate=100_000, parts=1)
        _wait(lambda: len([r for r in _query(url, "up") if r["value"][1] == "1"]) == 3, 120 + 6 * SCRAPE_S,
              "3 targets up")
        loaded_since = time.time()

        def scraped_under_load() -> bool:
            """Three successful scrapes of every target with the producer running, for the rate window (a busy
            machine delays or times out scrapes: count them rather than sleep for them)."""
            window = max(1, int(time.time() - loaded_since))
            done = [float(r["value"][1]) for r in _query(url, f"sum_over_time(up[{window}s])")]
            return len(done) == 3 and min(done) >= 3

        _wait(scraped_under_load, 120 + 6 * SCRAPE_S, "three scrapes of every broker under load")
        direct = _brokers(_observe(cli, bootstrap))
        via = _brokers(_observe(cli, bootstrap, "--prometheus", url))
        # Produce goes to the leader only: its p99 is on the leader, in either view, and on no other broker.
        assert via[leader]["produce_p99_ms"] is not None or direct[leader]["produce_p99_ms"] is not None, \
            "no Produce request completed in either window (machine too busy?)"
        for b in others:
            assert via[b]["produce_p99_ms"] is None, (b, via[b])
            assert direct[b]["produce_p99_ms"] is None, (b, direct[b])
        # Connections are gauges: where both views read a broker (a scrape can time out on a busy machine), they
        # agree; a broker with no figure in one view is absent there, never given another broker's.
        both = [b for b in sorted(direct) if via[b]["connections"] is not None
                and direct[b]["connections"] is not None]
        assert both, (via, direct)
        for b in both:
            assert abs(via[b]["connections"] - direct[b]["connections"]) <= 3, (b, via[b], direct[b])
        # Request rates come through for the leader too (their size depends on each view's sample times).
        assert via[leader]["requests_per_s"] is not None, via[leader]

        # Nothing identifies the targets (no label; the addresses given are not the ones scraped, every
        # broker on one host): no per-broker figure, the note says why, the totals still count them.
        bogus = [f"--metrics-url={b}=http://127.0.0.1:1/metrics" for b in sorted(kafka_cluster.nodes)]
        doc = _observe(cli, bootstrap, "--prometheus", url, *bogus)
        assert all(b["connections"] is None and b["produce_p99_ms"] is None for b in doc["brokers"]), doc["brokers"]
        assert doc["connections"] and doc["connections"] >= sum(direct[b]["connections"] for b in direct) - 6
        assert any("broker_id" in n and "cluster totals only" in n for n in doc["notes"]), doc["notes"]
    finally:
        if prod is not None:
            prod.stop()
        prom.stop()


class _Webhook:
    """A local Alertmanager webhook receiver: keeps every notification it is sent."""

    def __init__(self) -> None:
        got: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_a: object) -> None:
                return

        self.got = got
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def statuses(self, alertname: str) -> list[str]:
        return [a["status"] for n in self.got for a in n.get("alerts", [])
                if a["labels"].get("alertname") == alertname]


@pytest.fixture()
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, _Webhook]]:
    if ALERTMANAGER is None:
        pytest.skip("Debian's prometheus-alertmanager is not installed")
    hook = _Webhook()
    cfg = {"route": {"receiver": "test", "group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"},
           "receivers": [{"name": "test", "webhook_configs": [{"url": hook.url, "send_resolved": True}]}]}
    d = tmp_path / "alertmanager"
    d.mkdir()
    (d / "alertmanager.yml").write_text(yaml.safe_dump(cfg))
    port = _free_port()
    server = _Server([str(ALERTMANAGER), f"--config.file={d / 'alertmanager.yml'}", f"--storage.path={d}",
                      f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                     f"http://127.0.0.1:{port}/-/ready", d / "alertmanager.log")
    try:
        yield f"127.0.0.1:{port}", hook
    finally:
        server.stop()
        hook.server.shutdown()


def _alert_state(url: str, name: str) -> str | None:
    body = httpx.get(f"{url}/api/v1/alerts", timeout=10).json()
    states = [a["state"] for a in body["data"]["alerts"] if a["labels"]["alertname"] == name]
    return "firing" if "firing" in states else (states[0] if states else None)


def test_emitted_rule_fires_and_resolves_on_the_dev_prometheus_and_reaches_alertmanager(
        healthy_cluster: Any, cli: CLI, tmp_path: Path, alertmanager: tuple[str, _Webhook]) -> None:
    from brokerscale.dev import prometheus

    kafka_cluster = healthy_cluster  # the three brokers the rules were emitted for, all up and quiet
    am_addr, hook = alertmanager
    bootstrap = kafka_cluster.bootstrap
    cap = tmp_path / "capacity.yaml"
    cap.write_text("broker: {throughput_mb_s: 1}   # 3 MB/s for three brokers\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text("throughput: {warning: 10, critical: 90}\n")
    emitted = tmp_path / "alerts.yml"
    code, _o, err = cli("rules", "emit", "--capacity", str(cap), "--brokers", "3", "--rules", str(rules),
                        "--for", "0s", "--out", str(emitted))
    assert code == 0, err

    prometheus.stop(kafka_cluster)
    st = prometheus.start(kafka_cluster, rule_files=[emitted], alertmanager=am_addr,
                          interval=f"{SCRAPE_S}s")
    try:
        code, out, _e = cli("dev", "status", "--name", kafka_cluster.name, "--format", "json")
        assert json.loads(out)["prometheus_url"] == st.url
        # Every broker is a target labelled with its id.
        def up_targets() -> list[dict[str, Any]]:
            active = httpx.get(f"{st.url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
            up = [t for t in active if t["labels"].get("job") == "kafka" and t["health"] == "up"]
            return up if len(up) == len(kafka_cluster.nodes) else []

        targets = _wait(up_targets, 120 + 6 * SCRAPE_S, "every broker target up")
        assert sorted(int(t["labels"]["broker_id"]) for t in targets) == sorted(kafka_cluster.nodes)
        loaded = httpx.get(f"{st.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
        assert any(r["name"] == "KafkaThroughputUtilizationClusterWarning" for g in loaded for r in g["rules"])

        # brokerscale's own exporter registers itself as a target while it runs.
        exp_port = _free_port()
        exporter = subprocess.Popen([sys.executable, "-m", "brokerscale", "exporter", "-b", bootstrap, "--port",
                                     str(exp_port), "--interval", "2s", "--duration", f"{90 + 3 * SCRAPE_S}s"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait(lambda: any(r["value"][1] == "1" for r in _query(st.url, 'brokerscale_up')), 60 + 3 * SCRAPE_S,
                  "brokerscale's exporter scraped by the dev Prometheus")
        finally:
            exporter.terminate()
            exporter.wait(30)

        name = "KafkaThroughputUtilizationClusterWarning"
        assert _alert_state(st.url, name) is None
        topic = f"prom.alert.{uuid.uuid4().hex[:6]}"
        _create_topic(bootstrap, topic)
        prod = _Producer(bootstrap, topic, rate=600_000)  # 0.6 MB/s of 3 MB/s: 20 %, in the warning band
        try:
            _wait(lambda: _alert_state(st.url, name) == "firing", 60 + 6 * SCRAPE_S, f"{name} firing")
            _wait(lambda: "firing" in hook.statuses(name), 60, "Alertmanager to deliver the firing alert")
            assert _alert_state(st.url, "KafkaThroughputUtilizationClusterCritical") is None
        finally:
            prod.stop()
        _wait(lambda: _alert_state(st.url, name) is None, 90 + 6 * SCRAPE_S,
              f"{name} to resolve after the load stopped")
        _wait(lambda: "resolved" in hook.statuses(name), 60, "Alertmanager to deliver the resolution")
    finally:
        prometheus.stop(kafka_cluster)
    assert prometheus.state(kafka_cluster) is None
