"""Adapter: build the cluster model from a live cluster through the admin API (metadata only).

Brokers and racks from DescribeCluster, replicas from Metadata (assignment order, first = preferred
leader), replica sizes from DescribeLogDirs (the largest copy, so a lagging follower does not make a
partition look cheap to move), disk capacity from the log dirs' total bytes when the broker reports it.
Message payloads are never read.
"""

from __future__ import annotations

import re
import time

from brokerscale.balance.model import Broker, ClusterModel
from brokerscale.connect import ConnectionProfile
from brokerscale.errors import BadInput, Unreachable
from brokerscale.kafka import KafkaAdmin, LogDirs, TopicInfo


def model_from_admin(admin: KafkaAdmin, topics: str | None = None, include_internal: bool = False,
                     allow_moving: bool = False, rate_window_s: float = 0.0) -> ClusterModel:
    """Snapshot the assignment; `topics` is a regular expression over topic names.

    Partitions in the middle of a reassignment list old and new replicas together, so proposing from
    them would be wrong: that is refused unless `allow_moving` (the executor only wants sizes).
    With `rate_window_s`, log dirs are read twice that far apart and the growth is each partition's
    bytes-in rate (the network-in goal's input). A live broker whose log dirs cannot be read is refused:
    sizing its replicas 0 would make moving them look free.
    """
    try:
        pattern = re.compile(topics) if topics else None
    except re.error as exc:
        raise BadInput(f"--topics: {topics!r} is not a regular expression ({exc})") from None
    cluster = admin.cluster()
    brokers = {b.id: Broker(b.id, b.rack) for b in cluster.brokers}
    chosen = [t for t in admin.topics(include_internal=include_internal)
              if pattern is None or pattern.fullmatch(t.name)]
    wanted = {t.name for t in chosen}
    moving = [] if allow_moving else sorted(tp for tp in admin.reassignments() if tp[0] in wanted)
    if moving:
        raise BadInput(f"{len(moving)} partitions are being reassigned (e.g. {moving[0][0]}-{moving[0][1]}); "
                       "wait for them (`brokerscale rebalance status`) or cancel them before proposing")
    live = sorted(cluster.live())
    dirs = _log_dirs(admin, live, wanted, chosen)
    sizes = dirs.largest_copy()
    rates: dict[tuple[str, int], float] = {}
    if rate_window_s > 0 and wanted:
        # bytes-in per partition from log growth over the window: metadata only, no payload is read
        time.sleep(rate_window_s)
        later = _log_dirs(admin, live, wanted, chosen).largest_copy()
        rates = {k: max(0.0, (later.get(k, 0) - v) / rate_window_s) for k, v in sizes.items()}
        sizes = {k: max(v, later.get(k, 0)) for k, v in sizes.items()}
    for b, d in dirs.brokers.items():
        if b in brokers and d.total_bytes:
            brokers[b] = Broker(b, brokers[b].rack, d.total_bytes)
    model = ClusterModel(brokers)
    for t in chosen:
        for p in t.partitions:
            for r in p.replicas:
                if r not in model.brokers:  # an offline broker still holds replicas
                    model.brokers[r] = Broker(r, None)
            key = (t.name, p.partition)
            model.add(key[0], key[1], list(p.replicas), sizes.get(key, 0), rates.get(key, 0.0))
    return model


def _log_dirs(admin: KafkaAdmin, brokers: list[int], names: set[str], topics: list[TopicInfo]) -> LogDirs:
    """Log dirs of the live brokers. A broker that fails to answer (it just died) does not hide the
    others' sizes: its partitions are sized from their other copies. A partition with no readable copy
    at all (every replica on a silent or fenced broker) is refused, naming the broker, not sized 0."""
    dirs = admin.log_dirs(brokers, names)
    failed = dirs.failed
    known = dirs.largest_copy()
    for t in topics:
        for p in t.partitions:
            if (t.name, p.partition) in known or not p.replicas:
                continue
            b = p.replicas[0]
            why = failed.get(b) or ("not answering" if b in failed else "fenced or not registered")
            if all(r in failed or r not in brokers for r in p.replicas):
                raise Unreachable(f"describe log dirs: the size of {t.name}-{p.partition} is unknown: its replicas "
                                  f"are only on broker {', '.join(map(str, p.replicas))} of {admin.where} ({why}); "
                                  "retry when the broker answers")
    return dirs


def model_from_cluster(prof: ConnectionProfile, topics: str | None = None, include_internal: bool = False,
                       rate_window_s: float = 0.0) -> ClusterModel:
    with prof.admin() as admin:
        return model_from_admin(admin, topics, include_internal, rate_window_s=rate_window_s)
