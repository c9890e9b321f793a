"""JMX exporter parsing and rates: exposition text -> per-broker and per-topic load."""

from __future__ import annotations

import pytest

from brokerscale.observe import jmx

TEMPLATE = """# HELP kafka_server_brokertopicmetrics_bytesin_total Attribute exposed for management
# TYPE kafka_server_brokertopicmetrics_bytesin_total counter
kafka_server_brokertopicmetrics_bytesin_total {bytes_in}
kafka_server_brokertopicmetrics_bytesin_total{{topic="clinical.adt"}} {bytes_in}
# TYPE kafka_server_brokertopicmetrics_bytesout_total counter
kafka_server_brokertopicmetrics_bytesout_total {bytes_out}
# TYPE kafka_server_brokertopicmetrics_messagesin_total counter
kafka_server_brokertopicmetrics_messagesin_total {msgs}
# TYPE kafka_network_requestmetrics_requests_total counter
kafka_network_requestmetrics_requests_total{{request="Produce",version="11"}} {produce}
kafka_network_requestmetrics_requests_total{{request="Fetch",version="17"}} 10.0
# TYPE kafka_network_requestmetrics_totaltimems gauge
kafka_network_requestmetrics_totaltimems{{quantile="0.99",request="Produce"}} 42.0
kafka_network_requestmetrics_totaltimems{{quantile="0.99",request="FetchConsumer"}} 501.0
# TYPE kafka_network_requestmetrics_requestqueuetimems gauge
kafka_network_requestmetrics_requestqueuetimems{{quantile="0.50",request="Produce"}} 4.0
kafka_network_requestmetrics_requestqueuetimems{{quantile="0.50",request="Fetch"}} 1.0
# TYPE kafka_network_requestmetrics_requestqueuetimems_count_total counter
kafka_network_requestmetrics_requestqueuetimems_count_total{{request="Produce"}} {produce}
kafka_network_requestmetrics_requestqueuetimems_count_total{{request="Fetch"}} {fetch_count}
# TYPE kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count_total counter
kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count_total {idle_ns}
# TYPE kafka_network_socketserver_networkprocessoravgidle_percent gauge
kafka_network_socketserver_networkprocessoravgidle_percent 0.9
# TYPE kafka_server_socket_server_metrics_connection_count gauge
kafka_server_socket_server_metrics_connection_count{{listener="PLAINTEXT",networkProcessor="0"}} 4.0
kafka_server_socket_server_metrics_connection_count{{listener="PLAINTEXT",networkProcessor="1"}} 3.0
# TYPE kafka_server_replicamanager_underreplicatedpartitions gauge
kafka_server_replicamanager_underreplicatedpartitions 2.0
# TYPE jvm_memory_used_bytes gauge
jvm_memory_used_bytes{{area="heap"}} 1.0
"""


def _text(**kw: float) -> str:
    base = {"bytes_in": 0.0, "bytes_out": 0.0, "msgs": 0.0, "produce": 0.0, "fetch_count": 0.0, "idle_ns": 0.0}
    base.update(kw)
    return TEMPLATE.format(**base)


def test_rates_from_two_scrapes() -> None:
    a = jmx.parse(_text(), 1, 100.0)
    b = jmx.parse(_text(bytes_in=10e6, bytes_out=30e6, msgs=10_000, produce=300, fetch_count=100,
                        idle_ns=7.5e9), 1, 110.0)
    load = jmx.broker_load(a, b)
    assert load.bytes_in_per_s == pytest.approx(1e6)
    assert load.bytes_out_per_s == pytest.approx(3e6)
    assert load.messages_in_per_s == pytest.approx(1000)
    assert load.requests_per_s == pytest.approx(30)  # Fetch's counter did not move
    assert load.connections == 7
    assert load.produce_p99_ms == 42.0
    assert load.fetch_p99_ms is None  # no FetchConsumer request in the window: the quantile is stale
    assert load.request_queue_time_avg_ms == pytest.approx((4.0 * 300 + 1.0 * 100) / 400)
    assert load.request_handler_idle_ratio == pytest.approx(0.75)
    assert load.network_processor_idle_ratio == 0.9
    assert load.under_replicated_partitions == 2
    rates = jmx.topic_rates([a], [b])
    assert rates["clinical.adt"]["bytes_in_per_s"] == pytest.approx(1e6)


def test_counter_reset_is_not_negative_load() -> None:
    a = jmx.parse(_text(bytes_in=50e6), 1, 0.0)
    b = jmx.parse(_text(bytes_in=1e6), 1, 10.0)  # the broker restarted
    assert jmx.broker_load(a, b).bytes_in_per_s == 0.0


def test_unwanted_families_are_not_parsed() -> None:
    s = jmx.parse(_text(), 1, 0.0)
    assert "jvm_memory_used_bytes" not in s.values


def test_unreachable_exporter_is_one_line() -> None:
    from brokerscale.errors import Unreachable

    with pytest.raises(Unreachable) as exc:
        jmx.scrape(3, "http://127.0.0.1:1/metrics", timeout_s=2)
    assert "broker 3" in str(exc.value)
