"""Flows between Confluent Cloud clusters: a cluster link and its mirror topics instead of MirrorMaker.

A flow whose clusters are both `confluent:` is driven through Kafka REST v3 on the target cluster
(cluster links are destination-initiated): `dr up` creates the link named after the flow (the
source's bootstrap and login go in the request body only) and one mirror topic per selected source
topic; `dr status` reads the link's per-partition mirror lag; `dr failover` promotes the mirrors when
the source answers and the lag has drained (nothing lost), else fails them over at once (what was
behind is the RPO); `dr down` deletes the link. The data-sovereignty rule is applied as for
MirrorMaker: a selected PHI topic headed for a disallowed jurisdiction refuses the start, and a PHI
topic created later is never mirrored, because brokerscale creates every mirror topic by name.

Every step is audited with what was actually done so far: a request that fails for good half-way
(after Confluent's 429s and 5xx were retried) leaves an `error` row saying which mirrors exist.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brokerscale.cloud.cmk import CloudCluster, ClusterManagementClient
from brokerscale.cloud.credentials import CloudCredentials, load_credentials
from brokerscale.cloud.http import API_URL, CloudHTTP
from brokerscale.cloud.kafkarest import KafkaRestClient
from brokerscale.dr.sovereignty import Refusal, check_classes, exclusion_patterns, refusals
from brokerscale.dr.status import DirectionStatus, TopicLag
from brokerscale.dr.topology import Topology
from brokerscale.errors import BadInput, BrokerscaleError, OperationFailed
from brokerscale.topics.policy import TopicPolicy

API_URL_ENV = "CONFLUENT_CLOUD_API_URL"
PROMOTE_TIMEOUT_S = 120.0
"""How long a promote may stay PENDING_STOPPED (Confluent waits for the mirror to catch up)."""

#: What `:promote` / `:failover` leave a mirror in, and what the flow's state is called then.
STATES = {"ACTIVE": "running", "PAUSED": "stopped", "PENDING_STOPPED": "failing-over", "STOPPED": "failed-over"}


class LinkClients:
    """The Cloud API and each Confluent cluster's REST endpoint a topology needs, opened once."""

    def __init__(self, topo: Topology, source: str = "topology") -> None:
        self.topo = topo
        self.source = source
        self._cloud_creds: CloudCredentials | None = None
        self._cmk_http: CloudHTTP | None = None
        self._clusters: dict[str, CloudCluster] = {}
        self._rest: dict[str, KafkaRestClient] = {}

    def credentials(self, name: str) -> CloudCredentials:
        ref = self.topo.clusters[name]
        if ref.credentials_file:
            return load_credentials(Path(ref.credentials_file))
        if self._cloud_creds is None:
            self._cloud_creds = load_credentials(None)
        return self._cloud_creds

    def cluster(self, name: str) -> CloudCluster:
        """The Confluent cluster of topology cluster `name` (Cluster Management API)."""
        if name not in self._clusters:
            ref = self.topo.clusters[name]
            if self._cmk_http is None:
                url = os.environ.get(API_URL_ENV) or API_URL
                if not url.startswith(("http://", "https://")):
                    raise BadInput(f"{API_URL_ENV}: {url!r} is not an http(s) URL")
                if self._cloud_creds is None:
                    self._cloud_creds = load_credentials(None)
                self._cmk_http = CloudHTTP(url, self._cloud_creds)
            self._clusters[name] = ClusterManagementClient(self._cmk_http).get_cluster(
                str(ref.confluent), str(ref.environment))
        return self._clusters[name]

    def rest(self, name: str) -> KafkaRestClient:
        """Kafka REST v3 on the cluster's own endpoint."""
        if name not in self._rest:
            self._rest[name] = KafkaRestClient.for_cluster(self.cluster(name), self.credentials(name))
        return self._rest[name]

    def close(self) -> None:
        for r in self._rest.values():
            r.http.close()
        if self._cmk_http is not None:
            self._cmk_http.close()


@contextmanager
def clients(topo: Topology, source: str = "topology") -> Iterator[LinkClients]:
    c = LinkClients(topo, source)
    try:
        yield c
    finally:
        c.close()


@dataclass
class PreparedLink:
    name: str
    source_id: str
    target_id: str
    topics: list[str]
    configs: dict[str, str] = field(repr=False)
    refused: list[Refusal] = field(default_factory=list)

    def shown(self) -> dict[str, Any]:
        """What a dry run prints: the link, its configs with the login as ***, the mirror topics."""
        return {"flow": self.name, "link": self.name, "source_cluster_id": self.source_id,
                "target_cluster_id": self.target_id, "mirror_topics": self.topics,
                "link_configs": {k: ("***" if "jaas" in k else v) for k, v in self.configs.items()}}


def _bootstrap(cluster: CloudCluster) -> str:
    return re.sub(r"^[A-Z_]+://", "", cluster.bootstrap or "")


_NAME = r"(?:[\w-]|\\\.)+"  # a group name in a regex: letters, digits, '_', '-', escaped dots


def group_filter(pattern: str) -> dict[str, str] | None:
    """The link's group filter for one of the flow's group regexes: `.*` (all), `NAME`, or `PREFIX.*`.
    None: the regex says more than a cluster link can filter on."""
    if pattern == ".*":
        return {"name": "*", "patternType": "LITERAL", "filterType": "INCLUDE"}
    m = re.fullmatch(f"({_NAME})(\\.\\*)?", pattern)
    if m is None:
        return None
    name = m.group(1).replace("\\.", ".")
    return {"name": name, "patternType": "PREFIXED" if m.group(2) else "LITERAL", "filterType": "INCLUDE"}


def link_configs(flow: Any, source: CloudCluster, creds: CloudCredentials, where: str) -> dict[str, str]:
    """The link's configs: how the target reaches the source, and which groups' offsets it syncs."""
    filters = []
    for i, g in enumerate(flow.groups):
        f = group_filter(g)
        if f is None:
            raise BadInput(f"{where}.groups[{i}]: {g!r}: a cluster link filters groups by name or prefix only "
                           "(write NAME, PREFIX.* or .*)")
        filters.append(f)
    configs = {
        "bootstrap.servers": _bootstrap(source),
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.jaas.config": ("org.apache.kafka.common.security.plain.PlainLoginModule required "
                             f"username='{creds.key}' password='{creds.secret}';"),
    }
    if filters:
        configs["consumer.offset.sync.enable"] = "true"
        configs["consumer.offset.group.filters"] = json.dumps({"groupFilters": filters})
    return configs


def prepare(topo: Topology, policy: TopicPolicy, source: str, name: str, cl: LinkClients) -> PreparedLink:
    """Everything `dr up` checks for a link flow before changing anything: both clusters answer, the
    topics the flow selects on the source, and the data-sovereignty refusals (the caller refuses)."""
    problem = check_classes(topo, policy, source)
    if problem:
        raise BadInput(problem)
    flow = topo.flows[name]
    names = [t["topic_name"] for t in cl.rest(flow.source).list_topics() if not t.get("is_internal")]
    cl.rest(flow.target).cluster()
    excludes = exclusion_patterns(topo, policy, flow.source, flow.target)
    selected = sorted(t for t in names if flow.selects(t) and not any(re.fullmatch(p, t) for p in excludes))
    return PreparedLink(name, cl.cluster(flow.source).id, cl.cluster(flow.target).id, selected,
                        link_configs(flow, cl.cluster(flow.source), cl.credentials(flow.source),
                                     f"{source}: flows.{name}"),
                        refusals(topo, policy, name, flow, {flow.source: names}))


def start(prepared: PreparedLink, topo: Topology, cl: LinkClients, store: Any,
          say: Callable[[str], None]) -> dict[str, Any]:
    """Create the link (if missing) and every missing mirror topic; audited with what was done."""
    flow = topo.flows[prepared.name]
    rest = cl.rest(flow.target)
    existing = next((ln for ln in rest.list_links() if ln["link_name"] == prepared.name), None)
    mirrors = {m["mirror_topic_name"] for m in rest.list_mirrors(prepared.name)} if existing else set()
    intent = {"flow": prepared.name, "link": prepared.name, "source": flow.source, "target": flow.target,
              "source_cluster_id": prepared.source_id, "target_cluster_id": prepared.target_id,
              "mirror_topics": prepared.topics}
    with store.audited(actor="brokerscale dr up", action="dr.link.start", target=prepared.name, intent=intent,
                       before={"link": existing is not None, "mirror_topics": sorted(mirrors)},
                       cluster=prepared.target_id, environment=topo.clusters[flow.target].environment) as change:
        done: dict[str, Any] = {"link": existing is not None, "link_created": False, "mirrors_created": [],
                                "mirror_topics": sorted(mirrors)}
        change.after = done
        if existing is None:
            change.stage = "creating the link"
            say(f"flow {prepared.name}: creating cluster link {prepared.name} on {flow.target} "
                f"({prepared.target_id}) from {flow.source} ({prepared.source_id})")
            rest.create_link(prepared.name, prepared.source_id, prepared.configs)
            done.update(link=True, link_created=True)
        else:
            say(f"flow {prepared.name}: cluster link {prepared.name} exists on {flow.target}")
        for topic in prepared.topics:
            if topic in mirrors:
                continue
            change.stage = f"creating mirror topic {topic}"
            rest.create_mirror(prepared.name, topic)
            done["mirrors_created"].append(topic)
            done["mirror_topics"] = sorted({*done["mirror_topics"], topic})
            say(f"flow {prepared.name}: mirror topic {topic} created")
        change.after = done
    from brokerscale.dr.process import FlowProcess

    # The link's lag, sampled every few seconds: what its lag in seconds and the replication triggers of
    # `check` and the exporter are read from, as for a MirrorMaker flow.
    FlowProcess(prepared.name).start_watcher({
        "flow": prepared.name, "topology": topo.model_dump(mode="json"), "link": True,
        "bootstraps": {c: _bootstrap(cl.cluster(c)) for c in (flow.source, flow.target)}})
    return {"flow": prepared.name, "link": prepared.name, "target": flow.target, **done}


def stop(name: str, topo: Topology, cl: LinkClients, store: Any, say: Callable[[str], None],
         actor: str = "brokerscale dr down") -> dict[str, Any]:
    """Delete the flow's cluster link. Its mirror topics stay on the target, read-only until promoted."""
    flow = topo.flows[name]
    rest = cl.rest(flow.target)
    existing = next((ln for ln in rest.list_links() if ln["link_name"] == name), None)
    with store.audited(actor=actor, action="dr.link.delete", target=name, intent={"flow": name, "link": name},
                       before={"link": existing is not None,
                               "mirror_topics": (existing or {}).get("topic_names") or []},
                       cluster=topo.clusters[flow.target].confluent,
                       environment=topo.clusters[flow.target].environment) as change:
        if existing is not None:
            say(f"flow {name}: deleting cluster link {name} on {flow.target}")
            rest.http.request("DELETE", f"{rest.base}/links/{name}", params={"force": "true"})
        else:
            say(f"flow {name}: no cluster link {name} on {flow.target}")
        from brokerscale.dr.process import FlowProcess

        FlowProcess(name).stop()
        change.after = {"link": False}
    return {"flow": name, "was_running": existing is not None, "running": False}


def _mirror_lags(mirrors: list[dict[str, Any]]) -> dict[str, int]:
    return {m["mirror_topic_name"]: sum(int(p.get("lag") or 0) for p in m.get("mirror_lags") or [])
            for m in mirrors}


def evaluate(flow_name: str, source: str, target: str, link_found: bool,
             mirrors: list[dict[str, Any]]) -> DirectionStatus:
    """A link flow's status in the shape of a MirrorMaker flow's (pure). The link reports lag in
    records only: seconds and rates come from the watcher's history (`with_seconds`), never guessed."""
    states = {STATES.get(str(m.get("mirror_status")), "failed") for m in mirrors}
    state = ("stopped" if not link_found else "running" if not mirrors or states == {"running"}
             else "failed-over" if states == {"failed-over"} else
             "failing-over" if "failing-over" in states else "failed" if "failed" in states
             else sorted(states - {"running"})[0])
    topics = [TopicLag(m["mirror_topic_name"], m["mirror_topic_name"], int(m.get("num_partitions") or 0),
                       lag, None, False, None, None)
              for m, lag in zip(mirrors, _mirror_lags(mirrors).values(), strict=True)]
    topics.sort(key=lambda t: t.topic)
    notes = [f"cluster link {flow_name}: " + ", ".join(f"{m['mirror_topic_name']} {m.get('mirror_status')}"
                                                     for m in sorted(mirrors, key=lambda m: m["mirror_topic_name"]))
             ] if mirrors else []
    if not link_found:
        notes.append(f"no cluster link {flow_name} on {target}")
    return DirectionStatus(flow_name, source, target, state, None, False, sum(t.lag_records for t in topics),
                           None, None, None, topics, notes=notes)


def positions(mirrors: list[dict[str, Any]]) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
    """(source log-end, mirrored position) per mirror partition, from the link's report: the mirrored
    position is the source offset it last fetched, the source's end that plus its lag."""
    src: dict[tuple[str, int], int] = {}
    tgt: dict[tuple[str, int], int] = {}
    for m in mirrors:
        for part in m.get("mirror_lags") or []:
            tp = (str(m["mirror_topic_name"]), int(part["partition"]))
            tgt[tp] = int(part.get("last_source_fetch_offset") or 0)
            src[tp] = tgt[tp] + int(part.get("lag") or 0)
    return src, tgt


def with_seconds(st: DirectionStatus, mirrors: list[dict[str, Any]], samples: list[dict[str, Any]],
                 now: float) -> DirectionStatus:
    """The link's lag in seconds and its rates, interpolated from the link watcher's history as a
    MirrorMaker flow's are (pure). Without history they stay unknown."""
    from brokerscale.dr.status import evaluate as evaluate_positions

    src, tgt = positions(mirrors)
    if not samples or not src:
        return st
    timed = evaluate_positions(st.flow, st.source, st.target, now=now, source_end=src, target_end=tgt,
                               remote={tp: tp for tp in src}, syncs={}, samples=samples, state=st.state,
                               mm2_pid=None, watcher=True, source_seen_at=now)
    by_topic = {t.topic: t for t in timed.topics}
    for t in st.topics:
        if t.topic in by_topic:
            tt = by_topic[t.topic]
            t.lag_seconds, t.lower_bound = tt.lag_seconds, tt.lower_bound
            t.records_per_s, t.bytes_per_s = tt.records_per_s, tt.bytes_per_s
    secs = [t.lag_seconds for t in st.topics if t.lag_seconds is not None]
    st.lag_seconds = max(secs) if secs else None
    st.records_per_s, st.watcher = timed.records_per_s, True
    return st


def collect(topo: Topology, name: str, policy: TopicPolicy, cl: LinkClients) -> list[DirectionStatus]:
    """Read the link's mirror topics and their lag on the target (seconds from the link watcher's history)."""
    flow = topo.flows[name]
    try:
        rest = cl.rest(flow.target)
        found = any(ln["link_name"] == name for ln in rest.list_links())
        mirrors = rest.list_mirrors(name) if found else []
    except BrokerscaleError as exc:
        st = evaluate(name, flow.source, flow.target, True, [])
        st.state = "target-unreachable"
        st.notes = [f"target {flow.target} unreachable ({exc.message})"]
        return [st]
    st = evaluate(name, flow.source, flow.target, found, mirrors)
    from brokerscale.dr.process import FlowProcess

    proc = FlowProcess(name)
    try:
        samples = json.loads((proc.root / "positions.json").read_text()).get("samples", [])
    except (OSError, ValueError):
        samples = []
    st = with_seconds(st, mirrors, samples, time.time())
    st.watcher = proc.watcher_alive()
    try:
        names = [t["topic_name"] for t in cl.rest(flow.source).list_topics()]
        st.source_seen_at = time.time()
    except BrokerscaleError as exc:
        names = []
        st.notes.append(f"source {flow.source} unreachable ({exc.message})")
    st.refused_topics = [{"topic": r.topic, "class": r.topic_class, "jurisdiction": r.jurisdiction,
                          "reason": r.message + "; it is not mirrored"}
                         for r in refusals(topo, policy, name, flow, {flow.source: names})]
    return [st]


STEPS = ("probe source", "fence writes on source", "drain mirror lag", "measure RPO",
         "promote or fail over the mirror topics", "consumer-group offsets", "target ready")


def failover(topo: Topology, name: str, policy: TopicPolicy, store: Any, *, drain_timeout: float,
             say: Callable[[str], None], cl: LinkClients) -> dict[str, Any]:
    """The failover runbook for a cluster link, audited step by step.

    With the source answering, writes to it are fenced, the mirror lag is waited on, and a drained link
    is promoted (Confluent checks the mirrors caught up: nothing is lost). With the source dead, or
    the lag not drained in time, the mirrors are failed over at once and the link's lag at that
    moment is the RPO (records; the link does not date them).
    """
    from brokerscale.dr.failover import FENCE_KEY, FENCE_VALUE, state_path

    flow = topo.flows[name]
    rest = cl.rest(flow.target)
    steps: list[dict[str, Any]] = []
    report: dict[str, Any] = {"flow": name, "source": flow.source, "target": flow.target, "kind": "cluster-link",
                              "steps": steps}
    started = time.time()

    def step(what: str, detail: str, **extra: Any) -> None:
        steps.append({"step": what, "detail": detail, "at": round(time.time() - started, 3), **extra})
        say(f"[{len(steps)}/{len(STEPS)}] {what}: {detail}")

    if not any(ln["link_name"] == name for ln in rest.list_links()):
        raise OperationFailed(f"flow {name}: no cluster link {name} on {flow.target} (start it with "
                              "`brokerscale dr up --apply`)")
    intent = {"flow": name, "link": name, "source": flow.source, "target": flow.target,
              "drain_timeout_s": drain_timeout, "steps": list(STEPS)}
    with store.audited(actor="brokerscale dr failover", action="dr.failover", target=name, intent=intent,
                       before={"mirrors": _mirror_lags(rest.list_mirrors(name))},
                       cluster=topo.clusters[flow.target].confluent,
                       environment=topo.clusters[flow.target].environment) as change:
        change.after = report
        change.stage = STEPS[0]
        try:
            src = cl.rest(flow.source)
            src.cluster()
            reachable = True
        except BrokerscaleError:
            src, reachable = None, False
        step(STEPS[0], f"{flow.source} {'answers' if reachable else 'does not answer: unplanned failover'}")
        change.stage = STEPS[1]
        mirrors = [m for m in rest.list_mirrors(name) if m.get("mirror_status") in ("ACTIVE", "PAUSED")]
        topics = sorted(m["mirror_topic_name"] for m in mirrors)
        fence_at: float | None = None
        fenced: dict[str, str | None] = {}
        if src is not None:
            for m in mirrors:
                before = src.list_topic_configs(m["source_topic_name"]).get(FENCE_KEY)
                src.alter_topic_configs(m["source_topic_name"], {FENCE_KEY: FENCE_VALUE})
                fenced[m["source_topic_name"]] = before
            fence_at = time.time()
            step(STEPS[1], f"{FENCE_KEY}={FENCE_VALUE} on {len(fenced)} topic(s) of {flow.source}: every write is "
                           "refused", topics=sorted(fenced))
        else:
            step(STEPS[1], "skipped: the source does not answer")
        report["fenced"] = fenced
        change.stage = STEPS[2]
        lags = _mirror_lags(mirrors)
        if reachable:
            deadline = time.monotonic() + drain_timeout
            while sum(lags.values()) > 0 and time.monotonic() < deadline:
                time.sleep(1.0)
                lags = {t: v for t, v in _mirror_lags(rest.list_mirrors(name)).items() if t in lags}
            step(STEPS[2], f"{'drained' if sum(lags.values()) == 0 else 'not drained within the timeout'}: "
                           f"{sum(lags.values()):,} record(s) behind")
        else:
            step(STEPS[2], "skipped: the source does not answer")
        change.stage = STEPS[3]
        promote = reachable and sum(lags.values()) == 0
        step(STEPS[3], f"{sum(lags.values()):,} record(s) behind before the switch")
        change.stage = STEPS[4]
        action = "promote" if promote else "failover"
        results = rest.alter_mirrors(name, action, topics) if topics else []
        failed = {r["mirror_topic_name"]: r.get("error_message") for r in results if r.get("error_code")}
        if failed:
            raise OperationFailed(f"flow {name}: {action} refused for "
                                  + "; ".join(f"{t} ({m})" for t, m in failed.items()))
        # the lag each mirror had when it was stopped: what the target never got
        rpo = {r["mirror_topic_name"]: sum(int(p.get("lag") or 0) for p in r.get("mirror_lags") or [])
               for r in results}
        if promote:
            deadline = time.monotonic() + PROMOTE_TIMEOUT_S
            pending = set(topics)
            while pending and time.monotonic() < deadline:
                pending = {m["mirror_topic_name"] for m in rest.list_mirrors(name)
                           if m["mirror_topic_name"] in pending and m.get("mirror_status") != "STOPPED"}
                if pending:
                    time.sleep(0.5)
            if pending:
                raise OperationFailed(f"flow {name}: promote of {', '.join(sorted(pending))} not finished within "
                                      f"{PROMOTE_TIMEOUT_S:.0f}s (still PENDING_STOPPED; `brokerscale dr status`)")
            rpo = dict.fromkeys(topics, 0)
        report.update(action=action, rpo_records=sum(rpo.values()), rpo_seconds=None, rpo_exact=reachable,
                      rpo_by_topic=rpo)
        step(STEPS[4], f":{action} of {len(topics)} mirror topic(s): {sum(rpo.values()):,} record(s) not replicated")
        change.stage = STEPS[5]
        step(STEPS[5], "the link synced the groups' offsets (consumer.offset.sync.enable); the stopped mirrors "
                       "keep them" if flow.groups else "no groups selected")
        change.stage = STEPS[6]
        states = {m["mirror_topic_name"]: m.get("mirror_status") for m in rest.list_mirrors(name)}
        not_stopped = sorted(t for t in topics if states.get(t) != "STOPPED")
        if not_stopped:
            raise OperationFailed(f"flow {name}: mirror topics not writable yet: {', '.join(not_stopped)}")
        ready = time.time()
        bootstrap = _bootstrap(cl.cluster(flow.target))
        report.update(bootstrap=bootstrap, rto_seconds=round(ready - (fence_at or started), 3),
                      runbook_seconds=round(ready - started, 3), failed_over_at=ready)
        step(STEPS[6], f"{len(topics)} topic(s) writable on {flow.target}; applications switch to {bootstrap}")
        change.after = {k: v for k, v in report.items() if k != "steps"}
    path = state_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    return report
