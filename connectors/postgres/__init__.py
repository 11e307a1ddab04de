"""PostgreSQL change capture: logical decoding (pgoutput) of mapped tables into signed bus events.

    async with PostgresConnector(load_config(path), kafka=settings, registry_url=url) as connector:
        await connector.run(stop)

See docs/connectors-postgres.md for the mapping format, LSN semantics and drift behaviour.
"""

from connectors.postgres.config import ConnectorConfig, load_config
from connectors.postgres.connector import PostgresConnector

__all__ = ["ConnectorConfig", "PostgresConnector", "load_config"]
