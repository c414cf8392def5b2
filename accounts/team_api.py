"""The team REST endpoints (mounted at /api/v1/team): the team, its members, invitations."""

from ninja import Router

router = Router(tags=["team"])
