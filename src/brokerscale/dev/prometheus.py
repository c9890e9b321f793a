"""A real Prometheus (Debian's `prometheus` package) beside a local dev cluster.

It scrapes every broker's JMX exporter, each target labelled with its `broker_id` (the label
`observe --prometheus` maps series to brokers by), and brokerscale's own exporter while one runs for
the cluster. Targets live in file-based service discovery files that Prometheus re-reads on change,
so `dev add-broker` and a starting exporter are picked up without a restart. Everything sits in the
cluster's directory (`prometheus/`), so `dev down` removes it with the cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import yaml

from brokerscale.dev.cluster import _pid_alive as _alive
from brokerscale.dev.ports import is_bind_error, quiet_port
from brokerscale.errors import BadInput, OperationFailed
from brokerscale.observe.jmx import EXPORTER_NAMES

if TYPE_CHECKING:
    from brokerscale.dev.cluster import DevCluster

BINARY_NAMES = ("prometheus",)
ALERTMANAGER_NAMES = ("prometheus-alertmanager", "alertmanager")
SCRAPE_INTERVAL = "10s"


def find_binary(names: Sequence[str] = BINARY_NAMES) -> str | None:
    """The Prometheus (or Alertmanager) binary on PATH; Debian installs them in /usr/bin."""
    for n in names:
        found = shutil.which(n)
        if found:
            return found
    return None


@dataclass
class PrometheusState:
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _dir(cluster: DevCluster) -> Path:
    return cluster.root / "prometheus"


def state(cluster: DevCluster) -> PrometheusState | None:
    """The Prometheus running for `cluster`, if any."""
    f = _dir(cluster) / "state.json"
    if not f.exists():
        return None
    doc = json.loads(f.read_text())
    st = PrometheusState(int(doc["pid"]), int(doc["port"]))
    return st if _alive(st.pid, str(_dir(cluster))) else None


def write_broker_targets(cluster: DevCluster) -> None:
    """One target per broker exporter, labelled with its broker id (atomic: Prometheus watches the file)."""
    d = _dir(cluster)
    if not d.exists():
        return
    groups = [{"targets": [f"127.0.0.1:{n.metrics_port}"], "labels": {"broker_id": str(n.id), "job": "kafka"}}
              for n in sorted(cluster.nodes.values(), key=lambda n: n.id)]
    _write_atomic(d / "targets" / "brokers.json", json.dumps(groups, indent=2))


def register_exporter(cluster: DevCluster, port: int) -> None:
    """Add brokerscale's own exporter (`brokerscale exporter`) as a scrape target of the dev Prometheus."""
    d = _dir(cluster)
    if not d.exists():
        return
    groups = [{"targets": [f"127.0.0.1:{port}"], "labels": {"job": "brokerscale"}}]
    _write_atomic(d / "targets" / "brokerscale.json", json.dumps(groups, indent=2))


def unregister_exporter(cluster: DevCluster) -> None:
    with contextlib.suppress(FileNotFoundError):
        _write_atomic(_dir(cluster) / "targets" / "brokerscale.json", "[]")


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _config(rule_files: Sequence[Path], alertmanager: str | None, interval: str) -> dict[str, object]:
    # Only the series brokerscale and its alerting rules read: a full exporter page is ~5,000 series and
    # costs the broker seconds per scrape.
    names = sorted({*EXPORTER_NAMES, "kafka_log_log_size", "kafka_controller_kafkacontroller_offlinepartitionscount"})
    cfg: dict[str, object] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {"job_name": "kafka", "params": {"name[]": names},
             "file_sd_configs": [{"files": ["targets/brokers.json"], "refresh_interval": "5s"}]},
            {"job_name": "brokerscale",
             "file_sd_configs": [{"files": ["targets/brokerscale.json"], "refresh_interval": "5s"}]},
        ],
    }
    if alertmanager:
        cfg["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return cfg


def start(cluster: DevCluster, *, rule_files: Sequence[Path] = (), alertmanager: str | None = None,
          interval: str = SCRAPE_INTERVAL, timeout: float = 60.0) -> PrometheusState:
    """Start Prometheus for `cluster` (or return the running one) and wait until it is ready."""
    running = state(cluster)
    if running is not None:
        return running
    binary = find_binary()
    if binary is None:
        raise BadInput("--prometheus: no `prometheus` binary on PATH (Debian: apt-get install prometheus)")
    for f in rule_files:
        if not Path(f).is_file():
            raise BadInput(f"--prometheus-rules: {f}: no such file")
    if alertmanager is not None and (":" not in alertmanager or not alertmanager.rsplit(":", 1)[1].isdigit()):
        raise BadInput(f"--alertmanager: {alertmanager!r} is not HOST:PORT")
    d = _dir(cluster)
    (d / "data").mkdir(parents=True, exist_ok=True)
    copied = []
    for i, f in enumerate(rule_files):  # copied in: the cluster's directory holds all it runs on
        dest = d / "rules" / f"{i:02d}-{Path(f).name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dest)
        copied.append(dest)
    (d / "prometheus.yml").write_text(yaml.safe_dump(_config(copied, alertmanager, interval), sort_keys=False))
    write_broker_targets(cluster)
    if not (d / "targets" / "brokerscale.json").exists():
        unregister_exporter(cluster)
    last = ""
    for _attempt in range(3):  # a port can be taken between choosing and binding it: try fresh ones
        port = quiet_port()
        with open(d / "prometheus.log", "ab") as log:
            proc = subprocess.Popen(
                [binary, f"--config.file={d / 'prometheus.yml'}", f"--storage.tsdb.path={d / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle",
                 "--storage.tsdb.retention.time=2d", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=d, start_new_session=True)
        st = PrometheusState(proc.pid, port)
        (d / "state.json").write_text(json.dumps({"pid": proc.pid, "port": port}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{st.url}/-/ready", timeout=2).status_code == 200:
                    return st
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log_lines = (d / "prometheus.log").read_text(errors="replace").strip().splitlines()
        last = log_lines[-1][:300] if log_lines else "no output"
        if not is_bind_error(last):
            break
    (d / "state.json").unlink(missing_ok=True)
    raise OperationFailed(f"Prometheus did not start for cluster {cluster.name!r}: {last}")


def reload(cluster: DevCluster) -> None:
    """Ask the running Prometheus to re-read its configuration and rule files."""
    st = state(cluster)
    if st is not None:
        httpx.post(f"{st.url}/-/reload", timeout=10).raise_for_status()


def stop(cluster: DevCluster, timeout: float = 15.0) -> None:
    st = state(cluster)
    if st is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(st.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(st.pid, str(_dir(cluster))) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(st.pid, str(_dir(cluster))):
        with contextlib.suppress(ProcessLookupError):
            os.kill(st.pid, signal.SIGKILL)
    (_dir(cluster) / "state.json").unlink(missing_ok=True)
