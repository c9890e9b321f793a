"""The exporter's exposition and the Prometheus HTTP API source, without a cluster."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry

from brokerscale.errors import Unreachable
from brokerscale.model.snapshot import Finding, GroupLag, LagStatus, PartitionLag, Snapshot
from brokerscale.observe.capacity import Utilization
from brokerscale.observe.collect import Round
from brokerscale.observe.exporter import ObserveCollector
from brokerscale.observe.jmx import broker_load
from brokerscale.observe.prometheus_source import (
    BrokerMapping,
    PrometheusRound,
    query_round,
    query_scrapes,
    unmapped_totals,
)


def _round() -> Round:
    g = GroupLag(group="billing-etl", members=2, lag_offsets=1200, max_lag_seconds=42.5, status=LagStatus.WARNING,
                 partitions=[PartitionLag(topic="clinical.adt", partition=0, committed_offset=10, log_end_offset=1210,
                                          lag_offsets=1200, lag_seconds=42.5, status=LagStatus.WARNING)])
    snap = Snapshot(cluster="prod", source="t", taken_at=1000.0, bytes_in_per_s=5e6, groups=[g])
    util = [Utilization(dimension="throughput", scope="cluster", target="cluster", used=40e6, capacity=50e6,
                        percent=80.0)]
    finding = Finding(rule="throughput", severity="warning", metric="throughput_utilization_percent", value=80.0,
                      threshold=70.0, unit="%", scope="cluster", target="cluster", action="add 1 CKU")
    return Round(snap, util, [finding])


def _exposition(collector: ObserveCollector) -> str:
    reg = CollectorRegistry()
    reg.register(collector)
    return generate_latest(reg).decode()


def test_exposition_has_utilization_findings_and_lag() -> None:
    c = ObserveCollector("prod")
    c.update(_round())
    text = _exposition(c)
    assert 'brokerscale_up{cluster="prod"} 1.0' in text
    assert ('brokerscale_utilization_percent{cluster="prod",dimension="throughput",scope="cluster",'
            'target="cluster"} 80.0') in text
    # the capacity behind the percentage, so a scale-up shows as a step in capacity, not only a drop in percent
    assert ('brokerscale_capacity{cluster="prod",dimension="throughput",scope="cluster",'
            'target="cluster"} 5e+07') in text
    assert 'brokerscale_findings{cluster="prod",severity="warning"} 1.0' in text
    assert 'brokerscale_findings{cluster="prod",severity="critical"} 0.0' in text
    assert ('brokerscale_consumer_lag_offsets{cluster="prod",group="billing-etl",partition="0",'
            'topic="clinical.adt"} 1200.0') in text
    assert ('brokerscale_consumer_lag_seconds{cluster="prod",group="billing-etl",partition="0",'
            'topic="clinical.adt"} 42.5') in text
    assert 'brokerscale_consumer_group_status{cluster="prod",group="billing-etl",status="WARNING"} 1.0' in text
    assert 'brokerscale_cluster_bytes_in_per_second{cluster="prod"} 5e+06' in text


def test_failed_observation_keeps_last_values_and_reports_down() -> None:
    c = ObserveCollector("prod")
    assert 'brokerscale_up{cluster="prod"} 0.0' in _exposition(c)
    c.update(_round())
    c.update(None, "cannot reach Kafka")
    text = _exposition(c)
    assert 'brokerscale_up{cluster="prod"} 0.0' in text
    assert 'brokerscale_last_observation_timestamp_seconds{cluster="prod"} 1000.0' in text


def _prom_handler(request: httpx.Request) -> httpx.Response:
    at = float(request.url.params["time"])
    k = 0.0 if at < 1000 else 1.0  # counters at t=940 and t=1000
    rows = []
    for pod, scale in (("prod-kafka-0", 1.0), ("prod-kafka-1", 2.0)):
        base = {"pod": pod, "namespace": "kafka", "job": "kafka"}
        rows.append({"metric": {"__name__": "kafka_server_brokertopicmetrics_bytesin_total", **base},
                     "value": [at, str(k * 60e6 * scale)]})
        rows.append({"metric": {"__name__": "kafka_server_socket_server_metrics_connection_count",
                                "listener": "PLAIN", **base}, "value": [at, "12"]})
    return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": rows}})


def test_prometheus_source_maps_pods_to_brokers_and_rates() -> None:
    client = httpx.Client(transport=httpx.MockTransport(_prom_handler))
    prev = query_scrapes("http://prom:9090", 940.0, client=client)
    cur = query_scrapes("http://prom:9090", 1000.0, client=client)
    assert [s.broker_id for s in cur] == [0, 1]
    loads = {c.broker_id: broker_load(p, c) for p, c in zip(prev, cur, strict=True)}
    assert loads[0].bytes_in_per_s == pytest.approx(1e6)
    assert loads[1].bytes_in_per_s == pytest.approx(2e6)
    assert loads[1].connections == 12


def test_prometheus_errors_are_one_line() -> None:
    def bad(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "error", "errorType": "bad_data", "error": "parse error"})

    client = httpx.Client(transport=httpx.MockTransport(bad))
    with pytest.raises(Unreachable) as exc:
        query_scrapes("http://prom:9090", 1.0, client=client)
    assert "bad_data" in str(exc.value)


def test_exporter_off_loopback_needs_a_token_file(cli: Any, tmp_path: Path) -> None:
    code, out, err = cli("exporter", "-b", "127.0.0.1:9", "--listen", "0.0.0.0", "--duration", "1s")
    assert code == 2 and "--listen 0.0.0.0" in err and "--token-file" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + out
    short = tmp_path / "short.token"
    short.write_text("abc\n")
    code, _, err = cli("exporter", "-b", "127.0.0.1:9", "--listen", "0.0.0.0", "--token-file", str(short))
    assert code == 2 and "at least 16 characters" in err and "abc" not in err


def test_exporter_with_a_token_answers_401_without_it() -> None:
    import socket
    import threading

    from brokerscale.connect import ConnectionProfile
    from brokerscale.observe.collect import Observer
    from brokerscale.observe.exporter import serve
    from brokerscale.observe.rules import load_rules

    token = "s3cret-scrape-token-0123456789"
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        port = s.getsockname()[1]
    host = socket.gethostbyname(socket.gethostname())  # a non-loopback address of this host, if it has one
    obs = Observer(ConnectionProfile("127.0.0.1:9"), load_rules())
    stop = threading.Event()
    _collector, server = serve(obs, port, 60.0, stop, addr="0.0.0.0", token=token)
    try:
        url = f"http://{host}:{port}/metrics"
        assert httpx.get(url, timeout=10).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
        ok = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert ok.status_code == 200 and "brokerscale_up" in ok.text and token not in ok.text
    finally:
        stop.set()
        server.shutdown()
        obs.close()


def _instances_handler(instances: dict[str, dict[str, str]]) -> Callable[[httpx.Request], httpx.Response]:
    """A Prometheus answering for targets `instance -> extra labels`; each reports its own connection count."""
    def handler(request: httpx.Request) -> httpx.Response:
        at = float(request.url.params["time"])
        rows = []
        for i, (instance, extra) in enumerate(instances.items(), start=1):
            base = {"instance": instance, "job": "kafka", **extra}
            rows.append({"metric": {"__name__": "kafka_server_socket_server_metrics_connection_count",
                                    "listener": "PLAINTEXT", **base}, "value": [at, str(10 * i)]})
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": rows}})
    return handler


def _prom_round(instances: dict[str, dict[str, str]], mapping: BrokerMapping) -> PrometheusRound:
    client = httpx.Client(transport=httpx.MockTransport(_instances_handler(instances)))
    return query_round("http://prom:9090", 1000.0, mapping, client=client)


def test_prometheus_instances_map_by_exporter_address_not_by_sorted_port() -> None:
    # Broker 1's exporter has the highest port: sorted ports would call it broker 3.
    instances = {"127.0.0.1:9303": {}, "127.0.0.1:9301": {}, "127.0.0.1:9302": {}}
    exporters = {1: "http://127.0.0.1:9303/metrics", 2: "http://localhost:9301/metrics",
                 3: "http://127.0.0.1:9302/metrics"}
    r = _prom_round(instances, BrokerMapping(exporters=exporters))
    conns = {s.broker_id: s.get("kafka_server_socket_server_metrics_connection_count") for s in r.brokers}
    assert conns == {1: 10.0, 2: 20.0, 3: 30.0}
    assert r.note() is None


def test_prometheus_labels_and_hosts_map_exactly_and_the_rest_is_never_guessed() -> None:
    by_label = _prom_round({"a:1": {"broker_id": "7"}, "b:1": {"node_id": "8"}}, BrokerMapping())
    assert [s.broker_id for s in by_label.brokers] == [7, 8]
    custom = _prom_round({"a:1": {"kafka_id": "4"}, "b:1": {"kafka_id": "5"}}, BrokerMapping(broker_label="kafka_id"))
    assert [s.broker_id for s in custom.brokers] == [4, 5]
    # Distinct advertised hosts identify brokers by the host of `instance`.
    hosts = _prom_round({"kafka-b.example:7071": {}, "kafka-a.example:7071": {}},
                   BrokerMapping(hosts={1: "kafka-a.example", 2: "kafka-b.example"}))
    assert {s.broker_id: s.get("kafka_server_socket_server_metrics_connection_count")
            for s in hosts.brokers} == {2: 10.0, 1: 20.0}
    # One host for every broker, no label, unknown exporter ports: nothing is attributed.
    r = _prom_round({"127.0.0.1:9303": {}, "127.0.0.1:9301": {}},
               BrokerMapping(exporters={1: "http://127.0.0.1:1/metrics"}, hosts={1: "127.0.0.1", 2: "127.0.0.1"}))
    assert r.brokers == [] and sorted(r.unmapped) == ["127.0.0.1:9301", "127.0.0.1:9303"]
    note = r.note()
    assert note is not None and "cluster totals only" in note and "broker_id" in note
    prev = _prom_round({"127.0.0.1:9303": {}, "127.0.0.1:9301": {}}, BrokerMapping())
    assert unmapped_totals(prev, r)["connections"] == 30.0


def test_an_unexpected_error_in_a_round_is_a_failed_round_not_the_end_of_the_observer() -> None:
    """The observer thread ending would leave /metrics serving its last round with brokerscale_up 1."""
    import threading
    import time

    from brokerscale.observe.exporter import run_observer

    class Flaky:
        calls = 0

        def sample(self) -> Round:
            self.calls += 1
            if self.calls == 1:
                raise KeyError("leader")
            return _round()

    c, stop, obs = ObserveCollector("prod"), threading.Event(), Flaky()
    thread = threading.Thread(target=run_observer, args=(obs, c, 0.01, stop), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while c.latest is None and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(30)
    assert obs.calls >= 2, "the observer ended at the first unexpected error"
    assert 'brokerscale_up{cluster="prod"} 1.0' in _exposition(c)
