"""The policy processor: ingress → verify, decode, validate, state, agreements → deliveries, DLQ, audit."""
