"""brokerscale: the scaling control plane for a health system's Kafka event broker."""

__version__ = "0.1.0"
