"""Checksums of Kafka's record batches, from kafka-python's record layer.

A reader of segment files (`dr/segments.py`) verifies the CRC-32C of a dead broker's last batch.
kafka-python already carries Kafka's Castagnoli checksum (in C when the `crc32c` package is
installed), and kafka-python is reached only through this adapter package, so it is re-exported here
rather than written again.
"""

from __future__ import annotations

from kafka.record.util import calc_crc32c


def crc32c(data: bytes | memoryview) -> int:
    """CRC-32C (Castagnoli) of `data`, as in a v2 record batch's `crc` field."""
    return int(calc_crc32c(data))
