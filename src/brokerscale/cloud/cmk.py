"""Cluster Management API v2 (`/cmk/v2/clusters`): list, read, and PATCH a cluster's config.

Follows `reference/confluent-cloud/cmk-v2.openapi.yaml`: reads need `?environment=`, a PATCH carries
`spec.environment.id` and `spec.config`, and a Dedicated resize is finished only when
`status.cku == spec.config.cku` (the spec changes at once, the status when the capacity is there).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

from pydantic import BaseModel, ConfigDict

from brokerscale.cloud.http import CloudHTTP
from brokerscale.errors import BadInput

TIER_ORDER = ("Basic", "Standard", "Enterprise", "Dedicated", "Freight")


class CloudCluster(BaseModel):
    """What brokerscale needs to know about one Confluent Cloud Kafka cluster."""

    model_config = ConfigDict(frozen=True)

    id: str
    environment: str
    display_name: str = ""
    kind: str = ""
    availability: str = ""
    cloud: str = ""
    region: str = ""
    spec_cku: int | None = None
    status_cku: int | None = None
    max_ecku: int | None = None
    phase: str = ""
    http_endpoint: str | None = None
    bootstrap: str | None = None

    @property
    def multi_zone(self) -> bool:
        return self.availability in ("MULTI_ZONE", "HIGH")

    @property
    def resizing(self) -> bool:
        return self.kind == "Dedicated" and self.spec_cku is not None and self.spec_cku != self.status_cku

    @property
    def settled(self) -> bool:
        """No change in flight: phase PROVISIONED and, for Dedicated, status.cku caught up with spec."""
        return self.phase == "PROVISIONED" and not self.resizing

    def summary(self) -> dict[str, Any]:
        return self.model_dump()


def parse_cluster(doc: dict[str, Any]) -> CloudCluster:
    spec = doc.get("spec") or {}
    config = spec.get("config") or {}
    status = doc.get("status") or {}
    endpoints = spec.get("endpoints") or {}
    public: dict[str, Any] = next(iter(endpoints.values()), {}) if isinstance(endpoints, dict) else {}
    return CloudCluster(
        id=str(doc.get("id", "")),
        environment=str((spec.get("environment") or {}).get("id", "")),
        display_name=str(spec.get("display_name", "")),
        kind=str(config.get("kind", "")),
        availability=str(spec.get("availability", "")),
        cloud=str(spec.get("cloud", "")),
        region=str(spec.get("region", "")),
        spec_cku=config.get("cku"),
        status_cku=status.get("cku"),
        max_ecku=config.get("max_ecku"),
        phase=str(status.get("phase", "")),
        http_endpoint=spec.get("http_endpoint") or public.get("http_endpoint"),
        bootstrap=spec.get("kafka_bootstrap_endpoint") or public.get("kafka_bootstrap_endpoint"),
    )


class ClusterManagementClient:
    """`/cmk/v2/clusters` on api.confluent.cloud (or the emulator)."""

    def __init__(self, http: CloudHTTP) -> None:
        self.http = http

    def list_clusters(self, environment: str, *, page_size: int = 100) -> list[CloudCluster]:
        out: list[CloudCluster] = []
        params: dict[str, Any] = {"environment": environment, "page_size": page_size}
        for _ in range(1000):  # a bound on pages, not an expected count
            body = self.http.get_json("/cmk/v2/clusters", params=params)
            out.extend(parse_cluster(d) for d in body.get("data") or [])
            nxt = ((body.get("metadata") or {}).get("next")) or ""
            token = parse_qs(urlparse(nxt).query).get("page_token", [None])[0] if nxt else None
            if not token:
                break
            params = {**params, "page_token": token}
        return out

    def get_cluster_raw(self, cluster_id: str, environment: str) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get_json(f"/cmk/v2/clusters/{cluster_id}",
                                                  params={"environment": environment})
        return body

    def get_cluster(self, cluster_id: str, environment: str) -> CloudCluster:
        return parse_cluster(self.get_cluster_raw(cluster_id, environment))

    def update_config(self, cluster_id: str, environment: str, config: dict[str, Any]) -> CloudCluster:
        """PATCH `spec.config` alone (a resize or a tier upgrade must not ride with other changes)."""
        if "kind" not in config:
            raise BadInput("cluster config: kind: field required")
        body = {"spec": {"environment": {"id": environment}, "config": config}}
        return parse_cluster(self.http.send_json("PATCH", f"/cmk/v2/clusters/{cluster_id}", body))

    def resize(self, cluster_id: str, environment: str, cku: int) -> CloudCluster:
        return self.update_config(cluster_id, environment, {"kind": "Dedicated", "cku": cku})

    def upgrade(self, cluster_id: str, environment: str, kind: str) -> CloudCluster:
        """Change the cluster type. Confluent supports Basic -> Standard only; nothing else is sent."""
        if kind != "Standard":
            raise BadInput(f"--to: {kind.lower()!r}: Confluent Cloud upgrades Basic clusters to Standard only")
        return self.update_config(cluster_id, environment, {"kind": kind})
