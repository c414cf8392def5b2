"""The workflow's settings page: its webhook trigger (on/off, URL, rotate, signing secret), how
to call it, and its public link (workflows/sharing.py). Team members see it; viewers
cannot change anything; strangers get 404."""

import json
import shlex
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.models import User
from executions.run_inputs import example_inputs, run_inputs
from wireflow_site.errors import ApiError

from . import services, versions
from .models import LinkPermission, Workflow
from .pages import workflow_or_404
from .schemas import WEBHOOK_SECRET_MIN_LENGTH, webhook_url
from .selectors import user_can_modify
from .sharing import public_url, workflow_visibility_set


class WebhookSecretForm(forms.Form):
    secret = forms.CharField(
        label="Signing secret", min_length=WEBHOOK_SECRET_MIN_LENGTH, max_length=255,
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=f"At least {WEBHOOK_SECRET_MIN_LENGTH} characters. It is stored encrypted "
                  "and never shown again.")

    def clean_secret(self) -> str:
        secret: str = self.cleaned_data["secret"]
        if secret != secret.strip() or "\x00" in secret:
            raise forms.ValidationError("No spaces at either end, and no NUL characters.")
        return secret


VERSION_CHOICES_MAX = 50  # the newest numbers offered; every tagged version is offered too
TAGS_MAX = 200


class WebhookVersionForm(forms.Form):
    """Which version the webhook runs: the current graph, a tag, or a version number."""

    version = forms.ChoiceField(
        label="Version the webhook runs", required=False,
        help_text="A tag follows the version that carries it. A request may still name another "
                  "version with a top-level \"version\" in its JSON.")

    def __init__(self, *args: Any, workflow: Workflow, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["version"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = version_choices(workflow)
        field.initial = workflow.webhook_version


def version_choices(workflow: Workflow) -> list[tuple[str, Any]]:
    """"" (the current graph), then the tagged versions, then the newest version numbers (and
    the pinned one, if older)."""
    summaries = versions.version_list(workflow, limit=VERSION_CHOICES_MAX)
    tagged = list(workflow.versions.exclude(tag="").order_by("-version")
                  .values_list("version", "tag")[:TAGS_MAX])
    numbers = [str(s.number) for s in summaries]
    pinned = workflow.webhook_version
    if pinned and pinned not in numbers and pinned not in {tag for _, tag in tagged}:
        numbers.append(pinned)
    choices: list[tuple[str, Any]] = [("", "Current graph (the latest save)")]
    if tagged:
        choices.append(("Tags", [(tag, f"{tag} (version {number})") for number, tag in tagged]))
    if numbers:
        choices.append(("Versions", [(n, f"Version {n}") for n in numbers]))
    return choices


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required guarantees it
    return request.user


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def workflow_settings(request: HttpRequest, workflow_id: str) -> HttpResponse:
    user = _user(request)
    workflow = workflow_or_404(user, workflow_id)
    can_modify = user_can_modify(user, workflow.team)
    form = WebhookSecretForm()
    version_form = WebhookVersionForm(workflow=workflow)
    if request.method == "POST":
        if not can_modify:
            messages.error(request, "Viewers cannot change a workflow's settings.")
            return _page(request, workflow, form, version_form, can_modify, status=403)
        done, form, version_form = _act(request, workflow, user)
        if done:
            return redirect("workflow_settings", workflow_id=workflow.pk)
        workflow.refresh_from_db()
    return _page(request, workflow, form, version_form, can_modify)


def _act(request: HttpRequest, workflow: Workflow,
         user: User) -> tuple[bool, WebhookSecretForm, WebhookVersionForm]:
    """Do the posted action; (True, ...) when done, else (False, the forms with their errors)."""
    action = request.POST.get("action", "")
    form = WebhookSecretForm(request.POST if action == "set_secret" else None)
    version_form = WebhookVersionForm(request.POST if action == "set_version" else None,
                                      workflow=workflow)
    try:
        if action == "set_secret":
            if not form.is_valid():
                return False, form, version_form
            services.workflow_webhook_set(workflow, user=user, secret=form.cleaned_data["secret"])
        elif action == "set_version":
            if not version_form.is_valid():
                return False, form, version_form
            pinned = versions.workflow_webhook_version_set(
                workflow, user=user, ref=version_form.cleaned_data["version"])
            messages.success(request, _pinned_message(pinned))
            return True, form, version_form
        elif action in _SIMPLE_ACTIONS:
            _SIMPLE_ACTIONS[action](workflow, user)
        else:
            messages.error(request, "Unknown action.")
            return False, form, version_form
    except ApiError as error:
        messages.error(request, error.message)
        return False, form, version_form
    messages.success(request, _DONE[action])
    return True, form, version_form


def _pinned(workflow: Workflow) -> dict[str, Any]:
    pinned = versions.webhook_pin_out(workflow)
    return {"pinned_tag": pinned if isinstance(pinned, str) else None,
            "pinned_number": pinned if isinstance(pinned, int) else None}


def _pinned_message(workflow: Workflow) -> str:
    pinned = versions.webhook_pin_out(workflow)
    if pinned is None:
        return "The webhook runs the current graph."
    if isinstance(pinned, int):
        return f"The webhook runs version {pinned}."
    return f"The webhook runs the version tagged {pinned}."


_SIMPLE_ACTIONS = {
    "enable": lambda w, u: services.workflow_webhook_set(w, user=u, enabled=True),
    "disable": lambda w, u: services.workflow_webhook_set(w, user=u, enabled=False),
    "rotate": lambda w, u: services.workflow_webhook_rotate(w, user=u),
    "clear_secret": lambda w, u: services.workflow_webhook_set(w, user=u, secret=""),
    "share_link": lambda w, u: workflow_visibility_set(w, user=u,
                                                       visibility=LinkPermission.VIEW),
    "unshare_link": lambda w, u: workflow_visibility_set(w, user=u,
                                                         visibility=LinkPermission.PRIVATE),
}
_DONE = {
    "enable": "Webhook enabled. POST JSON to its URL to run the workflow.",
    "disable": "Webhook disabled: its URL no longer works.",
    "rotate": "The webhook has a new URL; the old one no longer works.",
    "set_secret": "Signing secret saved: requests must now be signed.",
    "clear_secret": "Signing secret removed: requests no longer need a signature.",
    "share_link": "Public link on: anyone with it can see the workflow and copy it.",
    "unshare_link": "Public link off: the page is private again.",
}


def _page(request: HttpRequest, workflow: Workflow, form: WebhookSecretForm,
          version_form: WebhookVersionForm, can_modify: bool, status: int = 200) -> HttpResponse:
    url = webhook_url(workflow)
    return render(request, "workflows/settings.html", {
        "workflow": workflow, "can_modify": can_modify, "form": form,
        "version_form": version_form, **_pinned(workflow),
        "has_versions": workflow.versions.exists(),
        "webhook_url": url, "secret_set": bool(workflow.webhook_secret),
        "confirm_rotate": request.GET.get("confirm") == "rotate" and url is not None,
        "curl": _curl(url, workflow) if url else "",
        "run_curl": _run_curl(workflow),
        "public_url": public_url(workflow)
        if workflow.link_permission == LinkPermission.VIEW else None,
    }, status=status)


def _example_body(workflow: Workflow) -> str:
    return json.dumps(example_inputs(run_inputs(workflow.nodes)))


def _curl(url: str, workflow: Workflow) -> str:
    body = shlex.quote(_example_body(workflow))
    if not workflow.webhook_secret:
        return (f"curl -X POST {shlex.quote(url)} \\\n"
                "  -H 'Content-Type: application/json' \\\n"
                "  -H \"Idempotency-Key: $(uuidgen)\" \\\n"
                f"  -d {body}")
    return (f"BODY={body}\n"
            "TS=$(date +%s)\n"
            "SIG=$(printf '%s.%s' \"$TS\" \"$BODY\" | "
            "openssl dgst -sha256 -hmac \"$WIREFLOW_WEBHOOK_SECRET\" -r | cut -d' ' -f1)\n"
            f"curl -X POST {shlex.quote(url)} \\\n"
            "  -H 'Content-Type: application/json' \\\n"
            "  -H \"X-Wireflow-Signature: t=$TS,v1=$SIG\" \\\n"
            "  -d \"$BODY\"")


def _run_curl(workflow: Workflow) -> str:
    endpoint = f"{settings.SITE_URL}/api/v1/workflows/{workflow.pk}/run"
    body: dict[str, Any] = {"inputs": example_inputs(run_inputs(workflow.nodes))}
    return (f"curl -X POST {shlex.quote(endpoint)} \\\n"
            "  -H \"Authorization: Bearer $WIREFLOW_API_KEY\" \\\n"
            "  -H 'Content-Type: application/json' \\\n"
            f"  -d {shlex.quote(json.dumps(body))}")
