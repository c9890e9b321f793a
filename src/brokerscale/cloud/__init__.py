"""Confluent Cloud: httpx clients of the real APIs (cmk v2, Metrics v2, Kafka REST v3) and a local
emulator that follows Confluent's published OpenAPI files, so every flow can be exercised offline.

The clients are the only code that talks to Confluent Cloud; everything else gets plain data from them.
"""
