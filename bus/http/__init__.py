"""HTTP plumbing shared by every API: the server, request limits, ops endpoints."""
