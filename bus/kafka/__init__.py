"""The one Kafka client adapter: settings, clients, following, batched writes."""
