"""The simulated Replicate predictions API over HTTP, at /_sim/replicate/v1/.

Views only translate: they parse the request, call replicate_jobs, and answer JSON. Every error,
including a bug, answers Replicate's problem-details body `{title, detail, status}`.

Like Replicate, every call needs `Authorization: Bearer <token>` (`Token <token>` is accepted
too): REPLICATE_API_TOKEN when the operator set one, else the simulator's own token
(providers/replicate.py platform_token), or a team's own Replicate key (Settings > Providers).
Each prediction records a fingerprint of the token that created it (tests tell whose key ran a
node by it), and only that token finds it again. Nothing is answered while SIMULATORS_ENABLED
is off, even if the routes were mounted.
"""

import hmac
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import reverse

from executions import ssrf
from executions.providers.credentials import is_a_team_key
from executions.providers.replicate import parse_model, platform_token

from . import replicate_jobs
from .replicate_jobs import Refusal
from .views import View, json_object, sync_simulator_view

MAX_WEBHOOK_CHARS = 2000


def replicate_view(method: str) -> Callable[[View], View]:
    return sync_simulator_view(
        # (_check_token is defined below: looked up when a request comes.)
        method, provider="replicate", check_key=lambda request: _check_token(request),
        not_found=lambda: Refusal(404, "Not found", "Not found."),
        not_allowed=lambda used: Refusal(405, "Method not allowed",
                                         f'Method "{used}" not allowed.'),
        crashed=lambda: {"title": "Internal server error", "status": 500,
                         "detail": "Internal simulator error"})


@replicate_view("POST")
def create_view(request: HttpRequest) -> JsonResponse:
    body = _body(request)
    version = body.get("version")
    if not isinstance(version, str) or not version:
        raise Refusal(422, "Input validation failed", "- version: version is required")
    try:
        ref = parse_model(version)
    except ValueError as exc:
        raise Refusal(422, "Invalid version or not permitted",
                      "The specified version does not exist (or perhaps you don't have "
                      "permission to use it?)") from exc
    if ref.version is None:
        raise Refusal(422, "Invalid version or not permitted",
                      "The specified version does not exist (or perhaps you don't have "
                      "permission to use it?)")
    model = f"{ref.owner}/{ref.name}" if ref.owner else ""
    return _created(request, model, ref.version, body)


@replicate_view("POST")
def create_for_model_view(request: HttpRequest, owner: str, name: str) -> JsonResponse:
    try:
        parse_model(f"{owner}/{name}")
    except ValueError as exc:
        raise Refusal(404, "Not found", "Model not found.") from exc
    return _created(request, f"{owner}/{name}", "", _body(request))


@replicate_view("GET")
def get_view(request: HttpRequest, prediction_id: str) -> JsonResponse:
    run = replicate_jobs.find(prediction_id, _token_of(request))
    return JsonResponse(replicate_jobs.body_of(run, prediction_urls(run.id)))


@replicate_view("POST")
def cancel_view(request: HttpRequest, prediction_id: str) -> JsonResponse:
    run = replicate_jobs.cancel(replicate_jobs.find(prediction_id, _token_of(request)))
    return JsonResponse(replicate_jobs.body_of(run, prediction_urls(run.id)))


@replicate_view("GET")
def stats_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(replicate_jobs.stats(request.GET.get("key", "")[:64] or None))


@replicate_view("POST")
def reset_view(request: HttpRequest) -> JsonResponse:
    replicate_jobs.reset()
    return JsonResponse({"reset": True})


def prediction_urls(prediction_id: str) -> dict[str, str]:
    site = str(settings.SITE_URL).rstrip("/")
    ids = {"prediction_id": prediction_id}
    return {"get": site + reverse("sim-replicate-get", kwargs=ids),
            "cancel": site + reverse("sim-replicate-cancel", kwargs=ids),
            "stream": site + reverse("sim-replicate-get", kwargs=ids) + "/stream"}


# --- Helpers -------------------------------------------------------------------------------

def _created(request: HttpRequest, model: str, version: str,
             body: dict[str, Any]) -> JsonResponse:
    payload = body.get("input")
    if not isinstance(payload, dict):
        raise Refusal(422, "Input validation failed", "- input: Invalid type. Expected: "
                                                      "object, given: " + type(payload).__name__)
    run = replicate_jobs.create(model, version, payload, _webhook(body),
                                key_seen=_token_of(request))
    return JsonResponse(replicate_jobs.body_of(run, prediction_urls(run.id)), status=201)


def _token_of(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme in ("Bearer", "Token") else ""


def _check_token(request: HttpRequest) -> None:
    token = _token_of(request)
    if not token or not hmac.compare_digest(token.encode(), platform_token().encode()) \
            and not is_a_team_key("replicate", token):
        raise Refusal(401, "Unauthenticated", "You did not pass a valid authentication token")


def _body(request: HttpRequest) -> dict[str, Any]:
    return json_object(
        request, too_large=Refusal(413, "Request too large", "Request body too large"),
        invalid=lambda exc: Refusal(400, "Invalid JSON", f"Request body is not valid JSON: {exc}"),
        not_object=Refusal(422, "Input validation failed", "- body: Expected an object"))


def _webhook(body: dict[str, Any]) -> str | None:
    """The completion webhook, refused at once if the SSRF guard would refuse to POST there
    (delivery checks it again: DNS may change in between)."""
    url = body.get("webhook")
    if url in (None, ""):
        return None
    if not isinstance(url, str) or len(url) > MAX_WEBHOOK_CHARS:
        raise Refusal(422, "Input validation failed", "- webhook: must be a URL")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Refusal(422, "Input validation failed", "- webhook: must be an http(s) URL")
    try:
        ssrf.check_url(url)
    except ssrf.FetchError as exc:
        raise Refusal(422, "Input validation failed", f"- webhook: {exc}") from exc
    return url
