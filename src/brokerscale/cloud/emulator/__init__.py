"""A local stand-in for Confluent Cloud (cmk v2, Metrics API v2, Kafka REST v3) for tests and the demo.

It follows Confluent's published OpenAPI files and the behaviour Confluent documents (resizes that take
time, one-CKU shrinks, Basic -> Standard only, 401/429/500), and listens on 127.0.0.1 only.
"""

from brokerscale.cloud.emulator.server import EmulatorServer
from brokerscale.cloud.emulator.state import EmulatorState, Fault

__all__ = ["EmulatorServer", "EmulatorState", "Fault"]
