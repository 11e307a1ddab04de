"""Source connectors that bring agency record changes onto the bus."""
