"""ListOffsets versions 1-3 on the wire, encoded and decoded with `struct` alone.

A lag snapshot of the scaling guide's 20,000 partitions asks ListOffsets for 40,000 partition offsets
(log end and log start), and dating lag asks again, four times per search round. kafka-python builds
and decodes each partition as a generic schema object (one Python object per partition each way, then
read back attribute by attribute): about a third of the CPU of a `brokerscale lag` run. Versions 1-3
of the request and response are fixed-layout below the topic name (partition, timestamp; partition,
error, timestamp, offset), so a whole topic's partitions pack and unpack in one `struct` call.
Pure: bytes in, bytes out. test_kafka_wire checks both directions against the library's own encoder.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from itertools import chain


class WireError(ValueError):
    """A version this module does not read, or bytes that are not a whole response of it."""


API_KEY = 2  # ListOffsets
MIN_VERSION, MAX_VERSION = 1, 3  # timestamps and offsets, no tagged fields (kafka.fastpath)
REPLICA_ID = -1  # a client, not a follower
_PARTITION_OUT = struct.Struct(">ihqq")  # partition, error code, record timestamp, offset
_I16, _I32 = struct.Struct(">h"), struct.Struct(">i")


def encode_request(version: int, topics: Iterable[tuple[str, Sequence[int], Sequence[int]]],
                   isolation_level: int = 0) -> bytes:
    """The request body (no header): for each topic, its partitions and, beside them, a timestamp each
    (-1 latest, -2 earliest, or a time in ms). Two columns, not pairs: a topic packs in one call with no
    Python step per partition."""
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise WireError(f"ListOffsets version {version} is not {MIN_VERSION}-{MAX_VERSION}")
    chunks = [_I32.pack(REPLICA_ID)]
    if version >= 2:
        chunks.append(struct.pack(">b", isolation_level))
    topics = list(topics)
    chunks.append(_I32.pack(len(topics)))
    for name, partitions, timestamps in topics:
        head = _NAMES_OUT.get(name)
        if head is None:
            if len(_NAMES_OUT) >= NAME_CACHE_LIMIT:
                _NAMES_OUT.clear()
            raw = name.encode()
            head = _NAMES_OUT[name] = _I16.pack(len(raw)) + raw
        n = len(partitions)
        body = _PAIRS.get(n)
        if body is None:
            body = _PAIRS[n] = struct.Struct(">i" + "iq" * n)  # the count, then (partition, timestamp) pairs
        if n == 1 and len(timestamps) == 1:  # a dating round: nearly every topic, ~7x cheaper than the pairs
            chunks += [head, body.pack(1, partitions[0], timestamps[0])]
        else:
            chunks += [head, body.pack(n, *chain.from_iterable(zip(partitions, timestamps, strict=True)))]
    return b"".join(chunks)


# A dating round asks a few partitions of each of hundreds of topics, four requests per leader: the
# names' bytes and each partition count's layout are made once per process, not once per request.
# The exporter and `scale run` live for months on clusters that create and drop topics: the name caches
# start again from empty past NAME_CACHE_LIMIT names (far above any one cluster's topics), so they
# cannot grow without end. Partition counts are bounded by the largest topic.
NAME_CACHE_LIMIT = 50_000
_NAMES_OUT: dict[str, bytes] = {}
_NAMES_IN: dict[bytes, str] = {}
_PAIRS: dict[int, struct.Struct] = {}


def throttle_time_ms(version: int, data: bytes) -> int:
    return _I32.unpack_from(data, 0)[0] if version >= 2 else 0


def decode_response(version: int, data: bytes) -> list[tuple[str, list[tuple[int, int, int, int]]]]:
    """The response body (no header): per topic, (partition, error code, record timestamp, offset)."""
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise WireError(f"ListOffsets version {version} is not {MIN_VERSION}-{MAX_VERSION}")
    try:
        return _decode_response(version, data)
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise WireError(f"ListOffsets response truncated or garbled: {exc}") from None


def _decode_response(version: int, data: bytes) -> list[tuple[str, list[tuple[int, int, int, int]]]]:
    # Read from the bytes themselves: a dating round's answers hold hundreds of topics of one to three
    # partitions each, where slicing a memoryview and copying the slice cost more than the rows.
    data = bytes(data)
    pos = 4 if version >= 2 else 0  # throttle_time_ms
    (count,), pos = _I32.unpack_from(data, pos), pos + 4
    out: list[tuple[str, list[tuple[int, int, int, int]]]] = []
    size, total = _PARTITION_OUT.size, len(data)
    i16, i32, row = _I16.unpack_from, _I32.unpack_from, _PARTITION_OUT.unpack_from
    for _ in range(count):
        (length,) = i16(data, pos)
        start = pos + 2
        pos = start + length
        raw = data[start:pos]
        name = _NAMES_IN.get(raw)
        if name is None:
            if len(_NAMES_IN) >= NAME_CACHE_LIMIT:
                _NAMES_IN.clear()
            name = _NAMES_IN[raw] = raw.decode()
        (n,) = i32(data, pos)
        pos += 4
        end = pos + n * size
        if end > total:
            raise WireError(f"ListOffsets response truncated in topic {name!r}")
        out.append((name, [row(data, pos)] if n == 1 else list(_PARTITION_OUT.iter_unpack(data[pos:end]))))
        pos = end
    if pos != total:
        raise WireError(f"ListOffsets response has {total - pos} bytes past its last topic")
    return out


# -- Metadata, flexible versions --------------------------------------------------------------------
# A 20,000-partition Metadata answer decoded by the library as one object per partition, then copied
# into PartitionInfo, cost about as much again as the rest of a lag snapshot's collection. Versions
# 9-13 (the flexible ones; Kafka 2.4+ answers them) are read here in one pass.

METADATA_API_KEY = 3
METADATA_MIN_VERSION, METADATA_MAX_VERSION = 9, 13
_PARTITION_HEAD = struct.Struct(">hiii")  # error code, partition, leader, leader epoch
_ARRAYS: dict[int, struct.Struct] = {}
# compact array length byte k (k - 1 ids) -> its reader, for the one-byte lengths
_ARRAY_READERS = [struct.Struct(f">{max(0, k - 1)}i").unpack_from for k in range(0x80)]


def _uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _skip_tags(buf: bytes, pos: int) -> int:
    count, pos = _uvarint(buf, pos)
    for _ in range(count):
        _tag, pos = _uvarint(buf, pos)
        size, pos = _uvarint(buf, pos)
        pos += size
    return pos


def _compact_string(buf: bytes, pos: int) -> tuple[str | None, int]:
    n, pos = _uvarint(buf, pos)
    if n == 0:
        return None, pos
    return buf[pos:pos + n - 1].decode(), pos + n - 1


def _int32s(buf: bytes, pos: int) -> tuple[list[int], int]:
    b = buf[pos]
    if b < 0x80:  # fewer than 127 brokers in the array: its length is one byte
        n, pos = b, pos + 1
    else:
        n, pos = _uvarint(buf, pos)
    if n <= 1:  # 0: null, 1: empty
        return [], pos
    n -= 1
    fmt = _ARRAYS.get(n)
    if fmt is None:
        fmt = _ARRAYS[n] = struct.Struct(f">{n}i")
    return list(fmt.unpack_from(buf, pos)), pos + 4 * n


# (error, index, leader, replicas, isr, offline) and (error, name, internal, partitions)
MetadataPartition = tuple[int, int, int, list[int], list[int], list[int]]
MetadataTopic = tuple[int, str | None, bool, list[MetadataPartition]]


def decode_metadata(version: int, data: bytes) -> list[MetadataTopic]:
    """The topics of a Metadata response body (no header); brokers and cluster fields are skipped."""
    if not METADATA_MIN_VERSION <= version <= METADATA_MAX_VERSION:
        raise WireError(f"Metadata version {version} is not {METADATA_MIN_VERSION}-{METADATA_MAX_VERSION}")
    try:
        return _decode_metadata(version, bytes(data))
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise WireError(f"Metadata response truncated or garbled: {exc}") from None


def _decode_metadata(version: int, buf: bytes) -> list[MetadataTopic]:
    pos = 4  # throttle_time_ms
    brokers, pos = _uvarint(buf, pos)
    for _ in range(max(0, brokers - 1)):
        pos += 4  # node id
        _host, pos = _compact_string(buf, pos)
        pos += 4  # port
        _rack, pos = _compact_string(buf, pos)
        pos = _skip_tags(buf, pos)
    _cluster_id, pos = _compact_string(buf, pos)
    pos += 4  # controller id
    count, pos = _uvarint(buf, pos)
    topics: list[MetadataTopic] = []
    head = _PARTITION_HEAD.unpack_from
    arrays = _ARRAY_READERS
    for _ in range(max(0, count - 1)):
        (error,) = _I16.unpack_from(buf, pos)
        name, pos = _compact_string(buf, pos + 2)
        if version >= 10:
            pos += 16  # topic id
        internal = buf[pos] != 0
        n, pos = _uvarint(buf, pos + 1)
        parts: list[MetadataPartition] = []
        for _ in range(max(0, n - 1)):
            p_error, index, leader, _epoch = head(buf, pos)
            pos += 14
            # the three broker-id arrays, inline: 20,000 partitions, one-byte lengths (< 127 brokers)
            k = buf[pos]
            if 1 < k < 0x80:
                replicas = list(arrays[k](buf, pos + 1))
                pos += 4 * k - 3
            else:
                replicas, pos = _int32s(buf, pos)
            k = buf[pos]
            if 1 < k < 0x80:
                isr = list(arrays[k](buf, pos + 1))
                pos += 4 * k - 3
            else:
                isr, pos = _int32s(buf, pos)
            offline, pos = _int32s(buf, pos) if buf[pos] > 1 else ([], pos + 1)
            pos = _skip_tags(buf, pos) if buf[pos] else pos + 1
            parts.append((p_error, index, leader, replicas, isr, offline))
        pos += 4  # topic authorized operations
        pos = _skip_tags(buf, pos)
        topics.append((error, name, internal, parts))
    if version <= 10:
        pos += 4  # cluster authorized operations
    if version >= 13:
        pos += 2  # error code
    pos = _skip_tags(buf, pos)
    if pos != len(buf):
        raise WireError(f"Metadata response: {len(buf) - pos} bytes left after its last field")
    return topics


# -- OffsetFetch, version 8 (every group of a coordinator in one request) ----------------------------
# A lag snapshot fetches every group's committed offsets: 20,000 partitions on the scaling guide's
# cluster. The library decoded each as a schema object on its network thread, then built a
# TopicPartition and an OffsetAndMetadata per partition (~0.1 s of CPU). Version 8's partition entry is
# fixed-size when its metadata string is empty or null and it carries no tagged fields (as consumers
# commit them): a topic's partitions then unpack in one `struct` call; anything else is read field by field.

OFFSET_FETCH_API_KEY = 9
OFFSET_FETCH_VERSION = 8
_COMMITTED = struct.Struct(">iqiBhB")  # partition, offset, leader epoch, metadata length + 1, error, tag count


def _compact_length(buf: bytes, pos: int) -> tuple[int, int]:
    """A compact array's element count (-1: null)."""
    n, pos = _uvarint(buf, pos)
    return n - 1, pos


# (group, group error code, {(topic, partition): committed offset or None}, first partition error code)
CommittedGroup = tuple[str, int, dict[tuple[str, int], int | None], int]


def decode_offset_fetch(version: int, data: bytes) -> list[CommittedGroup]:
    """The groups of an OffsetFetch v8 response body (no header). A committed offset of -1 (nothing
    committed) is None."""
    if version != OFFSET_FETCH_VERSION:
        raise WireError(f"OffsetFetch version {version} is not {OFFSET_FETCH_VERSION}")
    try:
        return _decode_offset_fetch(bytes(data))
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise WireError(f"OffsetFetch response truncated or garbled: {exc}") from None


def _decode_offset_fetch(buf: bytes) -> list[CommittedGroup]:
    pos = 4  # throttle_time_ms
    groups, pos = _compact_length(buf, pos)
    out: list[CommittedGroup] = []
    size = _COMMITTED.size
    for _ in range(max(0, groups)):
        group, pos = _compact_string(buf, pos)
        topics, pos = _compact_length(buf, pos)
        offsets: dict[tuple[str, int], int | None] = {}
        first_error = 0
        for _ in range(max(0, topics)):
            name, pos = _compact_string(buf, pos)
            if name is None:
                raise WireError("OffsetFetch response: a topic without a name")
            n, pos = _compact_length(buf, pos)
            end = pos + size * max(0, n)
            rows = list(_COMMITTED.iter_unpack(buf[pos:end])) if end <= len(buf) else []
            # fixed-size entries (metadata empty or null, no tags): checked entry by entry, so the first
            # entry that is not ends the shortcut where it starts, before any byte is misread
            if len(rows) == max(0, n) and all(r[3] <= 1 and r[5] == 0 for r in rows):
                pos = end
            else:
                rows = []
                for _ in range(max(0, n)):
                    index, offset, epoch = struct.unpack_from(">iqi", buf, pos)
                    _metadata, pos = _compact_string(buf, pos + 16)
                    (error,) = _I16.unpack_from(buf, pos)
                    pos = _skip_tags(buf, pos + 2)
                    rows.append((index, offset, epoch, 0, error, 0))
            for index, offset, _epoch, _meta, error, _tags in rows:
                offsets[(name, index)] = offset if offset >= 0 else None
                if error and not first_error:
                    first_error = error
            pos = _skip_tags(buf, pos)
        (error,) = _I16.unpack_from(buf, pos)
        pos = _skip_tags(buf, pos + 2)
        out.append((group or "", error, offsets, first_error))
    pos = _skip_tags(buf, pos)
    if pos != len(buf):
        raise WireError(f"OffsetFetch response: {len(buf) - pos} bytes left after its last field")
    return out
