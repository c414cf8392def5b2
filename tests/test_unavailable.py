"""A saturated or briefly unreachable backing service is a 503 with Retry-After, never a 500;
anything else unexpected stays a 500. (tests/production/test_load.py drives the real thing.)"""

import pytest
from django.db import OperationalError
from django.test import RequestFactory
from kombu.exceptions import OperationalError as BrokerError
from psycopg_pool import PoolTimeout
from redis.exceptions import ConnectionError as RedisConnectionError

from wireflow_site import urls
from wireflow_site.errors import unavailable_error
from wireflow_site.middleware import error_response


def _wrapped(cause: BaseException) -> OperationalError:
    """As Django's database wrapper raises it: its own class, the driver's error as cause."""
    try:
        raise OperationalError(str(cause)) from cause
    except OperationalError as exc:
        return exc


@pytest.mark.parametrize("exc", [
    _wrapped(PoolTimeout("couldn't get a connection after 10.00 sec")),
    _wrapped(Exception("FATAL: sorry, too many clients already")),
    PoolTimeout("couldn't get a connection"),
    RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
    BrokerError("[Errno 111] Connection refused"),
])
def test_an_overloaded_or_unreachable_service_is_a_503_with_retry_after(exc: Exception) -> None:
    error = unavailable_error(exc)
    assert error is not None
    assert (error.status, error.code, error.headers) == (503, "service_unavailable",
                                                          {"Retry-After": "2"})


@pytest.mark.parametrize("exc", [ValueError("bug"), KeyError("x"), RuntimeError("boom")])
def test_any_other_exception_stays_a_500(exc: Exception) -> None:
    assert unavailable_error(exc) is None
    response = error_response(RequestFactory().get("/api/v1/workflows"), exc)
    assert response.status_code == 500
    assert not response.has_header("Retry-After")


def test_pages_and_the_api_both_say_busy(db: None) -> None:
    busy = _wrapped(PoolTimeout("couldn't get a connection"))
    api = error_response(RequestFactory().get("/api/v1/workflows"), busy)
    page = error_response(RequestFactory().get("/workflows/"), busy)
    assert api.status_code == page.status_code == 503
    assert api["Content-Type"] == "application/json"
    assert page["Content-Type"].startswith("text/html") and b"busy" in page.content
    assert api["Retry-After"] == page["Retry-After"] == "2"


def test_django_renders_unhandled_errors_with_it() -> None:
    assert urls.handler500 == "wireflow_site.middleware.server_error"
