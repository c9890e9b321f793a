"""The Strimzi actuator at the client boundary: no Kubernetes API server can run here, so the real
kubernetes client talks to a recorder that plays the API server and the operator, and every object it
sends is validated against the CRDs Strimzi ships (../shared/reference/strimzi)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jsonschema
import pytest
from kubernetes import client

from brokerscale.model.snapshot import Snapshot
from brokerscale.scale.actuators.strimzi import GOALS, StrimziActuator
from strimzi_crds import validator as crd_validator

BASE = "/apis/kafka.strimzi.io/v1/namespaces/health"


class FakeApiServer:
    """Records requests; a KafkaNodePool grows/shrinks at once (status.nodeIds = 0..n-1); a KafkaRebalance
    is Ready as soon as it exists."""

    def __init__(self, replicas: int) -> None:
        self.requests: list[tuple[str, str, str, Any]] = []
        self.pool: dict[str, Any] = {
            "apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaNodePool",
            "metadata": {"name": "brokers", "namespace": "health",
                         "labels": {"strimzi.io/cluster": "healthcare-kafka"}},
            "spec": {"replicas": replicas, "roles": ["broker"], "storage": {"type": "ephemeral"}},
            "status": {"replicas": replicas, "nodeIds": list(range(replicas))}}
        self.rebalances: dict[str, dict[str, Any]] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                n = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(n)) if n else None

            def do_GET(self) -> None:
                outer.requests.append(("GET", self.path, "", None))
                if self.path == f"{BASE}/kafkanodepools/brokers":
                    return self._send(200, outer.pool)
                name = self.path.rsplit("/", 1)[-1]
                if name in outer.rebalances:
                    return self._send(200, outer.rebalances[name])
                return self._send(404, {"kind": "Status", "code": 404})

            def do_PATCH(self) -> None:
                body = self._body()
                outer.requests.append(("PATCH", self.path, self.headers.get("Content-Type", ""), body))
                n = body["spec"]["replicas"]
                outer.pool["spec"]["replicas"] = n
                outer.pool["status"] = {"replicas": n, "nodeIds": list(range(n))}
                return self._send(200, outer.pool)

            def do_POST(self) -> None:
                body = self._body()
                outer.requests.append(("POST", self.path, self.headers.get("Content-Type", ""), body))
                created = {**body, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
                outer.rebalances[body["metadata"]["name"]] = created
                return self._send(201, created)

            def log_message(self, *args: object) -> None:
                pass

        self.http = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_port}"


@pytest.fixture()
def k8s() -> Iterator[tuple[FakeApiServer, StrimziActuator]]:
    server = FakeApiServer(replicas=3)
    cfg = client.Configuration()
    cfg.host = server.url
    api = client.CustomObjectsApi(client.ApiClient(cfg))
    snap = Snapshot(cluster="healthcare-kafka", source="test", taken_at=0.0)
    yield server, StrimziActuator(api, "health", "healthcare-kafka", "brokers", lambda: snap, poll_s=0.01)
    server.http.shutdown()


def test_scale_up_patches_the_pool_then_rebalances_onto_the_new_brokers(k8s) -> None:  # type: ignore[no-untyped-def]
    server, act = k8s
    assert act.units() == (3, None)
    act.request(5)
    act.wait(5, timeout_s=10)
    writes = [r for r in server.requests if r[0] != "GET"]
    assert [(m, p) for m, p, _, _ in writes] == [("PATCH", f"{BASE}/kafkanodepools/brokers"),
                                                 ("POST", f"{BASE}/kafkarebalances")]
    assert writes[0][3] == {"spec": {"replicas": 5}}
    rebalance = writes[1][3]
    assert rebalance["spec"]["mode"] == "add-brokers" and rebalance["spec"]["brokers"] == [3, 4]
    assert rebalance["spec"]["goals"] == GOALS
    assert rebalance["metadata"]["annotations"]["strimzi.io/rebalance-auto-approval"] == "true"
    assert rebalance["metadata"]["labels"]["strimzi.io/cluster"] == "healthcare-kafka"
    crd_validator("KafkaRebalance", "v1").validate(rebalance)
    crd_validator("KafkaNodePool", "v1").validate(server.pool)
    assert act.units() == (5, None)


def test_scale_down_drains_the_highest_broker_before_shrinking_the_pool(k8s) -> None:  # type: ignore[no-untyped-def]
    server, act = k8s
    act.request(2)
    act.wait(2, timeout_s=10)
    writes = [r for r in server.requests if r[0] != "GET"]
    assert [m for m, *_ in writes] == ["POST", "PATCH"]  # drain first, then remove the node
    rebalance = writes[0][3]
    assert rebalance["spec"]["mode"] == "remove-brokers" and rebalance["spec"]["brokers"] == [2]
    crd_validator("KafkaRebalance", "v1").validate(rebalance)
    assert writes[1][3] == {"spec": {"replicas": 2}}
    crd_validator("KafkaNodePool", "v1").validate(server.pool)
    assert act.units() == (2, None)


def test_a_manifest_the_crd_rejects_is_caught_by_the_check() -> None:
    """The validation above can fail: a wrong mode is refused by the CRD's enum."""
    from brokerscale.scale.actuators.strimzi import rebalance_manifest

    bad = rebalance_manifest("x", "health", "healthcare-kafka", "add-nodes", [3])
    with pytest.raises(jsonschema.ValidationError):
        crd_validator("KafkaRebalance", "v1").validate(bad)
