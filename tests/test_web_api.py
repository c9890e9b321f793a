"""The dashboard without a cluster: access control, shipped assets only, the store-backed API, the pure
chart builders, and `--plot` files (read back as real PNG/SVG)."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from brokerscale.forecast.storage import forecast_storage
from brokerscale.observe.rules import load_rules
from brokerscale.store import Store, open_store
from brokerscale.store.samples import Sample
from brokerscale.web.app import PAGES, WebConfig, create_app
from brokerscale.web.plot_file import write_chart
from brokerscale.web.series import lag_history, storage_chart, timeline_charts

CLI = Callable[..., tuple[int, str, str]]
TOKEN = "s3cret-token-0123456789abcdef"
EXTERNAL = re.compile(r"""(?:src|href|url)\s*[=(]\s*["']?\s*(?:https?:)?//""", re.I)


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'web.db'}")
    yield s
    s.close()


def _seed_day(store: Store, cluster: str, now: float) -> None:
    """A day of one-minute history: retained bytes growing 1 GB/day, steady throughput."""
    rows = []
    for i in range(1440):
        ts = now - 86400 + i * 60
        rows += [Sample(ts, cluster, "retained_bytes", 5e9 + i * 1e9 / 1440),
                 Sample(ts, cluster, "bytes_in_per_s", 2e6), Sample(ts, cluster, "bytes_out_per_s", 4e6),
                 Sample(ts, cluster, "units", 3.0, {"unit": "broker"})]
    store.write_samples(rows)


def _client(store: Store, token: str | None = None) -> TestClient:
    return TestClient(create_app(WebConfig(clusters=["prod"], rules=load_rules(), store=store, token=token)))


def test_every_page_and_asset_is_served_from_the_package_with_no_external_url(store: Store) -> None:
    c = _client(store)
    for page in PAGES:
        r = c.get("/" if page == "overview" else f"/{page}")
        assert r.status_code == 200 and "<title>" in r.text
        assert not EXTERNAL.search(r.text), page
        for ref in re.findall(r'(?:src|href)="([^"]+)"', r.text):
            assert ref.startswith(("/", "data:")), (page, ref)
            if ref.startswith("/static/"):
                asset = c.get(ref)
                assert asset.status_code == 200 and len(asset.content) > 100, ref
    for name in ("app.js", "style.css", "docs.html", "login.html", "page.html"):
        text = resources.files("brokerscale.web").joinpath("static", name).read_text()
        assert "http://" not in text and "https://" not in text, name
    docs = c.get("/api/docs").text  # FastAPI's default docs page would load Swagger UI from a CDN
    assert "cdn" not in docs.lower() and not EXTERNAL.search(docs)
    assert c.get("/api/openapi.json").json()["paths"]["/api/overview"]["get"]["description"]


def test_token_required_everywhere_and_compared_exactly(store: Store) -> None:
    c = _client(store, token=TOKEN)
    assert c.get("/api/overview").status_code == 401
    assert c.get("/api/overview", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    assert c.get("/api/overview", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
    assert c.get("/static/app.js").status_code == 401
    page = c.get("/timeline", headers={"Accept": "text/html"})
    assert page.status_code == 401 and "<form" in page.text and TOKEN not in page.text
    assert c.get("/api/overview", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    bad = c.post("/login", content="token=nope", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert bad.status_code == 401
    ok = c.post("/login", content=f"token={TOKEN}", headers={"Content-Type": "application/x-www-form-urlencoded"},
                follow_redirects=False)
    assert ok.status_code == 303 and "httponly" in ok.headers["set-cookie"].lower()
    assert c.get("/api/audit").status_code == 200  # the cookie from the form
    assert TOKEN not in c.get("/").text


def test_listen_elsewhere_without_token_refused_one_line_exit_2(cli: CLI, tmp_path: Path) -> None:
    code, out, err = cli("web", "--listen", "0.0.0.0", "--no-observe", "--port", "0")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--token-file" in err and "0.0.0.0" in err
    short = tmp_path / "token"
    short.write_text("abc\n")
    code, _, err = cli("web", "--listen", "0.0.0.0", "--token-file", short, "--no-observe")
    assert code == 2 and str(short) in err and "abc" not in err
    code, _, err = cli("web", "--token-file", tmp_path / "missing", "--no-observe")
    assert code == 2 and "cannot read" in err


def test_timeline_storage_audit_from_the_store(store: Store) -> None:
    now = time.time()
    _seed_day(store, "prod", now)
    with store.audited(actor="scaler", action="scale.brokers", target="prod", intent={"reason": "disk 86 %"}) as ch:
        ch.after = {"brokers": 4}
    with pytest.raises(RuntimeError), store.audited(actor="cli", action="topics.alter", target="adt"):
        raise RuntimeError("broker said no")
    c = _client(store)
    tl = c.get("/api/timeline", params={"cluster": "prod", "hours": 24}).json()
    tput = next(ch for ch in tl["charts"] if ch["id"] == "throughput")
    assert [t["name"] for t in tput["data"]] == ["bytes in (MB/s)", "bytes out (MB/s)"]
    assert 700 <= len(tput["data"][0]["x"]) <= 720 and tput["data"][1]["y"][0] == pytest.approx(4.0)
    assert [e["label"] for e in tl["events"]] == ["scale.brokers prod: disk 86 %", "topics.alter adt (error)"]
    assert tput["layout"]["shapes"][0]["x0"] == tput["layout"]["shapes"][0]["x1"]  # a vertical marker line
    assert c.get("/api/timeline", params={"cluster": "nope"}).status_code == 404

    st = c.get("/api/storage", params={"cluster": "prod", "disk": "20GB"}).json()
    fc = st["forecast"]
    assert fc["ok"] and fc["daily_growth_bytes"] == pytest.approx(1e9, rel=0.01)
    assert fc["days_until_limit"] == pytest.approx(14, abs=0.5)  # 6 GB now, 20 GB limit, 1 GB/day
    assert st["chart"]["layout"]["shapes"][0]["y0"] == pytest.approx(20.0)  # the limit line, in GB
    assert "limit crossed in 14 days" in [a["text"] for a in st["chart"]["layout"]["annotations"]]
    assert c.get("/api/storage", params={"disk": "lots"}).status_code == 422

    audit = c.get("/api/audit", params={"result": "error"}).json()["records"]
    assert [(r["action"], r["error"]) for r in audit] == [("topics.alter", "RuntimeError: broker said no")]
    assert [r["action"] for r in c.get("/api/audit", params={"action": "scale."}).json()["records"]] == \
        ["scale.brokers"]
    assert c.get("/api/audit", params={"result": "maybe"}).status_code == 422


def test_overview_without_observation_says_why(store: Store) -> None:
    doc = _client(store).get("/api/overview").json()["clusters"][0]
    assert doc["status"] == "UNKNOWN" and "--no-observe" in doc["error"]
    r = _client(store).get("/api/observe/prod")
    assert r.status_code == 503


def test_lag_history_offsets_and_interpolated_seconds() -> None:
    leo, committed = [], []
    for i in range(5):  # log end grows 10/s; the group is stuck at offset 20
        ts = 1000.0 + 10 * i
        leo.append(Sample(ts, "c", "log_end_offset", 100.0 * i, {"topic": "t", "partition": "0"}))
        committed.append(Sample(ts, "c", "committed_offset", min(20.0, 100.0 * i),
                                {"group": "g", "topic": "t", "partition": "0"}))
    rows = lag_history(leo, committed)["g"]
    assert [r[1] for r in rows] == [0, 80, 180, 280, 380]
    # The record at offset 20 was appended when the log end passed 21 (t = 1002.1): seconds since then.
    assert rows[-1][2] == pytest.approx(1040 - 1002.1, abs=0.01)
    assert lag_history(leo, committed, groups=["other"]) == {}


def _chart_files(tmp_path: Path) -> tuple[Path, Path]:
    now = 1_800_000_000.0
    pts = [(now - 86400 + i * 3600, 5e9 + i * 4e7) for i in range(25)]
    fc = forecast_storage(pts, now=now, limit_bytes=2e10, limit_label="20 GB of disk")
    chart = storage_chart("prod", pts, fc, now)
    png, svg = tmp_path / "s.png", tmp_path / "s.svg"
    write_chart(chart, png)
    write_chart(chart, svg)
    return png, svg


def test_plot_files_are_real_png_and_svg_with_the_series(tmp_path: Path) -> None:
    png, svg = _chart_files(tmp_path)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    text = svg.read_text()
    for words in ("prod: retained bytes and projection", "projection (GB)", "20 GB of disk", "limit crossed in"):
        assert words in text, words
    # matplotlib draws each line series as a path with many vertices: the 25 samples are there.
    paths = re.findall(r' d="(M[^"]*)"', text)
    assert max(len(re.findall(r"\bL\b", d)) for d in paths) >= 24


def test_forecast_storage_and_lag_plot_flags(cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("BROKERSCALE_STORE_URL", f"sqlite:///{db}")
    st = open_store()
    now = time.time()
    _seed_day(st, "127.0.0.1:9", now)
    st.close()
    out_png = tmp_path / "f.png"
    code, out, err = cli("forecast", "storage", "-b", "127.0.0.1:9", "--disk", "20GB", "--plot", out_png,
                         "--format", "json")
    assert code == 0, err
    assert '"days_until_limit"' in out and "chart written to" in err and out_png.stat().st_size > 10_000
    code, _, err = cli("forecast", "storage", "-b", "127.0.0.1:9", "--plot", tmp_path / "f.jpg")
    assert code == 2 and ".png or .svg" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("forecast", "storage", "-b", "127.0.0.1:9", "--plot", tmp_path / "no" / "f.png")
    assert code == 2 and "does not exist" in err
    code, _, err = cli("lag", "-b", "127.0.0.1:9", "--no-history", "--plot", tmp_path / "l.svg")
    assert code == 2 and "--no-history" in err


def test_timeline_chart_builder_downsamples_a_day(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    hist: dict[str, list[Sample]] = {"bytes_in_per_s": [Sample(now - 86400 + 60 * i, "c", "bytes_in_per_s", 1e6)
                                                        for i in range(1440)]}
    charts: list[Any] = timeline_charts("c", hist, None, [], max_points=300)
    assert len(charts[0].series[0].x) == 300 and charts[0].series[0].x[-1] == hist["bytes_in_per_s"][-1].ts
    assert charts[1].note.startswith("no capacity")


def test_unreachable_cluster_is_shown_as_such_and_the_loop_keeps_trying(store: Store) -> None:
    from brokerscale.observe.options import build_observer
    from brokerscale.web.live import ClusterLoop

    obs = build_observer("127.0.0.1:9", None, None, no_history=True)
    loop = ClusterLoop(lambda: obs, interval=1.0, label=obs.cluster)
    loop.start()
    try:
        deadline = time.monotonic() + 90
        while loop.state().error is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert loop.state().error and loop.state().rounds == 0
        c = TestClient(create_app(WebConfig(clusters=[obs.cluster], rules=load_rules(), store=store,
                                            loops={obs.cluster: loop})))
        doc = c.get("/api/overview").json()["clusters"][0]
        assert doc["state"] == "unreachable" and doc["status"] == "UNKNOWN" and doc["error"]
        assert loop._thread is not None and loop._thread.is_alive()  # still retrying
    finally:
        loop.stop()


def test_simulator_compares_shipped_policies_with_the_oracle_and_refuses_bad_input(store: Store) -> None:
    c = _client(store)
    opts = c.get("/api/simulator").json()
    assert opts["available"] and "clinic-week" in opts["traces"] and "seed-reactive" in opts["policies"]
    doc = c.post("/api/simulator/run", json={"trace": "incident-surge",
                                             "policies": ["default", "seed-reactive"]}).json()
    assert [r["policy"] for r in doc["rows"]] == ["default", "seed-reactive", "oracle"]
    oracle = doc["rows"][-1]
    assert all(r["unit_hours"] >= oracle["unit_hours"] for r in doc["rows"])  # nothing beats the oracle
    names = [t["name"] for t in doc["chart"]["data"]]
    assert names == ["units needed to stay out of critical", "default", "seed-reactive"]
    assert all(0 < len(t["y"]) <= 1500 and len(t["x"]) == len(t["y"]) for t in doc["chart"]["data"])
    # The same run as the CLI: unit-hours agree with `scale simulate --format json`.
    from brokerscale.scale.demand import resolve_capacity, trigger_thresholds
    from brokerscale.scale.policy import load_policy
    from brokerscale.scale.simulate import simulate
    from brokerscale.scale.trace import read_trace, resolve_trace

    pol = load_policy(None, "default")
    r = simulate(read_trace(resolve_trace("incident-surge"), "incident-surge"), pol,
                 resolve_capacity(None, pol.unit), trigger_thresholds())
    assert doc["rows"][0]["unit_hours"] == pytest.approx(r.unit_hours, abs=0.01)

    bad = c.post("/api/simulator/run", json={"trace": "nope", "policies": ["default"]})
    assert bad.status_code == 422 and "not a shipped trace" in bad.json()["detail"]
    bad = c.post("/api/simulator/run", json={"trace_csv": "timestamp,oops\n1,2\n", "policies": ["default"]})
    assert bad.status_code == 422 and "uploaded trace" in bad.json()["detail"]
    bad = c.post("/api/simulator/run", json={"trace": "clinic-week", "policies": [], "policy_yaml": "a: [1"})
    assert bad.status_code == 422 and "uploaded policy" in bad.json()["detail"]
