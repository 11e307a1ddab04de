"""Running components: supervision and the one backoff policy."""
