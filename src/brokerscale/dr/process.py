"""The processes of one flow: MirrorMaker 2 (dedicated mode) and brokerscale's position watcher.

Everything about a flow lives in `<data dir>/dr/flows/<flow>/`: the generated `mm2.properties` (0600:
it may hold the clusters' client secrets), `flow.json` (the topology and flow name, no secrets),
`state.json` (pids and start times) and `logs/`. Processes are started in their own session with
only file paths on their command lines, and recognised later by the flow directory in their command
line (a reused pid is never mistaken for ours).

The watcher samples the source's log-end offsets (and the target's) every few seconds into
`positions.json`: replication lag in seconds is interpolated from that history, and when the source
dies, failover still knows the last positions it had.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brokerscale.dev.jars import Runtime
from brokerscale.dev.log4j import rolling_file_config
from brokerscale.paths import data_dir

MM2_MAIN = "org.apache.kafka.connect.mirror.MirrorMaker"
MM2_HEAP = os.environ.get("BROKERSCALE_MM2_HEAP", "256m")
LOG4J2 = rolling_file_config("${sys:brokerscale.flow.logs}/mm2.log", {"clients": "org.apache.kafka.clients"})


def flows_dir() -> Path:
    return data_dir() / "dr" / "flows"


def _alive(pid: int | None, marker: str) -> bool:
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return ") Z " not in stat and marker in cmdline


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


@dataclass
class FlowProcess:
    """The managed processes of one flow."""

    name: str

    @property
    def root(self) -> Path:
        return flows_dir() / self.name

    @property
    def marker(self) -> str:
        return f"{self.root}/"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def state(self) -> dict[str, Any]:
        try:
            doc = json.loads((self.root / "state.json").read_text())
            return doc if isinstance(doc, dict) else {}
        except (OSError, ValueError):
            return {}

    def _save(self, doc: dict[str, Any]) -> None:
        tmp = self.root / "state.json.tmp"
        tmp.write_text(json.dumps(doc, indent=2))
        tmp.replace(self.root / "state.json")

    def mm2_alive(self) -> bool:
        return _alive(self.state().get("mm2_pid"), self.marker)

    def watcher_alive(self) -> bool:
        return _alive(self.state().get("watcher_pid"), self.marker)

    def flow_doc(self) -> dict[str, Any]:
        try:
            doc = json.loads((self.root / "flow.json").read_text())
            return doc if isinstance(doc, dict) else {}
        except (OSError, ValueError):
            return {}

    def start(self, runtime: Runtime, properties: str, flow_doc: dict[str, Any], targets: list[str]) -> None:
        """Write the flow's files and start MirrorMaker and the watcher (each only if not running)."""
        self.logs.mkdir(parents=True, exist_ok=True)
        _write_private(self.root / "mm2.properties", properties)
        (self.root / "flow.json").write_text(json.dumps(flow_doc, indent=2))
        (self.root / "log4j2.properties").write_text(LOG4J2)
        doc = self.state()
        doc.pop("stopped", None)
        if not self.mm2_alive():
            log = self.logs / "mm2.log"
            doc["mm2_log_offset"] = log.stat().st_size if log.exists() else 0
            cmd = ["java", "-Xms64m", f"-Xmx{MM2_HEAP}", "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError",
                   "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={self.root / 'log4j2.properties'}",
                   f"-Dbrokerscale.flow.logs={self.logs}", f"-Dbrokerscale.flow={self.root}/",
                   "-cp", runtime.classpath, MM2_MAIN, str(self.root / "mm2.properties"),
                   "--clusters", *targets]
            with open(self.logs / "mm2-stdout.log", "ab") as out:
                proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True, cwd=self.root)
            doc.update(mm2_pid=proc.pid, mm2_started=time.time())
            self._save(doc)
        self.start_watcher()

    def start_watcher(self, flow_doc: dict[str, Any] | None = None) -> None:
        """Start the position watcher alone if it is not running (a cluster link has no MirrorMaker):
        its environment is this process's, so the Cloud API key reaches it without a command line."""
        self.logs.mkdir(parents=True, exist_ok=True)
        if flow_doc is not None:
            (self.root / "flow.json").write_text(json.dumps(flow_doc, indent=2))
        if not self.watcher_alive():
            doc = self.state()
            doc.pop("stopped", None)
            cmd = [sys.executable, "-m", "brokerscale.dr.watch", f"{self.root}/"]
            with open(self.logs / "watcher.log", "ab") as out:
                proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True, cwd=self.root)
            doc.update(watcher_pid=proc.pid, watcher_started=time.time())
            self._save(doc)

    def stop(self, *, timeout: float = 30.0, watcher: bool = True) -> None:
        """Stop MirrorMaker (SIGTERM, then SIGKILL after `timeout`) and, unless told not to, the watcher."""
        doc = self.state()
        keys = ["mm2_pid", "watcher_pid"] if watcher else ["mm2_pid"]
        for key in keys:
            pid = doc.get(key)
            if pid and _alive(pid, self.marker):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for key in keys:
            pid = doc.get(key)
            while _alive(pid, self.marker) and time.monotonic() < deadline:
                time.sleep(0.2)
            if pid and _alive(pid, self.marker):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
                while _alive(pid, self.marker):
                    time.sleep(0.1)
            doc[key] = None
        doc["stopped"] = time.time()
        if self.root.exists():
            self._save(doc)

    def log_tail(self, lines: int | None = 200) -> list[str]:
        """The last lines MirrorMaker logged since its latest start (a rolled-over log is read whole)."""
        path = self.logs / "mm2.log"
        try:
            with open(path, "rb") as fh:
                size = fh.seek(0, 2)
                start = int(self.state().get("mm2_log_offset") or 0)
                fh.seek(start if start <= size else 0)
                text = fh.read().decode(errors="replace").splitlines()
                return text if lines is None else text[-lines:]
        except OSError:
            return []


def known_flows() -> list[FlowProcess]:
    base = flows_dir()
    return [FlowProcess(d.name) for d in sorted(base.iterdir())] if base.exists() else []
