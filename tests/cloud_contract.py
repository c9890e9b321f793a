"""Contract checks for the Confluent Cloud work: validate HTTP exchanges against Confluent's OpenAPI files.

Used two ways: as an httpx event hook on the client (every request brokerscale sends, every response it
gets) and over the emulator's own record of exchanges (every response the emulator returns).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "confluent-cloud"
if not REFERENCE.is_dir():  # the repository may live elsewhere; the shared folder is fixed
    REFERENCE = Path("/work/shared/reference/confluent-cloud")

SPECS = {  # path prefix -> (spec file, the spec's server URL)
    "/cmk/": ("cmk-v2.openapi.yaml", "https://api.confluent.cloud"),
    "/v2/metrics/": ("metrics-v2.openapi.yaml", "https://api.telemetry.confluent.cloud"),
    "/kafka/v3/": ("kafkarest-v3.openapi.yaml", "https://pkc-00000.region.provider.confluent.cloud"),
}


@functools.cache
def spec(filename: str) -> OpenAPI:
    # Confluent's files are taken as given: checking the spec itself would cost seconds per session.
    return OpenAPI.from_file_path(str(REFERENCE / filename), config=Config(spec_validator_cls=None))


def spec_for(path: str) -> tuple[OpenAPI, str]:
    for prefix, (filename, server) in SPECS.items():
        if path.startswith(prefix):
            return spec(filename), server
    raise AssertionError(f"no OpenAPI file covers {path}")


class _Req:
    def __init__(self, host: str, path: str, method: str, query: list[tuple[str, str]], headers: dict[str, str],
                 body: bytes, content_type: str) -> None:
        self.host_url = host
        self.path = path
        self.method = method.lower()
        self.parameters = RequestParameters(query=ImmutableMultiDict(query), header=Headers(headers),
                                            cookie=ImmutableMultiDict())
        self.body = body or None
        self.content_type = content_type


class _Resp:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code = status
        self.headers = Headers(headers)
        self.content_type = headers.get("content-type", "")
        self.data = body


@dataclass
class ContractLog:
    checked: int = 0
    failures: list[str] = field(default_factory=list)
    operations: set[str] = field(default_factory=set)

    def check(self, method: str, path: str, query: list[tuple[str, str]], req_headers: dict[str, str],
              req_body: bytes, status: int, resp_headers: dict[str, str], resp_body: bytes,
              *, request: bool = True, response: bool = True) -> None:
        api, server = spec_for(path)
        req = _Req(server, path, method, query, req_headers, req_body,
                   req_headers.get("content-type", "application/json" if req_body else ""))
        self.checked += 1
        self.operations.add(f"{method.upper()} {path}")
        if request:
            try:
                api.validate_request(req)
            except Exception as exc:  # openapi-core raises many types; any is a contract failure
                self.failures.append(f"request {method} {path}: {exc!r} {getattr(exc, '__cause__', '')!r}")
        if response:
            try:
                api.validate_response(req, _Resp(status, resp_headers, resp_body))
            except Exception as exc:
                detail = exc.__cause__ or getattr(exc, "schema_errors", "")
                self.failures.append(f"response {status} {method} {path}: {exc!r} {detail!r} body="
                                     f"{resp_body[:300]!r}")

    # -- client side: an httpx event hook ------------------------------------------------------------
    def hook(self, response: httpx.Response) -> None:
        response.read()
        r = response.request
        self.check(r.method, r.url.path, list(r.url.params.multi_items()),
                   {k.lower(): v for k, v in r.headers.items()}, r.content or b"", response.status_code,
                   {k.lower(): v for k, v in response.headers.items()}, response.content)

    def hooks(self) -> dict[str, list[Any]]:
        return {"response": [self.hook]}

    # -- server side: the emulator's record ------------------------------------------------------------
    def check_exchanges(self, exchanges: list[Any], *, requests: bool = True) -> None:
        """`requests=False` for tests that send deliberately invalid requests (no key, say)."""
        for x in exchanges:
            self.check(x.method, x.path, x.query, x.request_headers, x.request_body, x.status,
                       x.response_headers, x.response_body, request=requests)

    def assert_clean(self) -> None:
        assert self.checked > 0, "no exchange was checked"
        assert not self.failures, "contract violations:\n" + "\n".join(self.failures[:10])


def body(x: Any) -> Any:
    return json.loads(x.response_body) if x.response_body else None
