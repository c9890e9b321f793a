"""Demo section: a few seconds of synthetic clinical traffic, verified, with its hot partition shown."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rich.table import Table

from brokerscale.connect import ConnectionProfile
from brokerscale.load.cluster import ensure_topic, probe
from brokerscale.load.messages import KINDS
from brokerscale.load.pacing import Pacer
from brokerscale.load.pool import build_pool
from brokerscale.load.producer import produce
from brokerscale.load.sizes import SizeDistribution
from brokerscale.load.verify import end_offsets, verify

if TYPE_CHECKING:
    from brokerscale.demo import DemoContext

TOPIC = "synthetic.clinical"
RATE = 1000
SECONDS = 5.0


def demo_step(ctx: DemoContext) -> None:
    out = ctx.console
    profile = ConnectionProfile(ctx.bootstrap)
    ensure_topic(profile, TOPIC, 6, None, probe(profile))
    pool = build_pool(sizes=SizeDistribution(5000), kinds=KINDS, patients=1000, skew=1.2)
    out.print(f"[dim]$ brokerscale load --topic {TOPIC} --rate {RATE} --size 5KB --skew 1.2 "
              f"--duration {SECONDS:g}s --verify[/]")
    out.print("HL7 v2 ADT/ORU and FHIR Observation/Encounter records for 1,000 synthetic patients (SYN…), "
              "mean 5 KB, keyed by patient; Zipf skew 1.2 makes a few patients — and their partitions — hot.")
    start = end_offsets(profile, TOPIC)
    with out.status(f"producing {RATE:,} msgs/s for {SECONDS:g} s with acks=all and idempotence…"):
        result = produce(profile, TOPIC, pool, Pacer(RATE), SECONDS, verify=True)
    d = result.deliveries
    with out.status("reading the records back…"):
        v = verify(profile, TOPIC, start, d.offsets, timeout_s=30)
    p50, p99 = d.histogram.percentile(50), d.histogram.percentile(99)
    table = Table(show_header=False, title=f"load → {TOPIC}", title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    rate = d.acked / result.elapsed
    table.add_row("achieved", f"{rate:,.0f} msgs/s ({rate / RATE:.0%} of {RATE:,}), "
                              f"{d.bytes_acked / 1e6 / result.elapsed:.1f} MB/s")
    table.add_row("delivery latency p50 / p99",
                  f"{(p50 or 0) * 1000:.0f} ms / {(p99 or 0) * 1000:.0f} ms")
    table.add_row("acked / errors", f"{d.acked:,} / {d.errors}")
    table.add_row("verify", f"read back {v.read_back:,}, lost {v.lost}, corrupted {v.corrupted}")
    per_partition = Counter(p for p, _ in d.offsets)
    mean = sum(per_partition.values()) / max(1, len(per_partition))
    table.add_row("records per partition",
                  "  ".join(f"p{p}:{n:,}" for p, n in sorted(per_partition.items())))
    hot_p, hot_n = per_partition.most_common(1)[0] if per_partition else (0, 0)
    table.add_row("hottest partition", f"p{hot_p} at {hot_n / mean:.1f}× the mean" if mean else "-")
    out.print(table)
    ctx.notes["load_topic"] = TOPIC
