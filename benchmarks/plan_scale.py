"""Benchmark: plan a generated 1,000-topic workload. Target: under 0.5 s.

Measured the way `brokerscale plan FILE --format json` runs it, in-process (interpreter start-up and
imports excluded): read the YAML file, validate, size, explain, build the JSON document.
Baseline, in the same run: the bare arithmetic of the seed's rules in a plain loop over the same
topics (no file, no validation, no rule text, no findings), so the ratio shows what the planner's
checks and explanations cost.

    python benchmarks/plan_scale.py [--topics 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from brokerscale.plan.cli import plan_file
from brokerscale.plan.model import plan_to_dict

CLASSES = ["high-volume-clinical", "standard-operational", "low-volume-reference"]
TARGET_S = 0.5


def generate(n: int, seed: int = 7) -> dict[str, Any]:
    rnd = random.Random(seed)
    topics = []
    for i in range(n):
        t: dict[str, Any] = {
            "name": f"clinical.feed-{i:04d}",
            "class": rnd.choice(CLASSES),
            "messages_per_second": round(rnd.uniform(1, 1000), 1),
            "message_bytes": rnd.choice([500, 1000, 1500, 2000, "5KB"]),
            "key": rnd.choice(["patient_id", "encounter_id", "none"]),
        }
        if rnd.random() < 0.7:
            t["consumer_groups"] = rnd.randint(1, 4)
        if rnd.random() < 0.3:
            t["retention_days"] = rnd.choice([7, 14, 90])
        topics.append(t)
    return {"name": "bench", "connections": 40_000, "partitions": 5_000, "retention_days": 30,
            "requirements": ["phi"], "topics": topics}


def baseline(data: dict[str, Any]) -> int:
    """The seed's arithmetic only: partitions per topic and the three CKU dimensions."""
    total_mb, parts = 0.0, data["partitions"]
    for t in data["topics"]:
        size = 5000 if t["message_bytes"] == "5KB" else t["message_bytes"]
        mb = t["messages_per_second"] * size * (1 + t.get("consumer_groups", 0)) / 1e6
        total_mb += mb
        parts += max(6, math.ceil(math.ceil(mb * 1.3 / 10) / 3) * 3)
    return max(math.ceil(total_mb / 50), math.ceil(data["connections"] / 4000), math.ceil(parts / 4500))


def timed(fn: Any, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    data = generate(args.topics)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))

        def full() -> None:
            _, plan = plan_file(path)
            json.dumps(plan_to_dict(plan))

        full()  # warm-up (imports, pydantic schema build)
        base_s = timed(lambda: baseline(data), args.repeat)
        plan_s = timed(full, args.repeat)
        _, plan = plan_file(path)
    print(f"workload: {args.topics} topics, {plan.total_partitions:,} partitions, "
          f"{plan.throughput_bytes_s / 1e6:,.0f} MB/s -> {plan.confluent.tier} {plan.confluent.ckus} CKUs, "
          f"{plan.self_managed.brokers} brokers")
    print(f"baseline (bare seed arithmetic, in memory): {base_s * 1000:8.2f} ms (median of {args.repeat})")
    print(f"brokerscale plan (read+validate+size+explain+json): {plan_s * 1000:8.2f} ms "
          f"(median of {args.repeat})")
    print(f"ratio plan/baseline: {plan_s / base_s:.0f}x; target < {TARGET_S * 1000:.0f} ms: "
          f"{'PASS' if plan_s < TARGET_S else 'FAIL'}")
    return 0 if plan_s < TARGET_S else 1

if __name__ == "__main__":
    sys.exit(main())
