"""Benchmark: a full consumer-lag snapshot, brokerscale vs Apache Kafka's `kafka-consumer-groups`.

On a local cluster: 5,000 partitions (100 topics x 50, replication 1) with records in every partition
and 100 consumer groups with committed offsets (topic j read by group j % groups), then grown to the
scaling guide's 20,000 partitions with 300 groups. At each size, in the same run and alternately (so
machine load hits both alike), each tool takes a full lag snapshot of every group, as a fresh process:

  baseline    — `kafka-consumer-groups --bootstrap-server B --describe --all-groups` (from the jars)
  brokerscale — `brokerscale lag --bootstrap B --samples 1 --no-history --format json`

The outputs are checked to agree (same groups, partitions and total lag). Printed: the baseline's wall
time (JVM start-up included: the tool has no other mode), brokerscale's snapshot as `check`, `observe
--watch` and the exporter take it (in a running process), and the `brokerscale lag` process (Python and
CLI start-up included). Targets at 20,000: snapshot >= 10x faster, process >= 5x faster, and both
growing no faster than linearly from 5,000 to 20,000. Medians of alternate runs are compared. The dev
brokers get a 1 GB heap for this run (BROKERSCALE_DEV_BROKER_HEAP).

    python benchmarks/lag_snapshot.py                  # starts (and stops) its own dev cluster
    python benchmarks/lag_snapshot.py --keep           # leave the cluster (and its topics) for the next run
    python benchmarks/lag_snapshot.py --runs 3 --scales 5000:100,20000:300 --partitions 50

Exit code 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

TARGET_RATIO = 10.0
PROCESS_RATIO = 5.0
CLUSTER = "lag-bench"


def _setup(bootstrap: str, topics: int, partitions: int, groups: int) -> int:
    """Topics, records and committed offsets; idempotent (existing topics and offsets are reused).

    Topic j is read by group j % groups (all its partitions), so every partition has exactly one group
    and a larger scale only adds topics and groups to a smaller one."""
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
    committed: dict[str, set[str]] = {}
    have = {g["group_id"] for g in admin.list_groups()}
    for gid in have:
        if gid.startswith("bench-group-"):
            committed[gid] = {tp.topic for tp in admin.list_group_offsets(gid)[gid]}
    todo = [(j, f"bench-group-{j % groups:03d}") for j in range(topics)]
    todo = [(j, g) for j, g in todo if names[j] not in committed.get(g, set())]
    if todo:
        print(f"committing offsets for {len(todo)} (group, topic) pairs ...", flush=True)
    for j, gid in todo:
        offsets = {TopicPartition(names[j], part): OffsetAndMetadata(3 + part % 5, "", -1)
                   for part in range(partitions)}
        for attempt in range(60):  # the first group creates __consumer_offsets: coordinators come up late
            try:
                # errors come back per partition (NoError on success), not only raised
                result = admin.alter_group_offsets(gid, offsets)
                failed = {err.__name__ for err in result.values() if err.__name__ != "NoError"}
                if not failed:
                    break
                if attempt == 59:
                    raise SystemExit(f"committing offsets for {gid} failed: {', '.join(sorted(failed))}")
            except (CoordinatorNotAvailableError, CoordinatorLoadInProgressError, NotCoordinatorError):
                if attempt == 59:
                    raise
            time.sleep(1)
    admin.close()
    return topics * partitions


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(cmd: list[str]) -> tuple[float, float, str]:
    """Wall time, CPU time (user + system, all threads) and output of one run of `cmd`."""
    t, cpu = time.perf_counter(), _children_cpu()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({res.returncode}): {(res.stderr or res.stdout).strip()[-500:]}")
    return elapsed, _children_cpu() - cpu, res.stdout


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


def _compile_bytecode() -> None:
    """Byte-compile brokerscale as `pip install` does. Without it a process started with
    PYTHONDONTWRITEBYTECODE set (this machine's shells) compiles every brokerscale module it imports on
    every run (~0.3 s), which no installed copy does."""
    import compileall
    from pathlib import Path

    import brokerscale

    compileall.compile_dir(str(Path(brokerscale.__file__).parent), quiet=1)


def _measure(bootstrap: str, runs: int, expected: int, groups: int) -> dict[str, float] | None:
    """Alternate runs of both tools on the cluster as it is; medians, or None if the outputs disagree."""
    from brokerscale.connect import ConnectionProfile
    from brokerscale.dev.tools import tool_command
    from brokerscale.gcpause import paused_gc
    from brokerscale.observe import kafka_source
    from brokerscale.observe.lag_history import OffsetHistory, lag_snapshot

    _compile_bytecode()
    baseline_cmd = tool_command("kafka-consumer-groups", ["--bootstrap-server", bootstrap, "--describe",
                                                          "--all-groups"])
    ours_cmd = [sys.executable, "-m", "brokerscale", "lag", "--bootstrap", bootstrap, "--samples", "1",
                "--no-history", "--format", "json"]
    print(f"timing {runs} alternate runs each on {expected:,} group-partitions ({groups} groups) ...", flush=True)
    admin = ConnectionProfile(bootstrap).admin()
    base_t: list[float] = []
    ours_t: list[float] = []
    inproc: list[float] = []
    cpu: dict[str, list[float]] = {"baseline": [], "snapshot": [], "process": []}
    base_out = ours_out = ""
    for _ in range(runs):
        t, c, base_out = _time(baseline_cmd)
        base_t.append(t)
        cpu["baseline"].append(c)
        t, c, ours_out = _time(ours_cmd)
        ours_t.append(t)
        cpu["process"].append(c)
        # The snapshot in a running process (no start-up), under one pause of the cycle collector as
        # Observer.sample takes it for check, observe and the exporter; the collector's pass over what the
        # round keeps (view, history, lag) at the end of the pause is timed too.
        t, c = time.perf_counter(), time.process_time()
        with paused_gc():
            view = kafka_source.collect(admin, sizes=False, configs=False)
            hist = OffsetHistory()
            hist.add_view(view)
            groups = lag_snapshot(hist, view)
        inproc.append(time.perf_counter() - t)
        cpu["snapshot"].append(time.process_time() - c)
        del view, hist, groups
    admin.close()
    b_rows, b_lag, b_groups = _baseline_rows(base_out)
    o_rows, o_lag, o_groups = _brokerscale_rows(ours_out)
    if (b_rows, b_lag, b_groups) != (o_rows, o_lag, o_groups) or o_rows != expected:
        print(f"MISMATCH: kafka-consumer-groups {b_rows} rows, lag {b_lag}, {len(b_groups)} groups; "
              f"brokerscale {o_rows} rows, lag {o_lag}, {len(o_groups)} groups (expected {expected} rows)")
        return None
    b, o, i = statistics.median(base_t), statistics.median(ours_t), statistics.median(inproc)
    print(f"both agree: {o_rows:,} partition rows, {len(o_groups)} groups, total lag {o_lag:,} offsets")
    print(f"kafka-consumer-groups --describe --all-groups (process): {b:7.2f} s  (runs: "
          + ", ".join(f"{x:.2f}" for x in base_t) + ")")
    print(f"brokerscale lag snapshot (in-process, as check/exporter): {i:7.2f} s  (runs: "
          + ", ".join(f"{x:.2f}" for x in inproc) + ")")
    print(f"brokerscale lag (process, CLI start-up included)       : {o:7.2f} s  (runs: "
          + ", ".join(f"{x:.2f}" for x in ours_t) + ")")
    print(f"ratio snapshot: {b / i:.1f}x (target >= {TARGET_RATIO:.0f}x)   ratio process-to-process: "
          f"{b / o:.1f}x (target >= {PROCESS_RATIO:.0f}x)   load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs", flush=True)
    # On a shared machine wall time is mostly other people's load; CPU time (user + system, every thread)
    # is what each tool itself spends (the brokers' work answering is in neither).
    cb, cs, cp = (statistics.median(cpu[k]) for k in ("baseline", "snapshot", "process"))
    print(f"CPU time (medians): kafka-consumer-groups {cb:.2f} s, snapshot {cs:.2f} s, brokerscale lag {cp:.2f} s; "
          f"ratios {cb / cs:.1f}x and {cb / cp:.1f}x (for information: the targets are wall time)", flush=True)
    return {"baseline": b, "snapshot": i, "process": o}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", help="use this cluster instead of starting the dev cluster 'lag-bench'")
    ap.add_argument("--scales", default="5000:100,20000:300", metavar="PARTITIONS:GROUPS,...",
                    help="sizes measured in order on one cluster (each adds topics and groups to the last)")
    ap.add_argument("--partitions", type=int, default=50, help="partitions per topic")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="leave the dev cluster running")
    args = ap.parse_args()
    scales = [tuple(int(x) for x in step.split(":")) for step in args.scales.split(",")]

    # 20,000 partitions need more than the dev brokers' default heap (read when dev.cluster is imported)
    os.environ.setdefault("BROKERSCALE_DEV_BROKER_HEAP", "1g")
    cluster = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        from brokerscale.dev.cluster import DevCluster

        print(f"starting dev cluster {CLUSTER!r} (3 brokers) ...", flush=True)
        cluster = DevCluster.up(CLUSTER, brokers=3, on_progress=lambda m: print("  " + m, flush=True))
        bootstrap = cluster.bootstrap
    results: list[tuple[int, dict[str, float]]] = []
    try:
        for total, groups in scales:
            print(f"--- {total:,} partitions, {groups} groups", flush=True)
            expected = _setup(bootstrap, total // args.partitions, args.partitions, groups)
            found = _measure(bootstrap, args.runs, expected, groups)
            if found is None:
                return 1
            results.append((expected, found))
    finally:
        if cluster is not None and not args.keep:
            print(f"stopping dev cluster {CLUSTER!r}", flush=True)
            cluster.down()
    met = True
    (n0, first), (n1, last) = results[0], results[-1]
    for what in ("snapshot", "process"):
        growth = last[what] / first[what]
        linear = n1 / n0
        ok = growth <= linear
        met &= ok or n0 == n1
        print(f"{what}: {first[what]:.2f} s at {n0:,} -> {last[what]:.2f} s at {n1:,} group-partitions: "
              f"x{growth:.2f} for x{linear:.1f} the partitions ({'no faster than linear' if ok else 'SUPERLINEAR'})")
    snap_ratio = last["baseline"] / last["snapshot"]
    proc_ratio = last["baseline"] / last["process"]
    met &= snap_ratio >= TARGET_RATIO and proc_ratio >= PROCESS_RATIO
    print(f"at {n1:,}: snapshot {snap_ratio:.1f}x (target >= {TARGET_RATIO:.0f}x), process {proc_ratio:.1f}x "
          f"(target >= {PROCESS_RATIO:.0f}x): {'MET' if met else 'NOT MET'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
