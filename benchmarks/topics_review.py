"""Benchmark: reading and reviewing every topic of a cluster against the policy. Target: faster than
the seed's loop (ratio < 1).

On a real local cluster with N topics (a mix of policy classes), in the same run:
  baseline (seed) — the seed's optimizeHealthcareTopics read path done literally with kafka-python:
                    per topic, one DescribeConfigs and one Metadata request, in sequence;
  baseline (tools) — Apache Kafka's own `kafka-topics --describe` + `kafka-configs --describe --all`
                    (one JVM each), which is what an operator would script;
  brokerscale     — `TopicsAdmin.states()` (one Metadata + one batched DescribeConfigs) followed by
                    the pure review of every topic against the shipped policy.
Also timed (no baseline): the pure review of 10,000 synthetic topics (no I/O).

    python benchmarks/topics_review.py [--topics 150] [--bootstrap HOST:PORT] [--keep]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from brokerscale.connect import ConnectionProfile
from brokerscale.topics.live import TopicsAdmin
from brokerscale.topics.model import TopicRate, TopicState
from brokerscale.topics.policy import DAY_MS, default_policy
from brokerscale.topics.review import POLICY_CONFIG_KEYS, review_topics

PREFIXES = ["clinical.", "patient.", "encounter.", "device.", "reference.", "app."]
CLUSTER = "bench-topics"


def _median_s(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _seed_loop(admin: Any, names: list[str]) -> int:
    """The seed's read path: for each topic, describeConfigs then fetchTopicMetadata, one at a time."""
    from kafka.admin import ConfigResource, ConfigResourceType

    seen = 0
    for name in names:
        admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name, list(POLICY_CONFIG_KEYS))],
                               config_filter="all")
        seen += len(admin.describe_topics([name])[0]["partitions"]) > 0
    return seen


def _tools(bootstrap: str) -> None:
    from brokerscale.dev.tools import run_tool

    for tool, args in (("kafka-topics", ["--bootstrap-server", bootstrap, "--describe"]),
                       ("kafka-configs", ["--bootstrap-server", bootstrap, "--describe", "--entity-type", "topics",
                                          "--all"])):
        res = run_tool(tool, args, timeout=300)
        if res.returncode != 0:
            raise RuntimeError(f"{tool} failed: {res.stderr[-300:]}")


def _ensure_topics(admin: Any, n: int) -> list[str]:
    wanted = {f"{PREFIXES[i % len(PREFIXES)]}bench-{i:04d}": i for i in range(n)}
    existing = set(admin.list_topics())
    todo = {name: {"num_partitions": 1 + i % 3, "replication_factor": 3,
                   "configs": {"retention.ms": str(DAY_MS * (1 + i % 40))}}
            for name, i in wanted.items() if name not in existing}
    names = list(todo)
    for start in range(0, len(names), 50):
        admin.create_topics({k: todo[k] for k in names[start:start + 50]})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # a loaded machine can take a while to elect every leader
        described = admin.describe_topics(sorted(wanted))
        if all(not t.get("error_code") and all(p["leader_id"] >= 0 for p in t["partitions"]) for t in described):
            return sorted(wanted)
        time.sleep(1)
    raise RuntimeError("topics not ready after 300 s")


def _synthetic(n: int) -> tuple[list[TopicState], dict[str, TopicRate]]:
    states, rates = [], {}
    for i in range(n):
        name = f"{PREFIXES[i % len(PREFIXES)]}synthetic-{i:05d}"
        states.append(TopicState(name, 1 + i % 48, 3, {
            "cleanup.policy": "compact" if i % 17 == 0 else "delete", "retention.ms": str(DAY_MS * (1 + i % 40)),
            "min.insync.replicas": str(1 + i % 2), "max.message.bytes": "1048588", "retention.bytes": "-1"}))
        rates[name] = TopicRate(i % 997 * 1e5, i % 613 * 1e5, "synthetic")
    return states, rates


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--topics", type=int, default=150)
    ap.add_argument("--bootstrap", help="Use this cluster instead of starting one (topics are created in it).")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="Leave the benchmark cluster running.")
    args = ap.parse_args()

    policy = default_policy()
    states, rates = _synthetic(10_000)
    t = time.perf_counter()
    reviews = review_topics(states, rates, policy)
    pure_ms = (time.perf_counter() - t) * 1000
    print(f"pure review: {len(reviews):,} topics in {pure_ms:.0f} ms "
          f"({sum(len(r.findings) for r in reviews):,} findings)")

    cluster = None
    if args.bootstrap:
        bootstrap = args.bootstrap
    else:
        from brokerscale.dev.cluster import DevCluster

        cluster = DevCluster.find(CLUSTER) or DevCluster.up(CLUSTER, brokers=3, racks=["a", "b", "c"])
        bootstrap = cluster.bootstrap
    try:
        profile = ConnectionProfile(bootstrap)
        admin = profile.admin().client  # the raw kafka-python client: the baseline is the seed's own loop
        try:
            names = _ensure_topics(admin, args.topics)
            seed_s = _median_s(lambda: _seed_loop(admin, names), args.repeat)
        finally:
            admin.close()
        with TopicsAdmin(profile) as ta:
            ours_s = _median_s(lambda: review_topics(ta.states(names), {}, policy), args.repeat)
        tools_s = _median_s(lambda: _tools(bootstrap), 1)
    finally:
        if cluster is not None and not args.keep:
            cluster.down()
    print(f"cluster: {len(names)} topics")
    print(f"baseline (seed loop, per-topic requests): {seed_s * 1000:8.0f} ms")
    print(f"baseline (kafka-topics + kafka-configs):  {tools_s * 1000:8.0f} ms")
    print(f"brokerscale (batched read + review):      {ours_s * 1000:8.0f} ms")
    ratio = ours_s / seed_s
    print(f"ratio brokerscale / seed loop: {ratio:.2f}  (target < 1)   "
          f"ratio brokerscale / Kafka tools: {ours_s / tools_s:.2f}")
    return 0 if ratio < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
