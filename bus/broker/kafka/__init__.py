"""Apache Kafka 4.x, the reference broker, run locally from its Maven Central artifacts (no Docker)."""
