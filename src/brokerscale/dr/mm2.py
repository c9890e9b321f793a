"""MirrorMaker 2 in dedicated mode: the generated `mm2.properties` of a flow.

One MirrorMaker process per flow (`org.apache.kafka.connect.mirror.MirrorMaker`, from Apache Kafka's
own jars), driving only the flow's target cluster(s). The configuration turns on what a DR copy needs:
checkpoints and synced group offsets (so consumers resume on the target from translated offsets),
heartbeats (so a silent flow is told from an idle one), and the data-sovereignty exclusions. Client
secrets of the two clusters are written into this file only (0600), never onto a command line.
Pure: the caller passes the connection properties in.
"""

from __future__ import annotations

from collections.abc import Mapping

from brokerscale.dr.topology import POLICY_CLASSES, Flow

#: MirrorMaker's own default exclusions, kept when brokerscale adds its own (setting
#: `topics.exclude` replaces the default list).
MM2_DEFAULT_TOPIC_EXCLUDES = ("mm2.*\\.internal", ".*\\.internal", "__.*")
MM2_DEFAULT_GROUP_EXCLUDES = ("console-consumer-.*", "connect-.*", "__.*")
CONFIG_EXCLUDES = ("follower\\.replication\\.throttled\\.replicas", "leader\\.replication\\.throttled\\.replicas",
                   "message\\.timestamp\\.difference\\.max\\.ms", "message\\.timestamp\\.type",
                   "unclean\\.leader\\.election\\.enable", "min\\.insync\\.replicas", "max\\.message\\.bytes")
#: How often checkpoints, synced group offsets, heartbeats and topic/group discovery run (seconds).
#: Short, because RPO of consumer positions and the time a new topic waits to be mirrored follow them.
INTERVAL_S = 5
#: MirrorMaker writes an offset sync at least every this many records. Failover translates a group's
#: offset exactly when the syncs around it show a one-to-one copy, else to at most this many records
#: before it (a consumer re-reads at most these records after failover, never skips): see translate.py.
#: Kafka's default is 100. The extra syncs cost no measurable throughput: at 5 MB/s of 1 KB records
#: benchmarks/dr_replication.py measured 1.08x a hand-run MirrorMaker with 20 and 0.91x with 100 on
#: the same (shared, noisy) machine; an earlier 0.41x / 0.44x was the machine's load, not this setting.
OFFSET_LAG_MAX = 20


def offset_syncs_topic(source: str) -> str:
    """Where MirrorMaker keeps a flow's upstream -> downstream offset pairs: on the target cluster (see
    `offset-syncs.topic.location` below), named after the other cluster of the pair, the source."""
    return f"mm2-offset-syncs.{source}.internal"


def checkpoints_topic(source: str, policy: str) -> str:
    """Where MirrorMaker writes translated group offsets (on the target cluster)."""
    # IdentityReplicationPolicy and DefaultReplicationPolicy both name it `<source>.checkpoints.internal`.
    del policy
    return f"{source}.checkpoints.internal"


def remote_topic(topic: str, source: str, policy: str) -> str:
    """The topic's name on the target cluster under the flow's replication policy."""
    return topic if policy == "identity" else f"{source}.{topic}"


def mm2_properties(flow_name: str, flow: Flow, clients: Mapping[str, Mapping[str, str]],
                   bootstraps: Mapping[str, str], excludes: Mapping[tuple[str, str], list[str]]) -> dict[str, str]:
    """The MirrorMaker 2 configuration of one flow.

    `clients`: each cluster's client properties (security settings, possibly secrets); `bootstraps`:
    each cluster's bootstrap servers; `excludes`: per (source, target) direction, the sovereignty rule's
    topic exclusions (added to the flow's own and MirrorMaker's defaults).
    """
    rf = str(flow.replication_factor)
    names = [flow.source, flow.target]
    props: dict[str, str] = {
        "clusters": ", ".join(names),
        "replication.policy.class": POLICY_CLASSES[flow.replication_policy],
        "replication.factor": rf,
        "checkpoints.topic.replication.factor": rf,
        "heartbeats.topic.replication.factor": rf,
        "offset-syncs.topic.replication.factor": rf,
        "offset.storage.replication.factor": rf,
        "config.storage.replication.factor": rf,
        "status.storage.replication.factor": rf,
        "sync.group.offsets.enabled": "true",
        "sync.group.offsets.interval.seconds": str(INTERVAL_S),
        "emit.checkpoints.enabled": "true",
        "emit.checkpoints.interval.seconds": str(INTERVAL_S),
        "emit.heartbeats.enabled": "true",
        "emit.heartbeats.interval.seconds": "1",
        "refresh.topics.interval.seconds": str(INTERVAL_S),
        "refresh.groups.interval.seconds": str(INTERVAL_S),
        "sync.topic.configs.enabled": "true",
        # MirrorMaker's default exclusions, plus max.message.bytes: failover fences a cluster with it, and
        # a config sync must never carry that fence to the other side.
        "config.properties.exclude": ", ".join(CONFIG_EXCLUDES),
        # ACL sync needs an authorizer on both sides and would copy the primary's principals: off.
        "sync.topic.acls.enabled": "false",
        "offset.lag.max": str(OFFSET_LAG_MAX),
        # The offset syncs live on the target (Kafka's default is the source): failover translates the
        # groups' offsets against them, and in an unplanned failover the source is the side that is gone.
        "offset-syncs.topic.location": "target",
        "tasks.max": "2",
        # Dedicated mode: one node owns the flow; its internal REST server is not needed.
        "dedicated.mode.enable.internal.rest": "false",
        # Every plugin in Kafka's own jars has a ServiceLoader manifest: without this the Connect runtime
        # also scans the whole classpath by reflection, once for MirrorMaker and once per herder's worker
        # (whose config comes from the target cluster's properties, hence `<cluster>.plugin.discovery`
        # too): 35 s of a 44 s start on a busy 2-core machine. Its log says "consider reconfiguring
        # plugin.discovery=service_load".
        "plugin.discovery": "service_load",
    }
    for name in names:
        props[f"{name}.plugin.discovery"] = "service_load"
        props[f"{name}.bootstrap.servers"] = bootstraps[name]
        for key, value in sorted(clients.get(name, {}).items()):
            props[f"{name}.{key}"] = value
    pairs = flow.directions()
    for source, target in [(flow.source, flow.target), (flow.target, flow.source)]:
        prefix = f"{source}->{target}"
        enabled = (source, target) in pairs
        props[f"{prefix}.enabled"] = "true" if enabled else "false"
        if not enabled:
            continue
        props[f"{prefix}.topics"] = ", ".join(flow.topics)
        props[f"{prefix}.topics.exclude"] = ", ".join(
            [*MM2_DEFAULT_TOPIC_EXCLUDES, *flow.exclude, *excludes.get((source, target), [])])
        props[f"{prefix}.groups"] = ", ".join(flow.groups)
        props[f"{prefix}.groups.exclude"] = ", ".join(MM2_DEFAULT_GROUP_EXCLUDES)
    return props


def render(props: Mapping[str, str], header: str) -> str:
    """Java properties text (values escaped) with a comment header."""
    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("\n", "\\n")

    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"{k} = {esc(v)}" for k, v in props.items()]
    return "\n".join(lines) + "\n"


def redacted(props: Mapping[str, str]) -> dict[str, str]:
    """The configuration as it may be shown: every secret-bearing value replaced by ***."""
    from brokerscale.connect import SECRET_KEYS

    return {k: ("***" if any(k.endswith("." + s) or k == s for s in SECRET_KEYS) or "password" in k else v)
            for k, v in props.items()}
