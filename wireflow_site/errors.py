"""Domain errors and their one rendering as the API's error body.

Services raise these. `render_error` is the only place an error becomes a response:
`{"error": ..., "code": ..., **extra}` with the error's status and headers. The API's exception
handlers (wireflow_site/api.py), the middleware's answers for what never reaches a view
(wireflow_site/middleware.py, bodylimit.py), and the views outside the API that answer JSON
(the webhook trigger, provider callbacks) all use it.
"""

from typing import Any

from django.http import JsonResponse


class ApiError(Exception):
    status = 400
    code = "bad_request"
    message = "Bad request"

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 status: int | None = None, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.headers = headers or {}
        self.extra = extra
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, **self.extra}


class Unauthenticated(ApiError):
    status = 401
    code = "invalid_api_key"
    message = "Invalid API key"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"
    message = "Forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"
    message = "Not found"


class Conflict(ApiError):
    status = 409
    code = "conflict"
    message = "Conflict"


class InvalidRequest(ApiError):
    status = 400
    code = "invalid_request"
    message = "Invalid request"


class Unprocessable(ApiError):
    status = 422
    code = "unprocessable"
    message = "Unprocessable request"


class InvalidGraph(ApiError):
    """The graph breaks validation rules; `violations` lists every one of them."""

    status = 422
    code = "invalid_graph"
    message = "Invalid workflow graph"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"
    message = "Request body too large"


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"
    message = "Method not allowed"


class InternalError(ApiError):
    status = 500
    code = "internal_error"
    message = "Internal server error"


def render_error(error: ApiError) -> JsonResponse:
    """The one rendering of an API error: its body as JSON, its status, its headers."""
    response = JsonResponse(error.body(), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


class ServiceUnavailable(ApiError):
    """A backing service is saturated or unreachable for a moment: the client should retry."""

    status = 503
    code = "service_unavailable"
    message = "The service is busy. Try again in a few seconds."


RETRY_AFTER_SECONDS = 2


def unavailable_error(exc: BaseException) -> ServiceUnavailable | None:
    """A 503 for an exception that means "overloaded or briefly unreachable" — no free database
    connection in the pool, the database refusing connections, Redis or the broker down —
    anywhere in its cause chain; None for anything else (a bug: a 500)."""
    from django.db import OperationalError as DbOperationalError
    from kombu.exceptions import OperationalError as BrokerError
    from psycopg import OperationalError as PgOperationalError  # psycopg_pool.PoolTimeout too
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout

    transient = (DbOperationalError, PgOperationalError, BrokerError, RedisConnectionError,
                 RedisTimeout)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, transient):
            return ServiceUnavailable(headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
