"""The demo section plans the example workload without needing the cluster."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from rich.console import Console

from brokerscale.plan.demo import demo_step


def test_demo_step_prints_the_plan_and_writes_files(tmp_path: Path) -> None:
    console = Console(record=True, width=160)
    ctx = SimpleNamespace(console=console, workdir=tmp_path, notes={}, bootstrap="", cluster=None)
    demo_step(ctx)  # type: ignore[arg-type]
    text = console.export_text()
    assert "Dedicated, 5 CKUs" in text
    assert "binding" in text
    assert (tmp_path / "plan" / "terraform" / "main.tf").is_file()
    assert (tmp_path / "plan" / "strimzi" / "kafka.yaml").is_file()
    assert ctx.notes["plan"]["confluent"]["ckus"] == 5
