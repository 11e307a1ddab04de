"""What data the bus carries and how to get it: the catalogue, AsyncAPI documents, access requests."""
