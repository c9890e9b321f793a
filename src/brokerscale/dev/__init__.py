"""A real local Apache Kafka cluster (KRaft) started from Maven Central jars, for the demo, the tests
and users' experiments."""
