"""Request ids on every response and log line; JSON error bodies for the whole /api/ tree;
X-RateLimit-* headers on every response whose caller was counted against a limit."""

import contextvars
import json
import logging
import re
import sys
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views import csrf

from .errors import (
    ApiError,
    Forbidden,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    render_error,
    unavailable_error,
)

logger = logging.getLogger("wireflow.request")
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


def _is_api(request: HttpRequest) -> bool:
    path = request.path
    return path == "/api" or path.startswith(("/api/", "/workflow/"))


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sent = request.headers.get("X-Request-Id", "")
        request_id = sent if _SAFE_ID.match(sent) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-Id"] = request_id
        return response


class RateLimitMiddleware:
    """ApiAuth counts the call and notes the decision on the request (also when the view then
    fails, e.g. 404); the headers are added here so that every such response carries them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        # Imported here: the logging config imports this module before the apps are loaded,
        # and the limiter needs the accounts models.
        from .ratelimit import settle

        self.get_response = get_response
        self.settle = settle

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        self.settle(request, response)
        return response


class ApiErrorMiddleware:
    """Under /api/ no response is ever an HTML page: oversized bodies, 404s and 405s from the
    URL layer, and unhandled exceptions all answer with the error body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not _is_api(request):
            return self.get_response(request)
        if _declared_length(request) > _body_limit(request):
            return render_error(PayloadTooLarge())
        response = self.get_response(request)
        return _json_error_for(response)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not _is_api(request):
            return None
        return error_response(request, exception)


def error_response(request: HttpRequest, exception: BaseException | None) -> HttpResponse:
    """The answer to an exception nothing else handled: 503 with Retry-After when a backing
    service is overloaded or briefly down (the client should retry), else 500. JSON under /api/,
    a short page elsewhere. Also Django's handler500, so it covers the middleware too."""
    error: ApiError | None = unavailable_error(exception) if exception is not None else None
    if error is not None:
        logger.warning("busy on %s %s: %s", request.method, request.path, exception)
    else:
        logger.error("unhandled error on %s %s", request.method, request.path,
                     exc_info=exception)
        error = InternalError()
    if _is_api(request):
        return render_error(error)
    response = HttpResponse(f"<!doctype html><title>{error.status}</title><h1>{error.message}"
                            "</h1>", status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: JSON under /api/ (a browser session calling the API without its
    token), Django's page elsewhere. Key-authenticated API calls never reach it: the API's views
    are exempt and check the token themselves only for a session (accounts/auth.py)."""
    if _is_api(request):
        return render_error(Forbidden("CSRF check failed. Reload the page and try again.",
                                code="csrf_failed"))
    return csrf.csrf_failure(request, reason=reason)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: Django calls it while handling the exception (also one raised in a
    middleware, where process_exception is never called)."""
    return error_response(request, sys.exc_info()[1])


# Media uploads (executions/uploads.py, at both paths of executions/uploads_api.py) carry files
# up to UPLOAD_MAX_BYTES, plus the multipart framing around them; the upload handler bounds the
# file itself again while it is read.
UPLOAD_PATHS = frozenset({"/api/v1/uploads", "/api/v1/media/upload"})
MULTIPART_OVERHEAD_BYTES = 64 * 1024


_BATCHES_PATH = re.compile(r"^/api/v1/workflows/[^/]+/batches/?$")


def _body_limit(request: HttpRequest) -> int:
    if request.path in UPLOAD_PATHS and request.content_type == "multipart/form-data":
        return int(settings.UPLOAD_MAX_BYTES) + MULTIPART_OVERHEAD_BYTES
    # A batch sent as a CSV file (executions/batches_api.py): its multipart body may carry up
    # to BATCH_CSV_MAX_BYTES plus the framing; a JSON batch keeps the ordinary limit.
    if request.content_type == "multipart/form-data" and _BATCHES_PATH.match(request.path):
        return int(settings.BATCH_CSV_MAX_BYTES) + MULTIPART_OVERHEAD_BYTES
    return int(settings.API_MAX_BODY_BYTES)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


_STATUS_ERRORS: dict[int, type[ApiError]] = {404: NotFound, 405: MethodNotAllowed,
                                              500: InternalError}


def _json_error_for(response: HttpResponse) -> HttpResponse:
    if response.status_code not in _STATUS_ERRORS or response.streaming or _is_json(response):
        return response
    allow = {"Allow": response["Allow"]} if response.has_header("Allow") else {}
    return render_error(_STATUS_ERRORS[response.status_code](headers=allow))


def _is_json(response: HttpResponse) -> bool:
    if not response.get("Content-Type", "").startswith("application/json"):
        return False
    try:
        json.loads(response.content or b"null")
    except ValueError:
        return False
    return True
