"""Long-running verbs through an outage, without a cluster (a refused port stands for a cluster that is
down): each failed round is reported and tried again, and nothing piles up from one round to the next.

`benchmarks/soak.py` measures the same over a real broker's stop and restart."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

import pytest

from brokerscale.errors import Unreachable

BROKERSCALE = str(Path(sys.executable).parent / "brokerscale")


def test_observe_watch_reports_an_outage_each_round_and_keeps_watching(tmp_path: Path) -> None:
    """`observe --watch` used to end at the first round the cluster did not answer."""
    log = tmp_path / "stderr.log"
    env = {**os.environ, "BROKERSCALE_DATA_DIR": str(tmp_path / "data")}
    with log.open("w") as errf:
        proc = subprocess.Popen([BROKERSCALE, "observe", "--bootstrap", "127.0.0.1:1", "--watch", "--interval", "1s",
                                 "--format", "json"], env=env, stdout=subprocess.PIPE, stderr=errf, text=True)
    try:
        deadline = time.monotonic() + 120
        while log.read_text().count("observation failed: cannot reach Kafka at 127.0.0.1:1") < 2:
            assert proc.poll() is None, f"observe --watch exited {proc.returncode}: {log.read_text()}"
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert out == ""  # stdout stays JSON lines of rounds only
    assert "Traceback" not in log.read_text()


def _io_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("kafka-io"))


@pytest.mark.kafka
def test_the_dr_watcher_closes_each_client_a_failed_sample_drops(kafka_cluster: Any, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The watcher reconnects after every failed request (every 2 s sample, every 0.25 s probe): the
    client it drops must be closed, or each failure leaves a kafka-python I/O thread (and its sockets)
    running for good. The connection is real; only the request after it is made to fail."""
    from brokerscale.dr import positions
    from brokerscale.dr.topology import parse_topology
    from brokerscale.dr.watch import LastSeen, probe_source, sample_direction

    where = {"dev": kafka_cluster.name, "region": "us-east-1", "jurisdiction": "US"}
    topo = parse_topology({"clusters": {"primary": where, "dr": where},
                           "flows": {"f": {"source": "primary", "target": "dr", "topics": ["outage\\..*"]}}},
                          "topo.yaml")

    def refused(*_a: object, **_k: object) -> NoReturn:
        raise Unreachable("list offsets failed on primary: KafkaConnectionError")

    monkeypatch.setattr(positions, "end_offsets", refused)
    before = _io_threads()
    admins: dict[str, Any] = {}
    last = LastSeen(tmp_path / "source_last.json")
    for _ in range(3):
        out = sample_direction(topo, topo.flows["f"], "primary", "dr", [], admins)
        assert out["source_error"] == "list offsets failed on primary: KafkaConnectionError"
        probe_source(topo, "primary", "primary->dr", [], admins, last)
    assert admins == {}
    deadline = time.monotonic() + 30
    while _io_threads() > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _io_threads() == before, [t.name for t in threading.enumerate()]  # the old code: 6 more
