"""Port allocation and start-up bookkeeping of dev clusters, without starting Kafka."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from brokerscale.dev import cluster as cluster_mod
from brokerscale.dev.cluster import DevCluster, Node, _quote_log
from brokerscale.dev.ports import PortAllocator, bindable, ephemeral_range, is_bind_error, quiet_port
from brokerscale.errors import OperationFailed


@pytest.fixture()
def held_port() -> Iterator[int]:
    """A port another process holds (a listening socket) for the duration of the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_allocator_never_hands_out_a_port_twice_even_when_the_source_repeats_it() -> None:
    # The kernel may hand port-0 callers the same number twice in a row: that is how a broker once
    # got "port": 54601 and "metrics_port": 54601.
    offered = iter([54601, 54601, 54601, 40001, 40001, 40002, 40003])
    take = PortAllocator(lambda: next(offered))
    assert [take(), take(), take(), take()] == [54601, 40001, 40002, 40003]


def test_allocator_skips_ports_to_avoid_and_gives_up_with_a_message() -> None:
    offered = iter([7000, 7001, 7002])
    take = PortAllocator(lambda: next(offered), avoid={7000, 7001})
    assert take() == 7002
    stuck = PortAllocator(lambda: 7002, avoid={7002})
    with pytest.raises(OperationFailed, match="free port"):
        stuck()


def test_quiet_ports_are_bindable_and_below_the_ephemeral_range(held_port: int) -> None:
    lo, _ = ephemeral_range()
    ports = [quiet_port() for _ in range(20)]
    assert all(bindable(p) for p in ports)
    if lo > 21000:
        assert all(p < lo for p in ports)
    assert not bindable(held_port)


def test_bind_errors_are_recognised_in_kafka_and_jmx_agent_logs() -> None:
    assert is_bind_error("org.apache.kafka.common.KafkaException: Socket server failed to bind to "
                         "127.0.0.1:21576: Address already in use.")
    assert is_bind_error("Caused by: java.net.BindException: Address already in use")
    assert not is_bind_error("ERROR Exiting Kafka due to fatal exception: log dir is not writable")


def test_cluster_ids_never_start_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # Regression: one id in 64 starts with '-', and `kafka-storage format -t -xyz` then fails with
    # "argument --cluster-id/-t: expected one argument" (seen when two `dev up` ran together).
    dashed = uuid.UUID(bytes=b"\xf8" + b"\x01" * 15)
    plain = uuid.UUID(bytes=b"\x10" * 16)
    draws = iter([dashed, dashed, plain])
    monkeypatch.setattr(cluster_mod.uuid, "uuid4", lambda: next(draws))
    cid = cluster_mod._kafka_uuid()
    assert not cid.startswith("-") and len(cid) == 22


def test_log_quote_prefers_error_lines_and_keeps_it_to_one_line(tmp_path: Path) -> None:
    stdout = (tmp_path / "stdout.log", ["SLF4J: noise", "more noise"])
    server = (tmp_path / "server.log", ["[t] INFO starting", "[t] ERROR Fatal error during broker startup",
                                        "org.apache.kafka.common.KafkaException: Socket server failed to bind",
                                        "[t] INFO shutting down"])
    quoted = _quote_log([stdout, server])
    assert quoted is not None
    path, text = quoted
    assert path.name == "server.log"
    assert "Fatal error" in text and "failed to bind" in text and "\n" not in text
    assert _quote_log([(tmp_path / "stdout.log", [])]) is None


def test_a_cluster_marker_does_not_match_a_cluster_whose_name_extends_it(tmp_path: Path) -> None:
    # `dev down --name a` must not kill the processes of a cluster named `ab`.
    a = DevCluster("a", tmp_path / "clusters" / "a", "x", Node(100, "controller", 1, 2))
    ab_cmdline = f"java -Dbrokerscale.node={tmp_path}/clusters/ab/broker-1 -Dkafka.logs.dir={tmp_path}/clusters/ab/x"
    assert a.marker not in ab_cmdline
    assert a.marker in f"java -Dkafka.logs.dir={tmp_path}/clusters/a/broker-1/logs"


def test_a_half_written_state_is_not_a_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKERSCALE_DATA_DIR", str(tmp_path))
    root = tmp_path / "clusters" / "half"
    root.mkdir(parents=True)
    (root / "state.json").write_text('{"name": "half", "cluster')
    assert DevCluster.find("half") is None
    assert DevCluster.all() == []
