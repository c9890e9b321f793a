"""Soak: the long-running brokerscale verbs across whole-cluster outages, their resources sampled.

The exporter, `observe --watch`, `scale run` (dry run), the `dr` position watcher and the web dashboard
(`web`, its overview polled every second as an open tab does) live for months on
a hospital's cluster, through broker deaths and outages. A resource that grows with every round (a
thread, a socket, a file, memory) is a slow leak that only shows after weeks; here it shows per round,
at a short interval. The verbs run side by side against a 1-broker dev cluster: the cluster up, then
--outages times its broker stopped and started again. Every second each process's threads, open fds,
sockets and RSS are read from /proc; printed per phase: the first and last value and the growth per
round (least-squares slope over the phase's second half, so a one-off at the phase's start does not
count; the consumer-lag window is cut to 20 s so the offset history is full early). A verb that exits
is reported with its last line. At each phase's end the exporter's `brokerscale_up` is scraped and the
dashboard's overview read: 0 (the dashboard: stale or unreachable) in an outage, 1 (live) again after
it, without a restart.

    export BROKERSCALE_DATA_DIR=/tmp/bs-soak
    brokerscale dev up --name soak --brokers 1
    python benchmarks/soak.py --cluster soak --verb exporter --verb observe --verb scale-run --verb dr-watch \
        --interval 1 --phase 80 --outages 2
    brokerscale dev down --name soak

Exit code 0 when no thread, fd or socket count grows faster than DEFAULT_MAX_GROWTH per round in any
phase, nothing grows by more than MAX_PER_OUTAGE with each outage after the first (--outages 2 or
more), no verb exits and the exporter and the dashboard report the outages and the recoveries; 1
otherwise. (The
machine's load does not change these counts, only how many rounds fit in a phase.)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERBS = ("exporter", "observe", "scale-run", "dr-watch", "web")
RESOURCES = ("threads", "fds", "sockets", "rss_kb")
# Verbs that tell their readers whether the cluster answers; read at each phase's end (`_reported_up`).
REPORTS_UP = frozenset({"exporter", "web"})
# The consumer-lag window the exporter and `observe` keep offset history for: short, so the history is
# full after a few rounds and any growth after that is a leak, not the window filling (600 s by default).
RULES = "consumer_lag:\n  window: 20\n"
# Growth per round above this within a phase is a leak: one thread, fd or socket every 20 rounds. RSS is
# not judged per phase (a round that waits on a dead broker lasts ~7 s, the 6 s bootstrap timeout of a fresh
# connect, so a phase holds only a few and one allocation moves the slope); it is judged per outage below.
DEFAULT_MAX_GROWTH = {"threads": 0.05, "fds": 0.05, "sockets": 0.05}
# Growth from the first recovery to the last (the floor of each phase's second half), per further outage:
# the first outage is a one-off (first error paths, allocator arenas); a leak repeats with each one.
MAX_PER_OUTAGE = {"threads": 1.0, "fds": 2.0, "sockets": 2.0, "rss_kb": 2048.0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def phase_names(outages: int) -> list[str]:
    names = ["up"]
    for i in range(1, outages + 1):
        n = "" if outages == 1 else f" #{i}"
        names += [f"broker stopped{n}", f"broker started{n}"]
    return names


def _command(verb: str, cluster: str, interval: float, port: int, workdir: Path) -> list[str]:
    exe = [sys.executable, "-m", "brokerscale"]
    every = f"{interval:g}s"
    rules = workdir / "rules.yaml"
    rules.write_text(RULES)
    if verb == "exporter":
        return [*exe, "exporter", "--cluster", cluster, "--port", str(port), "--interval", every, "--rules", str(rules)]
    if verb == "observe":
        return [*exe, "observe", "--cluster", cluster, "--watch", "--interval", every, "--format", "json",
                "--rules", str(rules)]
    if verb == "scale-run":
        limits = workdir / "capacity.yaml"
        limits.write_text("broker:\n  throughput_mb_s: 100\n  disk: 100GB\n  connections: 1000\n"
                          "  partition_replicas: 1000\n")
        return [*exe, "scale", "run", "--target", "selfmanaged", "--cluster", cluster, "--policy-name", "default",
                "--limits", str(limits), "--interval", every]
    if verb == "web":  # the dashboard; the soak also polls its overview every second, as an open tab does
        return [*exe, "web", "--cluster", cluster, "--port", str(port), "--interval", every, "--rules", str(rules)]
    if verb == "dr-watch":  # the position watcher `dr up` starts, on a flow from the cluster to itself
        where = {"dev": cluster, "region": "local", "jurisdiction": "US"}
        flow_dir = workdir / "flow"
        flow_dir.mkdir()
        (flow_dir / "flow.json").write_text(json.dumps({
            "flow": "soak", "excludes": {},
            "topology": {"clusters": {"a": where, "b": where},
                         "flows": {"soak": {"source": "a", "target": "b", "topics": [r"soak\..*"]}}}}))
        return [sys.executable, "-m", "brokerscale.dr.watch", str(flow_dir)]
    raise SystemExit(f"--verb: {verb!r} is not one of {', '.join(VERBS)}")


def read_proc(pid: int) -> dict[str, float] | None:
    """Threads, open fds, sockets and RSS (kB) of a running process; None once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = os.listdir(f"/proc/{pid}/fd")
    except (FileNotFoundError, ProcessLookupError):
        return None
    sockets = 0
    for fd in fds:
        try:
            sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            continue
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    if "VmRSS" not in fields:  # a zombie: exited, not yet reaped
        return None
    return {"threads": float(fields["Threads"].strip()), "fds": float(len(fds)), "sockets": float(sockets),
            "rss_kb": float(fields["VmRSS"].split()[0])}


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t, value) points, per second."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (v - mv) for t, v in points) / den if den else 0.0


@dataclass
class Phase:
    name: str
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    up_metric: float | None = None
    exited: str | None = None  # the verb's exit code and last stderr line, when it died in this phase

    def level(self, resource: str) -> float:
        """The floor of the phase's second half: connections come and go between rounds (a few sockets
        either way), a leak raises the floor."""
        return min((s[resource] for _, s in self.samples[len(self.samples) // 2:]), default=float("nan"))

    def summary(self, interval: float) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        half = self.samples[len(self.samples) // 2:]
        if not self.samples:
            return {r: {"start": float("nan"), "end": float("nan"), "per_round": 0.0} for r in RESOURCES}
        for r in RESOURCES:
            out[r] = {"start": self.samples[0][1][r], "end": self.samples[-1][1][r],
                      "per_round": slope([(t, s[r]) for t, s in half]) * interval}
        return out


def _scrape_up(port: int) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    m = re.search(r"^brokerscale_up(?:\{[^}]*\})? (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def _web_overview(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/overview", timeout=10) as resp:
            doc: dict[str, Any] = json.loads(resp.read())
    except (OSError, ValueError):
        return None
    return doc


def _reported_up(verb: str, port: int) -> float | None:
    """What the verb tells its readers about the cluster: the exporter's `brokerscale_up`, the dashboard's
    overview state (1 live, 0 stale or unreachable); None for a verb with no such report."""
    if verb == "exporter":
        return _scrape_up(port)
    if verb == "web":
        doc = _web_overview(port)
        if doc is None or not doc.get("clusters"):
            return None
        return 1.0 if doc["clusters"][0].get("state") == "live" else 0.0
    return None


def _dev(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "brokerscale", "dev", *args], check=True, stdout=subprocess.DEVNULL)


def soak(verbs: list[str], cluster: str, interval: float,
         phase_s: float, outages: int = 1) -> tuple[dict[str, list[Phase]], dict[str, str]]:
    """Run every verb side by side through the three phases; returns each one's phases and stderr tail."""
    workdir = Path(tempfile.mkdtemp(prefix="bs-soak-"))
    ports = {verb: _free_port() for verb in verbs}
    names = phase_names(outages)
    phases = {verb: [Phase(name) for name in names] for verb in verbs}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    started: list[subprocess.Popen[bytes]] = []
    stopped = False
    if "dr-watch" in verbs:  # a topic for the watcher to sample and probe
        from brokerscale.connect import resolve

        with resolve(cluster=cluster).admin() as admin:
            admin.create_topic("soak.watch", 1, 1)
    try:
        for verb in verbs:
            with (workdir / f"{verb}.log").open("w") as errf:
                procs[verb] = subprocess.Popen(_command(verb, cluster, interval, ports[verb], workdir),
                                               stdout=subprocess.DEVNULL, stderr=errf)
                started.append(procs[verb])
        time.sleep(min(10.0, phase_s / 4))  # imports and the first connect are warm-up, not growth
        for i in range(len(names)):
            if i % 2 == 1:
                _dev("stop-broker", "1", "--name", cluster)
                stopped = True
            elif i > 0:
                _dev("start-broker", "1", "--name", cluster)
                stopped = False
            end = time.monotonic() + phase_s
            while time.monotonic() < end:
                for verb, proc in list(procs.items()):
                    s = None if proc.poll() is not None else read_proc(proc.pid)
                    if s is None:  # a long-running verb that dies in an outage is itself the finding
                        proc.wait()
                        last = ((workdir / f"{verb}.log").read_text().strip().splitlines() or [""])[-1]
                        phases[verb][i].exited = f"exit {proc.returncode}: {last}"
                        del procs[verb]
                        continue
                    phases[verb][i].samples.append((time.monotonic(), s))
                if "web" in procs:
                    _web_overview(ports["web"])
                time.sleep(1.0)
            for verb in REPORTS_UP & procs.keys():
                phases[verb][i].up_metric = _reported_up(verb, ports[verb])
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.terminate()
        for proc in started:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if stopped:  # never leave the broker stopped
            _dev("start-broker", "1", "--name", cluster)
    tails = {verb: "\n".join((workdir / f"{verb}.log").read_text().splitlines()[-3:]) for verb in verbs}
    shutil.rmtree(workdir, ignore_errors=True)
    return phases, tails


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cluster", default="soak", help="a running 1-broker dev cluster (broker id 1)")
    ap.add_argument("--verb", action="append", choices=VERBS)
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between the verb's rounds")
    ap.add_argument("--phase", type=float, default=120.0, help="seconds per phase")
    ap.add_argument("--outages", type=int, default=1, help="how many times the broker is stopped and started")
    ap.add_argument("--format", choices=["table", "json"], default="table")
    args = ap.parse_args()
    if not os.environ.get("BROKERSCALE_DATA_DIR"):
        print("set BROKERSCALE_DATA_DIR (the dev cluster's and the store's directory)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped soak still restarts the broker
    ok = True
    report = []
    verbs = args.verb or ["exporter"]
    all_phases, tails = soak(verbs, args.cluster, args.interval, args.phase, args.outages)
    for verb in verbs:
        for phase in all_phases[verb]:
            summ = phase.summary(args.interval)
            if not phase.samples and phase.exited is None:
                phase.exited = "not running"
            leaks = [r for r in DEFAULT_MAX_GROWTH if summ[r]["per_round"] > DEFAULT_MAX_GROWTH[r]]
            truthful = phase.exited is None and (
                verb not in REPORTS_UP or phase.up_metric == (0.0 if phase.name.startswith("broker stopped") else 1.0))
            ok &= not leaks and truthful
            report.append({"verb": verb, "phase": phase.name, "rounds": round(args.phase / args.interval),
                           **summ, "brokerscale_up": phase.up_metric, "leaks": leaks, "truthful": truthful,
                           "exited": phase.exited})
        phases = all_phases[verb]
        if args.outages >= 2 and all(p.samples for p in phases):
            per_outage = {r: (phases[-1].level(r) - phases[2].level(r)) / (args.outages - 1) for r in RESOURCES}
            grows = [r for r in RESOURCES if per_outage[r] > MAX_PER_OUTAGE[r]]
            ok &= not grows
            report.append({"verb": verb, "phase": "per outage after the first", "per_outage": per_outage,
                           "leaks": grows})
        if args.format == "table":
            print(f"{verb}: last lines of stderr:\n{tails[verb]}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(f"{'verb':10} {'phase':15} {'rounds':>6} " + " ".join(f"{r + ' start>end (/round)':>28}"
                                                                     for r in RESOURCES) + "  up")
        for row in report:
            if "per_outage" in row:
                flag = "  LEAK: " + ",".join(row["leaks"]) if row["leaks"] else ""
                print(f"{row['verb']:10} {row['phase']}: " + ", ".join(
                    f"{r} {row['per_outage'][r]:+.1f}" for r in RESOURCES) + flag)
                continue
            cells = " ".join(f"{row[r]['start']:>9.0f} > {row[r]['end']:<8.0f}({row[r]['per_round']:+.3f})"
                             for r in RESOURCES)
            up = "" if row["brokerscale_up"] is None else f"{row['brokerscale_up']:g}"
            flag = "  LEAK: " + ",".join(row["leaks"]) if row["leaks"] else ""
            flag += f"  EXITED ({row['exited']})" if row["exited"] else ("" if row["truthful"] else "  UNTRUTHFUL")
            print(f"{row['verb']:10} {row['phase']:15} {row['rounds']:>6} {cells}  {up}{flag}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
