"""The workflow's settings page: its webhook trigger (on/off, URL, rotate, signing secret) and
how to call it. Team members see it; viewers cannot change anything; strangers get 404."""

import json
import shlex
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.models import User
from executions.run_inputs import example_inputs, run_inputs
from wireflow_site.errors import ApiError, NotFound

from . import services
from .models import Workflow
from .schemas import WEBHOOK_SECRET_MIN_LENGTH, webhook_url
from .selectors import user_can_modify, workflow_get_for_user


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


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required guarantees it
    return request.user


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def workflow_settings(request: HttpRequest, workflow_id: str) -> HttpResponse:
    user = _user(request)
    try:
        workflow = workflow_get_for_user(user, workflow_id)
    except NotFound as exc:
        raise Http404("Workflow not found") from exc
    can_modify = user_can_modify(user, workflow.team)
    form = WebhookSecretForm()
    if request.method == "POST":
        if not can_modify:
            messages.error(request, "Viewers cannot change a workflow's settings.")
            return _page(request, workflow, form, can_modify, status=403)
        done, form = _act(request, workflow, user)
        if done:
            return redirect("workflow_settings", workflow_id=workflow.pk)
        workflow.refresh_from_db()
    return _page(request, workflow, form, can_modify)


def _act(request: HttpRequest, workflow: Workflow, user: User) -> tuple[bool, WebhookSecretForm]:
    """Do the posted action; (True, _) when done, else (False, the form with its errors)."""
    action = request.POST.get("action", "")
    form = WebhookSecretForm(request.POST if action == "set_secret" else None)
    try:
        if action == "set_secret":
            if not form.is_valid():
                return False, form
            services.workflow_webhook_set(workflow, user=user, secret=form.cleaned_data["secret"])
        elif action in _SIMPLE_ACTIONS:
            _SIMPLE_ACTIONS[action](workflow, user)
        else:
            messages.error(request, "Unknown action.")
            return False, form
    except ApiError as error:
        messages.error(request, error.message)
        return False, form
    messages.success(request, _DONE[action])
    return True, form


_SIMPLE_ACTIONS = {
    "enable": lambda w, u: services.workflow_webhook_set(w, user=u, enabled=True),
    "disable": lambda w, u: services.workflow_webhook_set(w, user=u, enabled=False),
    "rotate": lambda w, u: services.workflow_webhook_rotate(w, user=u),
    "clear_secret": lambda w, u: services.workflow_webhook_set(w, user=u, secret=""),
}
_DONE = {
    "enable": "Webhook enabled. POST JSON to its URL to run the workflow.",
    "disable": "Webhook disabled: its URL no longer works.",
    "rotate": "The webhook has a new URL; the old one no longer works.",
    "set_secret": "Signing secret saved: requests must now be signed.",
    "clear_secret": "Signing secret removed: requests no longer need a signature.",
}


def _page(request: HttpRequest, workflow: Workflow, form: WebhookSecretForm, can_modify: bool,
          status: int = 200) -> HttpResponse:
    url = webhook_url(workflow)
    return render(request, "workflows/settings.html", {
        "workflow": workflow, "can_modify": can_modify, "form": form,
        "webhook_url": url, "secret_set": bool(workflow.webhook_secret),
        "confirm_rotate": request.GET.get("confirm") == "rotate" and url is not None,
        "curl": _curl(url, workflow) if url else "",
        "run_curl": _run_curl(workflow),
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
