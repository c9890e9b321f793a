"""A dead source's log directories, for the exact RPO of an unplanned failover.

With the primary dead, what it had committed is still on its brokers' disks. brokerscale knows
where a local dev cluster keeps them; for any other self-managed cluster an operator who mounted
the dead brokers' volumes names them (`dr failover --source-log-dirs DIR[,DIR]`). `segments.py`
reads the log-end offsets (batch headers only); here they are narrowed to the partitions the flow
mirrors and turned into the RPO against what the target holds (`exact_rpo`, pure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brokerscale.dr.mm2 import MM2_DEFAULT_TOPIC_EXCLUDES
from brokerscale.dr.positions import key
from brokerscale.dr.segments import CommittedEnd, ReplicaEnd, committed_ends, partition_dir, read_log_dir, timestamp_at
from brokerscale.dr.status import DirectionStatus
from brokerscale.dr.topology import Flow, Topology
from brokerscale.errors import BrokerscaleError
from brokerscale.kafka.types import TP


@dataclass
class DiskEnds:
    """What the dead source's log directories say about the flow's partitions."""

    dirs: list[Path]
    ends: dict[TP, CommittedEnd] = field(default_factory=dict)
    replicas: dict[TP, list[ReplicaEnd]] = field(default_factory=dict)
    torn: dict[TP, int] = field(default_factory=dict)  # bytes of a torn last batch ignored, per partition


def parse_dirs(text: str | None) -> list[Path] | None:
    """`--source-log-dirs DIR[,DIR]` as paths (None when not given)."""
    if text is None:
        return None
    return [Path(p.strip()).expanduser() for p in text.split(",") if p.strip()]


def known_log_dirs(topo: Topology, source: str, given: list[Path] | None) -> tuple[list[Path] | None, str]:
    """The source's log directories (the ones given, else a dev cluster's own), or None and why not."""
    if given:
        return given, "given with --source-log-dirs"
    ref = topo.clusters[source]
    if ref.dev:
        from brokerscale.dev.cluster import DevCluster

        dev = DevCluster.find(ref.dev)
        if dev is None:
            return None, f"no dev cluster named {ref.dev!r} on this machine"
        dirs = [dev.node_dir(n) / "data" for n in sorted(dev.nodes.values(), key=lambda n: n.id)]
        return dirs, f"the dev cluster {ref.dev}'s own"
    return None, (f"where {source}'s brokers keep their logs is not known here (mount their volumes and pass "
                  "--source-log-dirs)")


def read_disk_ends(dirs: list[Path], flow: Flow, excludes: list[str]) -> DiskEnds:
    """The committed end of every partition in `dirs` that the flow mirrors (selected, not excluded by
    MirrorMaker's defaults, the flow or the sovereignty rule). Raises BadInput for an unreadable dir."""
    out = DiskEnds(dirs)
    skip = [*MM2_DEFAULT_TOPIC_EXCLUDES, *excludes]
    replicas: list[ReplicaEnd] = []
    for d in dirs:
        replicas += [r for r in read_log_dir(d) if flow.selects(r.topic)
                     and not any(re.fullmatch(p, r.topic) for p in skip)]
    out.ends = committed_ends(replicas)
    for r in replicas:
        tp = (r.topic, r.partition)
        out.replicas.setdefault(tp, []).append(r)
        if r.torn_bytes:
            out.torn[tp] = out.torn.get(tp, 0) + r.torn_bytes
    return out


def oldest_unreplicated_ms(disk: DiskEnds, status: DirectionStatus) -> int | None:
    """The timestamp (ms) of the batch holding the oldest record the target lacks, over all partitions."""
    stamps = []
    for p in status.partitions:
        tp = (p.topic, p.partition)
        if p.lag_records <= 0 or tp not in disk.replicas:
            continue
        fullest = max(disk.replicas[tp], key=lambda r: r.end)
        ts = timestamp_at(partition_dir(fullest), p.mirrored)
        if ts is not None:
            stamps.append(ts)
    return min(stamps) if stamps else None


def exact_rpo(status: DirectionStatus, disk: DiskEnds, expected: set[TP], oldest_ms: int | None,
              why_dirs: str) -> dict[str, Any]:
    """The RPO fields of an unplanned failover's report from the dead source's disks (pure).

    `status` was evaluated with the disk's ends as the source's; `expected`: the partitions the
    watcher last saw the source with. Every one of them must be on the disks (else the figure would
    miss some: the caller falls back to the watcher's floor). Seconds: from the batch timestamp of
    the oldest record the target lacks to the newest record the source took (its last write)."""
    by_topic = {t.topic: t.lag_records for t in status.topics}
    newest = [e.max_timestamp for tp, e in disk.ends.items() if e.max_timestamp is not None]
    failed_ms = max(newest) if newest else None
    secs = 0.0 if status.lag_records == 0 else (
        None if oldest_ms is None or failed_ms is None else round(max(0.0, (failed_ms - oldest_ms) / 1000), 3))
    dirs = ", ".join(str(d) for d in disk.dirs)
    torn = sum(disk.torn.values())
    note = (f"{status.lag_records:,} record(s) ({secs or 0:.1f} s) {status.source} had committed never reached "
            f"{status.target} (exact: read from {status.source}'s log directories, {why_dirs}: {dirs}"
            + (f"; a torn last batch ({torn:,} bytes) was not committed and is not counted" if torn else "") + ")")
    return {"rpo_records": status.lag_records, "rpo_seconds": secs, "rpo_exact": True,
            "rpo_source": f"log directories of {status.source}: {dirs}",
            "source_last_write_at": None if failed_ms is None else failed_ms / 1000,
            "rpo_by_topic": by_topic, "rpo_by_partition": {key((p.topic, p.partition)): p.lag_records
                                                           for p in status.partitions},
            "source_committed_end": {key(tp): e.end for tp, e in disk.ends.items() if tp in expected
                                     or tp in {(p.topic, p.partition) for p in status.partitions}},
            "rpo_note": note}


def missing_partitions(disk: DiskEnds, expected: set[TP]) -> list[TP]:
    return sorted(tp for tp in expected if tp not in disk.ends)


def try_read(dirs: list[Path] | None, flow: Flow, excludes: list[str]) -> tuple[DiskEnds | None, str | None]:
    """Read the disks, or None and why (a dev cluster's directories that vanished, for instance)."""
    if not dirs:
        return None, None
    try:
        return read_disk_ends(dirs, flow, excludes), None
    except (BrokerscaleError, OSError) as exc:
        return None, str(exc)
