"""Per-topic traffic from broker byte counters: a fake JMX exporter per broker, no Kafka needed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from brokerscale.errors import BadInput
from brokerscale.topics.metrics import MetricsSource, metrics_source

#: topic -> (bytes in, bytes out) per second on each fake broker
RATES = {"clinical.labs": (200_000.0, 400_000.0), "device.vitals": (50_000.0, 0.0)}


class Clock:
    """The one clock of a test: the fake exporters count bytes by it and the scraper stamps its scrapes by
    it, so a rate is exact however long a request takes on a busy machine (with the wall clock, a thread
    descheduled between the server's count and the client's timestamp skewed a 1 s window by 5 %)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now


def _exporter(clock: Clock, started: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            elapsed = clock.now - started
            lines = ["# TYPE kafka_server_brokertopicmetrics_bytesin_total counter",
                     "# TYPE kafka_server_brokertopicmetrics_bytesout_total counter"]
            for topic, (bin_, bout) in RATES.items():
                lines.append(f'kafka_server_brokertopicmetrics_bytesin_total{{topic="{topic}"}} {bin_ * elapsed}')
                lines.append(f'kafka_server_brokertopicmetrics_bytesout_total{{topic="{topic}"}} {bout * elapsed}')
            body = ("\n".join(lines) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    from brokerscale.observe import jmx

    c = Clock()
    monkeypatch.setattr(jmx, "time", c)
    return c


@pytest.fixture()
def exporters(clock: Clock) -> Iterator[dict[int, str]]:
    servers = [HTTPServer(("127.0.0.1", 0), _exporter(clock, clock.now)) for _ in range(2)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    try:
        yield {i + 1: f"http://127.0.0.1:{s.server_address[1]}/metrics" for i, s in enumerate(servers)}
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def test_topic_rates_come_from_the_brokers_byte_counters_summed_over_brokers(exporters: dict[int, str],
                                                                           clock: Clock) -> None:
    source = MetricsSource(exporters)
    source.start()
    clock.now += 2.0
    rates = source.finish(["clinical.labs", "device.vitals", "quiet.topic"])
    assert rates is not None, source.failed
    labs = rates["clinical.labs"]
    assert labs.bytes_in_per_s == pytest.approx(2 * 200_000, rel=1e-9)  # two brokers lead its partitions
    assert labs.bytes_out_per_s == pytest.approx(2 * 400_000, rel=1e-9)
    assert rates["device.vitals"].bytes_in_per_s == pytest.approx(2 * 50_000, rel=1e-9)
    assert labs.source == "broker metrics (JMX exporter) over 2.0 s"
    assert rates["quiet.topic"].bytes_in_per_s == 0.0


def test_a_missing_exporter_means_no_metrics_and_says_why(exporters: dict[int, str]) -> None:
    source = MetricsSource({**exporters, 3: "http://127.0.0.1:1/metrics"})
    source.start()
    assert source.finish(["clinical.labs"]) is None
    assert source.failed is not None and "broker 3" in source.failed


def test_source_selection() -> None:
    assert metrics_source("127.0.0.1:9092", ["1=http://h:1/metrics"], "offsets") is None
    chosen = metrics_source("127.0.0.1:9092", ["1=http://h:1/metrics"], "auto")
    assert chosen is not None and chosen.urls == {1: "http://h:1/metrics"}
    assert metrics_source("127.0.0.1:1", None, "auto") is None  # no exporters known: offsets
    with pytest.raises(BadInput, match="--source"):
        metrics_source("127.0.0.1:1", None, "metrics")
