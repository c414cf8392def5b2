"""Settings > Team (members, roles, invitations, rename, leave, transfer, delete) and the
invitation link's page.

The page shows the current team. Every change is a POST to a URL naming the team it acts on, so
a team switched in another tab cannot redirect it; the services decide who may do what
(accounts/permissions.py): controls a role may not use are not shown, and a forged POST gets the
403 page."""

from collections.abc import Callable
from functools import wraps
from typing import Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from wireflow_site.errors import ApiError, Forbidden, NotFound

from . import invitations, services
from .forms import InviteForm, MemberRoleForm, TeamDeleteForm, TeamForm, TransferForm
from .models import Invitation, Membership, Role, Team, User
from .permissions import Action, may_manage_member, role_may
from .selectors import member_get, members_of_team, membership_role, user_exists_with_email
from .views import current_team_page, forbidden, member_team, refusals_answered

# The link of an invitation just sent waits here for the page the POST redirects to.
NEW_INVITATION_SESSION_KEY = "accounts.new_invitation"
AFTER_JOINING = "/workflows/"


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _back() -> str:
    return reverse("team_settings")


def _forbidden(request: HttpRequest) -> HttpResponse:
    return forbidden(request, "Your role in this team cannot do this.", _back(), "Back to Team")


def _act(request: HttpRequest, change: Callable[[], str], then: str | None = None) -> HttpResponse:
    """Run a change and answer like every form on the page: its message and back to the page;
    a refusal of the role is the 403 page, an unknown object 404, any other refusal (last
    owner, already a member...) a message on the page."""
    def done() -> HttpResponse:
        messages.success(request, change())
        return redirect(then or _back())

    def refused(error: ApiError) -> HttpResponse:
        messages.error(request, error.message)
        return redirect(_back())
    return refusals_answered(request, done, _forbidden, refused)


def _owner_only(view: Callable[[HttpRequest, Team], HttpResponse]
                ) -> Callable[[HttpRequest, int], HttpResponse]:
    """A view of the URL's team (`team_id`) that only its owner may use: other members get
    the 403 page."""
    @wraps(view)
    def checked(request: HttpRequest, team_id: int) -> HttpResponse:
        team = member_team(request, team_id)
        if not role_may(membership_role(_user(request), team), Action.OWN_TEAM):
            return _forbidden(request)
        return view(request, team)
    return checked


# --- The page ---------------------------------------------------------------------------------

@login_required
@never_cache  # it may show an invitation link just made
@require_http_methods(["GET", "HEAD"])
def team_settings(request: HttpRequest) -> HttpResponse:
    return current_team_page(request, _page)


def _page(request: HttpRequest, team: Team, status: int = 200, **forms: Any) -> HttpResponse:
    user = _user(request)
    role = membership_role(user, team)
    manageable = [r for r in Role if may_manage_member(role, r)]
    members = list(members_of_team(team))
    return render(request, "accounts/team.html", {
        "tab": "team", "team": team, "role": role, "role_label": Role(role).label if role else "",
        "can_manage": role_may(role, Action.MANAGE_MEMBERS),
        "owns": role_may(role, Action.OWN_TEAM),
        "members": [_member_row(m, user, role, manageable) for m in members],
        "invite_roles": manageable,
        "invitations": [_invitation_row(i, role) for i in invitations.invitations_open(team)],
        "transfer_candidates": [m for m in members if m.user_id != user.pk],
        "invite_form": forms.get("invite_form") or InviteForm(allowed_roles=manageable),
        "rename_form": forms.get("rename_form") or TeamForm(initial={"name": team.name}),
        "new_invitation": request.session.pop(NEW_INVITATION_SESSION_KEY, None),
        "invitation_days": settings.INVITATION_DAYS,
    }, status=status)


def _member_row(membership: Membership, me: User, role: str | None,
                manageable: list[Role]) -> dict[str, Any]:
    is_me = membership.user_id == me.pk
    may = not is_me and may_manage_member(role, membership.role)
    return {"m": membership, "is_me": is_me, "can_remove": may,
            "role_choices": [(r.value, r.label) for r in manageable] if may else []}


def _invitation_row(invitation: Invitation, role: str | None) -> dict[str, Any]:
    return {"i": invitation, "expired": invitations.invitation_state(invitation) == "expired",
            "can_act": may_manage_member(role, invitation.role)}


# --- Invitations ------------------------------------------------------------------------------

def _remember_link(request: HttpRequest, sent: invitations.SentInvitation) -> None:
    request.session[NEW_INVITATION_SESSION_KEY] = {
        "email": sent.invitation.email, "url": sent.accept_url, "emailed": sent.emailed}


@login_required
@require_POST
def invite(request: HttpRequest, team_id: int) -> HttpResponse:
    team = member_team(request, team_id)
    role = membership_role(_user(request), team)
    form = InviteForm(request.POST,
                      allowed_roles=[r for r in Role if may_manage_member(role, r)])
    if not form.is_valid():
        return _page(request, team, status=200, invite_form=form)

    def send() -> str:
        sent = invitations.invitation_create(team=team, by=_user(request),
                                             email=form.cleaned_data["email"],
                                             role=form.cleaned_data["role"])
        _remember_link(request, sent)
        return f"Invited {sent.invitation.email} as {sent.invitation.get_role_display()}."
    return _act(request, send)


def _open_invitation(request: HttpRequest, team_id: int, invitation_id: int) -> Invitation:
    try:
        return invitations.invitation_get_open(member_team(request, team_id), invitation_id)
    except NotFound:
        raise Http404("Invitation not found") from None


@login_required
@require_POST
def invitation_resend(request: HttpRequest, team_id: int, invitation_id: int) -> HttpResponse:
    invitation = _open_invitation(request, team_id, invitation_id)

    def resend() -> str:
        sent = invitations.invitation_resend(invitation, by=_user(request))
        _remember_link(request, sent)
        return f"Sent the invitation to {invitation.email} again, with a new link."
    return _act(request, resend)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, team_id: int, invitation_id: int) -> HttpResponse:
    invitation = _open_invitation(request, team_id, invitation_id)

    def revoke() -> str:
        invitations.invitation_revoke(invitation, by=_user(request))
        return f"Revoked the invitation to {invitation.email}: its link no longer works."
    return _act(request, revoke)


# --- Members ----------------------------------------------------------------------------------

def _membership(team: Team, user_id: int) -> Membership:
    membership = member_get(team, user_id)
    if membership is None:
        raise Http404("Member not found")
    return membership


@login_required
@require_POST
def member_role(request: HttpRequest, team_id: int, user_id: int) -> HttpResponse:
    team = member_team(request, team_id)
    membership = _membership(team, user_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
        return redirect(_back())

    def change() -> str:
        changed = services.member_change_role(team, user_id, form.cleaned_data["role"],
                                              by=_user(request))
        return f"{membership.user.email} is now {changed.get_role_display()}."
    return _act(request, change)


@login_required
@require_http_methods(["GET", "POST"])
def member_remove(request: HttpRequest, team_id: int, user_id: int) -> HttpResponse:
    team = member_team(request, team_id)
    membership = _membership(team, user_id)
    user = _user(request)
    if membership.user_id == user.pk:
        return redirect("team_leave", team.pk)
    if not may_manage_member(membership_role(user, team), membership.role):
        return _forbidden(request)
    if request.method == "GET":
        return render(request, "accounts/team_member_remove.html",
                      {"tab": "team", "team": team, "membership": membership})

    def remove() -> str:
        services.member_remove(team, user_id, by=user)
        return (f"Removed {membership.user.email} from {team.name}; their API keys of the "
                "team are revoked.")
    return _act(request, remove)


@login_required
@require_http_methods(["GET", "POST"])
def leave(request: HttpRequest, team_id: int) -> HttpResponse:
    team = member_team(request, team_id)
    if request.method == "GET":
        return render(request, "accounts/team_leave.html", {"tab": "team", "team": team})

    def go() -> str:
        services.team_leave(team, _user(request))
        return f"You left {team.name}."
    return _act(request, go, then=reverse("teams"))


# --- The team ---------------------------------------------------------------------------------

@login_required
@require_POST
def rename(request: HttpRequest, team_id: int) -> HttpResponse:
    team = member_team(request, team_id)
    form = TeamForm(request.POST)
    if not form.is_valid():
        if not role_may(membership_role(_user(request), team), Action.MANAGE_MEMBERS):
            return _forbidden(request)
        return _page(request, team, rename_form=form)
    old = team.name

    def change() -> str:
        services.team_rename(team, form.cleaned_data["name"], by=_user(request))
        return f"Renamed {old} to {team.name}."
    return _act(request, change)


@login_required
@require_http_methods(["GET", "POST"])
@_owner_only
def transfer(request: HttpRequest, team: Team) -> HttpResponse:
    form = TransferForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        messages.error(request, "Choose the member who becomes the owner.")
        return redirect(_back())
    target = _membership(team, form.cleaned_data["user"])
    if request.method == "GET":
        return render(request, "accounts/team_transfer.html",
                      {"tab": "team", "team": team, "target": target})

    def hand_over() -> str:
        services.team_transfer_ownership(team, target.user_id, by=_user(request))
        return f"{target.user.email} now owns {team.name}; you are an admin."
    return _act(request, hand_over)


@login_required
@require_http_methods(["GET", "POST"])
@_owner_only
def delete(request: HttpRequest, team: Team) -> HttpResponse:
    user = _user(request)
    form = TeamDeleteForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            services.team_delete(team, by=user, confirm=form.cleaned_data["confirm"])
        except Forbidden:
            return _forbidden(request)
        except ApiError:
            form.add_error("confirm", "That is not the team's name: type it exactly.")
        else:
            messages.success(request, f"Deleted {team.name} and everything in it.")
            return redirect("teams")
    return render(request, "accounts/team_delete.html",
                  {"tab": "team", "team": team, "form": form})


# --- The invitation link ------------------------------------------------------------------------

@never_cache
@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    found = invitations.invitation_find(token)
    if found is None:
        return _unusable(request, "This invitation link is not valid. Check that you copied "
                                  "the whole link, or ask for a new invitation.", 404)
    user = request.user
    if user.is_authenticated and found.accepted_by_id == user.pk:
        return _joined_already(request, found)
    refusal = invitations.invitation_refusal(found)
    if refusal is not None:
        return _unusable(request, f"{refusal.message}. Ask an owner or admin of "
                                  f"{found.team.name} to invite you again.", 410)
    if not user.is_authenticated:
        if request.method == "POST":
            return redirect(f"{reverse('account_login')}?{urlencode({'next': request.path})}")
        # A sign-up from this page accepts the invitation (signals.py).
        request.session[invitations.SESSION_KEY] = token
        return _invitation_page(request, found)
    if request.method == "GET":
        return _invitation_page(request, found)
    return _accept(request, found)


def _accept(request: HttpRequest, found: Invitation) -> HttpResponse:
    try:
        membership = invitations.invitation_accept(found, user=_user(request))
    except Forbidden:
        return _invitation_page(request, found, status=403)
    except invitations.InvitationGone as error:
        return _unusable(request, error.message + ".", 410)
    request.session.pop(invitations.SESSION_KEY, None)
    messages.success(request, f"You joined {found.team.name} as "
                              f"{membership.get_role_display()}.")
    return redirect(AFTER_JOINING)


def _joined_already(request: HttpRequest, found: Invitation) -> HttpResponse:
    if request.session.pop(invitations.JOINED_SESSION_KEY, None) != found.pk:
        messages.info(request, f"You have already accepted this invitation to "
                               f"{found.team.name}.")
    return redirect(AFTER_JOINING)


def _invitation_page(request: HttpRequest, found: Invitation, status: int = 200) -> HttpResponse:
    user = request.user
    here = request.path
    signup_query = urlencode({"email": found.email, "next": here})
    return render(request, "accounts/invitation.html", {
        "invitation": found, "team": found.team,
        "signed_in_as_invitee": user.is_authenticated
        and user.email.lower() == found.email.lower(),
        "has_account": user_exists_with_email(found.email),
        "signup_url": f"{reverse('account_signup')}?{signup_query}",
        "login_url": f"{reverse('account_login')}?{urlencode({'next': here})}",
        "here": here,
    }, status=status)


def _unusable(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "accounts/invitation_unusable.html", {"message": message},
                  status=status)
