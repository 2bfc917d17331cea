"""REST API under /api/v1 and the LNS integration endpoints."""
