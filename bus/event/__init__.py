"""The event contract: envelope, wire format, signatures, topic names (pure, no I/O)."""
