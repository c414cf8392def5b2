"""Settings > Providers: a row per provider (whose key runs it, its last 4 characters, its base
URL); owners and admins set, replace and remove the team's own keys, others read.

The page shows the current team; each change is a POST naming the team it acts on. The key is
never rendered back, not even into the form after an error: only `last4`."""

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from wireflow_site.errors import ApiError

from . import provider_keys
from .models import Team, User
from .permissions import Action, role_may
from .provider_keys import LABELS, MAX_BASE_URL_LENGTH, MAX_KEY_LENGTH, provider_overview
from .selectors import membership_role
from .views import current_team_page, forbidden, member_team, refusals_answered


class ProviderKeyForm(forms.Form):
    api_key = forms.CharField(
        label="API key", max_length=MAX_KEY_LENGTH, strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    base_url = forms.CharField(
        label="Base URL (optional)", max_length=MAX_BASE_URL_LENGTH, required=False, strip=True,
        widget=forms.URLInput(attrs={"placeholder": "the provider's own"}))


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _provider(provider: str) -> str:
    if provider not in provider_keys.PROVIDERS:
        raise Http404("Provider not found")
    return provider


def _forbidden(request: HttpRequest) -> HttpResponse:
    return forbidden(request, "Your role in this team cannot do this.",
                     reverse("providers"), "Back to Providers")


@login_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def providers(request: HttpRequest) -> HttpResponse:
    return current_team_page(request, _page)


def _page(request: HttpRequest, team: Team, failed: tuple[str, ProviderKeyForm] | None = None
          ) -> HttpResponse:
    role = membership_role(_user(request), team)
    can_manage = role_may(role, Action.MANAGE_PROVIDER_KEYS)
    rows = []
    for row in provider_overview(team):
        form = failed[1] if failed and failed[0] == row.provider else None
        rows.append({"row": row, "form": form or (ProviderKeyForm(
            prefix=row.provider, initial={"base_url": row.base_url}) if can_manage else None),
            "open": form is not None})
    return render(request, "accounts/providers.html",
                  {"tab": "providers", "team": team, "rows": rows, "can_manage": can_manage})


@login_required
@require_POST
def provider_key_save(request: HttpRequest, team_id: int, provider: str) -> HttpResponse:
    team, provider = member_team(request, team_id), _provider(provider)
    form = ProviderKeyForm(request.POST, prefix=provider)
    if not form.is_valid():
        return _page(request, team, (provider, _blank_key(form)))

    def save() -> HttpResponse:
        provider_keys.provider_key_set(team, provider, form.cleaned_data["api_key"],
                                       form.cleaned_data["base_url"], by=_user(request))
        messages.success(request, f"{LABELS[provider]} key saved. It will not be shown again.")
        return redirect("providers")

    def refused(error: ApiError) -> HttpResponse:
        form.add_error(None, error.message)
        return _page(request, team, (provider, _blank_key(form)))
    return refusals_answered(request, save, _forbidden, refused)


def _blank_key(form: ProviderKeyForm) -> ProviderKeyForm:
    # PasswordInput never renders its value back; be explicit all the same.
    form.fields["api_key"].widget.render_value = False
    return form


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def provider_key_remove(request: HttpRequest, team_id: int, provider: str) -> HttpResponse:
    """GET: the confirmation; POST: remove the team's key."""
    team, provider = member_team(request, team_id), _provider(provider)
    if not role_may(membership_role(_user(request), team), Action.MANAGE_PROVIDER_KEYS):
        return _forbidden(request)
    if request.method != "POST":
        context: dict[str, Any] = {"tab": "providers", "team": team, "provider": provider,
                                   "label": LABELS[provider]}
        return render(request, "accounts/provider_key_remove.html", context)
    provider_keys.provider_key_delete(team, provider, by=_user(request))
    messages.success(request, f"{LABELS[provider]} key removed: nodes now use the platform's.")
    return redirect("providers")
