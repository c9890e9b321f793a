"""The one HTTP path to Confluent Cloud: Basic auth, retries, and Confluent's errors as one line.

Retry rules follow Confluent's guidance: 429 waits as long as the server says (`Retry-After`, else
`X-RateLimit-Reset`, both relative seconds); 5xx and timeouts back off exponentially; any other 4xx is
the caller's mistake and is never retried. The wait function is injectable so tests can record the
waits instead of sleeping through them. Requests are logged by method, path, status and attempt only:
headers (and so the API secret) never reach a log record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from brokerscale.cloud.credentials import CloudCredentials
from brokerscale.errors import BrokerscaleError, Unreachable

log = logging.getLogger("brokerscale.cloud")

API_URL = "https://api.confluent.cloud"
METRICS_URL = "https://api.telemetry.confluent.cloud"


class CloudAPIError(BrokerscaleError):
    """Confluent answered with an error: the one line carries HTTP status, Confluent's `code` and `detail`."""

    exit_code = 2

    def __init__(self, message: str, *, status: int, code: str = "", detail: str = "",
                 exit_code: int | None = None) -> None:
        super().__init__(message, exit_code=exit_code)
        self.status = status
        self.code = code
        self.detail = detail


@dataclass
class RetryPolicy:
    """How hard to try. `attempts` bounds 5xx/timeouts; `rate_limited_attempts` bounds 429s."""

    attempts: int = 3
    rate_limited_attempts: int = 6
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    max_retry_after_s: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


class _Transient(Exception):
    """A response or transport failure worth another try."""

    def __init__(self, response: httpx.Response | None, cause: Exception | None = None) -> None:
        super().__init__("transient")
        self.response = response
        self.cause = cause

    @property
    def rate_limited(self) -> bool:
        return self.response is not None and self.response.status_code == 429


def _header_seconds(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def error_parts(response: httpx.Response) -> tuple[str, str]:
    """Confluent's `code` and `detail` from `{"errors":[...]}` (cmk, Kafka REST) or Metrics API errors."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text.strip()[:200]
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            code = str(first.get("code") or first.get("error_code") or "")
            detail = str(first.get("detail") or first.get("title") or first.get("message") or "")
            return code, detail
        if "message" in body:  # Kafka REST v3 style
            return str(body.get("error_code", "")), str(body["message"])
    return "", str(body)[:200]


class CloudHTTP:
    """An httpx client bound to one Confluent base URL, with auth, retries and one-line errors."""

    def __init__(self, base_url: str, credentials: CloudCredentials, *, timeout_s: float = 15.0,
                 retry: RetryPolicy | None = None, transport: httpx.BaseTransport | None = None,
                 event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._client = httpx.Client(
            base_url=self.base_url,
            auth=httpx.BasicAuth(credentials.key, credentials.secret),
            timeout=timeout_s,
            transport=transport,
            event_hooks=dict(event_hooks or {}),
            headers={"User-Agent": "brokerscale", "Accept": "application/json"},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> CloudHTTP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- retry policy ---------------------------------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.rate_limited and exc.response is not None:
            told = _header_seconds(exc.response.headers, "Retry-After")
            if told is None:
                told = _header_seconds(exc.response.headers, "X-RateLimit-Reset")
            if told is not None:
                return min(told, self.retry.max_retry_after_s)
        failures = state.attempt_number
        return float(min(self.retry.backoff_max_s, self.retry.backoff_initial_s * 2 ** (failures - 1)))

    def _stop_factory(self) -> Callable[[RetryCallState], bool]:
        counts = {"limited": 0, "failed": 0}

        def stop(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Transient) and exc.rate_limited:
                counts["limited"] += 1
            else:
                counts["failed"] += 1
            return counts["limited"] >= self.retry.rate_limited_attempts or counts["failed"] >= self.retry.attempts

        return stop

    # -- requests -------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: Any = None, json: Any = None,
                accept: str | None = None) -> httpx.Response:
        """Send with retries; return a 2xx response or raise CloudAPIError / Unreachable."""
        headers = {"Accept": accept} if accept else None
        attempt = {"n": 0}

        def send() -> httpx.Response:
            attempt["n"] += 1
            try:
                resp = self._client.request(method, path, params=params, json=json, headers=headers)
            except httpx.TimeoutException as exc:
                log.info("%s %s: timeout (attempt %d)", method, path, attempt["n"])
                raise _Transient(None, exc) from None
            except httpx.TransportError as exc:
                log.info("%s %s: %s (attempt %d)", method, path, type(exc).__name__, attempt["n"])
                raise _Transient(None, exc) from None
            log.info("%s %s -> %d (attempt %d)", method, path, resp.status_code, attempt["n"])
            if resp.status_code == 429 or resp.status_code >= 500:
                raise _Transient(resp)
            return resp

        def before_sleep(state: RetryCallState) -> None:
            wait = state.next_action.sleep if state.next_action else 0.0
            log.info("%s %s: retrying in %.1f s", method, path, wait)

        retrying = Retrying(retry=retry_if_exception_type(_Transient), wait=self._wait,
                            stop=self._stop_factory(), sleep=self.retry.sleep, reraise=True,
                            before_sleep=before_sleep)
        try:
            resp = retrying(send)
        except _Transient as exc:
            raise self._give_up(method, path, exc, attempt["n"]) from None
        if resp.status_code >= 400:
            code, detail = error_parts(resp)
            what = f"{code}: {detail}" if code else detail or resp.reason_phrase
            raise CloudAPIError(f"{method} {path}: HTTP {resp.status_code} {what}", status=resp.status_code,
                                code=code, detail=detail)
        return resp

    def _give_up(self, method: str, path: str, exc: _Transient, attempts: int) -> BrokerscaleError:
        where = f"{method} {self.base_url}{path}"
        if exc.response is None:
            reason = type(exc.cause).__name__ if exc.cause else "no answer"
            return Unreachable(f"cannot reach Confluent Cloud at {where}: {reason} after {attempts} attempts")
        code, detail = error_parts(exc.response)
        status = exc.response.status_code
        what = f"{code}: {detail}" if code else detail or exc.response.reason_phrase
        kind = "rate limited" if status == 429 else "server error"
        return CloudAPIError(f"{where}: HTTP {status} {what} ({kind}, gave up after {attempts} attempts)",
                             status=status, code=code, detail=detail, exit_code=1)

    def get_json(self, path: str, *, params: Any = None) -> Any:
        return self.request("GET", path, params=params).json()

    def send_json(self, method: str, path: str, body: Any, *, params: Any = None) -> Any:
        resp = self.request(method, path, params=params, json=body)
        return resp.json() if resp.content else None
