"""How far a dead Kafka cluster's partitions had got, read from its brokers' log directories.

When the primary region dies, failover must know what the source had committed to tell the exact
RPO. Its brokers no longer answer, but when their disks can be read (a self-managed cluster whose
volumes an operator mounts, or a local dev cluster) the log segments still say it: a partition's
log-end offset (LEO) is the last complete record batch's `baseOffset + lastOffsetDelta + 1`
(Kafka's DefaultRecordBatch v2 header: baseOffset int64 @0, batchLength int32 @8, magic int8 @16,
crc uint32 @17 (CRC-32C of everything from attributes @21 to the end of the batch), lastOffsetDelta
int32 @23, baseTimestamp int64 @27, maxTimestamp int64 @35; the fixed header is 61 bytes).

Only batch headers are interpreted. Record payloads may be patient data: they are skipped by
seeking past them, never decoded or kept. The one exception is the last complete batch of a
partition, whose bytes are run through CRC-32C (opaque bytes in, a checksum out): a broker killed
in mid-write can leave a batch whose header is on disk but whose body is not, and Kafka's own
recovery drops such a batch just as this reader does. A batch whose length runs past the end of the
file is torn the same way. Earlier batches were complete before that last write began.

Which offset is "acknowledged with acks=all"? A write is acknowledged once every in-sync replica has
it: the leader's high watermark (HW). The HW itself is only on disk as of the last
`replication-offset-checkpoint` (every 5 s by default): a floor that is seconds stale. Every in-sync
replica's LEO is at or above the HW, so the least LEO among the in-sync replicas is the figure: it is
the HW except for batches in flight at the moment of death (on every in-sync replica, the
acknowledgement not yet sent), which a restarted cluster keeps and serves as committed. With one
replica it is that replica's LEO. The ISR itself lives in the controllers' metadata, not on the
brokers' disks: a replica whose LEO is below the newest checkpointed HW was out of sync, the others
are taken as in sync.

Everything here is pure with respect to the network and the clock: it reads files only.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from brokerscale.errors import BadInput
from brokerscale.kafka.records import crc32c
from brokerscale.kafka.types import TP

HEADER = 61
"""DefaultRecordBatch.RECORD_BATCH_OVERHEAD: the fixed header of a v2 record batch."""
_AFTER_LENGTH = 12
"""baseOffset and batchLength precede what batchLength counts."""
_SEGMENT = re.compile(r"^(\d{20})\.log$")
_PARTITION_DIR = re.compile(r"^(.+)-(\d+)$")
HW_CHECKPOINT = "replication-offset-checkpoint"


@dataclass(frozen=True)
class BatchHeader:
    position: int
    base_offset: int
    length: int  # the whole batch, header included
    last_offset: int
    base_timestamp: int
    max_timestamp: int
    crc: int


@dataclass(frozen=True)
class SegmentEnd:
    end: int
    """The next offset: last complete batch's last offset + 1 (the segment's base offset when empty)."""
    max_timestamp: int | None
    """The newest timestamp (ms) of the last complete batch; None for an empty segment."""
    torn_bytes: int
    """Bytes after the last complete batch that are not a complete, intact batch (ignored)."""


@dataclass(frozen=True)
class ReplicaEnd:
    """One replica of one partition as its broker's log directory holds it."""

    topic: str
    partition: int
    node_id: int | None
    log_dir: Path
    end: int
    max_timestamp: int | None
    torn_bytes: int
    high_watermark: int | None  # from the directory's replication-offset-checkpoint (stale by up to 5 s)


@dataclass(frozen=True)
class CommittedEnd:
    """What the source had committed on one partition: the least LEO of its in-sync replicas."""

    end: int
    replicas: int
    in_sync: int
    max_timestamp: int | None


def _header(buf: bytes, position: int) -> BatchHeader:
    base, length, _epoch, _magic, crc, _attrs, delta, base_ts, max_ts = struct.unpack_from(">qiibIhiqq", buf, 0)
    return BatchHeader(position, base, _AFTER_LENGTH + length, base + delta, base_ts, max_ts, crc)


def batches(path: Path) -> list[BatchHeader]:
    """The headers of the complete batches of one segment file, in order, stopping at the first batch
    that is not complete (its length past the end of the file, or a length or magic no batch has)."""
    out: list[BatchHeader] = []
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        pos = 0
        while pos + HEADER <= size:
            fh.seek(pos)
            buf = fh.read(HEADER)
            if len(buf) < HEADER:
                break
            (length,) = struct.unpack_from(">i", buf, 8)
            if length < HEADER - _AFTER_LENGTH or buf[16] != 2 or pos + _AFTER_LENGTH + length > size:
                break
            h = _header(buf, pos)
            if out and h.base_offset <= out[-1].last_offset:
                break  # not a continuation of the log: garbage where a batch should start
            out.append(h)
            pos += h.length
    return out


def _intact(path: Path, h: BatchHeader) -> bool:
    with open(path, "rb") as fh:
        fh.seek(h.position + 21)
        body = fh.read(h.length - 21)
    return len(body) == h.length - 21 and crc32c(body) == h.crc


def segments(partition_dir: Path) -> list[tuple[int, Path]]:
    """The partition's segment files by base offset (from their names), oldest first."""
    found = []
    for p in partition_dir.iterdir():
        m = _SEGMENT.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def segment_end(path: Path, base_offset: int) -> SegmentEnd:
    """Where one segment ends: its last complete, intact batch (see the module doc)."""
    found = batches(path)
    size = path.stat().st_size
    while found and not _intact(path, found[-1]):
        found.pop()
    if not found:
        return SegmentEnd(base_offset, None, size)
    last = found[-1]
    return SegmentEnd(last.last_offset + 1, last.max_timestamp, size - (last.position + last.length))


def partition_end(partition_dir: Path) -> SegmentEnd:
    """The log-end offset of one partition directory (its newest segment; an empty partition ends at
    that segment's base offset). A partition without a segment file is an error (not a partition)."""
    segs = segments(partition_dir)
    if not segs:
        raise BadInput(f"{partition_dir}: no log segment (*.log) in this partition directory")
    base, path = segs[-1]
    return segment_end(path, base)


def timestamp_at(partition_dir: Path, offset: int) -> int | None:
    """The base timestamp (ms) of the batch holding `offset`: the time of the oldest record of that
    batch, no later than the record at `offset`. None if no complete batch holds it."""
    segs = [(b, p) for b, p in segments(partition_dir) if b <= offset]
    if not segs:
        return None
    for h in batches(segs[-1][1]):
        if h.base_offset <= offset <= h.last_offset:
            return h.base_timestamp
    return None


def read_hw_checkpoint(log_dir: Path) -> dict[TP, int]:
    """The high watermarks of `replication-offset-checkpoint` (version 0: a version line, a count line,
    then `topic partition offset` lines). Missing or malformed: nothing (the HW is only a hint here)."""
    try:
        lines = (log_dir / HW_CHECKPOINT).read_text().splitlines()
    except OSError:
        return {}
    if len(lines) < 2 or lines[0].strip() != "0":
        return {}
    out: dict[TP, int] = {}
    for line in lines[2:]:
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit() and parts[2].lstrip("-").isdigit():
            out[(parts[0], int(parts[1]))] = int(parts[2])
    return out


def node_id(log_dir: Path) -> int | None:
    """The broker's node.id from the directory's meta.properties (None if it has none)."""
    try:
        for line in (log_dir / "meta.properties").read_text().splitlines():
            k, _, v = line.partition("=")
            if k.strip() == "node.id" and v.strip().isdigit():
                return int(v.strip())
    except OSError:
        return None
    return None


def check_log_dir(log_dir: Path, field: str = "--source-log-dirs") -> None:
    """Refuse a path that is not a readable Kafka log directory (one line naming the field and why)."""
    if not log_dir.exists():
        raise BadInput(f"{field}: {log_dir}: no such directory")
    if not log_dir.is_dir():
        raise BadInput(f"{field}: {log_dir}: not a directory")
    try:
        (log_dir / "meta.properties").read_text()
    except PermissionError:
        raise BadInput(f"{field}: {log_dir}: meta.properties cannot be read (permission denied)") from None
    except OSError:
        raise BadInput(f"{field}: {log_dir}: not a Kafka log directory (no meta.properties)") from None


def read_log_dir(log_dir: Path, wanted: set[str] | None = None) -> list[ReplicaEnd]:
    """Every partition replica in one broker log directory (only topics in `wanted`, when given).
    Directories of deleted, moving or stray partitions (`…-delete`, `…-future`, `…-stray`) are skipped."""
    check_log_dir(log_dir)
    hw = read_hw_checkpoint(log_dir)
    node = node_id(log_dir)
    out = []
    for d in sorted(log_dir.iterdir()):
        m = _PARTITION_DIR.match(d.name)
        if not m or not d.is_dir() or (wanted is not None and m.group(1) not in wanted):
            continue
        topic, part = m.group(1), int(m.group(2))
        end = partition_end(d)
        out.append(ReplicaEnd(topic, part, node, log_dir, end.end, end.max_timestamp, end.torn_bytes,
                              hw.get((topic, part))))
    return out


def committed_ends(replicas: list[ReplicaEnd]) -> dict[TP, CommittedEnd]:
    """Per partition: the least LEO of the replicas taken as in sync (see the module doc)."""
    by_tp: dict[TP, list[ReplicaEnd]] = {}
    for r in replicas:
        by_tp.setdefault((r.topic, r.partition), []).append(r)
    out: dict[TP, CommittedEnd] = {}
    for tp, reps in sorted(by_tp.items()):
        hws = [r.high_watermark for r in reps if r.high_watermark is not None]
        floor = max(hws) if hws else None
        in_sync = [r for r in reps if floor is None or r.end >= floor] or reps
        end = min(r.end for r in in_sync)
        stamps = [r.max_timestamp for r in in_sync if r.max_timestamp is not None]
        out[tp] = CommittedEnd(end, len(reps), len(in_sync), max(stamps) if stamps else None)
    return out


def partition_dir(replica: ReplicaEnd) -> Path:
    return replica.log_dir / f"{replica.topic}-{replica.partition}"
