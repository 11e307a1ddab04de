"""``python -m bus`` is the ``bus`` command (used to start worker processes)."""

from bus.cli.app import main

main()
