#!/usr/bin/env python3
"""Start and stop a local dev cluster N times in a row and count the failures.

`brokerscale dev up` is what the demo, the tests, CI and the benchmarks stand on, so a rare failure
to start turns into flaky runs. This runs the real CLI (each cycle: `dev up --brokers B`, a check
that every broker answers, `dev down`) and prints one line per cycle and a summary; exit code 1 if
any cycle failed or left a process or the state directory behind.

    python scripts/dev_up_cycles.py --cycles 30 --brokers 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def pids_mentioning(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "brokerscale", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=30)
    ap.add_argument("--brokers", type=int, default=3)
    ap.add_argument("--name", default="cycles")
    ap.add_argument("--data-dir", help="BROKERSCALE_DATA_DIR for the run (default: a fresh temporary one)")
    opts = ap.parse_args()
    data = Path(opts.data_dir or tempfile.mkdtemp(prefix="brokerscale-cycles-"))
    env = {**os.environ, "BROKERSCALE_DATA_DIR": str(data)}
    root = data / "clusters" / opts.name
    failures: list[str] = []
    durations: list[float] = []
    for i in range(1, opts.cycles + 1):
        started = time.monotonic()
        up = run(["dev", "up", "--brokers", str(opts.brokers), "--name", opts.name, "--format", "json"], env, 600)
        took = time.monotonic() - started
        problem = ""
        if up.returncode != 0:
            problem = f"dev up exit {up.returncode}: {up.stderr.strip().splitlines()[-1:] or ['no output']}"
        else:
            doc = json.loads(up.stdout)
            ports = [b["port"] for b in doc["brokers"]] + [b["metrics_url"] for b in doc["brokers"]]
            if len(set(ports)) != len(ports) or not all(b["alive"] for b in doc["brokers"]):
                problem = f"dev up reported {doc['brokers']}"
        retries = up.stderr.count("lost a port race")
        down = run(["dev", "down", "--name", opts.name], env, 300)
        if down.returncode != 0 and not problem and root.exists():
            problem = f"dev down exit {down.returncode}: {down.stderr.strip()}"
        left = pids_mentioning(f"{root}/")
        if left or root.exists():
            problem = (problem + "; " if problem else "") + f"left behind: pids {left}, directory {root.exists()}"
        durations.append(took)
        status = "ok" if not problem else f"FAILED {problem}"
        print(f"cycle {i:3d}/{opts.cycles}: dev up {took:5.1f}s, port-race retries {retries}: {status}", flush=True)
        if problem:
            failures.append(f"cycle {i}: {problem}")
    durations.sort()
    print(f"\n{opts.cycles - len(failures)} of {opts.cycles} cycles ok, {len(failures)} failed; "
          f"dev up median {durations[len(durations) // 2]:.1f}s, max {durations[-1]:.1f}s "
          f"({opts.brokers} brokers, data dir {data})")
    for f in failures:
        print("  " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
