"""The simulated fal queue over HTTP, at /_sim/fal/: the protocol of queue.fal.run.

Views only translate: they parse the request, call fal_jobs, and answer JSON. Every error,
including a bug, answers fal's `{"detail": ...}` body, never an HTML page.

Like fal, every call needs `Authorization: Key <key>`: FAL_KEY when the operator set one, else
the simulator's own key, which only the site's fal client knows (providers/fal.py), or a team's
own fal key (Settings > Providers). Each submission records a fingerprint of the key it came
with (state.key_fingerprint), so tests can tell whose key ran a node. Nothing is
answered while SIMULATORS_ENABLED is off, even if the routes were mounted.
"""

import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, JsonResponse
from django.urls import reverse

from executions import ssrf
from executions.providers.credentials import is_a_team_key
from executions.providers.fal import platform_key

from . import fal_jobs, state
from .fal_jobs import Refusal
from .state import Job
from .views import HasBody, View, json_object, sync_simulator_view

CRASHED = {"detail": "Internal simulator error"}  # a bug's answer, never an HTML page


def fal_view(method: str) -> Callable[[View], View]:
    return sync_simulator_view(
        # (_check_key is defined below: looked up when a request comes.)
        method, provider="fal", check_key=lambda request: _check_key(request),
        not_found=lambda: Refusal(404, "Not found"),
        not_allowed=lambda used: Refusal(405, f"Method {used} not allowed here"),
        crashed=lambda: dict(CRASHED))


@fal_view("POST")
def submit_view(request: HttpRequest, model_id: str) -> JsonResponse:
    return JsonResponse(submitted(model_id, _key_of(request), request.GET.get("fal_webhook"),
                                  request, request.build_absolute_uri))


def submitted(model_id: str, key: str, webhook: str | None, request: HasBody,
              absolute: Callable[[str], str]) -> dict[str, Any]:
    """A submit's answer past the key check, wherever it came in (this view, or asgi_routes.py
    on the simulators' own server): the webhook checked, then the body read, then the job.
    `absolute(path)` makes the URLs it hands out absolute."""
    webhook_url = _webhook_url(webhook)
    job = fal_jobs.submit(model_id, _payload(request), webhook_url, key_seen=key)
    return {"request_id": job.request_id, **_urls(absolute, job), "queue_position": 0}


@fal_view("GET")
def status_view(request: HttpRequest, owner: str, app: str, request_id: str) -> JsonResponse:
    job = fal_jobs.find(f"{owner}/{app}", request_id, _key_of(request))
    report = fal_jobs.report(job)
    status = report.phase.status
    body: dict[str, Any] = {"status": status, "request_id": job.request_id,
                            **_urls(request.build_absolute_uri, job)}
    if status == "IN_QUEUE":
        body["queue_position"] = 0
    if request.GET.get("logs") in ("1", "true"):
        body["logs"] = [_log(job, line) for line in report.phase.logs]
    if status == "COMPLETED":
        body["metrics"] = {"inference_time": job.latency}
    if report.error:
        body.update(error=report.error, error_type=report.error_type)
    return JsonResponse(body, status=200 if status == "COMPLETED" else 202)


@fal_view("GET")
def result_view(request: HttpRequest, owner: str, app: str, request_id: str) -> JsonResponse:
    outcome = fal_jobs.result(fal_jobs.find(f"{owner}/{app}", request_id, _key_of(request)))
    return JsonResponse(outcome.body, status=outcome.http_status)


@fal_view("PUT")
def cancel_view(request: HttpRequest, owner: str, app: str, request_id: str) -> JsonResponse:
    if fal_jobs.cancel(fal_jobs.find(f"{owner}/{app}", request_id, _key_of(request))):
        return JsonResponse({"status": "CANCELLATION_REQUESTED"}, status=202)
    return JsonResponse({"status": "ALREADY_COMPLETED"}, status=400)


@fal_view("GET")
def stats_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(state.simulator_stats())


@fal_view("POST")
def reset_view(request: HttpRequest) -> JsonResponse:
    state.reset_simulator()
    return JsonResponse({"reset": True})


# --- Helpers -------------------------------------------------------------------------------

def _key_of(request: HttpRequest) -> str:
    return key_in(request.headers.get("Authorization", ""))


def key_in(authorization: str) -> str:
    """The key of an Authorization header's value ("" if it is not `Key <key>`)."""
    scheme, _, key = authorization.partition(" ")
    return key.strip() if scheme == "Key" else ""


def _check_key(request: HttpRequest) -> None:
    check_key(_key_of(request))


def check_key(key: str) -> None:
    if not key:
        raise Refusal(401, "Missing or malformed Authorization header; expected 'Key <FAL_KEY>'")
    if not hmac.compare_digest(key.encode(), platform_key().encode()) \
            and not is_a_team_key("fal", key):
        raise Refusal(401, "Invalid key")


def _payload(request: HasBody) -> dict[str, Any]:
    return json_object(
        request, too_large=Refusal(413, "Request body too large"),
        invalid=lambda exc: Refusal(422, [{"loc": ["body"], "msg": f"Invalid JSON: {exc}",
                                           "type": "json_invalid"}]),
        not_object=Refusal(422, [{"loc": ["body"], "msg": "Input should be a valid dictionary",
                                  "type": "dict_type"}]))


def _webhook_url(url: str | None) -> str | None:
    """The completion webhook (the query's `fal_webhook`), refused at once if the SSRF guard
    would refuse to POST there (delivery checks it again: DNS may change in between)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _bad_webhook("url_parsing", "fal_webhook must be an http(s) URL")
    try:
        ssrf.check_url(url)
    except ssrf.FetchError as exc:
        raise _bad_webhook("value_error", f"fal_webhook: {exc}") from exc
    return url


def _bad_webhook(kind: str, message: str) -> Refusal:
    return Refusal(422, [{"loc": ["query", "fal_webhook"], "type": kind, "msg": message}])


def _urls(absolute: Callable[[str], str], job: Job) -> dict[str, str]:
    owner, app = job.app.split("/")
    ids = {"owner": owner, "app": app, "request_id": job.request_id}
    # The status and cancel routes are the result's URL and one more segment (urls.py).
    response_url = absolute(reverse("sim-fal-result", kwargs=ids))
    return {"status_url": f"{response_url}/status", "response_url": response_url,
            "cancel_url": f"{response_url}/cancel"}


def _log(job: Job, message: str) -> dict[str, str]:
    when = datetime.fromtimestamp(job.submitted_at, UTC).isoformat()
    return {"message": message, "level": "INFO", "source": "user", "timestamp": when}
