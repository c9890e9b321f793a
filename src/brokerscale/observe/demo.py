"""Demo step: load rises past a small capacity file's thresholds and the findings appear."""

from __future__ import annotations

import threading
import time
from typing import Any

from brokerscale.connect import ConnectionProfile
from brokerscale.observe import render
from brokerscale.observe.capacity import load_capacity_file
from brokerscale.observe.collect import Observer
from brokerscale.observe.rules import load_rules

TOPIC = "clinical.adt.observe-demo"
CAPACITY = """# A deliberately small broker so a few hundred KB/s of ADT traffic is "a lot".
broker:
  throughput_mb_s: 0.05     # 50 KB/s in + out per broker
  connections: 1000
  partition_replicas: 1000
"""
RULES = """# The scaling guide's thresholds; this machine's own latency is left out of the story.
request_latency_p99_ms: {enabled: false}
request_queue_time_ms: {enabled: false}
request_handler_idle_percent: {enabled: false}
"""


def _produce(bootstrap: str, rate: list[float], stop: threading.Event, ready: threading.Event) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    p.produce(TOPIC, b"MSH|^~\\&|ADT")
    p.flush(30)  # connected: from here on the rate is kept, no catch-up burst
    ready.set()
    sent = 0.0
    last = time.monotonic()
    while not stop.is_set():
        now = time.monotonic()
        sent += (now - last) * rate[0] / 10_000
        last = now
        while sent >= 1:
            p.produce(TOPIC, b"MSH|^~\\&|ADT" + b"x" * 9_987, partition=int(now * 1000) % 3)
            sent -= 1
        p.poll(0)
        stop.wait(0.02)
    p.flush(10)


def demo_step(ctx: Any) -> None:
    con = ctx.console
    with ConnectionProfile(ctx.bootstrap).admin() as admin:
        if admin.create_topic(TOPIC, 3, 3):
            admin.wait_for_topics([TOPIC], timeout_s=20)
    cap_path = ctx.workdir / "capacity.yaml"
    cap_path.write_text(CAPACITY)
    rules_path = ctx.workdir / "rules.yaml"
    rules_path.write_text(RULES)
    con.print(f"capacity file: {cap_path.name} — 3 brokers x 50 KB/s = 150 KB/s; triggers: warning > 70 %, "
              "critical > 85 % (the scaling guide's table)")
    # Bytes in come from timestamped admin data (leader log sizes); no exporter scrape keeps this step short.
    obs = Observer(ConnectionProfile(ctx.bootstrap), load_rules(rules_path),
                   capacity_file=load_capacity_file(cap_path))
    rate = [0.0]
    stop = threading.Event()
    ready = threading.Event()
    thread = threading.Thread(target=_produce, args=(ctx.bootstrap, rate, stop, ready), daemon=True)
    thread.start()
    ready.wait(60)
    try:
        for label, bps in (("ADT traffic at ~80 KB/s", 80_000), ("morning admissions: ~120 KB/s", 120_000),
                           ("a bulk backfill joins: ~200 KB/s", 200_000)):
            rate[0] = bps
            with con.status(f"{label}: measuring for 3 s"):
                time.sleep(0.5)
                r = obs.observe(3.0, rounds=2)
            thr = next((u for u in r.utilization if u.dimension == "throughput" and u.scope == "cluster"), None)
            used = f"{thr.used / 1000:.0f} KB/s = {thr.percent:.0f}% of capacity" if thr else "no rate yet"
            con.print(f"[bold]{label}[/] — measured {used}")
            shown = [f for f in r.findings if f.rule == "throughput" and f.scope == "cluster"]
            render.findings_table(con, shown)
    finally:
        stop.set()
        thread.join(15)
        obs.close()
    con.print("`brokerscale check --capacity FILE` turns the same findings into exit codes 0/1/2 for "
              "monitoring; `brokerscale exporter` serves them on /metrics.")
