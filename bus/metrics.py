"""Every Prometheus metric of the bus, defined once (DESIGN §9: ``bus_*``, no subject keys as labels)."""

from __future__ import annotations

from prometheus_client import Gauge

SPOOL_DEPTH = Gauge("bus_spool_depth", "Record changes waiting in a publisher's spool.", ["agency"])
SPOOL_OLDEST = Gauge(
    "bus_spool_oldest_seconds", "Age of the oldest record change waiting in a publisher's spool.", ["agency"]
)
