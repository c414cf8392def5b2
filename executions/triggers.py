"""The public webhook trigger (docs/api.md "Webhook triggers"): a POST to
/api/v1/workflow/<webhookId>/trigger, also served at /workflow/<webhookId>/trigger, runs the
workflow without an API key.

The unguessable webhook id is the credential; a workflow may also require each request to be
signed with its secret. A signature is accepted once: it is remembered (in the cache, until it
would be too old anyway) and a replay is refused, unless it repeats the first request's
Idempotency-Key, which then answers the first response and starts nothing. Each webhook also
has a per-minute limit of its own besides its team's limits. No cookie is looked at, so CSRF
does not apply, and any origin may call it (TriggerCorsMiddleware).
"""

import hmac
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from wireflow_site import ratelimit
from wireflow_site.errors import (
    ApiError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    render_error,
)
from wireflow_site.idempotency import HEADER as IDEMPOTENCY_HEADER
from wireflow_site.idempotency import respond_once
from wireflow_site.jsonbody import MalformedJson, parse_json
from wireflow_site.signing import digest
from workflows import secretbox
from workflows.models import Workflow, WorkflowVersion
from workflows.schemas import storable_json_problem
from workflows.selectors import workflow_get_by_webhook
from workflows.versions import version_resolve

from .models import Trigger
from .services import ExecuteRequest, execution_start, input_keys

logger = logging.getLogger("wireflow.triggers")

SIGNATURE_HEADER = "X-Wireflow-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300
TRIGGER_PATH = re.compile(r"/(?:api/v1/)?workflow/[^/]+/trigger/?")
ALLOWED_METHODS = "GET, POST, OPTIONS"
CORS_HEADERS = {"Access-Control-Allow-Origin": "*",
                "Access-Control-Expose-Headers": "Idempotent-Replayed, Retry-After, X-Request-Id"}
PREFLIGHT_HEADERS = {"Access-Control-Allow-Methods": ALLOWED_METHODS,
                     "Access-Control-Allow-Headers":
                         "Content-Type, Idempotency-Key, X-Wireflow-Signature",
                     "Access-Control-Max-Age": "7200"}  # Chromium's ceiling
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


class TriggerCorsMiddleware:
    """Any origin may call the trigger URLs: every response carries the CORS headers (also the
    413 and 500 answered before or around the view), and preflights are answered here."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not TRIGGER_PATH.fullmatch(request.path):
            return self.get_response(request)
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
            for name, value in PREFLIGHT_HEADERS.items():
                response[name] = value
        else:
            response = self.get_response(request)
        for name, value in CORS_HEADERS.items():
            response[name] = value
        return response


# --- The views ------------------------------------------------------------------------------

@csrf_exempt
def trigger(request: HttpRequest, webhook_id: str) -> HttpResponse:
    handler = {"GET": _describe, "POST": _run}.get(request.method or "")
    if handler is None:
        return render_error(MethodNotAllowed(headers={"Allow": ALLOWED_METHODS}))
    try:
        return handler(request, webhook_id)
    except ApiError as exc:
        return render_error(exc)


def _workflow(webhook_id: str) -> Workflow:
    workflow = workflow_get_by_webhook(webhook_id)
    if workflow is None:
        raise NotFound("Webhook not found")
    return workflow


def _describe(request: HttpRequest, webhook_id: str) -> HttpResponse:
    workflow = _workflow(webhook_id)
    message = ("Webhook is ready: POST a JSON object to this URL to run the workflow."
               if workflow.is_active else "The workflow is inactive: POSTs are refused.")
    return JsonResponse({"workflowId": str(workflow.pk), "name": workflow.name,
                         "isActive": workflow.is_active, "message": message})


def _run(request: HttpRequest, webhook_id: str) -> HttpResponse:
    workflow = _workflow(webhook_id)
    body = _raw_body(request)
    signed = verify_signature(workflow, request.headers.get(SIGNATURE_HEADER), body)
    claim = claim_signature(workflow, signed, request.headers.get(IDEMPOTENCY_HEADER, ""))
    try:
        response = _accept(request, workflow, webhook_id, body)
    except BaseException:
        claim.release()  # nothing started: the same signed request may be sent again
        raise
    if response.status_code >= 400:
        claim.release()
    return response


def _accept(request: HttpRequest, workflow: Workflow, webhook_id: str,
            body: bytes) -> HttpResponse:
    ratelimit.enforce_webhook_limit(workflow.pk, request)
    payload = _json_object(body)
    ratelimit.enforce_execution_limits(workflow.team, request)
    # One resource, two URLs: an Idempotency-Key means the same on both.
    canonical = f"/api/v1/workflow/{webhook_id}/trigger"
    return respond_once(request, workflow.team, lambda: _start(workflow, payload),
                        path=canonical)


def _start(workflow: Workflow, payload: dict[str, Any]) -> JsonResponse:
    execution = execution_start(workflow, None, ExecuteRequest(
        inputs=payload, trigger_data=payload, trigger=Trigger.WEBHOOK,
        version=_version(workflow, payload)))
    return JsonResponse({"executionId": str(execution.pk), "status": "queued",
                         "message": "Workflow execution queued successfully"}, status=202)


def _version(workflow: Workflow, payload: dict[str, Any]) -> WorkflowVersion | None:
    """The version this request runs. A top-level `version` in the body names one (a number or
    a tag) and wins over the workflow's pin (webhookVersion): whoever holds the webhook URL may
    already run the workflow, and every version is the team's own graph. Without one, the pin;
    without a pin, the current graph. Where the graph the webhook would run has an input node
    whose id or label is "version", that key stays its input's value and selects nothing.
    404 Version not found for a version that does not exist."""
    pinned = (version_resolve(workflow, workflow.webhook_version)
              if workflow.webhook_version else None)
    named = payload.get("version")
    if named is None or "version" in input_keys(pinned.nodes if pinned else workflow.nodes):
        return pinned
    return version_resolve(workflow, named)


# --- The request ----------------------------------------------------------------------------

def _raw_body(request: HttpRequest) -> bytes:
    try:
        body = request.body
    except RequestDataTooBig as exc:
        raise PayloadTooLarge() from exc
    if len(body) > settings.API_MAX_BODY_BYTES:  # sent chunked, without a Content-Length
        raise PayloadTooLarge()
    return body


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = parse_json(body)
    except MalformedJson as exc:
        raise InvalidRequest("Malformed JSON body", code="invalid_json") from exc
    if not isinstance(payload, dict):
        raise InvalidRequest("The body must be a JSON object", fields=["body"])
    problem = storable_json_problem(payload)
    if problem:
        raise InvalidRequest(f"The body {problem}", fields=["body"])
    return payload


# --- Signatures -----------------------------------------------------------------------------

class InvalidSignature(ApiError):
    status = 401
    code = "invalid_signature"
    message = "Invalid webhook signature"


@dataclass(frozen=True)
class Signed:
    """A signature that verified: its timestamp (Unix seconds) and digest."""

    timestamp: int
    digest: str


def verify_signature(workflow: Workflow, header: str | None, body: bytes,
                     now: float | None = None) -> Signed | None:
    """None when the workflow has no secret, what was verified when the signature is good;
    else 401."""
    if not workflow.webhook_secret:
        return None
    if not header:
        raise InvalidSignature(f"Missing {SIGNATURE_HEADER} header: this webhook only "
                               "accepts signed requests")
    secret = secretbox.unseal(workflow.webhook_secret)
    if secret is None:  # SECRET_KEY changed without a fallback: refuse rather than trust
        logger.error("webhook secret of workflow %s cannot be decrypted", workflow.pk)
        raise InvalidSignature("The webhook's secret cannot be read: set it again")
    timestamp, candidates = _parse_signature(header)
    if abs((time.time() if now is None else now) - int(timestamp)) \
            > SIGNATURE_TOLERANCE_SECONDS:
        raise InvalidSignature("Signature timestamp is more than 5 minutes from the server's "
                               "time: sign each request when you send it")
    expected = digest(secret, timestamp, body)  # over the timestamp exactly as sent
    if not any(hmac.compare_digest(expected, c.lower()) for c in candidates):
        raise InvalidSignature("Signature does not match the body and the webhook's secret")
    return Signed(int(timestamp), expected)


# --- Replays --------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignatureClaim:
    """This request's hold on its signature; released when the request started nothing."""

    key: str | None = None

    def release(self) -> None:
        if self.key is not None:
            _forget(self.key)


def claim_signature(workflow: Workflow, signed: Signed | None, idempotency_key: str,
                    now: float | None = None) -> SignatureClaim:
    """Remember a verified signature until it expires; 401 if it was seen already, unless both
    requests carry the same Idempotency-Key (that request is answered by its first response,
    so a replay of it starts nothing)."""
    if signed is None:
        return SignatureClaim()
    key = f"wf:webhook-signature:{workflow.pk}:{signed.digest}"
    # Kept for as long as the timestamp is accepted (it may be up to 5 minutes ahead of us).
    expires_in = signed.timestamp + SIGNATURE_TOLERANCE_SECONDS - (now or time.time()) + 1
    try:
        if cache.add(key, idempotency_key, timeout=max(1, math.ceil(expires_in))):
            return SignatureClaim(key)
        first = cache.get(key)
    except redis.RedisError:  # the cache protects the service; it must not take it down
        logger.warning("cannot remember webhook signatures; replays are not refused",
                       exc_info=True)
        return SignatureClaim()
    if idempotency_key and first == idempotency_key:
        return SignatureClaim()
    raise InvalidSignature("This signature was already used: sign each request when you send "
                           "it (a retry of the same request keeps its Idempotency-Key)")


def _forget(key: str) -> None:
    try:
        cache.delete(key)
    except redis.RedisError:
        logger.warning("could not forget a webhook signature", exc_info=True)


def _parse_signature(header: str) -> tuple[str, list[str]]:
    """("<t>", [v1 digests]) from `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`."""
    timestamp, candidates = "", []
    for part in header[:2000].split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamp = value
        elif name == "v1" and _HEX_DIGEST.fullmatch(value):
            candidates.append(value)
    if not _TIMESTAMP.fullmatch(timestamp) or not candidates:
        raise InvalidSignature(f"Malformed {SIGNATURE_HEADER} header: expected "
                               "t=<unix seconds>,v1=<hex HMAC-SHA256>")
    return timestamp, candidates
