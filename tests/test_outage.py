"""Long-running verbs through an outage, without a cluster (a refused port stands for a cluster that is
down): each failed round is reported and tried again, and nothing piles up from one round to the next.

`benchmarks/soak.py` measures the same over a real broker's stop and restart."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

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
