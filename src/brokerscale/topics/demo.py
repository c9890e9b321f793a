"""The topics section of `brokerscale demo`: drifted healthcare topics, an optimize dry run, a hot partition.

It creates four small topics that break the policy in the ways the scaling guide warns about (short clinical
retention, min.insync.replicas 1, a compacted PHI topic, a keyed topic below its class floor, a
reference topic above its target), runs a few seconds of synthetic load — one device key far busier
than the rest — and shows what `brokerscale topics optimize` and `topics hot` report. Nothing is
changed: the configs are described before and after to prove it.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from brokerscale.connect import ConnectionProfile
from brokerscale.topics.hot import find_hot_partitions
from brokerscale.topics.live import TopicsAdmin
from brokerscale.topics.policy import DAY_MS, default_policy
from brokerscale.topics.render import changes_table, findings_table, hot_table, traffic_table
from brokerscale.topics.review import review_topics

WINDOW_S = 3.0
DEMO_TOPICS: dict[str, tuple[int, dict[str, str]]] = {
    "clinical.labs": (3, {"retention.ms": str(DAY_MS), "min.insync.replicas": "1"}),
    "patient.demographics": (24, {"cleanup.policy": "compact", "min.insync.replicas": "2"}),
    "reference.loinc": (9, {"min.insync.replicas": "2"}),
    "device.vitals": (6, {"min.insync.replicas": "2"}),
}


def _create_missing(profile: ConnectionProfile) -> list[str]:
    with profile.admin() as admin:
        existing = set(admin.topic_names())
        todo = sorted(name for name in DEMO_TOPICS if name not in existing)
        for name in todo:
            n, cfg = DEMO_TOPICS[name]
            admin.create_topic(name, n, 3, configs=cfg)
        return todo


def _synthetic_load(profile: ConnectionProfile, stop: threading.Event, flowing: threading.Event) -> None:
    """Synthetic records only (no PHI): uniform patient keys on clinical.labs, Zipf device keys on vitals."""
    from confluent_kafka import Producer

    rng = random.Random(7)
    producer = Producer({**profile.confluent(), "linger.ms": 10})
    acked = {"n": 0}

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is None:
            acked["n"] += 1
            if acked["n"] >= 500:
                flowing.set()

    patients = [f"synthetic-patient-{i}" for i in range(500)]
    devices = [f"synthetic-monitor-{i}" for i in range(200)]
    weights = [1 / (rank + 1) ** 1.6 for rank in range(len(devices))]
    labs, vitals = b"L" * 900, b"V" * 300
    while not stop.is_set():
        try:
            for k in rng.choices(patients, k=50):
                producer.produce("clinical.labs", key=k, value=labs, on_delivery=on_delivery)
            for k in rng.choices(devices, weights, k=100):
                producer.produce("device.vitals", key=k, value=vitals, on_delivery=on_delivery)
        except BufferError:  # the local queue is full: the cluster is slower than this loop
            producer.poll(0.1)
        producer.poll(0)
        time.sleep(0.005)
    producer.flush(10)


def demo_step(ctx: Any) -> None:
    out = ctx.console
    profile = ConnectionProfile(ctx.bootstrap)
    created = _create_missing(profile)
    if created:
        out.print(f"created drifted demo topics: {', '.join(created)}")
    policy = default_policy()
    with TopicsAdmin(profile) as admin:  # the demo's drifted topics plus any other policy-managed topic
        names = sorted(set(DEMO_TOPICS) | {n for n in admin.topic_names() if policy.classify(n) is not None})
    stop, flowing = threading.Event(), threading.Event()
    loader = threading.Thread(target=_synthetic_load, args=(profile, stop, flowing), daemon=True)
    loader.start()
    try:
        with TopicsAdmin(profile) as admin:
            before = admin.states(names)
            with out.status("starting synthetic load (no PHI: generated keys and filler bytes)"):
                flowing.wait(20)  # measure steady traffic, not the producer's first metadata round trip
            with out.status(f"brokerscale topics optimize (dry run): measuring traffic for {WINDOW_S:g} s"):
                measurement = admin.measure(names, WINDOW_S)
            reviews = review_topics(before, measurement.rates, policy)
            after = admin.states(names)
    finally:
        stop.set()
        loader.join(15)
    out.print(traffic_table(reviews))
    out.print(changes_table(reviews))
    out.print(findings_table(reviews))
    keys = {n: (m[1].partition_key if (m := policy.classify(n)) else None) for n in names}
    hot = find_hot_partitions(measurement.partition_bytes_in, keys=keys, leaders=measurement.leaders)
    if hot:
        out.print(hot_table(hot))
        for text in dict.fromkeys(h.suggestion for h in hot):
            out.print(f"• {text}")
    unchanged = before == after
    out.print("[green]dry run verified:[/] partitions and configs described before and after are identical"
               if unchanged else "[red]configs changed during the dry run (another actor?)[/]")
    out.print("to apply: brokerscale topics optimize --apply --allow-key-remap  (audited; see brokerscale audit)")
