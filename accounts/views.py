"""Browser pages for accounts: home, settings (account, teams, API keys) and the team switcher;
Settings > Team and the invitation pages are in team_views.py.

Sign up, log in, log out and password reset are allauth's views with our templates."""

from collections.abc import Callable
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from wireflow_site.errors import ApiError, Forbidden, InvalidRequest, NotFound

from . import services
from .forms import ApiKeyForm, TeamForm, TeamSwitchForm
from .models import ApiKey, Team, User
from .permissions import ForbiddenRole, api_key_scopes_allowed
from .scopes import ALL_SCOPES
from .selectors import (
    api_key_get_for_user,
    api_keys_for_team,
    current_team_for_user,
    member_roles,
    memberships_for_user,
    team_get_for_user,
)

# The one place a new key's secret waits: set by the create POST, popped by the GET it
# redirects to, so a reload (or any later page) no longer has it.
NEW_KEY_SESSION_KEY = "accounts.new_api_key"


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)  # every caller is behind login_required


def forbidden(request: HttpRequest, message: str, back_url: str = "/settings/api-keys/",
              back_label: str = "Back to API keys") -> HttpResponse:
    return render(request, "accounts/forbidden.html", {
        "message": message, "back_url": back_url, "back_label": back_label}, status=403)


def member_team(request: HttpRequest, team_id: int) -> Team:
    """The team `team_id` when the signed-in user belongs to it; 404 otherwise, as for a team
    that does not exist, so a URL cannot tell whether another team does."""
    team = team_get_for_user(_user(request), team_id)
    if team is None:
        raise Http404("Team not found")
    return team


def current_team_page(request: HttpRequest,
                      page: Callable[[HttpRequest, Team], HttpResponse]) -> HttpResponse:
    """A settings page of the user's current team; one who belongs to none is sent to Teams
    to create one."""
    team = current_team_for_user(_user(request))
    if team is None:
        messages.warning(request, "You do not belong to any team: create one first.")
        return redirect("teams")
    return page(request, team)


def refusals_answered(request: HttpRequest, act: Callable[[], HttpResponse],
                      forbidden_page: Callable[[HttpRequest], HttpResponse],
                      refused: Callable[[ApiError], HttpResponse]) -> HttpResponse:
    """`act()`'s page, or a service's refusal answered as on every settings page: the role's
    with `forbidden_page`, an unknown object with 404, any other (the last owner, a key the
    provider refused...) with `refused`, on the page."""
    try:
        return act()
    except Forbidden:
        return forbidden_page(request)
    except NotFound as error:
        raise Http404(error.message) from None
    except ApiError as error:
        return refused(error)


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("/workflows/")
    return render(request, "home.html")


@login_required
def account(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/account.html", {"tab": "account"})


@login_required
@require_http_methods(["GET", "POST"])
def teams(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = TeamForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        team = services.team_create_and_switch(user=user, name=form.cleaned_data["name"])
        messages.success(request, f"Created {team.name}. It is now your current team.")
        return redirect("teams")
    return render(request, "accounts/teams.html", {
        "tab": "teams", "form": form, "memberships": memberships_for_user(user),
    })


@login_required
@require_POST
def team_switch(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = TeamSwitchForm(request.POST)
    team = team_get_for_user(user, form.cleaned_data["team"]) if form.is_valid() else None
    if team is None:
        raise Http404("Team not found")
    services.user_switch_team(user, team)
    messages.info(request, f"Switched to {team.name}.")
    return redirect(_safe_next(request))


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return "/"


@login_required
@never_cache  # the page may carry a new key's secret: no cache, no back-button copy
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    team = current_team_for_user(user)
    if team is None:
        messages.warning(request, "Create a team first: API keys belong to a team.")
        return redirect("teams")
    roles = member_roles(team)
    role = roles.get(user.pk)
    allowed_scopes = [s for s in ALL_SCOPES if api_key_scopes_allowed(role, [s])]
    form = ApiKeyForm(request.POST if request.method == "POST" else None,
                      allowed_scopes=allowed_scopes)
    if request.method == "POST":
        try:
            if _create_key(request, user, team, form):
                return redirect("api_keys")
        except ForbiddenRole:
            return forbidden(request, "Your role in this team cannot create a key with these "
                                      "scopes: viewers may create keys with read scopes only.")
    keys = list(api_keys_for_team(team))
    return render(request, "accounts/api_keys.html", {
        "tab": "api_keys", "team": team, "form": form, "can_create": bool(allowed_scopes),
        "read_only_keys": len(allowed_scopes) < len(ALL_SCOPES),
        "keys": keys, "revocable": _revocable(user, role, roles, keys),
        "all_scope_count": len(ALL_SCOPES),
        "new_key": request.session.pop(NEW_KEY_SESSION_KEY, None),
    })


def _revocable(user: User, role: str | None, roles: dict[int, str],
               keys: list[ApiKey]) -> set[int]:
    """The ids of the live keys this person may revoke."""
    return {k.pk for k in keys if k.revoked_at is None and services.api_key_may_revoke(
        k, by=user, by_role=role, creator_role=roles.get(k.user_id))}


def _create_key(request: HttpRequest, user: User, team: Team, form: ApiKeyForm) -> bool:
    if not form.is_valid():
        return False
    try:
        created = services.api_key_create_as_member(
            user=user, team=team, name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"], expires_in_days=form.days())
    except InvalidRequest as error:
        form.add_error(None, error.message)
        return False
    new_key: dict[str, Any] = {"id": created.api_key.pk, "name": created.api_key.name,
                               "secret": created.secret}
    request.session[NEW_KEY_SESSION_KEY] = new_key
    return True


@login_required
@require_http_methods(["GET", "POST"])
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    user = _user(request)
    api_key = api_key_get_for_user(user, key_id)
    if api_key is None:
        raise Http404("API key not found")
    roles = member_roles(api_key.team)
    if not services.api_key_may_revoke(api_key, by=user, by_role=roles.get(user.pk),
                                       creator_role=roles.get(api_key.user_id)):
        return forbidden(request, "Your role in this team cannot revoke another member's key: "
                                  "owners and admins can.")
    if request.method == "POST":
        services.api_key_revoke_as_member(api_key, by=user)
        messages.success(request, f"Revoked “{api_key.name}”. It no longer works.")
        return redirect("api_keys")
    return render(request, "accounts/api_key_revoke.html", {"tab": "api_keys", "key": api_key})
