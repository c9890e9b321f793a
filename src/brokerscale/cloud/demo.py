"""Demo section: a Confluent Cloud Dedicated cluster resized 2 -> 3 CKUs, on the local emulator.

The emulator runs in-process on a free 127.0.0.1 port with throwaway credentials and a 2-second
provisioning delay, so the whole story (show, guard, dry run, apply with progress, load before and
after, scaling events) fits in a few seconds next to the local Apache Kafka cluster.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from rich.table import Table

from brokerscale.cloud.checks import run_check
from brokerscale.cloud.cli import cluster_table
from brokerscale.cloud.cmk import ClusterManagementClient
from brokerscale.cloud.credentials import CloudCredentials
from brokerscale.cloud.emulator import EmulatorServer, EmulatorState
from brokerscale.cloud.emulator.state import default_config
from brokerscale.cloud.guard import check_resize
from brokerscale.cloud.http import CloudHTTP
from brokerscale.cloud.metrics import DEDICATED_CKU, MetricsClient
from brokerscale.cloud.reports import scaling_events
from brokerscale.cloud.snapshot import collect_snapshot
from brokerscale.cloud.wait import wait_for
from brokerscale.model.limits import load_limits
from brokerscale.units import format_bytes

ENV = "env-health"
CLUSTER = "lkc-health1"


def _load_row(table: Table, label: str, snap: Any) -> None:
    table.add_row(label, str(snap.cku_count), f"{format_bytes(snap.throughput_bytes_per_s or 0)}/s",
                  f"{snap.cluster_load_percent:.0f}%" if snap.cluster_load_percent is not None else "-")


def demo_step(ctx: Any) -> None:
    out = ctx.console
    creds = CloudCredentials(key="DEMO" + secrets.token_hex(4).upper(), secret=secrets.token_urlsafe(24))
    config = default_config(time.time())
    config.api_keys = {creds.key: creds.secret}
    config.provisioning_delay_s = 2.0
    state = EmulatorState(config, path=ctx.workdir / "ccloud-emulator.json")
    limits = load_limits()
    with EmulatorServer(state) as srv, CloudHTTP(srv.url, creds) as http:
        out.print(f"Confluent Cloud emulator on {srv.url} (cmk v2, Metrics API v2, Kafka REST v3 — "
                  "shaped by Confluent's OpenAPI files; throwaway API key, secret never shown)")
        cmk = ClusterManagementClient(http)
        metrics = MetricsClient(http)
        out.print(cluster_table(cmk.list_clusters(ENV), f"Clusters in {ENV}"))
        before = cmk.get_cluster(CLUSTER, ENV)
        snap_before = collect_snapshot(metrics, before, now=time.time(), window_s=300)

        _, line, _ = run_check(snap_before, rules_file=None, limits_name="design-doc")
        out.print(f"brokerscale cloud check (the same triggers as `check`): {line}")
        target = 3
        verdict = check_resize(before, target, partitions=snap_before.partition_count,
                               load_ratio=(snap_before.cluster_load_percent or 0) / 100, limits=limits)
        out.print(f"cluster load {snap_before.cluster_load_percent:.0f}% on {before.status_cku} CKUs: "
                  f"resize {before.status_cku} -> {target} ({'allowed' if verdict.allowed else verdict.refusals})")
        out.print(f"  PATCH {srv.url}/cmk/v2/clusters/{CLUSTER}  "
                  f'{{"spec":{{"environment":{{"id":"{ENV}"}},"config":{{"kind":"Dedicated","cku":{target}}}}}}}')
        from brokerscale.store import open_store

        change = {"method": "PATCH", "url": f"{srv.url}/cmk/v2/clusters/{CLUSTER}",
                  "body": {"spec": {"environment": {"id": ENV}, "config": {"kind": "Dedicated", "cku": target}}}}
        with open_store().audited(actor="demo", action="cloud.cluster.resize", target=CLUSTER, intent=change,
                                  before=before.summary(), cluster=CLUSTER, environment=ENV) as audit:
            accepted = cmk.resize(CLUSTER, ENV, target)
            out.print(f"accepted: phase {accepted.phase}, status.cku still {accepted.status_cku} "
                      f"(spec says {accepted.spec_cku}) — waiting until status.cku == {target}")
            final = wait_for(lambda: cmk.get_cluster(CLUSTER, ENV),
                             lambda c: c.status_cku == target and c.phase == "PROVISIONED",
                             lambda c: f"status.cku {c.status_cku} -> {target} ({c.phase})",
                             what=f"resize {CLUSTER} to {target} CKUs", timeout_s=30, poll_s=0.5, console=out)
            audit.after = final.summary()
        snap_after = collect_snapshot(metrics, final, now=time.time(), window_s=60)
        out.print(f"brokerscale cloud check: {run_check(snap_after, rules_file=None, limits_name='design-doc')[1]}")
        load = Table("", "CKUs", "in + out", "cluster load", title="Load before and after (same traffic)",
                     title_justify="left")
        _load_row(load, "before", snap_before)
        _load_row(load, "after", snap_after)
        out.print(load)

        now = time.time()
        points = metrics.query(DEDICATED_CKU, CLUSTER, start=now - 7 * 86400, end=now, granularity="PT1H")
        summary = scaling_events(CLUSTER, 7, [(p["timestamp"], p["value"]) for p in points])
        events = Table("time (UTC)", "direction", "CKUs", title="Scaling events, last 7 days (dedicated_cku_count)",
                       title_justify="left")
        for e in summary.events:
            events.add_row(e.time, e.direction, f"{e.from_cku} -> {e.to_cku}")
        out.print(events)
        out.print(f"min {summary.min_cku}, max {summary.max_cku}, average {summary.avg_cku:.2f} CKUs, "
                  f"{summary.count} events")
        shrink = check_resize(final, 1, partitions=snap_after.partition_count,
                              load_ratio=(snap_after.cluster_load_percent or 0) / 100, limits=limits)
        out.print("shrink 3 -> 1 refused by the guard: " + "; ".join(shrink.refusals))
