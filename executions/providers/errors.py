"""The one error every provider client raises, and how an HTTP answer becomes one.

The engine decides between "retry later" and "fail now" from `retryable` alone, and waits at
least `retry_after` seconds when the provider said so, so every client must fill both honestly.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

# Besides every 5xx: request timeout, conflict (often a transient lock) and rate limiting.
RETRYABLE_STATUSES = frozenset({408, 409, 429})


class ProviderError(Exception):
    def __init__(self, message: str, http_status: int | None = None, retryable: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.retryable = retryable
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (f"ProviderError({self.message!r}, http_status={self.http_status}, "
                f"retryable={self.retryable}, retry_after={self.retry_after})")


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` is either a number of seconds or an HTTP date; anything else is ignored."""
    if not value or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value, now or datetime.now(UTC))
    return seconds if seconds >= 0 else None


def _seconds_until(http_date: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def detail_message(body: object) -> str | None:
    """The text of a FastAPI-style `detail`: a string, or a list of {loc, msg, type}."""
    detail = body.get("detail") if isinstance(body, Mapping) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail:
        return "; ".join(_one_problem(item) for item in detail)
    return None


def _one_problem(item: object) -> str:
    if not isinstance(item, Mapping):
        return str(item)
    loc = item.get("loc")
    where = ".".join(str(part) for part in loc) if isinstance(loc, list | tuple) else ""
    msg = str(item.get("msg", "invalid value"))
    return f"{where}: {msg}" if where else msg


def error_from_http(status: int, headers: Mapping[str, str], body: object,
                    provider: str) -> ProviderError:
    message = detail_message(body) or f"{provider} answered HTTP {status}"
    retryable = is_retryable_status(status)
    retry_after = parse_retry_after(headers.get("retry-after")) if retryable else None
    return ProviderError(message, http_status=status, retryable=retryable,
                         retry_after=retry_after)


@contextmanager
def transport_errors(provider: str, method: str, url: str) -> Iterator[None]:
    """Around a provider's HTTP exchange (httpx): a timeout or a broken connection is worth
    retrying; a request httpx could not even make is not."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ProviderError(f"{provider} did not answer in time ({method} {url})",
                            retryable=True) from exc
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise ProviderError(f"could not reach {provider} ({method} {url}): {exc}",
                            retryable=True) from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise ProviderError(f"bad request to {provider} ({method} {url}): {exc}") from exc
