"""Adapter: build the cluster model from a live cluster through the admin API (metadata only).

Brokers and racks from DescribeCluster, replicas from Metadata (assignment order, first = preferred
leader), replica sizes from DescribeLogDirs (the largest copy, so a lagging follower does not make a
partition look cheap to move), disk capacity from the log dirs' total bytes when the broker reports it.
Message payloads are never read.
"""

from __future__ import annotations

import re
import time
from typing import Any

from brokerscale.balance.model import Broker, ClusterModel
from brokerscale.connect import ConnectionProfile
from brokerscale.errors import BadInput, Unreachable


def _call(what: str, fn: Any, *args: Any, **kw: Any) -> Any:
    from kafka.errors import KafkaError

    try:
        return fn(*args, **kw)
    except KafkaError as exc:
        raise Unreachable(f"{what}: {type(exc).__name__}: {exc}") from None


def model_from_admin(admin: Any, topics: str | None = None, include_internal: bool = False,
                     allow_moving: bool = False, rate_window_s: float = 0.0) -> ClusterModel:
    """Snapshot the assignment; `topics` is a regular expression over topic names.

    Partitions in the middle of a reassignment list old and new replicas together, so proposing from
    them would be wrong: that is refused unless `allow_moving` (the executor only wants sizes).
    With `rate_window_s`, log dirs are read twice that far apart and the growth is each partition's
    bytes-in rate (the network-in goal's input).
    """
    try:
        pattern = re.compile(topics) if topics else None
    except re.error as exc:
        raise BadInput(f"--topics: {topics!r} is not a regular expression ({exc})") from None
    cluster = _call("describe cluster", admin.describe_cluster)
    brokers = {int(b["broker_id"]): Broker(int(b["broker_id"]), b.get("rack")) for b in cluster["brokers"]}
    described = _call("describe topics", admin.describe_topics)
    chosen: list[dict[str, Any]] = []
    for t in sorted(described, key=lambda x: x["name"] or ""):
        name = t["name"]
        internal = bool(t.get("is_internal")) or str(name).startswith("__")
        if not name or (internal and not include_internal):
            continue
        if pattern is not None and not pattern.fullmatch(name):
            continue
        chosen.append(t)
    wanted = {t["name"] for t in chosen}
    moving = [] if allow_moving else sorted(
        tp for tp in _call("list partition reassignments", admin.list_partition_reassignments) if tp.topic in wanted)
    if moving:
        raise BadInput(f"{len(moving)} partitions are being reassigned (e.g. {moving[0].topic}-{moving[0].partition}); "
                       "wait for them (`brokerscale rebalance status`) or cancel them before proposing")
    names = {t["name"] for t in chosen}
    sizes, capacity = _log_dir_sizes(admin, names, sorted(brokers))
    rates: dict[tuple[str, int], float] = {}
    if rate_window_s > 0 and names:
        # bytes-in per partition from log growth over the window: metadata only, no payload is read
        time.sleep(rate_window_s)
        later, _ = _log_dir_sizes(admin, names, sorted(brokers))
        rates = {k: max(0.0, (later.get(k, 0) - v) / rate_window_s) for k, v in sizes.items()}
        sizes = {k: max(v, later.get(k, 0)) for k, v in sizes.items()}
    for b, cap in capacity.items():
        if b in brokers:
            brokers[b] = Broker(b, brokers[b].rack, cap)
    model = ClusterModel(brokers)
    for t in chosen:
        for p in sorted(t["partitions"], key=lambda x: x["partition_index"]):
            reps = [int(r) for r in p["replica_nodes"]]
            for r in reps:
                if r not in model.brokers:  # an offline broker still holds replicas
                    model.brokers[r] = Broker(r, None)
            key = (t["name"], int(p["partition_index"]))
            model.add(key[0], key[1], reps, sizes.get(key, 0), rates.get(key, 0.0))
    return model


def _log_dir_sizes(admin: Any, names: set[str], brokers: list[int]) -> tuple[dict[tuple[str, int], int],
                                                                             dict[int, int]]:
    """Largest copy of each partition, and each broker's log-dir capacity when it reports one."""
    sizes: dict[tuple[str, int], int] = {}
    capacity: dict[int, int] = {}
    if not names:
        return sizes, capacity
    for b in brokers:
        try:  # one broker at a time: a broker that just died must not hide the others' sizes
            entries = _call("describe log dirs", admin.describe_log_dirs, sorted(names), [b])
        except Unreachable:
            continue
        for entry in entries:
            total = 0
            for d in entry["log_dirs"]:
                if d.get("total_bytes", -1) and d.get("total_bytes", -1) > 0:
                    total += int(d["total_bytes"])
                for tp in d.get("topics", []):
                    for p in tp.get("partitions", []):
                        if p.get("is_future_key"):
                            continue
                        key = (tp["name"], int(p["partition_index"]))
                        sizes[key] = max(sizes.get(key, 0), int(p["partition_size"]))
            if total:
                capacity[int(entry["broker"])] = total
    return sizes, capacity


def model_from_cluster(prof: ConnectionProfile, topics: str | None = None, include_internal: bool = False,
                       rate_window_s: float = 0.0) -> ClusterModel:
    admin = prof.admin()
    try:
        return model_from_admin(admin, topics, include_internal, rate_window_s=rate_window_s)
    finally:
        admin.close()
