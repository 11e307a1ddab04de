"""Every Prometheus metric of the bus, defined once (DESIGN §9: ``bus_*``, no subject keys as labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SPOOL_DEPTH = Gauge("bus_spool_depth", "Record changes waiting in a publisher's spool.", ["agency"])
SPOOL_OLDEST = Gauge(
    "bus_spool_oldest_seconds", "Age of the oldest record change waiting in a publisher's spool.", ["agency"]
)
WEBHOOK_ATTEMPTS = Counter(
    "bus_webhook_attempts_total",
    "Webhook POSTs by outcome (delivered, server_error, throttled, timeout, connection_error, rejected).",
    ["agency", "outcome"],
)
EVENTS_INGESTED = Counter(
    "bus_events_ingested_total", "Record changes read from ingress topics.", ["provider", "type"]
)
DELIVERIES = Counter(
    "bus_deliveries_total", "Projected records delivered (live and backfill).", ["consumer", "agreement"]
)
DENIALS = Counter("bus_denials_total", "Deliveries refused by policy, by reason.", ["reason", "consumer"])
DEAD_LETTERS = Counter(
    "bus_dead_letters_total", "Inputs parked on dlq.<provider>, by reason.", ["provider", "reason"]
)
UNDELIVERABLE = Counter(
    "bus_deliveries_refused_total",
    "Delivery records a reader (subscriber SDK, webhook dispatcher, wallet) refused to hand over and parked, "
    "by reason; bad_signature means the processor did not sign it as it is.",
    ["reason"],
)
RECEIPTS_REFUSED = Counter(
    "bus_receipts_refused_total",
    "Receipts the audit archiver refused: not signed by a key of the consumer they name, or malformed.",
    ["reason"],
)
END_TO_END = Histogram(
    "bus_end_to_end_seconds",
    "From ce_time (published) to the delivery being written.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
PROCESSING = Histogram(
    "bus_processing_seconds",
    "Time to process one processor batch, from fetch to committed offsets.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
TRANSACTION = Histogram(
    "bus_processor_transaction_seconds",
    "One batch's Kafka transaction, from begin to committed: the floor of exactly-once latency.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CONSUMER_LAG = Gauge(
    "bus_consumer_lag", "Records behind the high watermark, summed over partitions.", ["group", "topic"]
)
REGISTRY_REQUESTS = Counter(
    "bus_registry_requests_total", "Schema registry HTTP requests.", ["method", "route", "status"]
)
AVRO_READER_FALLBACKS = Counter(
    "bus_avro_reader_fallbacks_total",
    "Schemas the generated Avro reader cannot compile, decoded by plain fastavro instead (slower).",
    ["error"],
)
PAPER_AVOIDED = Counter(
    "bus_paper_requests_avoided_total",
    "Deliveries that made a paper certificate unnecessary (the agreement's `replaces`).",
    ["certificate"],
)
AUDIT_CHAIN_VERIFIED = Gauge(
    "bus_audit_chain_verified", "1 when the last audit chain verification passed, 0 when it found a break."
)
AUDIT_ARCHIVED = Counter("bus_audit_archived_total", "Audit entries written to the SQL archive.")

# The agency scorecard of the current quarter (bus/report/gauges.py), recomputed from the audit archive
# every minute: gauges by agency only, so Grafana shows the same figures as `bus report agencies`.
SCORECARD_EVENTS = Gauge("bus_scorecard_events_published", "Events published this quarter.", ["agency"])
SCORECARD_RECORD_TYPES = Gauge(
    "bus_scorecard_record_types", "Record types published this quarter.", ["agency"]
)
SCORECARD_REJECTED = Gauge(
    "bus_scorecard_rejected_ratio", "Share of this quarter's events dead-lettered (0..1).", ["agency"]
)
SCORECARD_LATENCY_P50 = Gauge(
    "bus_scorecard_latency_p50_seconds", "Median publish-to-delivery latency this quarter.", ["agency"]
)
SCORECARD_LATENCY_P95 = Gauge(
    "bus_scorecard_latency_p95_seconds",
    "95th percentile publish-to-delivery latency this quarter.",
    ["agency"],
)
SCORECARD_SERVED = Gauge("bus_scorecard_consumers_served", "Consumers served this quarter.", ["agency"])
SCORECARD_RECEIVED = Gauge(
    "bus_scorecard_deliveries_received", "Deliveries received this quarter.", ["agency"]
)
SCORECARD_DENIED_PROVIDER = Gauge(
    "bus_scorecard_denials_as_provider", "Denials of its changes this quarter (all reasons).", ["agency"]
)
SCORECARD_DENIED_CONSUMER = Gauge(
    "bus_scorecard_denials_as_consumer", "Deliveries to it denied this quarter (all reasons).", ["agency"]
)
SCORECARD_AGREEMENTS = Gauge("bus_scorecard_agreements_active", "Agreements in force.", ["agency"])
SCORECARD_EXPIRING = Gauge(
    "bus_scorecard_agreements_expiring", "Agreements in force that end within 30 days.", ["agency"]
)
SCORECARD_PAPER = Gauge(
    "bus_scorecard_paper_avoided",
    "Paper certificates avoided this quarter (deliveries with `replaces`).",
    ["agency"],
)
SCORECARD_FRESHNESS = Gauge(
    "bus_scorecard_freshness_seconds", "Time since the last change of its stalest record type.", ["agency"]
)
