"""Ingestion: what a change must pass before it is signed and written to ``ingress.*`` (SDK and gateway)."""
