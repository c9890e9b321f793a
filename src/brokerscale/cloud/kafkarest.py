"""Kafka REST v3 on a cluster's own REST endpoint (`spec.http_endpoint`): topics, partitions,
configs, cluster links and mirror topics. Authenticates with a cluster API key, not the Cloud key.

Reads metadata only: brokerscale never reads message payloads of real topics.
"""

from __future__ import annotations

from typing import Any

from brokerscale.cloud.cmk import CloudCluster
from brokerscale.cloud.credentials import CloudCredentials
from brokerscale.cloud.http import CloudHTTP
from brokerscale.errors import BadInput


class KafkaRestClient:
    """`/kafka/v3/clusters/{cluster_id}/...` on the cluster's REST endpoint (or the emulator)."""

    def __init__(self, http: CloudHTTP, cluster_id: str) -> None:
        self.http = http
        self.base = f"/kafka/v3/clusters/{cluster_id}"

    @classmethod
    def for_cluster(cls, cluster: CloudCluster, credentials: CloudCredentials, **http_options: Any) -> KafkaRestClient:
        """A client on the cluster's own REST endpoint (`spec.http_endpoint`), with a cluster API key."""
        if not cluster.http_endpoint:
            raise BadInput(f"{cluster.id}: the cluster reports no REST endpoint (spec.http_endpoint)")
        return cls(CloudHTTP(cluster.http_endpoint, credentials, **http_options), cluster.id)

    def _data(self, path: str) -> list[dict[str, Any]]:
        body = self.http.get_json(self.base + path)
        return list(body.get("data") or [])

    def cluster(self) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get_json(self.base)
        return body

    def list_topics(self) -> list[dict[str, Any]]:
        return self._data("/topics")

    def get_topic(self, topic: str) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get_json(f"{self.base}/topics/{topic}")
        return body

    def list_partitions(self, topic: str) -> list[dict[str, Any]]:
        return self._data(f"/topics/{topic}/partitions")

    def list_topic_configs(self, topic: str) -> dict[str, str | None]:
        return {c["name"]: c.get("value") for c in self._data(f"/topics/{topic}/configs")}

    def alter_topic_configs(self, topic: str, configs: dict[str, str | None]) -> None:
        """Set (value) or reset to default (None) several configs in one atomic request."""
        data = [{"name": k, "value": v} if v is not None else {"name": k, "operation": "DELETE"}
                for k, v in configs.items()]
        self.http.request("POST", f"{self.base}/topics/{topic}/configs:alter", json={"data": data})

    def list_links(self) -> list[dict[str, Any]]:
        return self._data("/links")

    def create_link(self, link: str, source_cluster_id: str, configs: dict[str, str] | None = None, *,
                    validate_only: bool = False) -> None:
        """A destination-initiated cluster link on this cluster from `source_cluster_id`. `configs` (the
        source's bootstrap and credentials) go in the request body only, never a URL or a log."""
        params = {"link_name": link, **({"validate_only": "true"} if validate_only else {})}
        body = {"source_cluster_id": source_cluster_id,
                "configs": [{"name": k, "value": v} for k, v in sorted((configs or {}).items())]}
        self.http.send_json("POST", f"{self.base}/links", body, params=params)

    def create_mirror(self, link: str, source_topic: str, mirror_topic: str | None = None) -> None:
        """A mirror topic of `source_topic` (same name unless `mirror_topic`) over `link`."""
        body: dict[str, Any] = {"source_topic_name": source_topic}
        if mirror_topic:
            body["mirror_topic_name"] = mirror_topic
        self.http.send_json("POST", f"{self.base}/links/{link}/mirrors", body)

    def list_mirrors(self, link: str) -> list[dict[str, Any]]:
        return self._data(f"/links/{link}/mirrors")

    def get_mirror(self, link: str, mirror_topic: str) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get_json(f"{self.base}/links/{link}/mirrors/{mirror_topic}")
        return body

    def alter_mirrors(self, link: str, action: str, topics: list[str], *,
                      validate_only: bool = False) -> list[dict[str, Any]]:
        """`promote` / `failover` (the DR switch), `pause` / `resume` mirror topics; per-topic results."""
        if action not in ("promote", "failover", "pause", "resume"):
            raise BadInput(f"mirror action: {action!r} is not promote, failover, pause or resume")
        params = {"validate_only": "true"} if validate_only else None
        body = self.http.send_json("POST", f"{self.base}/links/{link}/mirrors:{action}",
                                   {"mirror_topic_names": topics}, params=params)
        return list((body or {}).get("data") or [])
