"""The dashboard's FastAPI application: eight pages and the JSON API they are drawn from.

Pages are one shipped HTML shell plus shipped JavaScript that fetches `/api/…`; every chart is built in
Python (`series`, `charts`) so scripts, pages and `--plot` files agree. Live data comes from the
`ClusterLoop`s (one Observer per cluster), history and audit from the store.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from brokerscale import __version__
from brokerscale.errors import BrokerscaleError
from brokerscale.observe.capacity import Capacity
from brokerscale.observe.collect import HISTORY_FIELDS
from brokerscale.observe.history_keys import keys_for, read_history
from brokerscale.observe.lag_history import COMMITTED_METRIC, LEO_METRIC
from brokerscale.observe.rules import RuleSet
from brokerscale.web import series
from brokerscale.web.auth import COOKIE, token_ok
from brokerscale.web.charts import to_plotly
from brokerscale.web.live import ClusterLoop, LiveState

PAGES: dict[str, str] = {"overview": "Overview", "timeline": "Timeline", "lag": "Consumer lag",
                         "storage": "Storage", "rebalance": "Rebalance", "simulator": "Simulator",
                         "audit": "Audit", "dr": "DR"}
STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
_SEVERITY_ORDER = {"OK": 0, "WARNING": 1, "CRITICAL": 2}


class SimulationRequest(BaseModel):
    """A simulator run: a shipped trace name or an uploaded CSV, shipped policy names and/or a policy YAML."""

    model_config = ConfigDict(extra="forbid")

    trace: str | None = None
    trace_csv: str | None = None
    policies: list[str] = Field(default_factory=lambda: ["default", "seed-reactive"])
    policy_yaml: str | None = None
    unit: str | None = None
    limits: str | None = None


@dataclass
class WebConfig:
    """What `brokerscale web` was started with. `loops` is empty with --no-observe (store only)."""

    clusters: list[str]
    rules: RuleSet
    store: Any
    loops: dict[str, ClusterLoop] = field(default_factory=dict)
    token: str | None = None
    refresh_s: float = 10.0
    disk: str | None = None
    tier: str | None = None
    limits: str = "design-doc"


def _static(name: str) -> bytes:
    return resources.files("brokerscale.web").joinpath("static", name).read_bytes()


def _plotly_js() -> bytes:
    """plotly.js as shipped inside the plotly wheel: served from here, never from a CDN."""
    return resources.files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()


def _page_html(page: str, refresh_s: float) -> str:
    shell = _static("page.html").decode()
    nav = "".join(f'<a href="/{"" if p == "overview" else p}" class="{"active" if p == page else ""}">{t}</a>'
                  for p, t in PAGES.items())
    return (shell.replace("{{title}}", PAGES[page]).replace("{{page}}", page).replace("{{nav}}", nav)
            .replace("{{refresh}}", str(int(refresh_s * 1000))).replace("{{version}}", __version__))


def _login_html(message: str = "") -> str:
    return _static("login.html").decode().replace("{{message}}", message)


def create_app(cfg: WebConfig) -> FastAPI:
    app = FastAPI(title="brokerscale dashboard API", version=__version__,
                  description="The data behind every page of `brokerscale web`: live load and utilization from the "
                              "same Observer as `brokerscale observe`, history, lag, storage forecast, rebalance "
                              "progress and the audit log from the store.",
                  docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json",
                  swagger_ui_parameters={"syntaxHighlight": False})
    _mount_docs_offline(app)

    if cfg.token is not None:
        token = cfg.token

        @app.middleware("http")
        async def _require_token(request: Request, call_next: Any) -> Response:
            if request.url.path in ("/login", "/static/style.css") or token_ok(
                    token, request.headers.get("authorization"), request.cookies.get(COOKIE)):
                response: Response = await call_next(request)
                return response
            if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
                return JSONResponse({"detail": "a bearer token is required (Authorization: Bearer …)"},
                                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
            return HTMLResponse(_login_html(), status_code=401, headers={"WWW-Authenticate": "Bearer"})

        @app.post("/login", include_in_schema=False)
        async def _login(request: Request) -> Response:
            form = parse_qs((await request.body()).decode(errors="replace"))
            given = (form.get("token") or [""])[0].strip()
            if not token_ok(token, f"Bearer {given}", None):
                return HTMLResponse(_login_html("That token is not valid."), status_code=401)
            resp = RedirectResponse("/", status_code=303)
            resp.set_cookie(COOKIE, given, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
            return resp

    @app.get("/login", include_in_schema=False)
    def _login_form() -> HTMLResponse:
        return HTMLResponse(_login_html())

    for page in PAGES:
        _add_page(app, page, cfg.refresh_s)

    @app.get("/static/{name}", include_in_schema=False)
    def _asset(name: str) -> Response:
        if name == "plotly.min.js":
            return Response(_plotly_js(), media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})
        if name not in STATIC:
            raise HTTPException(404, f"no asset {name}")
        return Response(_static(name), media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    _add_api(app, cfg)
    return app


def _mount_docs_offline(app: FastAPI) -> None:
    """FastAPI's docs page loads Swagger UI from a CDN; on an air-gapped network it would be blank, so the
    OpenAPI page here is a plain list of the endpoints read from /api/openapi.json by shipped JavaScript."""
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", "") not in ("/api/docs",
                                                                                        "/api/docs/oauth2-redirect")]

    @app.get("/api/docs", include_in_schema=False)
    def _docs() -> HTMLResponse:
        return HTMLResponse(_static("docs.html").decode())


def _add_page(app: FastAPI, page: str, refresh_s: float) -> None:
    path = "/" if page == "overview" else f"/{page}"

    def handler() -> HTMLResponse:
        return HTMLResponse(_page_html(page, refresh_s))

    app.get(path, include_in_schema=False, name=f"page_{page}")(handler)


def _state(cfg: WebConfig, cluster: str) -> LiveState:
    loop = cfg.loops.get(cluster)
    if loop is None:
        if cluster not in cfg.clusters:
            raise HTTPException(404, f"no cluster {cluster!r}; known: {', '.join(cfg.clusters)}")
        return LiveState(cluster, error="not observed live (started with --no-observe): history only")
    return loop.state()


def _pick(cfg: WebConfig, cluster: str | None) -> str:
    if cluster is None:
        return cfg.clusters[0]
    if cluster not in cfg.clusters:
        raise HTTPException(404, f"no cluster {cluster!r}; known: {', '.join(cfg.clusters)}")
    return cluster


def _units(st: LiveState) -> dict[str, Any] | None:
    cap: Capacity | None = st.capacity
    if st.round is None:
        return None
    alive = sum(1 for b in st.round.snapshot.brokers if b.alive)
    if cap is not None and cap.unit == "cku":
        return {"unit": "CKU", "count": cap.units, "description": cap.description}
    return {"unit": "broker", "count": alive,
            "description": cap.description if cap else f"{alive} live broker(s), no capacity given"}


def _autoscaler(findings: list[dict[str, Any]]) -> dict[str, Any]:
    """What would be done now: the firing triggers' actions (the dashboard does not run the controller)."""
    actions = sorted({f["action"] for f in findings if f.get("action")})
    return {"available": False,
            "message": "the scaling triggers recommend: " + ("; ".join(actions) if actions else "no change")
                       + " (policies can be compared on the Simulator page)",
            "actions": actions}


def overview_cluster(cfg: WebConfig, cluster: str, now: float) -> dict[str, Any]:
    st = _state(cfg, cluster)
    out: dict[str, Any] = {"cluster": cluster, "error": st.error, "updated_at": st.updated_at,
                           "age_s": None if st.updated_at is None else round(now - st.updated_at, 1)}
    if st.round is None:
        out.update(state="waiting" if st.error is None else "unreachable", status="UNKNOWN", utilization=[],
                   findings=[], units=None, autoscaler=_autoscaler([]), chart=None, snapshot=None)
        return out
    rows = series.utilization_rows(st.round.utilization, cfg.rules)
    findings = [f.model_dump(mode="json") for f in st.round.findings]
    worst = max([r["status"] for r in rows] + [f["severity"].upper() for f in findings] + ["OK"],
                key=_SEVERITY_ORDER.__getitem__)
    snap = st.round.snapshot
    out.update(state="stale" if st.error else "live", status=worst, utilization=rows, findings=findings,
               units=_units(st), autoscaler=_autoscaler(findings),
               chart=to_plotly(series.utilization_chart(cluster, rows)),
               snapshot={"taken_at": snap.taken_at, "window_s": snap.window_s, "brokers": len(snap.brokers),
                         "bytes_in_per_s": snap.bytes_in_per_s, "bytes_out_per_s": snap.bytes_out_per_s,
                         "connections": snap.connections, "partition_count": snap.partition_count,
                         "retained_bytes": snap.retained_bytes, "groups": len(snap.groups)})
    return out


def _add_api(app: FastAPI, cfg: WebConfig) -> None:
    @app.get("/api/clusters", tags=["clusters"])
    def clusters() -> dict[str, Any]:
        """The clusters this dashboard shows and whether each is observed live."""
        return {"clusters": [{"cluster": c, "live": c in cfg.loops} for c in cfg.clusters],
                "refresh_s": cfg.refresh_s}

    @app.get("/api/overview", tags=["overview"])
    def overview() -> dict[str, Any]:
        """Every cluster: utilization per dimension against the warning/critical lines, firing findings with
        their actions, the current units and what would be done now."""
        now = time.time()
        return {"generated_at": now, "clusters": [overview_cluster(cfg, c, now) for c in cfg.clusters]}

    @app.get("/api/observe/{cluster}", tags=["overview"])
    def observe(cluster: str) -> dict[str, Any]:
        """The latest round, in exactly the shape of `brokerscale observe --format json`."""
        from brokerscale.observe.cli import round_json

        st = _state(cfg, cluster)
        if st.round is None:
            raise HTTPException(503, f"{cluster}: no observation yet" + (f" ({st.error})" if st.error else ""))
        return round_json(st.round, st.capacity)

    @app.get("/api/timeline", tags=["timeline"])
    def timeline(cluster: str | None = None,
                 hours: float = Query(6.0, gt=0, le=24 * 31, description="how far back")) -> dict[str, Any]:
        """Throughput, utilization and units over the range, with scaling events and rebalances as markers."""
        name = _pick(cfg, cluster)
        now = time.time()
        since = now - hours * 3600
        hist = {m: read_history(cfg.store, name, m, since=since) for m in (*HISTORY_FIELDS, "units")}
        st = _state(cfg, name)
        markers = series.event_markers(cfg.store.audit_records(limit=1000), since, now)
        charts = series.timeline_charts(name, hist, st.capacity, markers)
        return {"cluster": name, "since": since, "until": now, "charts": [to_plotly(c) for c in charts],
                "events": [m.model_dump() for m in markers]}

    @app.get("/api/lag", tags=["lag"])
    def lag(cluster: str | None = None, hours: float = Query(1.0, gt=0, le=24 * 7)) -> dict[str, Any]:
        """Consumer groups now (Burrow status, lag in offsets and seconds) and their lag over time."""
        name = _pick(cfg, cluster)
        st = _state(cfg, name)
        since = time.time() - hours * 3600
        keys = st.history_keys or keys_for(cfg.store, name)  # offset history is kept under Kafka's cluster id
        hist = series.lag_history([s for k in keys for s in cfg.store.read_samples(k, LEO_METRIC, since=since)],
                                  [s for k in keys for s in cfg.store.read_samples(k, COMMITTED_METRIC, since=since)])
        groups = [] if st.round is None else [
            {"group": g.group, "status": g.status.value, "reason": g.reason, "state": g.state, "members": g.members,
             "lag_offsets": g.lag_offsets, "max_lag_seconds": g.max_lag_seconds, "partitions": len(g.partitions)}
            for g in st.round.snapshot.groups]
        return {"cluster": name, "taken_at": st.round.snapshot.taken_at if st.round else None, "error": st.error,
                "groups": groups, "charts": [to_plotly(c) for c in series.lag_charts(hist)]}

    @app.get("/api/lag/{cluster}/{group}", tags=["lag"])
    def lag_group(cluster: str, group: str) -> dict[str, Any]:
        """One group's partitions: committed and log-end offsets, lag, status and why."""
        st = _state(cfg, cluster)
        g = next((x for x in (st.round.snapshot.groups if st.round else []) if x.group == group), None)
        if g is None:
            raise HTTPException(404, f"{cluster}: no consumer group {group!r} in the latest observation")
        return g.model_dump(mode="json")

    @app.get("/api/storage", tags=["storage"])
    def storage(cluster: str | None = None, days: float = Query(30.0, gt=0, le=400),
                disk: str | None = None, tier: str | None = None) -> dict[str, Any]:
        """Retained bytes, growth, 30/90-day projections and the day the disk or tier limit is crossed
        (`brokerscale forecast storage`)."""
        from brokerscale.forecast.cli import storage_limit
        from brokerscale.forecast.storage import forecast_storage
        from brokerscale.units import format_bytes

        name = _pick(cfg, cluster)
        try:
            limit, label, tier_name = storage_limit(tier or (None if disk else cfg.tier),
                                                    disk or (None if tier else cfg.disk), cfg.limits)
        except BrokerscaleError as exc:
            raise HTTPException(422, exc.message) from None
        st = _state(cfg, name)
        if limit is None and st.capacity is not None and st.capacity.disk_bytes:
            limit, label = float(st.capacity.disk_bytes), f"{format_bytes(st.capacity.disk_bytes)} of disk"
        now = time.time()
        samples = read_history(cfg.store, name, "retained_bytes", since=now - days * 86400)
        points = [(s.ts, s.value) for s in samples]
        fc = forecast_storage(points, now=now, limit_bytes=limit, limit_label=label, tier=tier_name)
        return {"cluster": name, "forecast": fc.model_dump(mode="json"),
                "chart": to_plotly(series.storage_chart(name, points, fc, now))}

    @app.get("/api/rebalance", tags=["rebalance"])
    def rebalance(cluster: str | None = None) -> dict[str, Any]:
        """The cluster's rebalance (from `rebalance execute`'s state file): per-broker before/after and
        progress by partition and bytes."""
        from brokerscale.balance.state import default_state_path, load_state

        name = _pick(cfg, cluster)
        path = default_state_path(name)
        try:
            state = load_state(path)
        except BrokerscaleError as exc:
            raise HTTPException(422, exc.message) from None
        if state is None:
            return {"cluster": name, "run": None, "message": "no brokerscale rebalance has run against this "
                    "cluster (brokerscale rebalance propose, then execute --apply)"}
        return {"cluster": name, **series.rebalance_view(state), "state_file": str(path)}

    @app.get("/api/simulator", tags=["simulator"])
    def simulator() -> dict[str, Any]:
        """The shipped traces and policies the simulator can compare (`brokerscale scale simulate`)."""
        from brokerscale.web.simulator import options

        return options()

    @app.post("/api/simulator/run", tags=["simulator"])
    def simulator_run(body: SimulationRequest) -> dict[str, Any]:
        """Replay a shipped or uploaded trace through the chosen policies (and an uploaded policy file):
        units vs demand over time, and unit-hours and critical minutes against the oracle."""
        from brokerscale.web.simulator import run

        try:
            return run(body.trace, body.trace_csv, body.policies, body.policy_yaml, body.unit, body.limits)
        except BrokerscaleError as exc:
            raise HTTPException(422, exc.message) from None

    @app.get("/api/dr", tags=["dr"])
    def dr() -> dict[str, Any]:
        """Replication flows as `brokerscale dr status --format json` shows them (lag in records and seconds
        per topic, rates, checkpoint lag, process state, refused PHI topics), and each flow's last failover."""
        from brokerscale.dr.web import dr_status

        return dr_status()

    @app.get("/api/audit", tags=["audit"])
    def audit(action: str | None = Query(None, description="actions starting with this"),
              result: str | None = Query(None, pattern="^(ok|error|pending)$"),
              since: float | None = Query(None, description="Unix seconds"),
              limit: int = Query(200, ge=1, le=5000)) -> dict[str, Any]:
        """The audit log, newest first: each change's intent and result paired; `pending` never finished."""
        rows = cfg.store.audit_records(action_prefix=action or None, limit=limit if result is None else 5000)
        rows = [r for r in rows if (result is None or r["result"] == result) and (since is None or r["ts"] >= since)]
        return {"records": json.loads(json.dumps(rows[:limit], default=str))}
