"""A workflow's versions (mounted at /api/v1/workflows): list, read, tag, diff, restore."""

from ninja import Router

router = Router(tags=["versions"])
