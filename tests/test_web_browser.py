"""The dashboard in Debian's real headless Chromium, on the real cluster with load and a lagging group.

Every page loads without JavaScript console errors and fetches nothing from outside the server; charts
hold the expected series with data points (read from plotly's data on the chart's DOM node and its
rendered SVG); the overview shows WARNING once the load passes a small capacity file's warning line;
the lag page lists the lagging group and opens its partitions; the overview's /api endpoint and page
agree with `brokerscale observe --format json`. Screenshots of every page go to the artifacts directory
($BROKERSCALE_TEST_ARTIFACTS, default test-artifacts/ in the checkout; not committed).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from traffic import paced_producer, slow_consumer
from web_server import Served

CLI = Callable[..., tuple[int, str, str]]
ARTIFACTS = Path(os.environ.get("BROKERSCALE_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent /
                                "test-artifacts")) / "web"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [pytest.mark.kafka,
              pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                 reason="needs Debian's chromium and chromium-driver (installed by .ci/run)")]

RULES = """# Only what these tests look at: the machine's own latency and health do not count here.
throughput: {warning: 70, critical: 85}
request_latency_p99_ms: {enabled: false}
request_queue_time_ms: {enabled: false}
request_handler_idle_percent: {enabled: false}
partition_throughput_mb_s: {enabled: false}
"""


def _create_topics(bootstrap: str, *specs: tuple[str, int, int]) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.create_topics([NewTopic(n, p, r) for n, p, r in specs], request_timeout=60).values():
        fut.result(60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            md = admin.list_topics(timeout=10)
        except KafkaException:  # a slow answer on a busy machine: ask again until the deadline
            time.sleep(0.3)
            continue
        if all(n in md.topics and len(md.topics[n].partitions) == p for n, p, _ in specs):
            return
        time.sleep(0.3)
    raise AssertionError(f"topics {[n for n, _, _ in specs]} without all their partitions after 60 s")


class Dashboard:
    """Load, a lagging group, an audit record and the dashboard serving one live cluster."""

    def __init__(self, bootstrap: str, tmp: Path) -> None:
        from brokerscale.observe.options import build_observer
        from brokerscale.observe.rules import load_rules
        from brokerscale.store import open_store
        from brokerscale.web.app import WebConfig, create_app
        from brokerscale.web.live import ClusterLoop

        self.bootstrap = bootstrap
        self.load_topic = f"web.load.{uuid.uuid4().hex[:6]}"
        self.lag_topic = f"web.lag.{uuid.uuid4().hex[:6]}"
        self.group = f"adt-router-{uuid.uuid4().hex[:6]}"
        _create_topics(bootstrap, (self.load_topic, 3, 1), (self.lag_topic, 1, 1))
        self.capacity = tmp / "capacity.yaml"
        self.capacity.write_text("broker:\n  throughput_mb_s: 0.05   # 150 KB/s for three brokers\n")
        self.rules = tmp / "rules.yaml"
        self.rules.write_text(RULES)
        self.procs: list[Any] = []
        self.store = open_store()
        self.loop: Any = None
        try:
            # ~115 KB/s of 10 KB records over the partitions: ~77 % of three brokers at 0.05 MB/s.
            self.procs.append(paced_producer(bootstrap, self.load_topic, bytes_per_s=115_000, size=10_000, parts=3))
            self.procs.append(paced_producer(bootstrap, self.lag_topic, bytes_per_s=2_000, size=100, parts=1))
            with self.store.audited(actor="test", action="rebalance.execute", target="web-test",
                                    intent={"reason": "broker 4 added"}) as change:
                change.after = {"moved": 3}
            obs = build_observer(bootstrap, None, None, capacity=self.capacity, rules=self.rules)
            self.cluster = obs.cluster
            self.loop = ClusterLoop(lambda: obs, interval=4.0, label=obs.cluster)
            self.loop.start()
            time.sleep(1)  # a backlog first, so the slow consumer never catches up
            self.procs.append(slow_consumer(bootstrap, self.lag_topic, self.group, 5))
            cfg = WebConfig(clusters=[obs.cluster], rules=load_rules(self.rules), store=self.store,
                            loops={obs.cluster: self.loop}, refresh_s=5.0)
            self.served = Served(create_app(cfg))
        except BaseException:  # a half-built dashboard must not leave its producers loading the machine
            self._stop_traffic()
            raise
        self.url = self.served.url

    def api(self, path: str) -> Any:
        r = httpx.get(self.url + path, timeout=30)
        r.raise_for_status()
        return r.json()

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 120.0,
                 show: Callable[[], object] | None = None) -> None:
        """Poll `check` until it holds; on timeout the message carries `show()` (what was seen instead)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(1)
        seen = show() if show is not None else None
        st = self.loop.state()
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {seen!r}; "
                             f"observation loop: {st.rounds} rounds, last at {st.updated_at}, error {st.error!r}")

    def _stop_traffic(self) -> None:
        if self.loop is not None:
            self.loop.stop()
        for p in self.procs:
            p.kill()
            p.wait(10)
        self.store.close()

    def close(self) -> None:
        self.served.stop()
        self._stop_traffic()


@pytest.fixture(scope="module")
def dashboard(kafka_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    from cluster_health import wait_healthy

    wait_healthy(kafka_cluster)  # the overview's WARNING needs leaders spread one per broker, nothing under-replicated
    d = Dashboard(kafka_cluster.bootstrap, tmp_path_factory.mktemp("web"))
    try:
        yield d
    finally:
        d.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(300)  # a busy shared machine: plotly.js alone is 4.8 MB to parse
    driver.set_script_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


CHART_DATA = """
return Array.from(document.querySelectorAll('.js-plotly-plot')).map(d => ({
  id: d.id,
  svgTraces: d.querySelectorAll('.scatterlayer .trace, .barlayer .trace').length,
  traces: (d.data || []).map(t => ({name: t.name, points: (t.y || []).filter(v => v !== null).length}))
}));
"""


def _open(browser: Any, url: str, page: str, ready: str) -> dict[str, Any]:
    """Load a page, wait until `ready` (a JS expression) holds, return its charts; fail on console errors."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 240, poll_frequency=0.5).until(lambda d: d.execute_script(f"return !!({ready});"))
    charts = {c["id"]: c for c in browser.execute_script(CHART_DATA)}
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == [], f"{page}: JavaScript console errors: {errors}"
    origin = url.split("/", 3)[:3]
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    outside = [r for r in resources if r.split("/", 3)[:3] != origin and not r.startswith("data:")]
    assert outside == [], f"{page}: fetched from outside the server: {outside}"
    assert browser.execute_script("return document.getElementById('banner').hidden"), _text(browser, "#banner")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"{page}.png"))
    return charts


def _text(browser: Any, css: str) -> str:
    """An element's text read atomically in the page (the page redraws itself every few seconds)."""
    return str(browser.execute_script("const e = document.querySelector(arguments[0]); return e ? e.textContent : ''",
                                      css))


def _series(chart: dict[str, Any]) -> dict[str, int]:
    return {t["name"]: t["points"] for t in chart["traces"]}


CHARTS_DRAWN = "document.querySelectorAll('.js-plotly-plot').length >= {n} && " \
               "document.getElementById('content').textContent.indexOf('loading') < 0"


def test_overview_warns_past_the_capacity_files_line(dashboard: Dashboard, browser: Any) -> None:
    def throughput_status() -> str | None:
        c = dashboard.api("/api/overview")["clusters"][0]
        row = next((u for u in c["utilization"] if u["dimension"] == "throughput"), None)
        return None if row is None else str(row["status"])

    dashboard.wait_for("throughput past its warning line (70 %)", lambda: throughput_status() == "WARNING",
                       show=lambda: dashboard.api("/api/overview")["clusters"][0]["utilization"])
    charts = _open(browser, dashboard.url + "/", "overview", CHARTS_DRAWN.format(n=1))
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('tr.util')).map(r => [r.dataset.dimension, "
        "r.querySelector('.badge').textContent])")
    # The page redraws every 5 s from the same loop; the status may have moved with the load since.
    assert ["throughput", "WARNING"] in rows or throughput_status() != "WARNING", rows
    util = charts[f"chart-util-{dashboard.cluster}"]
    s = _series(util)
    assert s["utilization %"] >= 1 and s["warning"] >= 1 and s["critical"] >= 1
    assert util["svgTraces"] >= 3
    assert "WARNING" in _text(browser, f'section[id="cluster-{dashboard.cluster}"]')


def test_overview_page_and_api_agree_with_observe_json(dashboard: Dashboard, browser: Any, cli: CLI) -> None:
    code, out, err = cli("observe", "-b", dashboard.bootstrap, "--capacity", dashboard.capacity, "--rules",
                         dashboard.rules, "--interval", "2s", "--no-history", "--format", "json")
    assert code == 0, err
    cli_doc = json.loads(out)
    api_doc = dashboard.api(f"/api/observe/{dashboard.cluster}")
    assert set(api_doc) == set(cli_doc) == {"snapshot", "capacity", "utilization", "findings"}
    a, c = api_doc["snapshot"], cli_doc["snapshot"]
    assert a["cluster"] == c["cluster"] and a["source"] == c["source"]
    assert [b["id"] for b in a["brokers"]] == [b["id"] for b in c["brokers"]]
    mine = {dashboard.load_topic, dashboard.lag_topic}
    assert mine <= {t["name"] for t in a["topics"]} and mine <= {t["name"] for t in c["topics"]}
    for name in mine:
        ta = next(t for t in a["topics"] if t["name"] == name)
        tc = next(t for t in c["topics"] if t["name"] == name)
        assert [(p["partition"], p["replicas"]) for p in ta["partitions"]] == \
            [(p["partition"], p["replicas"]) for p in tc["partitions"]]
    assert dashboard.group in {g["group"] for g in a["groups"]} & {g["group"] for g in c["groups"]}
    assert api_doc["capacity"] == cli_doc["capacity"]
    dims = {u["dimension"] for u in cli_doc["utilization"] if u["scope"] == "cluster"}
    assert dims == {u["dimension"] for u in api_doc["utilization"] if u["scope"] == "cluster"} == {"throughput"}
    # Throughput measured by both within 35 % of each other (two windows of the same steady load).
    ta_ = next(u for u in api_doc["utilization"] if u["dimension"] == "throughput" and u["scope"] == "cluster")
    tc_ = next(u for u in cli_doc["utilization"] if u["dimension"] == "throughput" and u["scope"] == "cluster")
    assert abs(ta_["percent"] - tc_["percent"]) <= 0.35 * max(ta_["percent"], tc_["percent"]), (ta_, tc_)
    # The page shows the same dimensions and the same broker count as the CLI.
    _open(browser, dashboard.url + "/", "overview-agree", CHARTS_DRAWN.format(n=1))
    page_dims = set(browser.execute_script(
        "return Array.from(document.querySelectorAll('tr.util')).map(r => r.dataset.dimension)"))
    assert page_dims == dims
    assert f"{len(c['brokers'])} brokers" in _text(browser, f'section[id="cluster-{dashboard.cluster}"]')


def test_lag_page_shows_the_lagging_group_and_its_partitions(dashboard: Dashboard, browser: Any) -> None:
    def status() -> str | None:
        g = next((g for g in dashboard.api("/api/lag")["groups"] if g["group"] == dashboard.group), None)
        return None if g is None else str(g["status"])

    dashboard.wait_for("the slow group judged WARNING", lambda: status() == "WARNING",
                       show=lambda: [g for g in dashboard.api("/api/lag")["groups"] if g["group"] == dashboard.group])
    charts = _open(browser, dashboard.url + "/lag", "lag",
                   f"document.querySelector('tr[data-group=\"{dashboard.group}\"]') && "
                   + CHARTS_DRAWN.format(n=2))
    # The page redraws itself every few seconds: read and click in one script, never through a kept element.
    badge = browser.execute_script(
        "return document.querySelector(`tr[data-group=\"${arguments[0]}\"] .badge`).textContent", dashboard.group)
    assert badge in ("WARNING", "STALL")
    offsets = _series(charts["chart-lag-offsets"])
    assert offsets.get(dashboard.group, 0) >= 2, offsets
    assert _series(charts["chart-lag-seconds"]).get(dashboard.group, 0) >= 2
    browser.execute_script("document.querySelector(`tr[data-group=\"${arguments[0]}\"]`).click()", dashboard.group)
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 120).until(lambda d: f"{dashboard.lag_topic}-0" in _text(d, "#partitions"))
    browser.save_screenshot(str(ARTIFACTS / "lag-partitions.png"))
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_timeline_storage_audit_rebalance_and_pending_pages(dashboard: Dashboard, browser: Any) -> None:
    dashboard.wait_for("three observations", lambda: dashboard.loop.state().rounds >= 3)
    charts = _open(browser, dashboard.url + "/timeline", "timeline", CHARTS_DRAWN.format(n=3))
    tput = _series(charts["chart-throughput"])
    assert tput["bytes in (MB/s)"] >= 2 and "bytes out (MB/s)" in tput
    assert _series(charts["chart-utilization"])["throughput %"] >= 2
    assert _series(charts["chart-units"])["units"] >= 2
    assert "rebalance.execute web-test: broker 4 added" in _text(browser, "#content")

    charts = _open(browser, dashboard.url + "/storage", "storage", CHARTS_DRAWN.format(n=1))
    assert _series(charts["chart-storage"])["retained (GB)"] >= 3

    _open(browser, dashboard.url + "/audit", "audit", "document.querySelector('tr.audit-row')")
    assert "broker 4 added" in _text(browser, "#content")
    _open(browser, dashboard.url + "/audit", "audit-filtered", "document.getElementById('f-result')")
    browser.execute_script("document.getElementById('f-result').value = 'error'; "
                           "document.querySelector('form.controls button').click()")
    from selenium.webdriver.support.ui import WebDriverWait

    # Wait for the page drawn from the filtered answer: rows of the unfiltered page may be errors too.
    WebDriverWait(browser, 120).until(lambda d: d.execute_script(
        "const f = document.querySelector('form.controls'); return f && f.dataset.shownResult === 'error'"))
    assert ("no audit records match" in _text(browser, "#content")
            or browser.find_elements("css selector", "tr.result-error"))
    assert not browser.find_elements("css selector", "tr.result-ok")

    _open(browser, dashboard.url + "/rebalance", "rebalance",
          "document.getElementById('content').textContent.indexOf('loading') < 0")
    _open(browser, dashboard.url + "/dr", "dr", "document.querySelector('.not-available')")
    assert "Disaster recovery" in _text(browser, ".not-available")


def test_simulator_page_compares_policies_on_a_shipped_trace(dashboard: Dashboard, browser: Any) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, dashboard.url + "/simulator", "simulator-form", "document.getElementById('sim-run')")
    browser.execute_script("document.getElementById('sim-trace').value = 'incident-surge'; "
                           "document.getElementById('sim-run').click()")
    WebDriverWait(browser, 240, poll_frequency=0.5).until(lambda d: d.execute_script(
        "return document.querySelectorAll('#sim-result .js-plotly-plot').length === 1 "
        "|| !!document.querySelector('#sim-result .error')"))
    assert _text(browser, "#sim-result .error") == ""
    charts = {c["id"]: c for c in browser.execute_script(CHART_DATA)}
    sim = charts["chart-simulation"]
    s = _series(sim)
    assert s["default"] >= 2 and s["seed-reactive"] >= 2 and s["units needed to stay out of critical"] >= 2
    assert sim["svgTraces"] == 3
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('tr.sim-row')).map(r => r.dataset.policy)")
    assert rows == ["default", "seed-reactive", "oracle"]
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    browser.save_screenshot(str(ARTIFACTS / "simulator.png"))
