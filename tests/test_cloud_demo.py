"""The Confluent Cloud demo section runs on its own (no Kafka cluster needed) and tells the story."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from rich.console import Console

from brokerscale.cloud.demo import demo_step
from brokerscale.store import open_store


def test_demo_step_resizes_with_progress_and_shows_load_and_events(tmp_path: Path) -> None:
    console = Console(record=True, width=160, force_terminal=False)
    ctx = SimpleNamespace(bootstrap="", cluster=None, console=console, workdir=tmp_path, notes={})
    demo_step(ctx)
    text = console.export_text()
    assert "resize 2 -> 3 (allowed)" in text
    assert "status.cku 3 -> 3 (PROVISIONED)" in text
    assert "│ before │ 2    │" in text and "│ after  │ 3    │" in text
    assert "UP        │ 2 -> 3" in text
    assert "shrink 3 -> 1 refused by the guard" in text
    rec = next(r for r in open_store().audit_records("cloud.cluster.resize") if r["actor"] == "demo")
    assert rec["result"] == "ok" and rec["after"]["status_cku"] == 3
