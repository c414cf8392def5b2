"""The official SDKs (openai, anthropic): loaded when first called, and their exceptions as the
engine's one ProviderError.

Both SDKs share one hierarchy (APIStatusError, APITimeoutError, APIConnectionError, APIError),
and both let some of their HTTP library's errors through while a streamed answer is read, so
every call through either SDK goes through `sdk_errors`.
"""

import asyncio
import importlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import httpx
import httpx2

from .errors import ProviderError, is_retryable_status, parse_retry_after

MAX_ERROR_CHARS = 500
# The SDKs read with httpx2 (the newest) or httpx; mid-stream errors of either come through.
READ_TIMEOUTS = (httpx2.TimeoutException, httpx.TimeoutException)
TRANSPORT_ERRORS = (httpx2.TransportError, httpx.TransportError)


def sdk(name: str) -> ModuleType:
    """A provider's SDK module, imported the first time a node calls it. `openai` and
    `anthropic` weigh about 40 and 65 MB in each process that imports them, and most processes
    (the web server, beat, a worker that runs no LLM or speech node) never call them."""
    return importlib.import_module(name)


@asynccontextmanager
async def sdk_errors(provider: str, sdk: Any, *, timeout: float,
                     deadline: float | None = None) -> AsyncIterator[None]:
    """Around a call of `sdk` (the openai or anthropic module): its errors as ProviderError,
    retryable when trying again may help; the whole call bounded by `deadline` seconds."""
    try:
        async with asyncio.timeout(deadline):
            yield
    except TimeoutError as exc:
        raise ProviderError(f"{provider} did not finish within {deadline:g} s",
                            retryable=True) from exc
    except sdk.APIStatusError as exc:
        raise status_error(provider, exc.status_code, exc.response.headers, exc.body) from exc
    except (sdk.APITimeoutError, *READ_TIMEOUTS) as exc:
        raise ProviderError(f"{provider} did not answer within {timeout:g} s",
                            http_status=408, retryable=True) from exc
    except sdk.APIConnectionError as exc:
        raise ProviderError(f"could not reach {provider}: {exc.message}", retryable=True) from exc
    except TRANSPORT_ERRORS as exc:
        raise ProviderError(f"lost the connection to {provider}: {exc}", retryable=True) from exc
    except sdk.APIError as exc:  # an error event inside the stream
        raise ProviderError(f"{provider} failed while answering: "
                            f"{exc.message[:MAX_ERROR_CHARS]}", retryable=True) from exc


def status_error(provider: str, status: int, headers: Mapping[str, str],
                 body: object) -> ProviderError:
    """An error answer as a ProviderError: OpenAI's `{"error": {"message", ...}}` (the SDK
    hands over the inner object) and Anthropic's `{"type": "error", "error": {...}}`."""
    retryable = is_retryable_status(status)
    message = error_message(body)
    text = f"{provider} answered HTTP {status}" + (f": {message}" if message else "")
    return ProviderError(text, http_status=status, retryable=retryable,
                         retry_after=parse_retry_after(headers.get("retry-after"))
                         if retryable else None)


def error_message(body: object) -> str:
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        body = body["error"]
    message = body.get("message") if isinstance(body, Mapping) else None
    return str(message)[:MAX_ERROR_CHARS] if message else ""
