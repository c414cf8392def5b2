"""Browser pages for accounts: home, settings (account, teams, API keys) and the team switcher.

Sign up, log in, log out and password reset are allauth's views with our templates."""

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from wireflow_site.errors import InvalidRequest

from . import services
from .forms import ApiKeyForm, TeamForm, TeamSwitchForm
from .models import Team, User
from .scopes import ALL_SCOPES
from .selectors import (
    api_key_get_for_user,
    api_keys_for_team,
    can_manage_api_keys,
    current_team_for_user,
    memberships_for_user,
    team_get_for_user,
)

# The one place a new key's secret waits: set by the create POST, popped by the GET it
# redirects to, so a reload (or any later page) no longer has it.
NEW_KEY_SESSION_KEY = "accounts.new_api_key"


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)  # every caller is behind login_required


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "accounts/forbidden.html", {"message": message}, status=403)


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
    can_manage = can_manage_api_keys(user, team)
    form = ApiKeyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not can_manage:
            return _forbidden(request, "Viewers cannot create API keys.")
        if _create_key(request, user, team, form):
            return redirect("api_keys")
    return render(request, "accounts/api_keys.html", {
        "tab": "api_keys", "team": team, "form": form, "can_manage": can_manage,
        "keys": api_keys_for_team(team), "all_scope_count": len(ALL_SCOPES),
        "new_key": request.session.pop(NEW_KEY_SESSION_KEY, None),
    })


def _create_key(request: HttpRequest, user: User, team: Team, form: ApiKeyForm) -> bool:
    if not form.is_valid():
        return False
    try:
        created = services.api_key_create(
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
    if not can_manage_api_keys(user, api_key.team):
        return _forbidden(request, "Viewers cannot revoke API keys.")
    if request.method == "POST":
        services.api_key_revoke(api_key)
        messages.success(request, f"Revoked “{api_key.name}”. It no longer works.")
        return redirect("api_keys")
    return render(request, "accounts/api_key_revoke.html", {"tab": "api_keys", "key": api_key})
