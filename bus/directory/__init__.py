"""The agency directory: who takes part, their hashed tokens and public keys (``bus.agencies``)."""
