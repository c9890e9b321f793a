"""Confluent Cloud Dedicated: CKUs through the cmk v2 API, load through the Metrics API.

A resize is a PATCH of `spec.config.cku`; it is finished only when `status.cku` equals the request
(Confluent shrinks one CKU at a time, which the policy's one-unit scale-down already respects).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from brokerscale.cloud.cmk import ClusterManagementClient
from brokerscale.cloud.metrics import MetricsClient
from brokerscale.cloud.snapshot import collect_snapshot
from brokerscale.errors import OperationFailed
from brokerscale.model.snapshot import Snapshot


class ConfluentActuator:
    def __init__(self, cmk: ClusterManagementClient, metrics: MetricsClient, cluster_id: str, environment: str,
                 *, window_s: float = 180.0, poll_s: float = 2.0, clock: Callable[[], float] = time.time,
                 on_wait: Callable[[], None] | None = None, record: Callable[[Snapshot], None] | None = None) -> None:
        self.cmk, self.metrics = cmk, metrics
        self.cluster_id, self.environment = cluster_id, environment
        self.window_s, self.poll_s, self.clock = window_s, poll_s, clock
        self.on_wait = on_wait
        self.record = record  # keeps each observation in the store: the forecast's history after a restart
        self.target = f"confluent:{cluster_id}"

    def units(self) -> tuple[int, int | None]:
        c = self.cmk.get_cluster(self.cluster_id, self.environment)
        status = c.status_cku or c.spec_cku or 0
        return status, (c.spec_cku if c.spec_cku != status else None)

    def observe(self) -> Snapshot:
        c = self.cmk.get_cluster(self.cluster_id, self.environment)
        snap = collect_snapshot(self.metrics, c, now=self.clock(), window_s=self.window_s)
        if self.record is not None:
            self.record(snap)
        return snap

    def request(self, units: int) -> None:
        self.cmk.resize(self.cluster_id, self.environment, units)

    def wait(self, units: int, timeout_s: float) -> float:
        start = self.clock()
        while True:
            c = self.cmk.get_cluster(self.cluster_id, self.environment)
            if c.status_cku == units and c.settled:
                return self.clock() - start
            if self.clock() - start > timeout_s:
                raise OperationFailed(f"{self.target}: status.cku is {c.status_cku}, not {units}, after "
                                      f"{timeout_s:.0f}s")
            if self.on_wait is not None:
                self.on_wait()
            time.sleep(self.poll_s)
