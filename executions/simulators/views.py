"""What the simulator views share, async and sync (the fal and Replicate queues): answering only
while the simulators are on, the key check, the method, and every error — a bug included — in
the provider's own error shape."""

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Generic, Protocol, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger("wireflow.simulators")
AsyncView = Callable[..., Awaitable[HttpResponse]]
View = Callable[..., JsonResponse]
K = TypeVar("K")  # what a key check hands the view: the key, or None
E = TypeVar("E", bound=Exception)


class HasBody(Protocol):
    """What json_object reads: a request's body (Django's, which refuses one over its limit
    with RequestDataTooBig)."""

    @property
    def body(self) -> bytes: ...


class Refusal(Exception):
    """An error answer: its status, its body in the provider's shape, extra headers."""

    def __init__(self, message: str, http_status: int, body: dict[str, Any],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.body = body
        self.headers = headers or {}


def json_object(request: HasBody, *, too_large: E, invalid: Callable[[Exception], E],
                not_object: E) -> dict[str, Any]:
    """The request's body, a JSON object ({} when empty); the provider's refusal for a body
    over Django's limit (`too_large`), one that is not JSON (`invalid(error)`) and JSON that
    is not an object (`not_object`)."""
    try:
        body = json.loads(request.body or b"{}")
    except RequestDataTooBig as exc:
        raise too_large from exc
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise invalid(exc) from exc
    if not isinstance(body, dict):
        raise not_object
    return body


def simulator_view(method: str, *, provider: str, checked_key: Callable[[HttpRequest], str],
                   refusal: Callable[[int, str], Refusal],
                   crashed: Callable[[], dict[str, Any]]) -> Callable[[AsyncView], Any]:
    """`view(request, key, **kwargs)` behind the checks; `refusal(status, text)` makes the
    provider's 404/405, `crashed()` its 500 body. (Any: Django's stubs know only sync views.)"""
    gate = Gate(method, checked_key, lambda: refusal(404, "Not found"),
                lambda used: refusal(405, f"Method {used} not allowed"))

    def decorate(view: AsyncView) -> AsyncView:
        @csrf_exempt
        @wraps(view)
        async def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            try:
                key = await sync_to_async(gate.admit)(request)
                return await view(request, key, **kwargs)
            except Exception as failure:
                return failure_response(request, provider, failure, crashed)
        return wrapper
    return decorate


def sync_simulator_view(method: str, *, provider: str, check_key: Callable[[HttpRequest], None],
                        not_found: Callable[[], Refusal], not_allowed: Callable[[str], Refusal],
                        crashed: Callable[[], dict[str, Any]]) -> Callable[[View], View]:
    """`simulator_view` for the sync views (the fal and Replicate queues): `view(request,
    **kwargs)` behind the same checks; `not_found()` and `not_allowed(method)` make the
    provider's 404 and 405, `crashed()` its 500 body."""
    gate = Gate(method, check_key, not_found, not_allowed)

    def decorate(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: Any) -> JsonResponse:
            try:
                gate.admit(request)
                return view(request, **kwargs)
            except Exception as failure:
                return failure_response(request, provider, failure, crashed)
        return wrapper
    return decorate


@dataclass(frozen=True)
class Gate(Generic[K]):
    """What every simulator view checks first, in the providers' order: that the simulators
    are on (else 404), the key (`check_key` refuses a wrong one and returns what the view
    gets), then the method (else 405)."""

    method: str
    check_key: Callable[[HttpRequest], K]
    not_found: Callable[[], Refusal]
    not_allowed: Callable[[str], Refusal]

    def admit(self, request: HttpRequest) -> K:
        if not settings.SIMULATORS_ENABLED:
            raise self.not_found()
        key = self.check_key(request)
        if request.method != self.method:
            raise self.not_allowed(str(request.method))
        return key


def failure_response(request: HttpRequest, provider: str, failure: Exception,
                     crashed: Callable[[], dict[str, Any]]) -> JsonResponse:
    """A view's failure as the provider answers it (`failure_answer`), as a response."""
    status, body, headers = failure_answer(provider, str(request.method), request.path,
                                           failure, crashed)
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def failure_answer(provider: str, method: str, path: str, failure: Exception,
                   crashed: Callable[[], dict[str, Any]]
                   ) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A failure as the provider answers it (status, body, extra headers): a Refusal in its
    own shape; anything else is a bug, logged, and answered with the provider's 500 body
    `crashed()` all the same, never an HTML page."""
    if isinstance(failure, Refusal):
        return failure.http_status, failure.body, failure.headers
    logger.error("simulated %s failed on %s %s", provider, method, path, exc_info=failure)
    return 500, crashed(), {}
