"""Benchmark: what brokerscale's Confluent Cloud client adds to a bare HTTP call. Target: under 2x.

Against the local emulator (in-process, 127.0.0.1), in the same run:
  baseline   — a bare httpx GET /cmk/v2/clusters/{id}?environment= with Basic auth, JSON decoded;
  brokerscale — `ClusterManagementClient.get_cluster` (tenacity retry wrapper, error handling, parsing
                into CloudCluster) on the same URL.
Also timed (no baseline): the two Metrics API queries behind `cloud storage --days 30` (P1D) and
`cloud events --days 7` (PT1H), which the emulator generates from its trace.

    python benchmarks/cloud_client.py [--requests 200]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from collections.abc import Callable

import httpx

from brokerscale.cloud.cmk import ClusterManagementClient
from brokerscale.cloud.credentials import CloudCredentials
from brokerscale.cloud.emulator import EmulatorServer, EmulatorState
from brokerscale.cloud.emulator.state import default_config
from brokerscale.cloud.http import CloudHTTP
from brokerscale.cloud.metrics import DEDICATED_CKU, RETAINED_BYTES, MetricsClient

TARGET_RATIO = 2.0


def _median_ms(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    creds = CloudCredentials("BENCH", secrets.token_urlsafe(16))
    config = default_config(time.time())
    config.api_keys = {creds.key: creds.secret}
    state = EmulatorState(config)
    with EmulatorServer(state) as srv:
        raw = httpx.Client(base_url=srv.url, auth=(creds.key, creds.secret))
        http = CloudHTTP(srv.url, creds)
        cmk = ClusterManagementClient(http)
        metrics = MetricsClient(http)
        for _ in range(20):  # warm both paths
            raw.get("/cmk/v2/clusters/lkc-health1", params={"environment": "env-health"}).json()
            cmk.get_cluster("lkc-health1", "env-health")
        base_ms: list[float] = []
        ours_ms: list[float] = []
        for _ in range(args.requests):  # interleaved, so machine noise hits both alike
            base_ms.append(_median_ms(lambda: raw.get("/cmk/v2/clusters/lkc-health1",
                                                      params={"environment": "env-health"}).json(), 1))
            ours_ms.append(_median_ms(lambda: cmk.get_cluster("lkc-health1", "env-health"), 1))
        base = statistics.median(base_ms)
        ours = statistics.median(ours_ms)
        now = time.time()
        storage = _median_ms(lambda: metrics.query(RETAINED_BYTES, "lkc-health1", start=now - 30 * 86400, end=now,
                                                   granularity="P1D"), 20)
        events = _median_ms(lambda: metrics.query(DEDICATED_CKU, "lkc-health1", start=now - 7 * 86400, end=now,
                                                  granularity="PT1H"), 20)
        raw.close()
        http.close()
    ratio = ours / base
    print(f"get cluster, median of {args.requests}: bare httpx {base:.2f} ms, brokerscale {ours:.2f} ms, "
          f"ratio {ratio:.2f}x (target < {TARGET_RATIO:g}x)")
    print(f"metrics query retained_bytes 30 days P1D: {storage:.1f} ms; dedicated_cku_count 7 days PT1H "
          f"(168 points): {events:.1f} ms")
    return 0 if ratio < TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
