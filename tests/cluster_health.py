"""Is a dev cluster as healthy as a freshly started one? For the tests that share the session cluster.

A test that damages the shared cluster (stops a broker, moves replicas, sets throttles) restores it and
calls `wait_healthy` before it returns; a test whose verdict depends on the cluster being quiet (check,
observe, alerts) calls it first. Otherwise one test's leftovers (a broker still catching up, leaders
piled on two brokers after a restart) turn up as another test's unexpected CRITICAL.
"""

from __future__ import annotations

import time
from typing import Any

from brokerscale.connect import ConnectionProfile
from brokerscale.kafka import KafkaAdmin
from brokerscale.kafka.types import TP

THROTTLE_RATES = ("leader.replication.throttled.rate", "follower.replication.throttled.rate")


def health_problems(cluster: Any, admin: KafkaAdmin) -> tuple[list[str], list[TP]]:
    """What differs from a healthy cluster (one phrase each, empty when healthy), and the partitions whose
    preferred leader is in sync but not leading (an election fixes those)."""
    problems: list[str] = []
    expected = {n.id for n in cluster.nodes.values()}
    dead = sorted(n.id for n in cluster.nodes.values() if not cluster.alive(n))
    if dead:
        problems.append(f"broker process not running: {dead}")
    info = admin.cluster()
    live = info.live()
    if live != expected:
        problems.append(f"registered unfenced brokers {sorted(live)}, expected {sorted(expected)}")
    urp: list[str] = []
    offline: list[str] = []
    foreign: list[str] = []
    unpreferred: list[TP] = []
    for topic in admin.topics():
        for p in topic.partitions:
            name = f"{topic.name}-{p.partition} (replicas {p.replicas}, isr {p.isr}, leader {p.leader})"
            if not set(p.replicas) <= expected:
                foreign.append(name)
            if p.leader is None:
                offline.append(name)
            elif set(p.isr) != set(p.replicas):
                urp.append(name)
            elif p.replicas and p.leader != p.replicas[0]:
                unpreferred.append((topic.name, p.partition))
    for what, names in (("replicas on brokers that are gone", foreign), ("offline partitions", offline),
                        ("under-replicated partitions", urp)):
        if names:
            problems.append(f"{len(names)} {what}, e.g. {', '.join(names[:3])}")
    if unpreferred:
        problems.append(f"{len(unpreferred)} partitions not led by their preferred leader, e.g. {unpreferred[:3]}")
    moving = admin.reassignments()
    if moving:
        problems.append(f"{len(moving)} reassignments in flight, e.g. {sorted(moving)[:3]}")
    throttled = {b: cfg for b, cfg in admin.broker_configs(sorted(live & expected), THROTTLE_RATES,
                                                             only_set=True).items() if cfg}
    if throttled:
        problems.append(f"replication throttles left on brokers: {throttled}")
    return problems, unpreferred


def wait_healthy(cluster: Any, timeout: float = 240.0) -> None:
    """Until every broker of `cluster` runs and is registered, every partition is fully replicated and led
    by its preferred leader, and no reassignment or replication throttle is left. Elects preferred
    leaders itself (the controller's automatic rebalance would take 5 minutes); everything else it only
    waits for. Raises AssertionError naming what is still wrong after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    problems: list[str] = ["not asked yet"]
    _restart_dead_brokers(cluster)
    while True:
        try:
            with ConnectionProfile(cluster.bootstrap, cluster.client_properties()).admin(timeout_s=10) as admin:
                while True:
                    problems, unpreferred = health_problems(cluster, admin)
                    if not problems:
                        return
                    if unpreferred:
                        admin.elect_preferred(unpreferred)
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
        except Exception as exc:  # the cluster not answering yet is one more thing to wait for
            problems = [f"admin client: {type(exc).__name__}: {exc}"]
        if time.monotonic() > deadline:
            raise AssertionError(f"dev cluster {cluster.name!r} not healthy after {timeout:.0f}s: "
                                 + "; ".join(problems))
        time.sleep(1)


def _restart_dead_brokers(cluster: Any) -> None:
    """Start again a broker whose process is gone, else take it out of the cluster. Nothing else brings it
    back: a test that failed before restoring the shared cluster (or a broker taken as started that was
    not) would otherwise fail every later test, each after waiting out the whole timeout."""
    import sys

    for node in [n for n in cluster.nodes.values() if not cluster.alive(n)]:
        try:
            cluster.start_broker(node.id)
            what = "started again"
        except Exception as exc:  # its directory or port is gone: it cannot come back
            try:
                cluster.remove_broker(node.id)
                what = f"removed (could not start: {exc})"
            except Exception as exc2:
                what = f"left as it is (could not start: {exc}; could not remove: {exc2})"
        print(f"cluster_health: broker {node.id} of {cluster.name!r} was not running: {what}", file=sys.stderr)
