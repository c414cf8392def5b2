"""What the async simulator views share: answering only while the simulators are on, the key
check, the method, and every error — a bug included — in the provider's own error shape."""

import logging
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger("wireflow.simulators")
AsyncView = Callable[..., Awaitable[HttpResponse]]


class Refusal(Exception):
    """An error answer: its status, its body in the provider's shape, extra headers."""

    def __init__(self, message: str, http_status: int, body: dict[str, Any],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.body = body
        self.headers = headers or {}


def simulator_view(method: str, *, provider: str, checked_key: Callable[[HttpRequest], str],
                   refusal: Callable[[int, str], Refusal],
                   crashed: Callable[[], dict[str, Any]]) -> Callable[[AsyncView], Any]:
    """`view(request, key, **kwargs)` behind the checks; `refusal(status, text)` makes the
    provider's 404/405, `crashed()` its 500 body. (Any: Django's stubs know only sync views.)"""
    def decorate(view: AsyncView) -> AsyncView:
        @csrf_exempt
        @wraps(view)
        async def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            try:
                if not settings.SIMULATORS_ENABLED:
                    raise refusal(404, "Not found")
                key = await sync_to_async(checked_key)(request)
                if request.method != method:
                    raise refusal(405, f"Method {request.method} not allowed")
                return await view(request, key, **kwargs)
            except Refusal as refused:
                response = JsonResponse(refused.body, status=refused.http_status)
                for name, value in refused.headers.items():
                    response[name] = value
                return response
            except Exception:  # the simulator answers like the provider even with a bug
                logger.exception("simulated %s failed on %s", provider, request.path)
                return JsonResponse(crashed(), status=500)
        return wrapper
    return decorate
