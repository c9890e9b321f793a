"""Synthetic traffic for the real-cluster tests: a paced producer and a slow consumer.

Each runs in its own process, so the CLI under test (which runs inside pytest's process) shares the
machine with them as it would with real applications, and a test can kill one to play a crashed app.
Records are synthetic bytes, never anything like a patient's message. Both print "ready" once
connected; `start` waits for it, so a window measured afterwards counts a steady rate.
"""

from __future__ import annotations

import subprocess
import sys

# RATE records/s of SIZE bytes; PARTS > 0 sends record i to partition i % PARTS (every partition leader
# takes the same share), 0 leaves the choice to the client's partitioner.
PACED_PRODUCER = r"""
import sys, time
from confluent_kafka import Producer
bs, topic, rate, size, parts = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
p = Producer({"bootstrap.servers": bs, "linger.ms": 5})
def send(i):
    if parts:
        p.produce(topic, b"x" * size, partition=i % parts)
    else:
        p.produce(topic, b"x" * size)
send(0); p.flush(30)
print("ready", flush=True)
t0 = time.time(); sent = 1
while True:
    due = int((time.time() - t0) * rate)
    while sent < due:
        send(sent); sent += 1
    p.poll(0); time.sleep(0.01)
"""

# Reads at most RATE records per second and commits each one, so its lag grows steadily.
SLOW_CONSUMER = r"""
import sys, time
from confluent_kafka import Consumer
bs, topic, group, rate = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
c = Consumer({"bootstrap.servers": bs, "group.id": group, "auto.offset.reset": "earliest",
              "enable.auto.commit": False, "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000})
c.subscribe([topic])
print("ready", flush=True)
t0 = time.time(); n = 0
while True:
    m = c.poll(0.2)
    if m is None or m.error():
        continue
    n += 1
    c.commit(message=m, asynchronous=False)
    time.sleep(max(0.0, t0 + n / rate - time.time()))
"""


def start(script: str, *args: object) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def paced_producer(bootstrap: str, topic: str, *, bytes_per_s: float, size: int,
                   parts: int = 0) -> subprocess.Popen[str]:
    return start(PACED_PRODUCER, bootstrap, topic, bytes_per_s / size, size, parts)


def slow_consumer(bootstrap: str, topic: str, group: str, records_per_s: float) -> subprocess.Popen[str]:
    return start(SLOW_CONSUMER, bootstrap, topic, group, records_per_s)
