"""`brokerscale exporter`: the latest observation as Prometheus metrics on /metrics.

A background thread observes every --interval; each scrape serves the latest round (a scrape never
waits on Kafka). Exposed: utilization per dimension and scope, findings by severity and each firing
finding, consumer lag in offsets and seconds per partition and group, lag status, and cluster load.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Annotated, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import typer
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from brokerscale.cli_common import BootstrapOpt, ClusterOpt, CommandConfigOpt
from brokerscale.console import err
from brokerscale.errors import BadInput, BrokerscaleError
from brokerscale.kafka.errors import describe
from brokerscale.model.snapshot import LagStatus
from brokerscale.observe.collect import Observer, Round
from brokerscale.observe.options import (
    CapacityOpt,
    CkusOpt,
    IntervalOpt,
    LimitsOpt,
    MetricsUrlOpt,
    PrometheusBrokerLabelOpt,
    PrometheusOpt,
    RulesOpt,
    build_observer,
    interval_seconds,
)
from brokerscale.web.auth import check_listen, token_ok

if TYPE_CHECKING:
    from brokerscale.dev.cluster import DevCluster

STATUS_CODE = {LagStatus.OK: 0, LagStatus.NO_OFFSET: 0, LagStatus.UNKNOWN: -1, LagStatus.WARNING: 1,
               LagStatus.REWIND: 2, LagStatus.STALL: 3, LagStatus.STOP: 4}
CLUSTER_GAUGES = (("bytes_in_per_second", "bytes_in_per_s"), ("bytes_out_per_second", "bytes_out_per_s"),
                  ("messages_in_per_second", "messages_in_per_s"), ("connections", "connections"),
                  ("requests_per_second", "requests_per_s"), ("produce_p99_milliseconds", "produce_p99_ms"),
                  ("request_queue_time_milliseconds", "request_queue_time_avg_ms"),
                  ("partitions", "partition_count"), ("under_replicated_partitions", "under_replicated_partitions"),
                  ("under_min_isr_partitions", "under_min_isr_partitions"),
                  ("offline_partitions", "offline_partitions"), ("retained_bytes", "retained_bytes"))
# Per-broker figures the alerting rules judge (`brokerscale rules emit`), exactly as `check` computes them.
BROKER_GAUGES = (("produce_p99_milliseconds", "produce_p99_ms", 1.0),
                 ("request_queue_time_milliseconds", "request_queue_time_avg_ms", 1.0),
                 ("request_handler_idle_percent", "request_handler_idle_ratio", 100.0),
                 ("connections", "connections", 1.0))


class ObserveCollector(Collector):
    """Serves whatever the observer thread last produced."""

    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self.latest: Round | None = None
        self.last_error: str | None = None
        self.last_ok_ts: float = 0.0
        self.lock = threading.Lock()

    def update(self, r: Round | None, error: str | None = None) -> None:
        with self.lock:
            if r is not None:
                self.latest = r
                self.last_ok_ts = r.snapshot.taken_at
            self.last_error = error

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.lock:
            r, error, ok_ts = self.latest, self.last_error, self.last_ok_ts
        c = self.cluster
        up = GaugeMetricFamily("brokerscale_up", "1 if the last observation succeeded", labels=["cluster"])
        up.add_metric([c], 0.0 if error or r is None else 1.0)
        yield up
        ts = GaugeMetricFamily("brokerscale_last_observation_timestamp_seconds",
                               "Unix time of the last successful observation", labels=["cluster"])
        ts.add_metric([c], ok_ts)
        yield ts
        if r is None:
            return
        s = r.snapshot
        for name, attr in CLUSTER_GAUGES:
            v = getattr(s, attr)
            if v is not None:
                gauge = GaugeMetricFamily(f"brokerscale_cluster_{name}", f"Cluster {name.replace('_', ' ')}",
                                          labels=["cluster"])
                gauge.add_metric([c], float(v))
                yield gauge
        for name, attr, scale in BROKER_GAUGES:
            gauge = GaugeMetricFamily(f"brokerscale_broker_{name}", f"Broker {name.replace('_', ' ')}",
                                      labels=["cluster", "broker"])
            for b in s.brokers:
                v = getattr(b, attr)
                if b.alive and v is not None:
                    gauge.add_metric([c, str(b.id)], float(v) * scale)
            yield gauge
        util = GaugeMetricFamily("brokerscale_utilization_percent", "Share of provisioned capacity in use",
                                 labels=["cluster", "dimension", "scope", "target"])
        cap = GaugeMetricFamily("brokerscale_capacity", "Provisioned capacity per dimension (bytes/s, connections, "
                                "partitions, requests/s, bytes), for the brokers in the cluster at this observation",
                                labels=["cluster", "dimension", "scope", "target"])
        for u in r.utilization:
            util.add_metric([c, u.dimension, u.scope, u.target], u.percent)
            cap.add_metric([c, u.dimension, u.scope, u.target], u.capacity)
        yield util
        yield cap
        by_sev = GaugeMetricFamily("brokerscale_findings", "Scaling triggers firing, by severity",
                                   labels=["cluster", "severity"])
        for sev in ("warning", "critical"):
            by_sev.add_metric([c, sev], float(sum(1 for f in r.findings if f.severity == sev)))
        yield by_sev
        each = GaugeMetricFamily("brokerscale_finding", "A firing trigger (value is the measured value)",
                                 labels=["cluster", "rule", "severity", "metric", "scope", "target"])
        for f in r.findings:
            each.add_metric([c, f.rule, f.severity, f.metric, f.scope, f.target], f.value)
        yield each
        p_off = GaugeMetricFamily("brokerscale_consumer_lag_offsets", "Lag per partition in offsets",
                                  labels=["cluster", "group", "topic", "partition"])
        p_sec = GaugeMetricFamily("brokerscale_consumer_lag_seconds", "Lag per partition in seconds "
                                  "(interpolated from log-end offset history)",
                                  labels=["cluster", "group", "topic", "partition"])
        g_off = GaugeMetricFamily("brokerscale_consumer_group_lag_offsets", "Total lag of a group in offsets",
                                  labels=["cluster", "group"])
        g_sec = GaugeMetricFamily("brokerscale_consumer_group_max_lag_seconds", "Largest partition lag in seconds",
                                  labels=["cluster", "group"])
        p_low = GaugeMetricFamily("brokerscale_consumer_lag_seconds_lower_bound",
                                  "1 if brokerscale_consumer_lag_seconds is only a lower bound (the real lag is more)",
                                  labels=["cluster", "group", "topic", "partition"])
        g_low = GaugeMetricFamily("brokerscale_consumer_group_max_lag_seconds_lower_bound",
                                  "1 if brokerscale_consumer_group_max_lag_seconds is only a lower bound",
                                  labels=["cluster", "group"])
        g_status = GaugeMetricFamily("brokerscale_consumer_group_status",
                                     "Lag status: 0 OK, 1 WARNING, 2 REWIND, 3 STALL, 4 STOP, -1 UNKNOWN",
                                     labels=["cluster", "group", "status"])
        for g in s.groups:
            for p in g.partitions:
                if p.lag_offsets is not None:
                    p_off.add_metric([c, g.group, p.topic, str(p.partition)], float(p.lag_offsets))
                if p.lag_seconds is not None:
                    p_sec.add_metric([c, g.group, p.topic, str(p.partition)], p.lag_seconds)
                    p_low.add_metric([c, g.group, p.topic, str(p.partition)], float(p.lag_seconds_lower_bound))
            g_off.add_metric([c, g.group], float(g.lag_offsets))
            if g.max_lag_seconds is not None:
                g_sec.add_metric([c, g.group], g.max_lag_seconds)
                g_low.add_metric([c, g.group], float(g.max_lag_seconds_lower_bound))
            g_status.add_metric([c, g.group, g.status.value], float(STATUS_CODE[g.status]))
        yield from (p_off, p_sec, p_low, g_off, g_sec, g_low, g_status)


def run_observer(obs: Observer, collector: ObserveCollector, interval: float, stop: threading.Event) -> None:
    """Observe until `stop` is set; a failed round is reported as brokerscale_up 0, not a crash.

    Whatever a round raises is a failed round: were this thread to end, the HTTP server would go on
    serving the last round with brokerscale_up 1, for months (the dashboard's loop does the same)."""
    while not stop.is_set():
        try:
            collector.update(obs.sample())
        except BrokerscaleError as exc:
            collector.update(None, exc.message)
            err.print(f"observation failed: {exc.message}")
        except Exception as exc:  # a client library's surprise during a broker's restart, say
            why = describe(exc)
            collector.update(None, why)
            err.print(f"observation failed: {why}")
        stop.wait(interval)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a log line each."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def _guarded(app: Any, token: str | None) -> Any:
    """The metrics app behind the dashboard's bearer-token rule (`brokerscale.web.auth`)."""

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        if token is not None and not token_ok(token, environ.get("HTTP_AUTHORIZATION"), None):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")])
            return [b"401: a bearer token is required\n"]
        return app(environ, start_response)

    return guarded


def serve(obs: Observer, port: int, interval: float, stop: threading.Event, *,
          addr: str = "127.0.0.1", token: str | None = None) -> tuple[ObserveCollector, _Server]:
    """Start the HTTP server and the observer thread; returns (collector, server)."""
    from prometheus_client import make_wsgi_app

    registry = CollectorRegistry()
    collector = ObserveCollector(obs.cluster)
    registry.register(collector)
    try:
        server = make_server(addr, port, _guarded(make_wsgi_app(registry), token), server_class=_Server,
                             handler_class=_QuietHandler)
    except OSError as exc:
        raise BadInput(f"--port: cannot listen on {addr}:{port} ({exc.strerror or exc})") from None
    threading.Thread(target=server.serve_forever, daemon=True, name="brokerscale-exporter-http").start()
    threading.Thread(target=run_observer, args=(obs, collector, interval, stop), daemon=True,
                     name="brokerscale-observer").start()
    return collector, server


def exporter_command(
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="Port for /metrics.")] = 9308,
    bootstrap: BootstrapOpt = None, command_config: CommandConfigOpt = None, cluster: ClusterOpt = None,
    capacity: CapacityOpt = None, ckus: CkusOpt = None, limits: LimitsOpt = None, rules: RulesOpt = None,
    metrics_url: MetricsUrlOpt = None, prometheus: PrometheusOpt = None,
    prometheus_broker_label: PrometheusBrokerLabelOpt = None, interval: IntervalOpt = "15s",
    duration: Annotated[str | None, typer.Option("--duration", metavar="DURATION", show_default=False,
                                                 help="Stop after this long (default: until Ctrl-C).")] = None,
    listen: Annotated[str, typer.Option("--listen", metavar="ADDR",
                                        help="Address to listen on; other than loopback needs --token-file.")
                      ] = "127.0.0.1",
    token_file: Annotated[Path | None, typer.Option("--token-file", metavar="FILE", show_default=False,
                                                    help="File holding the bearer token every scrape must "
                                                         "carry (Prometheus: authorization.credentials_file).")
                          ] = None,
) -> None:
    """Serve utilization, findings by severity, consumer lag (offsets, seconds, status) on /metrics.

    Listens on 127.0.0.1 unless --listen says otherwise; any other address needs --token-file, and
    scrapes without `Authorization: Bearer <token>` get 401. Observes every --interval in the
    background and records history; brokers added to the cluster are picked up without a restart.

    Examples:

      brokerscale exporter --port 9308 --ckus 4

      brokerscale exporter --port 9308 --capacity brokers.yaml --interval 30s

      curl -s localhost:9308/metrics | grep brokerscale_consumer_lag_seconds

      brokerscale exporter --listen 0.0.0.0 --token-file /etc/brokerscale/scrape.token
    """
    from brokerscale.units import parse_duration

    token = check_listen(listen, token_file)
    obs = build_observer(bootstrap, command_config, cluster, capacity=capacity, ckus=ckus, limits=limits,
                         rules=rules, metrics_url=metrics_url, prometheus=prometheus,
                         prometheus_broker_label=prometheus_broker_label)
    secs = interval_seconds(interval)
    limit = parse_duration(duration, what="--duration") if duration else None
    stop = threading.Event()
    _collector, server = serve(obs, port, secs, stop, addr=listen, token=token)
    guard = "; bearer token required" if token else ""
    err.print(f"serving http://{listen}:{port}/metrics for {obs.cluster} (every {secs:g} s{guard}; Ctrl-C stops)")
    dev = _dev_prometheus_cluster(obs)
    if dev is not None:
        from brokerscale.dev import prometheus as dev_prometheus

        dev_prometheus.register_exporter(dev, port)
        err.print("the dev cluster's Prometheus scrapes this exporter (job=brokerscale)")
    started = time.time()
    try:
        while not stop.is_set():
            if limit is not None and time.time() - started >= limit:
                break
            stop.wait(0.5)
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        obs.close()
        if dev is not None:
            dev_prometheus.unregister_exporter(dev)


def _dev_prometheus_cluster(obs: Observer) -> DevCluster | None:
    """The local dev cluster being observed, if a dev Prometheus runs for it."""
    from brokerscale.dev import prometheus as dev_prometheus
    from brokerscale.observe.collect import dev_cluster_for

    cluster = dev_cluster_for(obs.profile.bootstrap)
    return cluster if cluster is not None and dev_prometheus.state(cluster) is not None else None
