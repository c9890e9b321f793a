"""What the controller tells the outside world: Prometheus metrics and scaling-event webhooks.

Metrics (on `scale run --metrics-port`, its own registry): current and desired units, decisions and
actions by reason (trigger), the time of the last action. The webhook (`--notify URL` or
BROKERSCALE_SCALE_WEBHOOK) gets one JSON POST per applied scaling event — the scaling guide's
"alerts for scaling events"; a webhook that fails is reported, never fatal.
"""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from brokerscale.scale.decide import Decision


class ControllerMetrics:
    def __init__(self, target: str) -> None:
        self.registry = CollectorRegistry()
        self.target = target
        labels = ["target"]
        self.current = Gauge("brokerscale_scale_current_units", "Units (CKUs or brokers) in effect.", labels,
                             registry=self.registry)
        self.desired = Gauge("brokerscale_scale_desired_units", "Units the policy wants now.", labels,
                             registry=self.registry)
        self.decisions = Counter("brokerscale_scale_decisions", "Decisions by outcome and trigger.",
                                 [*labels, "action", "trigger"], registry=self.registry)
        self.actions = Counter("brokerscale_scale_actions", "Applied scaling actions by direction and trigger.",
                               [*labels, "direction", "trigger", "result"], registry=self.registry)
        self.up = Gauge("brokerscale_scale_up", "1 if the last round observed the target, 0 if it failed "
                        "(an outage: the controller logs the reason and tries again next interval).", labels,
                        registry=self.registry)
        self.failed_rounds = Counter("brokerscale_scale_failed_rounds", "Rounds that could not observe the "
                                     "target (the cluster or the cloud API did not answer).", labels,
                                     registry=self.registry)
        self.last_action = Gauge("brokerscale_scale_last_action_timestamp_seconds",
                                 "Unix time the last scaling action finished.", labels, registry=self.registry)

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        start_http_server(port, addr=addr, registry=self.registry)

    def round_ok(self) -> None:
        self.up.labels(self.target).set(1)

    def round_failed(self) -> None:
        self.up.labels(self.target).set(0)
        self.failed_rounds.labels(self.target).inc()

    def decided(self, d: Decision) -> None:
        self.current.labels(self.target).set(d.units)
        self.desired.labels(self.target).set(d.target)
        self.decisions.labels(self.target, d.action or "hold", d.trigger).inc()

    def acted(self, d: Decision, result: str, at: float) -> None:
        self.actions.labels(self.target, d.action or "", d.trigger, result).inc()
        self.last_action.labels(self.target).set(at)
        if result == "ok":
            self.current.labels(self.target).set(d.target)


def notify(url: str, event: dict[str, Any], timeout_s: float = 5.0) -> str | None:
    """POST the event as JSON; returns an error line, or None when the receiver accepted it."""
    try:
        r = httpx.post(url, json=event, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"webhook: {type(exc).__name__}"
    if r.status_code >= 300:
        return f"webhook: HTTP {r.status_code}"
    return None
