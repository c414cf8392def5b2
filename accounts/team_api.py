"""The team REST endpoints (mounted at /api/v1/team): the team, its members, invitations.

The team is the key's team, or the browser session's current team. Reading needs
workflows:read, changing team:manage; the role rules are accounts/permissions.py's, answered by
the services (403 forbidden_role). An id of another team's member or invitation is 404."""

from typing import Any

from django.http import HttpRequest
from ninja import Body, Router, Status
from ninja.params import functions as param

from wireflow_site.errors import NotFound
from workflows.schemas import COMMON_ERRORS, ErrorOut

from . import invitations, services
from .auth import ApiAuth, caller_of
from .models import Invitation, Membership, Team
from .permissions import Action, require_role
from .scopes import TEAM_MANAGE, WORKFLOWS_READ
from .selectors import member_count, members_of_team
from .team_schemas import (
    InvitationCreatedOut,
    InvitationIn,
    InvitationsOut,
    MemberOut,
    MembersOut,
    RoleIn,
    TeamDeleteIn,
    TeamOut,
    TeamRenameIn,
    TransferIn,
)

router = Router(tags=["team"])

_read = ApiAuth(WORKFLOWS_READ)
_manage = ApiAuth(TEAM_MANAGE)
_NOT_FOUND = {404: ErrorOut}
_CONFLICT = {409: ErrorOut}
MAX_ID_DIGITS = 18  # below PostgreSQL's bigint: a longer id cannot exist


def _id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= MAX_ID_DIGITS else None


def _team(request: HttpRequest) -> Team:
    caller = caller_of(request)
    require_role(caller.user, caller.team, Action.READ)
    return caller.team


def _member_id(raw: str) -> int:
    user_id = _id(raw)
    if user_id is None:
        raise NotFound("Member not found")
    return user_id


def _invitation(team: Team, raw: str) -> Invitation:
    invitation_id = _id(raw)
    if invitation_id is None:
        raise NotFound("Invitation not found")
    return invitations.invitation_get_open(team, invitation_id)


def team_out(team: Team, role: str) -> dict[str, Any]:
    return {"id": team.pk, "name": team.name, "slug": team.slug, "plan": team.plan,
            "role": role, "memberCount": member_count(team)}


def member_out(membership: Membership) -> dict[str, Any]:
    user = membership.user
    return {"userId": user.pk, "email": user.email,
            "name": user.get_full_name() or user.email.split("@")[0],
            "role": membership.role, "joinedAt": membership.created_at}


def invitation_out(invitation: Invitation) -> dict[str, Any]:
    inviter = invitation.invited_by
    return {"id": invitation.pk, "email": invitation.email, "role": invitation.role,
            "expiresAt": invitation.expires_at, "createdAt": invitation.created_at,
            "invitedBy": inviter.email if inviter else None}


def sent_out(sent: invitations.SentInvitation) -> dict[str, Any]:
    invitation = sent.invitation
    return {"id": invitation.pk, "email": invitation.email, "role": invitation.role,
            "expiresAt": invitation.expires_at, "acceptUrl": sent.accept_url}


# --- The team -----------------------------------------------------------------------------------

@router.get("", auth=_read, response={200: TeamOut, **COMMON_ERRORS},
            summary="The team (the key's, or the session's current one) and the caller's role")
def get_team(request: HttpRequest) -> Any:
    caller = caller_of(request)
    return team_out(caller.team, require_role(caller.user, caller.team, Action.READ))


@router.patch("", auth=_manage, response={200: TeamOut, **COMMON_ERRORS},
              summary="Rename the team (owners and admins)")
def rename_team(request: HttpRequest, payload: TeamRenameIn) -> Any:
    caller = caller_of(request)
    team = services.team_rename(caller.team, payload.name, by=caller.user)
    return team_out(team, require_role(caller.user, team, Action.READ))


@router.post("/transfer", auth=_manage,
             response={200: TeamOut, **_NOT_FOUND, **COMMON_ERRORS},
             summary="Make another member the owner (owner only); the caller becomes an admin")
def transfer_team(request: HttpRequest, payload: TransferIn) -> Any:
    caller = caller_of(request)
    services.team_transfer_ownership(caller.team, payload.userId, by=caller.user)
    return team_out(caller.team, require_role(caller.user, caller.team, Action.READ))


@router.delete("", auth=_manage, response={204: None, **COMMON_ERRORS},
               summary="Delete the team and everything in it (owner only)",
               description="`confirm` (in the body or the query) must be the team's name, "
                           "else 400 invalid_request.")
def delete_team(request: HttpRequest, confirm: str | None = param.Query(None, max_length=110),
                payload: Body[TeamDeleteIn | None] = None) -> Any:
    caller = caller_of(request)
    typed = payload.confirm if payload is not None and payload.confirm else (confirm or "")
    services.team_delete(caller.team, by=caller.user, confirm=typed)
    return Status(204, None)


# --- Members ------------------------------------------------------------------------------------

@router.get("/members", auth=_read, response={200: MembersOut, **COMMON_ERRORS},
            summary="The team's members and their roles, in the order they joined")
def list_members(request: HttpRequest) -> Any:
    return {"members": [member_out(m) for m in members_of_team(_team(request))]}


@router.patch("/members/{user_id}", auth=_manage,
              response={200: MemberOut, **_NOT_FOUND, **_CONFLICT, **COMMON_ERRORS},
              summary="Change a member's role",
              description="Admins can neither change an owner nor make one (403 "
                          "forbidden_role); the last owner cannot be demoted (409 last_owner).")
def change_role(request: HttpRequest, user_id: str, payload: RoleIn) -> Any:
    caller = caller_of(request)
    membership = services.member_change_role(caller.team, _member_id(user_id), payload.role,
                                             by=caller.user)
    return member_out(membership)


@router.delete("/members/{user_id}", auth=_manage,
               response={204: None, **_NOT_FOUND, **_CONFLICT, **COMMON_ERRORS},
               summary="Remove a member (their API keys of this team are revoked)",
               description="Yourself: leave the team. The last owner can be neither removed "
                           "nor leave (409 last_owner).")
def remove_member(request: HttpRequest, user_id: str) -> Any:
    caller = caller_of(request)
    services.member_remove(caller.team, _member_id(user_id), by=caller.user)
    return Status(204, None)


# --- Invitations --------------------------------------------------------------------------------

@router.post("/invitations", auth=_manage,
             response={201: InvitationCreatedOut, **_CONFLICT, **COMMON_ERRORS},
             summary="Invite someone by email; the email carries the single-use link",
             description="Inviting an address that has an open invitation re-sends it (new "
                         "link, new expiry, this role). A member already: 409 already_member.")
def create_invitation(request: HttpRequest, payload: InvitationIn) -> Any:
    caller = caller_of(request)
    sent = invitations.invitation_create(team=caller.team, by=caller.user, email=payload.email,
                                         role=payload.role)
    return Status(201, sent_out(sent))


@router.get("/invitations", auth=_read, response={200: InvitationsOut, **COMMON_ERRORS},
            summary="Open invitations (neither accepted nor revoked; expired ones too), newest "
                    "first")
def list_invitations(request: HttpRequest) -> Any:
    return {"invitations": [invitation_out(i)
                            for i in invitations.invitations_open(_team(request))]}


@router.post("/invitations/{invitation_id}/resend", auth=_manage,
             response={200: InvitationCreatedOut, **_NOT_FOUND, **COMMON_ERRORS},
             summary="Send the invitation again: a new link (the old one stops working) and "
                     "a new expiry")
def resend_invitation(request: HttpRequest, invitation_id: str) -> Any:
    caller = caller_of(request)
    invitation = _invitation(_team(request), invitation_id)
    return sent_out(invitations.invitation_resend(invitation, by=caller.user))


@router.delete("/invitations/{invitation_id}", auth=_manage,
               response={204: None, **_NOT_FOUND, **COMMON_ERRORS},
               summary="Revoke an invitation: its link stops working")
def revoke_invitation(request: HttpRequest, invitation_id: str) -> Any:
    caller = caller_of(request)
    invitation = _invitation(_team(request), invitation_id)
    invitations.invitation_revoke(invitation, by=caller.user)
    return Status(204, None)
