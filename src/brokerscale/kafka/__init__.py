"""The Kafka admin adapter: the only code in brokerscale that talks kafka-python.

`KafkaAdmin.connect(profile)` (or `profile.admin()`) gives a client with typed reads and writes; see
`admin.py`. Types are in `types.py`, error mapping in `errors.py`, private-API fast paths in `fastpath.py`.
"""

from brokerscale.kafka.admin import EARLIEST, LATEST, THROTTLE_RATES, THROTTLE_REPLICAS, KafkaAdmin
from brokerscale.kafka.internal_topics import is_internal
from brokerscale.kafka.types import (
    TP,
    BrokerInfo,
    BrokerLogDirs,
    ClusterInfo,
    GroupInfo,
    LogDirs,
    PartitionInfo,
    Reassignment,
    ReplicaLog,
    TopicInfo,
)

__all__ = ["EARLIEST", "LATEST", "THROTTLE_RATES", "THROTTLE_REPLICAS", "TP", "BrokerInfo", "BrokerLogDirs",
           "ClusterInfo", "GroupInfo", "KafkaAdmin", "LogDirs", "PartitionInfo", "Reassignment", "ReplicaLog",
           "TopicInfo", "is_internal"]
