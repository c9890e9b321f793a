"""Benchmark: a full consumer-lag snapshot, brokerscale vs Apache Kafka's `kafka-consumer-groups`.

On a local cluster: 5,000 partitions (100 topics x 50, replication 1) with records in every partition,
and 100 consumer groups with committed offsets (group i on topic i, all 50 partitions). Then, in the
same run and alternately (so machine load hits both alike), each tool takes a full lag snapshot of
every group, as a fresh process:

  baseline    — `kafka-consumer-groups --bootstrap-server B --describe --all-groups` (from the jars)
  brokerscale — `brokerscale lag --bootstrap B --samples 1 --no-history --format json`

The outputs are checked to agree (same groups, partitions and total lag). Printed: the baseline's wall
time (JVM start-up included: the tool has no other mode), brokerscale's snapshot as `check`, `observe
--watch` and the exporter take it (in a running process), and the `brokerscale lag` process (Python and
CLI start-up included). The target (brokerscale >= 10x faster) is judged on the snapshot; both ratios
are printed. Runs alternate so machine load hits both alike; medians are compared.

    python benchmarks/lag_snapshot.py                  # starts (and stops) its own dev cluster
    python benchmarks/lag_snapshot.py --keep           # leave the cluster (and its topics) for the next run
    python benchmarks/lag_snapshot.py --runs 3 --topics 100 --partitions 50 --groups 100

Exit code 0 when the ratio meets the target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

TARGET_RATIO = 10.0
CLUSTER = "lag-bench"


def _setup(bootstrap: str, topics: int, partitions: int, groups: int) -> int:
    """Topics, records and committed offsets; idempotent (existing topics and offsets are reused)."""
    from confluent_kafka import Producer
    from kafka import KafkaAdminClient, TopicPartition
    from kafka.admin import NewTopic
    from kafka.errors import CoordinatorLoadInProgressError, CoordinatorNotAvailableError, NotCoordinatorError
    from kafka.structs import OffsetAndMetadata

    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), request_timeout_ms=120_000)
    names = [f"bench.lag.{i:03d}" for i in range(topics)]
    existing = set(admin.list_topics())
    missing = [n for n in names if n not in existing]
    if missing:
        print(f"creating {len(missing)} topics x {partitions} partitions ...", flush=True)
        for i in range(0, len(missing), 20):
            admin.create_topics([NewTopic(n, partitions, 1) for n in missing[i:i + 20]], timeout_ms=120_000)
        admin.wait_for_topics(missing, timeout_ms=300_000)
        print("writing 10 records to every partition ...", flush=True)
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "queue.buffering.max.messages": 200_000})
        for n in missing:
            for part in range(partitions):
                for _ in range(10):
                    p.produce(n, b"bench", partition=part)
            p.poll(0)
        p.flush(120)
    have = {g["group_id"] for g in admin.list_groups()}
    todo = [i for i in range(groups) if f"bench-group-{i:03d}" not in have]
    if todo:
        print(f"committing offsets for {len(todo)} groups ...", flush=True)
    for i in todo:
        offsets = {TopicPartition(names[i % topics], part): OffsetAndMetadata(3 + part % 5, "", -1)
                   for part in range(partitions)}
        for attempt in range(60):  # the first group creates __consumer_offsets: coordinators come up late
            try:
                admin.alter_group_offsets(f"bench-group-{i:03d}", offsets)
                break
            except (CoordinatorNotAvailableError, CoordinatorLoadInProgressError, NotCoordinatorError):
                if attempt == 59:
                    raise
                time.sleep(1)
    admin.close()
    return groups * partitions


def _time(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({res.returncode}): {(res.stderr or res.stdout).strip()[-500:]}")
    return elapsed, res.stdout


def _baseline_rows(text: str) -> tuple[int, int, set[str]]:
    """Rows, total lag and groups from kafka-consumer-groups' table output."""
    rows = lag = 0
    groups: set[str] = set()
    for line in text.splitlines():
        cols = line.split()
        if len(cols) >= 6 and cols[0].startswith("bench-group-") and cols[3].isdigit():
            rows += 1
            groups.add(cols[0])
            lag += int(cols[5]) if cols[5].isdigit() else 0
    return rows, lag, groups


def _brokerscale_rows(text: str) -> tuple[int, int, set[str]]:
    doc = json.loads(text)
    groups = [g for g in doc["groups"] if g["group"].startswith("bench-group-")]
    rows = sum(len(g["partitions"]) for g in groups)
    return rows, sum(g["lag_offsets"] for g in groups), {g["group"] for g in groups}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", help="use this cluster instead of starting the dev cluster 'lag-bench'")
    ap.add_argument("--topics", type=int, default=100)
    ap.add_argument("--partitions", type=int, default=50)
    ap.add_argument("--groups", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="leave the dev cluster running")
    args = ap.parse_args()

    from brokerscale.dev.tools import tool_command

    cluster = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        from brokerscale.dev.cluster import DevCluster

        print(f"starting dev cluster {CLUSTER!r} (3 brokers) ...", flush=True)
        cluster = DevCluster.up(CLUSTER, brokers=3, on_progress=lambda m: print("  " + m, flush=True))
        bootstrap = cluster.bootstrap
    try:
        expected = _setup(bootstrap, args.topics, args.partitions, args.groups)
        baseline_cmd = tool_command("kafka-consumer-groups", ["--bootstrap-server", bootstrap, "--describe",
                                                              "--all-groups"])
        ours_cmd = [sys.executable, "-m", "brokerscale", "lag", "--bootstrap", bootstrap, "--samples", "1",
                    "--no-history", "--format", "json"]
        env_note = f"{expected:,} group-partitions ({args.groups} groups x {args.partitions} partitions)"
        print(f"timing {args.runs} alternate runs each on {env_note} ...", flush=True)
        from brokerscale.connect import ConnectionProfile
        from brokerscale.observe import kafka_source
        from brokerscale.observe.lag_history import OffsetHistory, lag_snapshot

        admin = ConnectionProfile(bootstrap).admin()
        base_t: list[float] = []
        ours_t: list[float] = []
        inproc: list[float] = []
        base_out = ours_out = ""
        for _ in range(args.runs):
            t, base_out = _time(baseline_cmd)
            base_t.append(t)
            t, ours_out = _time(ours_cmd)
            ours_t.append(t)
            t = time.perf_counter()  # the snapshot itself, in a running process (no interpreter start-up)
            view = kafka_source.collect(admin, sizes=False, configs=False)
            hist = OffsetHistory()
            hist.add_view(view)
            lag_snapshot(hist, view)
            inproc.append(time.perf_counter() - t)
        admin.close()
        b_rows, b_lag, b_groups = _baseline_rows(base_out)
        o_rows, o_lag, o_groups = _brokerscale_rows(ours_out)
        if (b_rows, b_lag, b_groups) != (o_rows, o_lag, o_groups) or o_rows != expected:
            print(f"MISMATCH: kafka-consumer-groups {b_rows} rows, lag {b_lag}, {len(b_groups)} groups; "
                  f"brokerscale {o_rows} rows, lag {o_lag}, {len(o_groups)} groups (expected {expected} rows)")
            return 1
        b, o, i = statistics.median(base_t), statistics.median(ours_t), statistics.median(inproc)
        ratio = b / i
        print(f"both agree: {o_rows:,} partition rows, {len(o_groups)} groups, total lag {o_lag:,} offsets")
        print(f"kafka-consumer-groups --describe --all-groups (process): {b:7.2f} s  (runs: "
              + ", ".join(f"{x:.2f}" for x in base_t) + ")")
        print(f"brokerscale lag snapshot (in-process, as check/exporter): {i:7.2f} s  (runs: "
              + ", ".join(f"{x:.2f}" for x in inproc) + ")")
        print(f"brokerscale lag (process, CLI start-up included)       : {o:7.2f} s  (runs: "
              + ", ".join(f"{x:.2f}" for x in ours_t) + ")")
        verdict = "MET" if ratio >= TARGET_RATIO else "NOT MET"
        print(f"ratio snapshot: {ratio:.1f}x  (target >= {TARGET_RATIO:.0f}x: {verdict})"
              f"   ratio process-to-process: {b / o:.1f}x   load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} CPUs")
        return 0 if ratio >= TARGET_RATIO else 1
    finally:
        if cluster is not None and not args.keep:
            print(f"stopping dev cluster {CLUSTER!r}", flush=True)
            cluster.down()


if __name__ == "__main__":
    sys.exit(main())
