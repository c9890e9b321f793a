"""The topics section of `brokerscale demo`, on the real session cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

pytestmark = pytest.mark.kafka


def test_demo_step_shows_findings_a_hot_partition_and_changes_nothing(kafka_cluster: Any, tmp_path: Path) -> None:
    from brokerscale.demo import DemoContext
    from brokerscale.topics.demo import DEMO_TOPICS, demo_step

    console = Console(record=True, width=200)
    demo_step(DemoContext(kafka_cluster.bootstrap, kafka_cluster, console, tmp_path))
    text = " ".join(console.export_text().split())
    assert "dry run verified" in text
    for topic in DEMO_TOPICS:
        assert topic in text
    assert "phi-compacted" not in text  # findings are shown as sentences, not codes
    assert "PHI topic uses cleanup.policy=compact" in text
    assert "below the class clinical minimum of 30 days" in text
    assert "never attempted" in text
    assert "Hot partitions" in text and "device.vitals" in text, text

    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=kafka_cluster.bootstrap)
    try:
        described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(list(DEMO_TOPICS))}
        admin.delete_topics(list(DEMO_TOPICS))  # leave the shared session cluster as we found it
    finally:
        admin.close()
    assert described == {name: n for name, (n, _) in DEMO_TOPICS.items()}  # a dry run: nothing changed
