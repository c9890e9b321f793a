"""The emulator's HTTP surface: one FastAPI app serving cmk v2, Metrics API v2 and Kafka REST v3.

Every body it returns is shaped by Confluent's OpenAPI files (the contract tests check each one);
every error uses Confluent's `{"errors":[...]}` shape (Kafka REST v3: `{"error_code", "message"}`).
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from brokerscale.cloud.credentials import KEY_ENV, SECRET_ENV
from brokerscale.cloud.emulator.metrics_series import export_text, run_query
from brokerscale.cloud.emulator.rest_v3 import rest_router
from brokerscale.cloud.emulator.state import EmulatedCluster, EmulatorState, Exchange

JETTY_429 = ('<html> <head> <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/> '
             "<title>Error 429 Too Many Requests</title> </head> <body> <h2>HTTP ERROR 429 Too Many Requests</h2> "
             "<table> <tr> <th>URI:</th> <td>{uri}</td> </tr> <tr> <th>STATUS:</th> <td>429</td> </tr> <tr> "
             "<th>MESSAGE:</th> <td>Too Many Requests</td> </tr> </table> </body> </html>")
"""Kafka REST's 429 page (Jetty's DoSFilter), as Confluent's OpenAPI file shows it."""

PUBLIC_API = "https://api.confluent.cloud"


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def failure(status: int, code: str, title: str, detail: str, *, pointer: str | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    err: dict[str, Any] = {"id": uuid.uuid4().hex, "status": str(status), "code": code, "title": title,
                           "detail": detail}
    if pointer:
        err["source"] = {"pointer": pointer}
    return JSONResponse({"errors": [err]}, status_code=status,
                        headers={"X-Request-Id": uuid.uuid4().hex, **(headers or {})})


def cluster_doc(c: EmulatedCluster, base_url: str) -> dict[str, Any]:
    """A `cmk.v2.Cluster` as Confluent returns it."""
    config: dict[str, Any] = {"kind": c.kind}
    if c.kind == "Dedicated":
        config["cku"] = c.cku
        config["zones"] = ["use1-az1", "use1-az2", "use1-az4"] if c.availability == "MULTI_ZONE" else ["use1-az1"]
    else:
        config["max_ecku"] = 2 if c.availability in ("HIGH", "MULTI_ZONE") else 1
    status: dict[str, Any] = {"phase": c.phase}
    if c.kind == "Dedicated":
        status["cku"] = c.status_cku
    org = "organization=00000000-0000-4000-8000-00000000b5ca"
    rest = base_url.rstrip("/")
    return {
        "api_version": "cmk/v2",
        "kind": "Cluster",
        "id": c.id,
        "metadata": {
            "self": f"{PUBLIC_API}/cmk/v2/clusters/{c.id}",
            "resource_name": f"crn://confluent.cloud/{org}/environment={c.environment}/cloud-cluster={c.id}",
            "created_at": rfc3339(c.created_at),
            "updated_at": rfc3339(c.updated_at or c.created_at),
        },
        "spec": {
            "display_name": c.display_name,
            "availability": c.availability,
            "cloud": c.cloud,
            "region": c.region,
            "config": config,
            "kafka_bootstrap_endpoint": f"SASL_SSL://{c.id}.{c.region}.{c.cloud.lower()}.confluent.cloud:9092",
            "http_endpoint": rest,
            "environment": {
                "id": c.environment,
                "related": f"{PUBLIC_API}/org/v2/environments/{c.environment}",
                "resource_name": f"crn://confluent.cloud/{org}/environment={c.environment}",
            },
        },
        "status": status,
    }


def _authorized(state: EmulatorState, header: str | None) -> bool:
    if not header or not header.startswith("Basic "):
        return False
    try:
        key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    keys = dict(state.config.api_keys)
    if os.environ.get(KEY_ENV) and os.environ.get(SECRET_ENV):
        keys.setdefault(os.environ[KEY_ENV], os.environ[SECRET_ENV])
    return bool(key) and keys.get(key) == secret


async def _record(state: EmulatorState, request: Request, body: bytes, resp: Response) -> Response:
    chunks: list[bytes] = []
    iterator = getattr(resp, "body_iterator", None)
    if iterator is not None:
        async for chunk in iterator:
            chunks.append(chunk if isinstance(chunk, bytes) else str(chunk).encode())
        data = b"".join(chunks)
    else:
        data = bytes(resp.body)
    headers = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
    with state.lock:
        state.exchanges.append(Exchange(
            method=request.method, path=request.url.path, query=list(request.query_params.multi_items()),
            request_headers={k.lower(): v for k, v in request.headers.items()}, request_body=body,
            status=resp.status_code, response_headers={k.lower(): v for k, v in resp.headers.items()},
            response_body=data))
    return Response(content=data, status_code=resp.status_code, headers=headers)


def create_app(state: EmulatorState) -> FastAPI:
    app = FastAPI(title="brokerscale Confluent Cloud emulator", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.emulator = state

    @app.middleware("http")
    async def gate(request: Request, call_next: Any) -> Response:
        path = request.url.path
        rest = path.startswith("/kafka/v3/")
        request_body = await request.body() if state.record_exchanges else b""
        if not _authorized(state, request.headers.get("authorization")):
            if rest:
                resp: Response = JSONResponse({"error_code": 40101, "message": "Authentication failed"},
                                              status_code=401)
            else:
                resp = failure(401, "user_unauthenticated", "Authentication Required",
                               "Valid authentication credentials must be provided",
                               headers={"WWW-Authenticate": 'Basic error="invalid_key", '
                                                            'error_description="The API Key is invalid"'})
        else:
            fault = state.take_fault(request.method, path)
            if fault is None:
                resp = await call_next(request)
            elif fault.status == 429:
                headers = {"X-Request-Id": uuid.uuid4().hex, "X-RateLimit-Limit": "60",
                           "X-RateLimit-Remaining": "0"}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                    headers["X-RateLimit-Reset"] = str(fault.retry_after)
                if rest:  # Kafka REST's rate limiter is Jetty's DoSFilter: an HTML page, as Confluent's file says
                    resp = HTMLResponse(JETTY_429.format(uri=path), status_code=429, headers=headers)
                else:
                    resp = failure(429, "too_many_requests", "Too Many Requests",
                                   "Too many requests have been made; retry later", headers=headers)
            elif rest:
                resp = JSONResponse({"error_code": fault.status, "message": "Injected server error"},
                                    status_code=fault.status)
            else:
                resp = failure(fault.status, "internal_server_error", "Internal Server Error",
                               "Injected server error (emulator fault)")
        with state.lock:
            state.requests.append((request.method, path, resp.status_code))
        if state.record_exchanges:
            resp = await _record(state, request, request_body, resp)
        return resp

    @app.exception_handler(StarletteHTTPException)
    async def not_found(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/kafka/v3/"):
            return JSONResponse({"error_code": exc.status_code * 100, "message": str(exc.detail)},
                                status_code=exc.status_code)
        return failure(exc.status_code, "not_found" if exc.status_code == 404 else "bad_request",
                       "Not Found" if exc.status_code == 404 else "Bad Request", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return failure(400, "invalid_request", "Bad Request", str(exc.errors()[0].get("msg", "invalid")))

    # -- cmk v2 ------------------------------------------------------------------------------------
    @app.get("/cmk/v2/clusters")
    async def list_clusters(request: Request) -> Response:
        env = request.query_params.get("environment")
        if not env:
            return failure(400, "invalid_filter", "Invalid Filter", "The 'environment' filter is required",
                           pointer=None)
        try:
            size = int(request.query_params.get("page_size", "10"))
            start = int(request.query_params.get("page_token", "0") or 0)
        except ValueError:
            return failure(400, "invalid_page", "Invalid Page", "page_size and page_token must be integers")
        if not 1 <= size <= 100:
            return failure(400, "invalid_page_size", "Invalid Page Size", "page_size must be between 1 and 100")
        state.advance()
        with state.lock:
            found = [c for c in state.config.clusters if c.environment == env]
            page = found[start:start + size]
            base = str(request.base_url)
            data = [cluster_doc(c, base) for c in page]
        first = f"{PUBLIC_API}/cmk/v2/clusters?environment={env}&page_size={size}"
        meta: dict[str, Any] = {"first": first, "total_size": len(found)}
        if start + size < len(found):
            meta["next"] = f"{first}&page_token={start + size}"
        return JSONResponse({"api_version": "cmk/v2", "kind": "ClusterList", "metadata": meta, "data": data})

    def _lookup(request: Request, cluster_id: str, env: str | None) -> EmulatedCluster | JSONResponse:
        if not env:
            return failure(400, "invalid_filter", "Invalid Filter", "The 'environment' parameter is required")
        c = state.cluster(cluster_id)
        if c is None or c.environment != env:
            return failure(404, "resource_not_found", "Not Found",
                           f"Cluster '{cluster_id}' was not found in environment '{env}'")
        return c

    @app.get("/cmk/v2/clusters/{cluster_id}")
    async def get_cluster(request: Request, cluster_id: str) -> Response:
        state.advance()
        found = _lookup(request, cluster_id, request.query_params.get("environment"))
        if isinstance(found, JSONResponse):
            return found
        with state.lock:
            return JSONResponse(cluster_doc(found, str(request.base_url)),
                                headers={"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59"})

    @app.patch("/cmk/v2/clusters/{cluster_id}")
    async def update_cluster(request: Request, cluster_id: str) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return failure(400, "malformed_request", "Bad Request", "The request body is not valid JSON")
        spec = body.get("spec") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            return failure(400, "invalid_request", "Bad Request", "spec is required", pointer="/spec")
        env = (spec.get("environment") or {}).get("id") if isinstance(spec.get("environment"), dict) else None
        if not env:
            return failure(400, "invalid_request", "Bad Request", "spec.environment.id is required",
                           pointer="/spec/environment")
        state.advance()
        found = _lookup(request, cluster_id, env)
        if isinstance(found, JSONResponse):
            return found
        with state.lock:
            refusal = apply_update(state, found, spec)
            if refusal is not None:
                return refusal
            state.save()
            return JSONResponse(cluster_doc(found, str(request.base_url)))

    # -- Metrics API v2 ------------------------------------------------------------------------------
    @app.post("/v2/metrics/{dataset}/query")
    async def query(request: Request, dataset: str) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        status, payload = run_query(state, dataset, body, request.query_params.get("page_token"))
        return JSONResponse(payload, status_code=status)

    @app.get("/v2/metrics/{dataset}/export")
    async def export(request: Request, dataset: str) -> Response:
        ids = request.query_params.getlist("resource.kafka.id")
        metrics = request.query_params.getlist("metric")
        status, text = export_text(state, dataset, ids, metrics)
        if status != 200:
            return JSONResponse({"errors": [{"status": str(status), "detail": text}]}, status_code=status)
        return Response(content=text.encode(), headers={"content-type": "text/plain;version=0.0.4"})

    app.include_router(rest_router(state))
    return app


def apply_update(state: EmulatorState, c: EmulatedCluster, spec: dict[str, Any]) -> JSONResponse | None:
    """Apply a PATCH's spec the way Confluent does, or return Confluent's refusal. Caller holds the lock."""
    now = state.clock()
    allowed = {"environment", "config", "display_name", "deletion_protection"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        return failure(400, "invalid_update", "Bad Request",
                       f"spec.{unknown[0]} cannot be updated", pointer=f"/spec/{unknown[0]}")
    config = spec.get("config")
    if config is not None:
        if not isinstance(config, dict) or not isinstance(config.get("kind"), str):
            return failure(400, "invalid_configuration", "Bad Request", "spec.config.kind is required",
                           pointer="/spec/config/kind")
        kind = config["kind"]
        if c.pending_until is not None:
            return failure(409, "resource_update_in_progress", "Conflict",
                           f"Cluster '{c.id}' is being updated ({c.pending_kind}); wait until it is PROVISIONED")
        if c.kind == "Dedicated":
            if kind != "Dedicated":
                return failure(400, "invalid_cluster_type_change", "Bad Request",
                               f"A Dedicated cluster cannot be changed to {kind}", pointer="/spec/config/kind")
            cku = config.get("cku")
            if not isinstance(cku, int) or isinstance(cku, bool) or cku < 1:
                return failure(400, "invalid_configuration", "Bad Request",
                               "spec.config.cku must be a positive integer", pointer="/spec/config/cku")
            current = c.status_cku or c.cku or 1
            if c.availability == "MULTI_ZONE" and cku < 2:
                return failure(400, "invalid_configuration", "Bad Request",
                               "MULTI_ZONE Dedicated clusters must have at least 2 CKUs",
                               pointer="/spec/config/cku")
            if cku < current - 1:
                return failure(400, "invalid_configuration", "Bad Request",
                               f"CKUs can only be decreased one at a time: {current} -> {cku} is a "
                               f"decrease of {current - cku}", pointer="/spec/config/cku")
            if cku != current:
                c.cku = cku
                c.phase = "PROVISIONING"
                c.pending_kind = f"resize {current} -> {cku} CKUs"
                c.pending_until = now + state.config.provisioning_delay_s
        elif kind != c.kind:
            if c.kind == "Standard" and kind == "Basic":
                return failure(400, "invalid_cluster_type_change", "Bad Request",
                               "Clusters cannot be downgraded from Standard to Basic", pointer="/spec/config/kind")
            if not (c.kind == "Basic" and kind == "Standard"):
                return failure(400, "invalid_cluster_type_change", "Bad Request",
                               f"Changing a {c.kind} cluster to {kind} is not supported; "
                               "only Basic -> Standard upgrades are", pointer="/spec/config/kind")
            others = sorted(set(spec) - {"environment", "config"})
            if others or set(config) != {"kind"}:
                return failure(400, "invalid_update", "Bad Request",
                               "An upgrade from Basic to Standard must be the only change in its request",
                               pointer="/spec")
            c.kind = "Standard"
            c.phase = "PROVISIONING"
            c.pending_kind = "upgrade Basic -> Standard"
            c.pending_until = now + state.config.provisioning_delay_s
    if isinstance(spec.get("display_name"), str):
        c.display_name = spec["display_name"]
    c.updated_at = now
    return None
