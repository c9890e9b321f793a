"""Strimzi on Kubernetes: brokers through a KafkaNodePool, partition moves through a KafkaRebalance.

Scale up: patch `KafkaNodePool.spec.replicas`; once the operator reports the new nodes
(`status.nodeIds`), create an auto-approved `KafkaRebalance` in `add-brokers` mode for exactly those
ids, with the scaling guide's Cruise Control goals, and wait until it is Ready.
Scale down: drain first — an auto-approved `remove-brokers` KafkaRebalance for the node Strimzi will
remove (the highest id), wait until Ready — then lower `spec.replicas` and wait for the pool to shrink.

Uses the kubernetes Python client (CustomObjectsApi, `kafka.strimzi.io/v1`); manifests follow the
CRDs Strimzi ships. Load comes from the cluster itself (`observe`), passed in as a callable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from brokerscale.errors import OperationFailed
from brokerscale.model.snapshot import Snapshot

GROUP, VERSION = "kafka.strimzi.io", "v1"
# The scaling guide's KafkaRebalance goals (section "Auto-Scaling" for Kubernetes).
GOALS = ["DiskCapacityGoal", "RackAwareGoal", "ReplicaCapacityGoal", "CpuCapacityGoal", "ReplicaDistributionGoal",
         "DiskUsageDistributionGoal", "NetworkInboundUsageDistributionGoal", "NetworkOutboundUsageDistributionGoal",
         "CpuUsageDistributionGoal"]


def rebalance_manifest(name: str, namespace: str, cluster: str, mode: str, brokers: list[int]) -> dict[str, Any]:
    """A KafkaRebalance for `mode` (add-brokers / remove-brokers), approved automatically."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaRebalance",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"strimzi.io/cluster": cluster, "app.kubernetes.io/managed-by": "brokerscale"},
                     "annotations": {"strimzi.io/rebalance-auto-approval": "true"}},
        "spec": {"mode": mode, "brokers": sorted(brokers), "goals": GOALS, "skipHardGoalCheck": False},
    }


class StrimziActuator:
    def __init__(self, api: Any, namespace: str, cluster: str, node_pool: str, observe: Callable[[], Snapshot],
                 *, poll_s: float = 5.0, clock: Callable[[], float] = time.time,
                 on_wait: Callable[[], None] | None = None) -> None:
        """`api`: a kubernetes.client.CustomObjectsApi."""
        self.api, self.namespace, self.cluster, self.node_pool = api, namespace, cluster, node_pool
        self._observe, self.poll_s, self.clock, self.on_wait = observe, poll_s, clock, on_wait
        self.target = f"strimzi:{namespace}/{cluster}/{node_pool}"
        self._prior: int | None = None  # pool size before the change this process requested

    def _pool(self) -> dict[str, Any]:
        return dict(self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, "kafkanodepools",
                                                          self.node_pool))

    def _ids(self, pool: dict[str, Any]) -> list[int]:
        return sorted(int(i) for i in (pool.get("status") or {}).get("nodeIds") or [])

    def units(self) -> tuple[int, int | None]:
        pool = self._pool()
        spec = int(pool["spec"]["replicas"])
        status = int((pool.get("status") or {}).get("replicas", spec))
        return status, (spec if spec != status else None)

    def observe(self) -> Snapshot:
        return self._observe()

    def request(self, units: int) -> None:
        pool = self._pool()
        current = int((pool.get("status") or {}).get("replicas", pool["spec"]["replicas"]))
        self._prior = current
        if units > current:
            self.api.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, "kafkanodepools", self.node_pool,
                                                    {"spec": {"replicas": units}})
            return
        victims = self._ids(pool)[units - current:] if units < current else []
        self._rebalance("remove-brokers", victims)

    def _rebalance(self, mode: str, brokers: list[int]) -> str:
        name = f"{self.cluster}-{mode}-{'-'.join(map(str, sorted(brokers)))}"
        self.api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, "kafkarebalances",
                                                 rebalance_manifest(name, self.namespace, self.cluster, mode, brokers))
        return name

    def _until(self, what: str, done: Callable[[], bool], timeout_s: float, start: float) -> None:
        while not done():
            if self.clock() - start > timeout_s:
                raise OperationFailed(f"{self.target}: {what} not done after {timeout_s:.0f}s")
            if self.on_wait is not None:
                self.on_wait()
            time.sleep(self.poll_s)

    def _ready(self, name: str) -> bool:
        obj = self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, "kafkarebalances", name)
        conds = {c.get("type"): c.get("status") for c in (obj.get("status") or {}).get("conditions") or []}
        if conds.get("NotReady") == "True":
            raise OperationFailed(f"{self.target}: KafkaRebalance {name} is NotReady")
        return conds.get("Ready") == "True"

    def wait(self, units: int, timeout_s: float) -> float:
        start = self.clock()
        pool = self._pool()
        before = self._ids(pool)
        if int(pool["spec"]["replicas"]) == units:  # scale-up: the pool grows, then data moves in
            self._until("the node pool", lambda: self.units() == (units, None), timeout_s, start)
            ids = self._ids(self._pool())
            # Strimzi gives new nodes the next ids, so the added ones are the highest. After a restart the
            # size before is not known here: then only the highest node is named (Cruise Control still
            # fills the others over time).
            added = units - self._prior if self._prior is not None and self._prior < units else 1
            name = self._rebalance("add-brokers", ids[-added:])
            self._until(f"KafkaRebalance {name}", lambda: self._ready(name), timeout_s, start)
            return self.clock() - start
        victims = before[units - len(before):]  # scale-down: drain first, then shrink the pool
        name = f"{self.cluster}-remove-brokers-{'-'.join(map(str, victims))}"
        self._until(f"KafkaRebalance {name}", lambda: self._ready(name), timeout_s, start)
        self.api.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, "kafkanodepools", self.node_pool,
                                                {"spec": {"replicas": units}})
        self._until("the node pool", lambda: self.units() == (units, None), timeout_s, start)
        return self.clock() - start
