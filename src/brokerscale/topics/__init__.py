"""topics: healthcare topic classes and PHI rules -> desired topic state -> diff -> audited apply,
plus hot-partition detection. Pure core (policy, review, rates, hot); Kafka adapter in `live`."""
