"""The ``bus`` command line: one module per command group."""
