"""Benchmark: MirrorMaker 2 as brokerscale manages it (`dr up`) against MirrorMaker 2 as Kafka ships it.

Two local one-broker clusters. In the same run, for each rate (5 MB/s, then as fast as the load
generator goes):
  baseline    — Apache Kafka's MirrorMaker 2 started by hand (`org.apache.kafka.connect.mirror.MirrorMaker`,
                a minimal mm2.properties: clusters, bootstraps, the topic, replication factor 1);
  brokerscale — `brokerscale dr up --apply` (generated mm2.properties: checkpoints, group sync,
                heartbeats, sovereignty exclusions) with its position watcher.
Each copies the same freshly produced backlog plus a live stream: reported are the replication
throughput (MB/s landed on the target while the producer runs) and the steady-state lag (records and
seconds behind, from log-end offsets on both sides, sampled every second), and the ratio of
brokerscale's throughput to the baseline's (target: >= 0.9: management must not slow replication).
The machine is shared: figures are noisy, compare within one run only.

    python benchmarks/dr_replication.py [--seconds 40] [--rates 5MB/s,max]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("BROKERSCALE_DATA_DIR", tempfile.mkdtemp(prefix="bs-dr-bench-"))

from brokerscale.connect import ConnectionProfile
from brokerscale.dev.cluster import DevCluster
from brokerscale.dev.jars import fetch
from brokerscale.dr.process import MM2_MAIN

TARGET_RATIO = 0.9
SIZE = 1024


def _ends(bootstrap: str, topic: str) -> int:
    with ConnectionProfile(bootstrap).admin() as admin:
        if topic not in admin.topic_names():
            return 0
        info = admin.topics([topic])[0]
        return sum(admin.offsets([(topic, p.partition) for p in info.partitions]).values())


def _produce(bootstrap: str, topic: str, rate: str, seconds: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "brokerscale", "load", "-b", bootstrap, "-t", topic, "--rate", rate,
                             "--size", "1KB", "--size-spread", "0", "--duration", f"{seconds}s", "--partitions", "3",
                             "--replication-factor", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _measure(east: DevCluster, west: DevCluster, topic: str, rate: str, seconds: int) -> dict[str, float]:
    """Replication throughput and steady-state lag while the producer runs.

    Each sample reads the target's log end first and the source's second: the source only grows, so
    the lag (source minus target) is never negative — reading them the other way round made a fast
    target look ahead of the source (the slightly negative lag of earlier runs). Lag in seconds is the
    lag in records over the producer's rate during the run (not counting the backlog produced before).
    """
    start_dst = _ends(west.bootstrap, topic)
    start_src = _ends(east.bootstrap, topic)
    prod = _produce(east.bootstrap, topic, rate, seconds)
    t0 = time.time()
    lags, samples = [], []
    while prod.poll() is None:
        time.sleep(1.0)
        dst = _ends(west.bootstrap, topic)
        src = _ends(east.bootstrap, topic)
        samples.append((time.time(), dst))
        lags.append(src - dst)
    elapsed = time.time() - t0
    moved = samples[-1][1] - start_dst if samples else 0
    src_rate = (_ends(east.bootstrap, topic) - start_src) / max(elapsed, 1e-9)
    steady = lags[len(lags) // 3:] or lags
    lag_records = statistics.median(steady) if steady else 0.0
    return {"mb_s": moved * SIZE / elapsed / 1e6, "produced_mb_s": src_rate * SIZE / 1e6, "lag_records": lag_records,
            "lag_s": lag_records / src_rate if src_rate else 0.0}


def _baseline(east: DevCluster, west: DevCluster, topic: str, workdir: Path) -> subprocess.Popen[bytes]:
    props = workdir / "mm2.properties"
    props.write_text(f"clusters = a, b\na.bootstrap.servers = {east.bootstrap}\n"
                     f"b.bootstrap.servers = {west.bootstrap}\n"
                     f"a->b.enabled = true\nb->a.enabled = false\na->b.topics = {topic}\nreplication.factor = 1\n"
                     "checkpoints.topic.replication.factor = 1\nheartbeats.topic.replication.factor = 1\n"
                     "offset-syncs.topic.replication.factor = 1\noffset.storage.replication.factor = 1\n"
                     "config.storage.replication.factor = 1\nstatus.storage.replication.factor = 1\n"
                     "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n"
                     "sync.topic.acls.enabled = false\n")
    log = open(workdir / "baseline.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(["java", "-Xmx256m", "-XX:+UseSerialGC", "-cp", fetch().classpath, MM2_MAIN, str(props),
                             "--clusters", "b"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=40)
    ap.add_argument("--rates", default="5MB/s,max", help="comma-separated: 5MB/s, max (default both)")
    args = ap.parse_args()
    legs = [(label, rate) for label, rate in (("5 MB/s", "5MB/s"), ("max", "0"))
            if label.replace(" ", "") in args.rates.split(",")]
    east = DevCluster.up("bench-east", brokers=1, racks=["a"])
    west = DevCluster.up("bench-west", brokers=1, racks=["a"])
    work = Path(tempfile.mkdtemp(prefix="bs-dr-bench-work-"))
    rows = []
    try:
        for label, rate in legs:
            topic = f"ops.bench-base-{label[0]}"
            base = _baseline(east, west, topic, work)
            try:
                _produce(east.bootstrap, topic, "1000", 3).wait()
                deadline = time.time() + 240
                while _ends(west.bootstrap, topic) == 0 and time.time() < deadline:
                    time.sleep(2)
                b = _measure(east, west, topic, rate, args.seconds)
            finally:
                base.terminate()
                base.wait(60)
            topic = f"ops.bench-bs-{label[0]}"
            topo = work / f"topology-{label[0]}.yaml"
            topo.write_text(f"clusters:\n  src{label[0]}: {{dev: bench-east, region: r1, jurisdiction: US}}\n"
                            f"  dst{label[0]}: {{dev: bench-west, region: r2, jurisdiction: US}}\n"
                            f"flows:\n  bench-{label[0]}:\n    source: src{label[0]}\n    target: dst{label[0]}\n"
                            f"    topics: ['{topic}']\n    replication_factor: 1\n")
            _produce(east.bootstrap, topic, "1000", 3).wait()
            subprocess.run([sys.executable, "-m", "brokerscale", "dr", "up", "--topology", str(topo), "--apply"],
                           check=True, stdout=subprocess.DEVNULL)
            try:
                deadline = time.time() + 240
                while _ends(west.bootstrap, topic) == 0 and time.time() < deadline:
                    time.sleep(2)
                s = _measure(east, west, topic, rate, args.seconds)
            finally:
                subprocess.run([sys.executable, "-m", "brokerscale", "dr", "down", "--topology", str(topo)],
                               stdout=subprocess.DEVNULL, check=False)
            rows.append((label, b, s))
    finally:
        west.down()
        east.down()
        shutil.rmtree(work, ignore_errors=True)
    ok = True
    print(f"{'rate':8} {'side':12} {'MB/s produced':>14} {'MB/s replicated':>16} {'lag records':>12} {'lag s':>7}")
    for label, b, s in rows:
        for side, r in (("baseline", b), ("brokerscale", s)):
            print(f"{label:8} {side:12} {r['produced_mb_s']:14.2f} {r['mb_s']:16.2f} {r['lag_records']:12.0f} "
                  f"{r['lag_s']:7.2f}")
        ratio = s["mb_s"] / b["mb_s"] if b["mb_s"] else float("nan")
        ok = ok and ratio >= TARGET_RATIO
        print(f"{label:8} ratio brokerscale/baseline throughput: {ratio:.2f} (target >= {TARGET_RATIO})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
