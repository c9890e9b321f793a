"""Kafka REST v3 on the emulated cluster's REST endpoint: topics, partitions, configs, links, mirrors.

Errors use Kafka REST's own shape, `{"error_code": 40403, "message": "..."}`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from brokerscale.cloud.emulator.state import (
    EmulatedCluster,
    EmulatedLink,
    EmulatedMirror,
    EmulatedTopic,
    EmulatorState,
)

DEFAULT_CONFIGS = {"cleanup.policy": "delete", "retention.ms": "604800000", "min.insync.replicas": "2",
                   "max.message.bytes": "2097164"}
READ_ONLY = {"min.insync.replicas"}
MIRROR_ACTIONS = {"promote": "PENDING_STOPPED", "failover": "STOPPED", "pause": "PAUSED", "resume": "ACTIVE"}
PROMOTE_S = 2.0
"""How long a promote stays PENDING_STOPPED: it waits for the mirror to catch up (lag 0), then stops."""


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"error_code": code, "message": message}, status_code=status)


def rest_router(state: EmulatorState) -> APIRouter:
    router = APIRouter(prefix="/kafka/v3/clusters/{cluster_id}")

    def base(request: Request, cluster_id: str) -> str:
        return f"{str(request.base_url).rstrip('/')}/kafka/v3/clusters/{cluster_id}"

    def crn(cluster_id: str, rest: str = "") -> str:
        return f"crn:///kafka={cluster_id}{rest}"

    def find(cluster_id: str) -> EmulatedCluster | JSONResponse:
        c = state.cluster(cluster_id)
        return c if c is not None else _error(404, 40403, f"Cluster {cluster_id} not found")

    def find_topic(c: EmulatedCluster, topic: str) -> EmulatedTopic | JSONResponse:
        t = next((t for t in c.topics if t.name == topic), None)
        return t if t is not None else _error(404, 40403, "This server does not host this topic-partition.")

    def find_cluster_topic(cluster_id: str, topic: str) -> tuple[EmulatedCluster, EmulatedTopic] | JSONResponse:
        c = find(cluster_id)
        if isinstance(c, JSONResponse):
            return c
        t = find_topic(c, topic)
        return t if isinstance(t, JSONResponse) else (c, t)

    def topic_doc(request: Request, c: EmulatedCluster, t: EmulatedTopic) -> dict[str, Any]:
        me = f"{base(request, c.id)}/topics/{t.name}"
        return {"kind": "KafkaTopic", "metadata": {"self": me, "resource_name": crn(c.id, f"/topic={t.name}")},
                "cluster_id": c.id, "topic_name": t.name, "is_internal": False,
                "replication_factor": t.replication_factor, "partitions_count": t.partitions,
                "partitions": {"related": f"{me}/partitions"}, "configs": {"related": f"{me}/configs"},
                "partition_reassignments": {"related": f"{me}/partitions/-/reassignment"}}

    def listing(request: Request, kind: str, data: list[dict[str, Any]]) -> JSONResponse:
        return JSONResponse({"kind": kind, "metadata": {"self": str(request.url), "next": None}, "data": data})

    @router.get("")
    async def get_cluster(request: Request, cluster_id: str) -> Response:
        c = find(cluster_id)
        if isinstance(c, JSONResponse):
            return c
        me = base(request, cluster_id)
        return JSONResponse({
            "kind": "KafkaCluster", "metadata": {"self": me, "resource_name": crn(cluster_id)},
            "cluster_id": cluster_id, "controller": {"related": f"{me}/brokers/0"},
            "acls": {"related": f"{me}/acls"}, "brokers": {"related": f"{me}/brokers"},
            "broker_configs": {"related": f"{me}/broker-configs"},
            "consumer_groups": {"related": f"{me}/consumer-groups"}, "topics": {"related": f"{me}/topics"},
            "partition_reassignments": {"related": f"{me}/topics/-/partitions/-/reassignment"}})

    @router.get("/topics")
    async def list_topics(request: Request, cluster_id: str) -> Response:
        c = find(cluster_id)
        if isinstance(c, JSONResponse):
            return c
        return listing(request, "KafkaTopicList", [topic_doc(request, c, t) for t in c.topics])

    @router.get("/topics/{topic_name}")
    async def get_topic(request: Request, cluster_id: str, topic_name: str) -> Response:
        c = find(cluster_id)
        if isinstance(c, JSONResponse):
            return c
        t = find_topic(c, topic_name)
        return t if isinstance(t, JSONResponse) else JSONResponse(topic_doc(request, c, t))

    @router.get("/topics/{topic_name}/partitions")
    async def list_partitions(request: Request, cluster_id: str, topic_name: str) -> Response:
        found = find_cluster_topic(cluster_id, topic_name)
        if isinstance(found, JSONResponse):
            return found
        _c, t = found
        me = f"{base(request, cluster_id)}/topics/{topic_name}/partitions"
        data = [{"kind": "KafkaPartition",
                 "metadata": {"self": f"{me}/{p}",
                              "resource_name": crn(cluster_id, f"/topic={topic_name}/partition={p}")},
                 "cluster_id": cluster_id, "topic_name": topic_name, "partition_id": p,
                 "leader": {"related": f"{me}/{p}/replicas/{p % 3}"},
                 "replicas": {"related": f"{me}/{p}/replicas"},
                 "reassignment": {"related": f"{me}/{p}/reassignment"}} for p in range(t.partitions)]
        return listing(request, "KafkaPartitionList", data)

    def config_doc(request: Request, c: EmulatedCluster, t: EmulatedTopic, name: str) -> dict[str, Any]:
        me = f"{base(request, c.id)}/topics/{t.name}/configs/{name}"
        explicit = name in t.configs
        value = t.configs.get(name, DEFAULT_CONFIGS.get(name))
        source = "DYNAMIC_TOPIC_CONFIG" if explicit else "DEFAULT_CONFIG"
        return {"kind": "KafkaTopicConfig",
                "metadata": {"self": me, "resource_name": crn(c.id, f"/topic={t.name}/config={name}")},
                "cluster_id": c.id, "topic_name": t.name, "name": name, "value": value,
                "is_default": not explicit, "is_read_only": name in READ_ONLY, "is_sensitive": False,
                "source": source, "synonyms": [{"name": name, "value": value, "source": source}]}

    @router.get("/topics/{topic_name}/configs")
    async def list_configs(request: Request, cluster_id: str, topic_name: str) -> Response:
        found = find_cluster_topic(cluster_id, topic_name)
        if isinstance(found, JSONResponse):
            return found
        c, t = found
        names = sorted(set(DEFAULT_CONFIGS) | set(t.configs))
        return listing(request, "KafkaTopicConfigList", [config_doc(request, c, t, n) for n in names])

    @router.post("/topics/{topic_name}/configs:alter")
    async def alter_configs(request: Request, cluster_id: str, topic_name: str) -> Response:
        found = find_cluster_topic(cluster_id, topic_name)
        if isinstance(found, JSONResponse):
            return found
        _c, t = found
        try:
            body = await request.json()
        except ValueError:
            return _error(400, 40001, "The request body is not valid JSON")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not all(isinstance(d, dict) and isinstance(d.get("name"), str)
                                                 for d in data):
            return _error(400, 40002, "data must be a list of {name, value|operation}")
        for d in data:
            if d["name"] in READ_ONLY:
                return _error(400, 40002, f"Config {d['name']} cannot be altered")
        if not body.get("validate_only"):
            with state.lock:
                for d in data:
                    if str(d.get("operation") or "").upper() == "DELETE":
                        t.configs.pop(d["name"], None)
                    else:
                        t.configs[d["name"]] = str(d.get("value"))
                state.save()
        return Response(status_code=204)

    @router.get("/links")
    async def list_links(request: Request, cluster_id: str) -> Response:
        c = find(cluster_id)
        if isinstance(c, JSONResponse):
            return c
        me = f"{base(request, cluster_id)}/links"
        data = [{"kind": "KafkaLinkData",
                 "metadata": {"self": f"{me}/{ln.link_name}",
                              "resource_name": crn(cluster_id, f"/link={ln.link_name}")},
                 "source_cluster_id": ln.source_cluster_id, "link_name": ln.link_name, "link_id": ln.link_id,
                 "cluster_link_id": ln.link_id, "topic_names": [m.mirror_topic_name for m in ln.mirrors],
                 "link_state": "ACTIVE"} for ln in c.links]
        return listing(request, "KafkaLinkDataList", data)

    def settle(m: Any) -> None:
        """A promote finishes once its wait is over: the mirror caught up (lag 0) and stopped."""
        if m.status == "PENDING_STOPPED" and m.pending_until is not None and state.clock() >= m.pending_until:
            caught_up = [f + n for f, n in zip(m.fetched + [0] * len(m.lags), m.lags, strict=False)]
            m.status, m.pending_until, m.lags, m.fetched = "STOPPED", None, [0] * len(m.lags), caught_up

    def mirror_doc(request: Request, c: EmulatedCluster, link_name: str, m: Any) -> dict[str, Any]:
        settle(m)
        me = f"{base(request, c.id)}/links/{link_name}/mirrors"
        topic = next((t for t in c.topics if t.name == m.mirror_topic_name), None)
        parts = topic.partitions if topic else 1
        lags = (m.lags + [0] * parts)[:parts]
        fetched = (m.fetched + [0] * parts)[:parts]
        return {"kind": "KafkaMirrorData",
                "metadata": {"self": f"{me}/{m.mirror_topic_name}",
                             "resource_name": crn(c.id, f"/link={link_name}/topic={m.mirror_topic_name}")},
                "link_name": link_name, "mirror_topic_name": m.mirror_topic_name,
                "source_topic_name": m.source_topic_name, "num_partitions": parts,
                "mirror_lags": [{"partition": p, "lag": lags[p], "last_source_fetch_offset": fetched[p]}
                                for p in range(parts)],
                "mirror_status": m.status, "state_time_ms": int(state.clock() * 1000)}

    def find_link(cluster_id: str, link_name: str) -> tuple[EmulatedCluster, Any] | JSONResponse:
        c = find(cluster_id)
        if isinstance(c, JSONResponse):
            return c
        link = next((ln for ln in c.links if ln.link_name == link_name), None)
        if link is None:
            return _error(404, 40404, f"Cluster link '{link_name}' does not exist")
        return c, link

    async def json_body(request: Request) -> dict[str, Any] | JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, 40001, "The request body is not valid JSON")
        return body if isinstance(body, dict) else _error(400, 40002, "The request body must be a JSON object")

    @router.post("/links")
    async def create_link(request: Request, cluster_id: str) -> Response:
        """A destination-initiated link: this cluster mirrors topics of `source_cluster_id`."""
        c = find(cluster_id)
        if isinstance(c, JSONResponse):
            return c
        name = request.query_params.get("link_name", "")
        if not name:
            return _error(400, 40002, "link_name is required")
        body = await json_body(request)
        if isinstance(body, JSONResponse):
            return body
        source = body.get("source_cluster_id")
        if not isinstance(source, str) or not source:
            return _error(400, 40002, "source_cluster_id is required for a destination-initiated link")
        if source == cluster_id:
            return _error(400, 40002, "A cluster link cannot link a cluster to itself")
        if any(ln.link_name == name for ln in c.links):
            return _error(400, 40002, f"Cluster link '{name}' already exists")
        if request.query_params.get("validate_only", "false").lower() != "true":
            import uuid

            with state.lock:
                c.links.append(EmulatedLink(link_name=name, source_cluster_id=source, link_id=str(uuid.uuid4())))
                state.save()
        return Response(status_code=204)

    @router.delete("/links/{link_name}")
    async def delete_link(request: Request, cluster_id: str, link_name: str) -> Response:
        """Delete a link. With active mirror topics Confluent wants `force=true`; the mirror topics stay,
        no longer mirrored."""
        found = find_link(cluster_id, link_name)
        if isinstance(found, JSONResponse):
            return found
        c, link = found
        force = request.query_params.get("force", "false").lower() == "true"
        if not force and any(m.status in ("ACTIVE", "PAUSED", "PENDING_STOPPED") for m in link.mirrors):
            return _error(400, 40002, f"Cluster link '{link_name}' has active mirror topics; stop them or use force")
        if request.query_params.get("validate_only", "false").lower() != "true":
            with state.lock:
                c.links.remove(link)
                state.save()
        return Response(status_code=200)

    @router.post("/links/{link_name}/mirrors")
    async def create_mirror(request: Request, cluster_id: str, link_name: str) -> Response:
        """A mirror topic of the link's source topic: read-only here, same partitions as the source."""
        found = find_link(cluster_id, link_name)
        if isinstance(found, JSONResponse):
            return found
        c, link = found
        body = await json_body(request)
        if isinstance(body, JSONResponse):
            return body
        source_topic = body.get("source_topic_name")
        if not isinstance(source_topic, str) or not source_topic:
            return _error(400, 40002, "source_topic_name is required")
        name = body.get("mirror_topic_name") or source_topic
        if any(t.name == name for t in c.topics):
            return _error(400, 40002, f"Topic '{name}' already exists")
        src = state.cluster(link.source_cluster_id)
        src_topic = next((t for t in src.topics if t.name == source_topic), None) if src is not None else None
        if src is not None and src_topic is None:
            # 400, not 404: the only client error Confluent's file documents for this operation
            return _error(400, 40403, f"Topic '{source_topic}' does not exist on the source cluster")
        parts = src_topic.partitions if src_topic is not None else 1
        rf = int(body.get("replication_factor") or (src_topic.replication_factor if src_topic else 3))
        with state.lock:
            c.topics.append(EmulatedTopic(name=name, partitions=parts, replication_factor=rf))
            link.mirrors.append(EmulatedMirror(source_topic_name=source_topic, mirror_topic_name=name,
                                               lags=[0] * parts))
            state.save()
        return Response(status_code=204)

    @router.get("/links/{link_name}/mirrors")
    async def list_mirrors(request: Request, cluster_id: str, link_name: str) -> Response:
        found = find_link(cluster_id, link_name)
        if isinstance(found, JSONResponse):
            return found
        c, link = found
        with state.lock:
            data = [mirror_doc(request, c, link_name, m) for m in link.mirrors]
        return listing(request, "KafkaMirrorDataList", data)

    @router.get("/links/{link_name}/mirrors/{mirror_topic_name}")
    async def get_mirror(request: Request, cluster_id: str, link_name: str, mirror_topic_name: str) -> Response:
        found = find_link(cluster_id, link_name)
        if isinstance(found, JSONResponse):
            return found
        c, link = found
        mirror = next((m for m in link.mirrors if m.mirror_topic_name == mirror_topic_name), None)
        if mirror is None:
            return _error(404, 40403, f"Topic '{mirror_topic_name}' is not a mirror topic")
        with state.lock:
            return JSONResponse(mirror_doc(request, c, link_name, mirror))

    @router.post("/links/{link_name}/mirrors:{action}")
    async def alter_mirrors(request: Request, cluster_id: str, link_name: str, action: str) -> Response:
        """promote / failover (the DR switch), pause / resume: change each named mirror's status."""
        c = find(cluster_id)
        if isinstance(c, JSONResponse):
            return c
        link = next((ln for ln in c.links if ln.link_name == link_name), None)
        if link is None:
            return _error(404, 40404, f"Cluster link '{link_name}' does not exist")
        if action not in MIRROR_ACTIONS:
            return _error(404, 40400, f"HTTP 404 Not Found: mirrors:{action}")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, 40001, "The request body is not valid JSON")
        names = body.get("mirror_topic_names") if isinstance(body, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return _error(400, 40002, "mirror_topic_names must be a list of topic names")
        validate_only = request.query_params.get("validate_only", "false").lower() == "true"
        me = f"{base(request, cluster_id)}/links/{link_name}/mirrors"
        data = []
        with state.lock:
            for name in names:
                mirror = next((m for m in link.mirrors if m.mirror_topic_name == name), None)
                code, message = (None, None) if mirror else (40403, f"Topic '{name}' is not a mirror topic")
                if mirror is not None and not validate_only:
                    mirror.status = MIRROR_ACTIONS[action]
                    mirror.pending_until = state.clock() + PROMOTE_S if action == "promote" else None
                topic = next((t for t in c.topics if t.name == name), None)
                lags = mirror.lags if mirror is not None else []
                fetched = mirror.fetched if mirror is not None else []
                data.append({"kind": "AlterMirrorsData", "metadata": {"self": f"{me}/{name}"},
                             "mirror_topic_name": name, "error_code": code, "error_message": message,
                             "mirror_lags": [{"partition": p, "lag": lags[p] if p < len(lags) else 0,
                                              "last_source_fetch_offset": fetched[p] if p < len(fetched) else 0}
                                             for p in range(topic.partitions if topic and mirror else 0)],
                             "messages_truncated": None, "partition_level_truncation_data": []})
            if not validate_only:
                state.save()
        return JSONResponse({"kind": f"Kafka{action.capitalize()}Mirror", "metadata": {"self": me}, "data": data})

    return router
