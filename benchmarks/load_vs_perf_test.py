"""Producer throughput: `brokerscale load` vs Apache Kafka's `kafka-producer-perf-test`.

Same local cluster, same topic, same record count, fixed 5,000-byte records, `acks=all` with
idempotence, as fast as each can go. The two run alternately (3 runs each by default) so drifting
machine load hits both alike; the medians and their ratio are printed. Target: ratio >= 0.9.

    python benchmarks/load_vs_perf_test.py                      # starts (and stops) its own dev cluster
    python benchmarks/load_vs_perf_test.py --cluster NAME       # or use a running dev cluster
    python benchmarks/load_vs_perf_test.py --bootstrap HOST:PORT --records 20000 --runs 3

The Java tool runs with the heap its own launcher script uses (`-Xmx512M`), not brokerscale's
reduced tool settings, and with the same producer tuning as `brokerscale load` (linger.ms=5,
batch.size=1 MB, 64 MB buffer, no compression) so only the clients differ. Both figures are records acknowledged
per second from the first send to the last acknowledgement (perf-test's own definition).
Exit code 0 when the ratio meets the target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time

from brokerscale.dev.tools import JAVA_TOOL_OPTS, tool_command

TARGET_RATIO = 0.9
RECORD_SIZE = 5000
TOPIC = "bench.load-vs-perf-test"
# the producer tuning brokerscale load uses, given to the Java producer too so only the clients differ
SAME_TUNING = ["linger.ms=5", "batch.size=1000000", "buffer.memory=67108864"]
_PERF_LINE = re.compile(r"(\d+) records sent, ([0-9.]+) records/sec \(([0-9.]+) MB/sec\), "
                        r"([0-9.]+) ms avg latency, ([0-9.]+) ms max latency(?:, (\d+) ms 50th, (\d+) ms 95th, "
                        r"(\d+) ms 99th)?")


def perf_test(bootstrap: str, records: int) -> dict[str, float]:
    cmd = tool_command("kafka-producer-perf-test", [
        "--topic", TOPIC, "--num-records", str(records), "--record-size", str(RECORD_SIZE),
        "--throughput", "-1", "--producer-props", f"bootstrap.servers={bootstrap}", "acks=all",
        "enable.idempotence=true", "compression.type=none", *SAME_TUNING])
    cmd = [c for c in cmd if c not in JAVA_TOOL_OPTS]
    cmd.insert(1, "-Xmx512M")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    finals = [m for m in _PERF_LINE.finditer(proc.stdout) if m.group(6) is not None]
    if proc.returncode != 0 or not finals:
        sys.exit(f"kafka-producer-perf-test failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    m = finals[-1]
    if int(m.group(1)) != records:
        sys.exit(f"kafka-producer-perf-test sent {m.group(1)} of {records} records")
    return {"msgs_per_s": float(m.group(2)), "mb_per_s": float(m.group(2)) * RECORD_SIZE / 1e6,
            "p99_ms": float(m.group(8))}


def brokerscale_load(bootstrap: str, records: int) -> dict[str, float]:
    cmd = [sys.executable, "-m", "brokerscale", "load", "--bootstrap", bootstrap, "--topic", TOPIC, "--max",
           "--count", str(records), "--size", str(RECORD_SIZE), "--size-spread", "0", "--duration", "1h",
           "--format", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        sys.exit(f"brokerscale load failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    rep = json.loads(proc.stdout)
    if rep["acked"] != records or rep["errors"]:
        sys.exit(f"brokerscale load acked {rep['acked']} of {records} ({rep['errors']} errors)")
    return {"msgs_per_s": rep["msgs_per_s"], "mb_per_s": rep["mb_per_s"], "p99_ms": rep["p99_ms"]}


def create_topic(bootstrap: str) -> None:
    """6 partitions, RF 3, and small segments with bounded retention so repeated runs don't fill the disk."""
    from brokerscale.connect import ConnectionProfile

    with ConnectionProfile(bootstrap).admin() as admin:
        admin.create_topic(TOPIC, 6, 3, configs={"segment.bytes": str(64 * 2**20),
                                                 "retention.bytes": str(256 * 2**20)})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", help="an existing cluster (default: start a dev cluster 'bench-load')")
    ap.add_argument("--cluster", help="a running dev cluster by name")
    ap.add_argument("--records", type=int, default=50_000,
                    help="records per run (default 50000 = 250 MB: long enough to amortise the JVM's warm-up)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each tool (default 3; more on a noisy machine)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()

    from brokerscale.dev.cluster import DevCluster

    own = None
    bootstrap = args.bootstrap
    if args.cluster:
        found = DevCluster.find(args.cluster)
        if found is None:
            sys.exit(f"no dev cluster named {args.cluster!r}")
        bootstrap = found.bootstrap
    if bootstrap is None:
        print("starting dev cluster 'bench-load' (3 brokers)…", file=sys.stderr)
        own = DevCluster.up("bench-load", brokers=3)
        bootstrap = own.bootstrap
    try:
        create_topic(bootstrap)
        results: dict[str, list[dict[str, float]]] = {"kafka-producer-perf-test": [], "brokerscale load": []}
        for i in range(args.runs):
            for name, fn in (("kafka-producer-perf-test", perf_test), ("brokerscale load", brokerscale_load)):
                r = fn(bootstrap, args.records)
                results[name].append(r)
                print(f"run {i + 1}/{args.runs} {name:<25} {r['msgs_per_s']:>9,.0f} msgs/s "
                      f"{r['mb_per_s']:>7.1f} MB/s  p99 {r['p99_ms']:,.0f} ms", file=sys.stderr, flush=True)
                time.sleep(1)
    finally:
        if own is not None:
            own.down()
    java = statistics.median(r["msgs_per_s"] for r in results["kafka-producer-perf-test"])
    ours = statistics.median(r["msgs_per_s"] for r in results["brokerscale load"])
    ratio = ours / java
    pairs = [b["msgs_per_s"] / a["msgs_per_s"] for a, b in zip(results["kafka-producer-perf-test"],
                                                              results["brokerscale load"], strict=True)]
    ok = ratio >= TARGET_RATIO
    if args.json:
        print(json.dumps({"records": args.records, "record_size": RECORD_SIZE, "runs": args.runs,
                          "perf_test_median_msgs_per_s": java, "brokerscale_median_msgs_per_s": ours,
                          "ratio": round(ratio, 3), "pair_ratios": [round(r, 3) for r in pairs],
                          "target": TARGET_RATIO, "ok": ok, "runs_detail": results}))
    else:
        print(f"records per run: {args.records:,} x {RECORD_SIZE:,} B, acks=all, idempotent, {args.runs} runs each")
        print(f"kafka-producer-perf-test median: {java:>9,.0f} msgs/s ({java * RECORD_SIZE / 1e6:.1f} MB/s)")
        print(f"brokerscale load median:         {ours:>9,.0f} msgs/s ({ours * RECORD_SIZE / 1e6:.1f} MB/s)")
        print(f"ratio brokerscale / perf-test:   {ratio:.2f}  (target >= {TARGET_RATIO}) {'OK' if ok else 'MISSED'}")
        print(f"per-pair ratios (run i vs run i): {', '.join(f'{r:.2f}' for r in pairs)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
