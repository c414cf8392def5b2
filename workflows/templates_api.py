"""The template gallery's REST endpoints (mounted at /api/v1/templates)."""

from ninja import Router

router = Router(tags=["templates"])
