"""The demo's DR section on real clusters: MirrorMaker 2 started, the lag shown drained, the failover
runbook shown, and everything it started stopped again (a one-broker primary of the test's own, so the
shared cluster gets no demo topic)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

pytestmark = pytest.mark.kafka


@pytest.fixture()
def primary() -> Iterator[Any]:
    from brokerscale.dev.cluster import DevCluster

    cluster = DevCluster.up("drdemo-primary", brokers=1)
    try:
        yield cluster
    finally:
        cluster.down()


def test_dr_demo_section_replicates_shows_the_lag_and_cleans_up(primary: Any, tmp_path: Path) -> None:
    from brokerscale.demo import DemoContext
    from brokerscale.dev.cluster import DevCluster
    from brokerscale.dr.demo import DR_CLUSTER, FLOW, TOPIC, demo_step
    from brokerscale.dr.flows import saved_topology_path
    from brokerscale.dr.process import FlowProcess
    from brokerscale.store import open_store

    console = Console(record=True, width=200)
    demo_step(DemoContext(primary.bootstrap, primary, console, tmp_path))
    text = console.export_text()
    assert f"flow {FLOW} primary -> dr: running (MirrorMaker pid" in text
    assert "lag 0 records" in text, text  # every record produced reached the DR cluster
    row = next(line for line in text.splitlines() if line.startswith(f"│ {TOPIC}"))
    assert row.split("│")[4].strip() == "0"
    assert "1. probe source" in text and "7. target ready" in text
    # nothing left behind: MirrorMaker stopped, the topology forgotten, the DR cluster gone
    assert not FlowProcess(FLOW).mm2_alive() and not saved_topology_path().exists()
    assert DevCluster.find(DR_CLUSTER) is None
    starts = [r for r in open_store().audit_records("dr.flow.") if r["target"] == FLOW]
    assert [r["action"] for r in starts][:2] == ["dr.flow.stop", "dr.flow.start"]
    assert all(r["result"] == "ok" for r in starts)
