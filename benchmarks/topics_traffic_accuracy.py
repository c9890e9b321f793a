"""Benchmark: how close `topics optimize`'s traffic measurement is to the truth. Target: within ±20 %.

In the same run, on a real cluster:
  truth       — `brokerscale load` producing at a fixed rate (acks=all; it reports MB/s acknowledged)
                and a paced consumer group (`brokerscale load --consume`, reports MB/s consumed);
  brokerscale — `TopicsAdmin.measure()` over --window from offsets (log-end offsets fitted over 9
                samples; committed offsets timed between observed commits; × record size on disk),
                and, when exporter URLs are known, from the brokers' own byte counters (JMX).
Prints measured / true for ingress and egress. The load generator counts payload bytes; brokers (and
so both measurements) also count keys, record and batch headers — about +6 % for 1 KB records — which
is the right figure for capacity, and part of the tolerance.

    python benchmarks/topics_traffic_accuracy.py [--bootstrap HOST:PORT] [--rate 1000] [--window 10s]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from brokerscale.connect import ConnectionProfile
from brokerscale.topics.live import TopicsAdmin
from brokerscale.topics.metrics import metrics_source
from brokerscale.units import parse_duration

TOPIC = "clinical.bench-accuracy"
TOLERANCE = 0.20


def _load(bootstrap: str, args: list[str], out: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "brokerscale", "load", "-b", bootstrap, "--topic", TOPIC, "--format", "json", *args]
    return subprocess.Popen(cmd, stdout=out.open("wb"), stderr=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", help="Default: a dev cluster named bench-topics (started if needed).")
    ap.add_argument("--rate", type=int, default=1000, help="Producer msgs/s (1 KB each); the consumer reads half.")
    ap.add_argument("--window", default="10s")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    window = parse_duration(args.window)
    cluster = None
    if args.bootstrap:
        bootstrap = args.bootstrap
    else:
        from brokerscale.dev.cluster import DevCluster

        cluster = DevCluster.find("bench-topics") or DevCluster.up("bench-topics", brokers=3, racks=["a", "b", "c"])
        bootstrap = cluster.bootstrap
    duration = int(window * 2 + 60)
    tmp = Path(f"/tmp/brokerscale-accuracy-{int(time.time())}")
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        producer = _load(bootstrap, ["--rate", str(args.rate), "--size", "1KB", "--size-spread", "0",
                                     "--partitions", "12", "--duration", f"{duration}s"], tmp / "produce.json")
        time.sleep(10)  # the topic exists and traffic is steady
        consumer = _load(bootstrap, ["--consume", "bench-accuracy", "--rate", str(args.rate // 2),
                                     "--duration", f"{duration - 10}s"], tmp / "consume.json")
        time.sleep(15)  # the group has joined and committed at least once
        profile = ConnectionProfile(bootstrap)
        with TopicsAdmin(profile) as admin:
            offsets = admin.measure([TOPIC], window).rates[TOPIC]
            source = metrics_source(bootstrap, None, "auto")
            jmx = admin.measure([TOPIC], window, metrics=source).rates[TOPIC] if source else None
        producer.wait(duration + 120)
        consumer.wait(duration + 120)
        produced = json.loads((tmp / "produce.json").read_text())
        consumed = json.loads((tmp / "consume.json").read_text())
    finally:
        if cluster is not None and not args.keep:
            cluster.down()
    true_in, true_out = produced["mb_per_s"] * 1e6, consumed["mb_per_s"] * 1e6
    print(f"truth (load generator): in {true_in / 1e6:.3f} MB/s, out {true_out / 1e6:.3f} MB/s")
    ok = True
    rows = [("offsets", offsets)] + ([("broker metrics", jmx)] if jmx is not None else [])
    for name, r in rows:
        rin, rout = r.bytes_in_per_s / true_in, r.bytes_out_per_s / true_out
        print(f"{name:15s} in {r.bytes_in_per_s / 1e6:.3f} MB/s (ratio {rin:.2f})   "
              f"out {r.bytes_out_per_s / 1e6:.3f} MB/s (ratio {rout:.2f})   [{r.source}]")
        ok &= abs(rin - 1) <= TOLERANCE and (name != "offsets" or abs(rout - 1) <= TOLERANCE)
    print(f"target: within ±{TOLERANCE:.0%} of the truth: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
