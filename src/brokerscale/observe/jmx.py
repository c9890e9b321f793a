"""Broker metrics from the Prometheus JMX exporter (Strimzi's rules), parsed with prometheus_client.

A scrape is a point-in-time set of counters and gauges; rates come from two scrapes of the same broker.
Names are the ones `data/jmx-exporter-kafka.yaml` produces (lower-cased, counters end in `_total`).
Parsing is pure (text in, numbers out); only `scrape()` does I/O.

The exporter's rules export request-time histograms as quantiles and counts but no `_sum`, so the
"average" request queue time is the request-weighted median (quantile 0.50) across request types — the
closest figure the exporter gives; a Prometheus server with `_sum` would not be needed for it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from brokerscale.errors import Unreachable
from brokerscale.model.snapshot import BrokerLoad

if TYPE_CHECKING:  # httpx and the exposition parser are imported when a broker is scraped, not at start-up
    import httpx

# Only these families are parsed: a broker exposes ~5,000 lines and we need ~1 % of them.
WANTED_PREFIXES = (
    "kafka_server_brokertopicmetrics_bytesin_total", "kafka_server_brokertopicmetrics_bytesout_total",
    "kafka_server_brokertopicmetrics_messagesin_total", "kafka_network_requestmetrics_requests_total",
    "kafka_network_requestmetrics_totaltimems", "kafka_network_requestmetrics_requestqueuetimems",
    "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count_total",
    "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent",
    "kafka_network_socketserver_networkprocessoravgidle_percent",
    "kafka_server_socket_server_metrics_connection_count", "kafka_server_replicamanager_",
    "kafka_log_log_size",
)

# Asked for by name (`?name[]=...`): the exporter then skips the other ~5,000 series, which on a busy
# broker cuts a scrape from seconds to about half of that.
EXPORTER_NAMES = (
    "kafka_server_brokertopicmetrics_bytesin_total", "kafka_server_brokertopicmetrics_bytesout_total",
    "kafka_server_brokertopicmetrics_messagesin_total", "kafka_network_requestmetrics_requests_total",
    "kafka_network_requestmetrics_totaltimems", "kafka_network_requestmetrics_requestqueuetimems",
    "kafka_network_requestmetrics_requestqueuetimems_count_total",
    "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count_total",
    "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent",
    "kafka_network_socketserver_networkprocessoravgidle_percent",
    "kafka_server_socket_server_metrics_connection_count", "kafka_server_replicamanager_underreplicatedpartitions",
    "kafka_server_replicamanager_underminisrpartitioncount", "kafka_server_replicamanager_partitioncount",
    "kafka_server_replicamanager_leadercount",
)  # not kafka_log_log_size: one series per partition; log sizes come from DescribeLogDirs

Labels = tuple[tuple[str, str], ...]


@dataclass
class Scrape:
    """One broker's metrics at `ts` (Unix seconds): sample name -> labels -> value."""

    broker_id: int
    ts: float
    values: dict[str, dict[Labels, float]] = field(default_factory=dict)

    def get(self, name: str, **labels: str) -> float | None:
        """Sum of the samples of `name` whose labels include `labels`; None if there are none."""
        series = self.values.get(name)
        if not series:
            return None
        want = set(labels.items())
        vals = [v for lab, v in series.items() if want <= set(lab)]
        return sum(vals) if vals else None

    def only(self, name: str, **labels: str) -> float | None:
        """The sample whose labels are exactly `labels` (e.g. the all-topics counter has no topic label)."""
        series = self.values.get(name)
        if not series:
            return None
        return series.get(tuple(sorted(labels.items())))

    def by_label(self, name: str, label: str, **match: str) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        want = set(match.items())
        for lab, v in (self.values.get(name) or {}).items():
            d = dict(lab)
            if label in d and want <= set(lab):
                out[d[label]] += v
        return dict(out)


def _wanted_lines(text: str) -> Iterable[str]:
    for line in text.splitlines():
        if line.startswith("# "):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[2].startswith(WANTED_PREFIXES):
                yield line
        elif line.startswith(WANTED_PREFIXES):
            yield line


def parse(text: str, broker_id: int, ts: float) -> Scrape:
    """Parse exposition text (only the families brokerscale reads) into a Scrape."""
    from prometheus_client.parser import text_string_to_metric_families

    scrape = Scrape(broker_id, ts)
    filtered = "\n".join(_wanted_lines(text)) + "\n"
    for family in text_string_to_metric_families(filtered):
        for s in family.samples:
            scrape.values.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = float(s.value)
    return scrape


def scrape(broker_id: int, url: str, *, client: httpx.Client | None = None, timeout_s: float = 15.0) -> Scrape:
    """GET a broker's /metrics (only the series we read). An exporter that does not answer is `Unreachable`."""
    import httpx

    try:
        params = httpx.QueryParams([("name[]", n) for n in EXPORTER_NAMES] if "?" not in url else [])
        resp = (client or httpx).get(url, params=params, timeout=timeout_s)
        resp.raise_for_status()
    except httpx.HTTPError as exc:
        why = type(exc).__name__
        raise Unreachable(f"cannot scrape broker {broker_id} metrics at {url}: {why}") from None
    return parse(resp.text, broker_id, time.time())


def scrape_many(urls: dict[int, str], *, client: httpx.Client | None = None,
                timeout_s: float = 15.0) -> tuple[dict[int, Scrape], list[str]]:
    """Scrape every broker at once (a scrape costs the broker seconds; in sequence they would add up)."""
    from concurrent.futures import ThreadPoolExecutor

    got: dict[int, Scrape] = {}
    failed: list[str] = []
    if not urls:
        return got, failed
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        futures = {bid: pool.submit(scrape, bid, url, client=client, timeout_s=timeout_s) for bid, url in urls.items()}
        for bid, fut in futures.items():
            try:
                got[bid] = fut.result()
            except Unreachable as exc:
                failed.append(str(exc))
    return got, failed


def _rate(prev: float | None, cur: float | None, dt: float) -> float | None:
    if prev is None or cur is None or dt <= 0:
        return None
    return max(0.0, (cur - prev) / dt)  # a broker restart resets counters: never report negative load


def _queue_time_avg_ms(prev: Scrape, cur: Scrape) -> float | None:
    medians = cur.by_label("kafka_network_requestmetrics_requestqueuetimems", "request", quantile="0.50")
    if not medians:
        return None
    now_counts = cur.by_label("kafka_network_requestmetrics_requestqueuetimems_count_total", "request")
    old_counts = prev.by_label("kafka_network_requestmetrics_requestqueuetimems_count_total", "request")
    weights = {r: max(0.0, now_counts.get(r, 0.0) - old_counts.get(r, 0.0)) for r in medians}
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    return sum(medians[r] * w for r, w in weights.items()) / total


def broker_load(prev: Scrape, cur: Scrape) -> BrokerLoad:
    """Per-broker load over the interval between two scrapes of the same broker."""
    dt = cur.ts - prev.ts
    idle_counter = "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count_total"
    idle_ns = _rate(prev.get(idle_counter), cur.get(idle_counter), dt)
    conns = cur.get("kafka_server_socket_server_metrics_connection_count")
    log_size = cur.get("kafka_log_log_size")

    def gauge_int(name: str) -> int | None:
        v = cur.get(name)
        return int(v) if v is not None else None

    def served(request: str) -> bool:
        """Quantiles are kept between requests: judge them only if the request ran in the window."""
        before = prev.get("kafka_network_requestmetrics_requests_total", request=request)
        after = cur.get("kafka_network_requestmetrics_requests_total", request=request)
        return before is not None and after is not None and after > before

    return BrokerLoad(
        id=cur.broker_id,
        bytes_in_per_s=_rate(prev.only("kafka_server_brokertopicmetrics_bytesin_total"),
                             cur.only("kafka_server_brokertopicmetrics_bytesin_total"), dt),
        bytes_out_per_s=_rate(prev.only("kafka_server_brokertopicmetrics_bytesout_total"),
                              cur.only("kafka_server_brokertopicmetrics_bytesout_total"), dt),
        messages_in_per_s=_rate(prev.only("kafka_server_brokertopicmetrics_messagesin_total"),
                                cur.only("kafka_server_brokertopicmetrics_messagesin_total"), dt),
        connections=int(conns) if conns is not None else None,
        requests_per_s=_rate(prev.get("kafka_network_requestmetrics_requests_total"),
                             cur.get("kafka_network_requestmetrics_requests_total"), dt),
        produce_p99_ms=cur.get("kafka_network_requestmetrics_totaltimems", quantile="0.99",
                               request="Produce") if served("Produce") else None,
        fetch_p99_ms=cur.get("kafka_network_requestmetrics_totaltimems", quantile="0.99",
                             request="FetchConsumer") if served("FetchConsumer") else None,
        request_queue_time_avg_ms=_queue_time_avg_ms(prev, cur),
        request_handler_idle_ratio=min(1.0, idle_ns / 1e9) if idle_ns is not None else
        cur.get("kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent"),
        network_processor_idle_ratio=cur.get("kafka_network_socketserver_networkprocessoravgidle_percent"),
        under_replicated_partitions=gauge_int("kafka_server_replicamanager_underreplicatedpartitions"),
        under_min_isr_partitions=gauge_int("kafka_server_replicamanager_underminisrpartitioncount"),
        partition_replicas=gauge_int("kafka_server_replicamanager_partitioncount"),
        leaders=gauge_int("kafka_server_replicamanager_leadercount"),
        disk_used_bytes=int(log_size) if log_size is not None else None,
    )


def topic_rates(prevs: Iterable[Scrape], curs: Iterable[Scrape]) -> dict[str, dict[str, float]]:
    """Per-topic bytes in/out and messages in per second, summed over brokers (leaders take the traffic)."""
    prev_by = {s.broker_id: s for s in prevs}
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    names = {"bytes_in_per_s": "kafka_server_brokertopicmetrics_bytesin_total",
             "bytes_out_per_s": "kafka_server_brokertopicmetrics_bytesout_total",
             "messages_in_per_s": "kafka_server_brokertopicmetrics_messagesin_total"}
    for cur in curs:
        prev = prev_by.get(cur.broker_id)
        if prev is None:
            continue
        dt = cur.ts - prev.ts
        for field_name, metric in names.items():
            old = prev.by_label(metric, "topic")
            for topic, v in cur.by_label(metric, "topic").items():
                r = _rate(old.get(topic, 0.0), v, dt)
                if r is not None:
                    out[topic][field_name] += r
    return {t: dict(v) for t, v in out.items()}
