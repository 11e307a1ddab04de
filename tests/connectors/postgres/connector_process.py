"""``bus connect postgres`` in its own OS process (the command function itself), so specs can SIGKILL it.

usage: python -m tests.connectors.postgres.connector_process --config FILE --bootstrap ADDR --registry URL ...
"""

from __future__ import annotations

import typer

from bus.cli.connect_postgres import postgres

if __name__ == "__main__":
    typer.run(postgres)
