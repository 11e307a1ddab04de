"""A Confluent-compatible schema registry whose storage is the ``bus.schemas`` topic."""
