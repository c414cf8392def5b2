"""What the httpx clients (fal, Replicate, Stability) make of a failed exchange, in one place
(providers/errors.transport_errors): a timeout or a broken connection is retried, a request
that could not be made is not — whichever client met it."""

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from executions.providers.errors import ProviderError
from executions.providers.fal import FalClient
from executions.providers.replicate import ReplicateClient
from executions.providers.stability import StabilityClient

FAILURES: list[tuple[Exception, bool, str]] = [
    (httpx.ReadTimeout("slow"), True, "did not answer in time"),
    (httpx.ConnectError("refused"), True, "could not reach"),
    (httpx.RemoteProtocolError("cut"), True, "could not reach"),
    (httpx.UnsupportedProtocol("gopher"), False, "bad request to"),
]


def _transport(exc: Exception) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


CALLS: dict[str, Callable[[httpx.AsyncClient], Any]] = {
    "fal": lambda http: FalClient("https://queue.fal.run", "k", http=http).submit(
        "fal-ai/flux-2", {"prompt": "x"}),
    "replicate": lambda http: ReplicateClient("https://api.replicate.com", "r8_x",
                                              http=http).create("owner/model", {}),
    "stability": lambda http: StabilityClient("https://api.stability.ai", "sk-x",
                                              http=http).generate(model="core", prompt="x"),
}


@pytest.mark.parametrize("provider", sorted(CALLS))
@pytest.mark.parametrize(("exc", "retryable", "says"), FAILURES)
def test_a_failed_exchange_is_a_provider_error_retried_only_when_it_may_pass(
        provider: str, exc: Exception, retryable: bool, says: str) -> None:
    with pytest.raises(ProviderError) as caught:
        asyncio.run(CALLS[provider](_transport(exc)))
    assert caught.value.retryable is retryable
    assert says in caught.value.message and provider in caught.value.message
