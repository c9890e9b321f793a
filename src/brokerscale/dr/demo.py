"""Demo section: the demo cluster replicated to a one-broker DR cluster by MirrorMaker 2, its lag, and
the failover runbook as a dry run.

Kept short on purpose (one extra broker, one small topic, a few hundred records): the story is that
`dr up` runs Apache Kafka's own MirrorMaker, `dr status` shows how far behind the DR copy is, and
`dr failover` is a runbook. Everything it starts is stopped at the end, even on failure. A user's own
started DR topology is never touched: with one started, the section says so and is skipped.
"""

from __future__ import annotations

import time
from typing import Any

from rich.status import Status

from brokerscale.dev.cluster import DevCluster

TOPIC = "clinical.dr-demo"
FLOW = "demo-primary-dr"
DR_CLUSTER = "demo-dr"
RECORDS = 400


def _topology(primary: str) -> str:
    return f"""\
# written by `brokerscale demo`: the demo cluster (primary, US East) -> a one-broker DR cluster (US West)
version: 1
clusters:
  primary: {{dev: {primary}, region: us-east-1, jurisdiction: US}}
  dr: {{dev: {DR_CLUSTER}, region: us-west-2, jurisdiction: US}}
flows:
  {FLOW}:
    source: primary
    target: dr
    topics: ['clinical\\.dr-demo']
    groups: []
    replication_factor: 1
data_sovereignty:
  phi_jurisdictions: [US]
"""


def _produce(bootstrap: str, n: int, start: int) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all"})
    for i in range(start, start + n):
        p.produce(TOPIC, key=f"MRN{i % 50:04d}", value=f"ADT^A01 demo event {i}".encode())
    if p.flush(30) != 0:
        raise RuntimeError(f"{TOPIC}: records not acknowledged within 30 s")


def demo_step(ctx: Any) -> None:
    from brokerscale.dr import flows as dr_flows
    from brokerscale.dr.cli import print_status
    from brokerscale.dr.failover import STEPS
    from brokerscale.dr.status import collect
    from brokerscale.dr.topology import load_topology
    from brokerscale.store import open_store
    from brokerscale.topics.policy import load_policy

    out = ctx.console
    if dr_flows.saved_topology_path().exists():
        out.print("DR flows you started are running; this section is skipped so they are left alone "
                  "(`brokerscale dr status` shows them)")
        return
    started = time.monotonic()
    path = ctx.workdir / "dr-topology.yaml"
    path.write_text(_topology(ctx.cluster.name))
    from brokerscale.connect import ConnectionProfile

    primary = ConnectionProfile(ctx.cluster.bootstrap, ctx.cluster.client_properties(), ctx.cluster.name)
    with primary.admin() as admin:
        admin.create_topic(TOPIC, 3, min(3, len(ctx.cluster.brokers)))
    _produce(ctx.bootstrap, RECORDS, 0)
    out.print(f"{RECORDS} ADT records on {TOPIC} (primary: the demo cluster)")
    store = open_store()
    dr: DevCluster | None = None
    try:
        with Status(f"Starting a one-broker DR cluster '{DR_CLUSTER}'", console=out) as status:
            dr = DevCluster.up(DR_CLUSTER, brokers=1, on_progress=lambda m: status.update(m))
        out.print(f"DR cluster '{DR_CLUSTER}' up: bootstrap {dr.bootstrap}")
        topo = load_topology(path)
        policy = load_policy(None)
        prepared, refused = dr_flows.prepare(topo, policy, str(path), [FLOW])
        dr_flows.refuse(refused)
        with Status("brokerscale dr up --apply: starting MirrorMaker 2 (Apache Kafka's own, dedicated mode)",
                    console=out) as status:
            dr_flows.start(topo, str(path), prepared, store, lambda m: status.update(m))
        _produce(ctx.bootstrap, RECORDS // 2, RECORDS)
        deadline = time.monotonic() + 45
        found = collect(topo, FLOW, policy)
        while found[0].lag_records > 0 and time.monotonic() < deadline:
            time.sleep(1.0)
            found = collect(topo, FLOW, policy)
        out.print("brokerscale dr status:")
        print_status(found, out)
        out.print(f"brokerscale dr failover --flow {FLOW} (dry run): the runbook, with RPO and RTO measured "
                  "when applied:")
        for i, step in enumerate(STEPS, 1):
            out.print(f"  {i}. {step}")
    finally:
        with Status("Stopping MirrorMaker and the DR cluster", console=out):
            if dr_flows.saved_topology_path().exists():
                dr_flows.stop([FLOW], store, lambda _m: None, actor="brokerscale demo")
                dr_flows.saved_topology_path().unlink(missing_ok=True)
            if dr is not None:
                dr.down()
            store.close()
    out.print(f"DR section took {time.monotonic() - started:.0f}s")
