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
from collections.abc import Iterable

API_KEY = 2  # ListOffsets
MIN_VERSION, MAX_VERSION = 1, 3  # timestamps and offsets, no tagged fields (kafka.fastpath)
REPLICA_ID = -1  # a client, not a follower
_PARTITION_OUT = struct.Struct(">ihqq")  # partition, error code, record timestamp, offset
_I16, _I32 = struct.Struct(">h"), struct.Struct(">i")


def encode_request(version: int, topics: Iterable[tuple[str, list[tuple[int, int]]]],
                   isolation_level: int = 0) -> bytes:
    """The request body (no header): for each topic, (partition, timestamp or -1 latest / -2 earliest)."""
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise ValueError(f"ListOffsets version {version} is not {MIN_VERSION}-{MAX_VERSION}")
    chunks = [_I32.pack(REPLICA_ID)]
    if version >= 2:
        chunks.append(struct.pack(">b", isolation_level))
    topics = list(topics)
    chunks.append(_I32.pack(len(topics)))
    for name, parts in topics:
        raw = name.encode()
        chunks += [_I16.pack(len(raw)), raw, _I32.pack(len(parts)),
                   struct.pack(">" + "iq" * len(parts), *[x for part in parts for x in part])]
    return b"".join(chunks)


def throttle_time_ms(version: int, data: bytes) -> int:
    return _I32.unpack_from(data, 0)[0] if version >= 2 else 0


def decode_response(version: int, data: bytes) -> list[tuple[str, list[tuple[int, int, int, int]]]]:
    """The response body (no header): per topic, (partition, error code, record timestamp, offset)."""
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise ValueError(f"ListOffsets version {version} is not {MIN_VERSION}-{MAX_VERSION}")
    view = memoryview(data)
    pos = 4 if version >= 2 else 0  # throttle_time_ms
    (count,), pos = _I32.unpack_from(view, pos), pos + 4
    out: list[tuple[str, list[tuple[int, int, int, int]]]] = []
    size = _PARTITION_OUT.size
    for _ in range(count):
        (length,) = _I16.unpack_from(view, pos)
        name = bytes(view[pos + 2:pos + 2 + length]).decode()
        pos += 2 + length
        (n,) = _I32.unpack_from(view, pos)
        pos += 4
        end = pos + n * size
        if end > len(view):
            raise ValueError(f"ListOffsets response truncated in topic {name!r}")
        out.append((name, list(_PARTITION_OUT.iter_unpack(view[pos:end]))))
        pos = end
    if pos != len(view):
        raise ValueError(f"ListOffsets response has {len(view) - pos} bytes past its last topic")
    return out
