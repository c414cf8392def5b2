"""A thin async client for fal's queue protocol (submit, status, result, cancel, webhooks).

The official `fal-client` hard-codes https://queue.fal.run; this one takes the base URL from
settings so the same code path runs against fal and against the built-in simulator.
Every failure is a ProviderError whose `retryable` tells the engine whether to try again.
"""

import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import httpx
from django.conf import settings
from django.utils.crypto import salted_hmac
from pydantic import BaseModel, ValidationError

from wireflow_site.tls import client_context

from .errors import ProviderError, detail_message, error_from_http, transport_errors
from .io import Client, pooled

FalState = Literal["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
PROVIDER = "fal"
# Read from a model's logs, which may echo anything: linear scans (a match never starts inside a
# run of digits, which a long one made quadratic) over numbers int() can read.
_STEP = re.compile(r"\b(\d{1,9})\s*/\s*(\d{1,9})\b")
_PERCENT = re.compile(r"(?<!\d)(\d+(?:\.\d+)?)\s*%")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class FalSubmission:
    request_id: str
    status_url: str
    response_url: str
    cancel_url: str
    queue_position: int | None = None


@dataclass(frozen=True)
class FalStatus:
    status: FalState
    queue_position: int | None = None
    logs: list[str] = field(default_factory=list)
    progress: float | None = None
    error: str | None = None
    error_type: str | None = None

    @property
    def done(self) -> bool:
        return self.status == "COMPLETED"

    @property
    def failed(self) -> bool:
        """Finished with an error (the result URL then answers it as an HTTP error)."""
        return self.done and self.error is not None


@dataclass(frozen=True)
class FalWebhook:
    request_id: str
    ok: bool
    payload: Any
    error: str | None


# --- What fal answers (read through schemas; unknown fields are ignored) ---------------------

class _SubmitOut(BaseModel):
    request_id: str
    status_url: str
    response_url: str
    cancel_url: str
    queue_position: int | None = None


class _LogOut(BaseModel):
    message: str


class _StatusOut(BaseModel):
    status: FalState
    queue_position: int | None = None
    logs: list[_LogOut | str] | None = None
    error: str | None = None
    error_type: str | None = None


class _WebhookIn(BaseModel):
    request_id: str
    status: Literal["OK", "ERROR"]
    payload: Any = None
    error: str | None = None
    payload_error: str | None = None


class FalClient:
    def __init__(self, base_url: str, key: str, *, http: Client | None = None,
                 timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self._http = http

    async def submit(self, model_id: str, payload: dict[str, Any], *,
                     webhook_url: str | None = None) -> FalSubmission:
        params = {"fal_webhook": webhook_url} if webhook_url else None
        body = await self._call("POST", f"{self.base_url}/{model_id.strip('/')}",
                                json=payload, params=params)
        out = _parse(_SubmitOut, body, "submit")
        return FalSubmission(out.request_id, out.status_url, out.response_url, out.cancel_url,
                             out.queue_position)

    async def status(self, sub_or_status_url: FalSubmission | str, *,
                     logs: bool = True) -> FalStatus:
        url = (sub_or_status_url.status_url if isinstance(sub_or_status_url, FalSubmission)
               else sub_or_status_url)
        body = await self._call("GET", url, params={"logs": "1" if logs else "0"})
        out = _parse(_StatusOut, body, "status")
        lines = [item.message if isinstance(item, _LogOut) else item for item in out.logs or []]
        return FalStatus(out.status, out.queue_position, lines, _progress(out.status, lines),
                         out.error, out.error_type)

    async def result(self, response_url: str) -> dict[str, Any]:
        body = await self._call("GET", response_url)
        if not isinstance(body, dict):
            raise ProviderError("fal answered a result that is not a JSON object", 200)
        return body

    async def cancel(self, cancel_url: str) -> bool:
        """True when fal accepted the cancellation, False when the job had already finished."""
        response = await self._send("PUT", cancel_url)
        body = _json_or_none(response)
        if response.status_code == 400 and isinstance(body, dict) \
                and body.get("status") == "ALREADY_COMPLETED":
            return False
        if response.is_error:
            raise error_from_http(response.status_code, response.headers, body, PROVIDER)
        return True

    async def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        response = await self._send(method, url, **kwargs)
        body = _json_or_none(response)
        if response.is_error:
            raise error_from_http(response.status_code, response.headers, body, PROVIDER)
        if body is None:
            raise ProviderError(f"fal answered HTTP {response.status_code} without JSON",
                                response.status_code)
        return body

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if self.key:
            headers["Authorization"] = f"Key {self.key}"
        with transport_errors("fal", method, url):
            http = self._http or pooled()
            if http is not None:
                return await http.request(method, url, headers=headers, timeout=self.timeout,
                                          **kwargs)
            # Off the provider loop (io.py), a client per call: a pooled one must not outlive
            # the loop it was made in.
            async with httpx.AsyncClient(timeout=self.timeout, verify=client_context()) as http:
                return await http.request(method, url, headers=headers, **kwargs)


def platform_key() -> str:
    """The platform's fal key: FAL_KEY, else the built-in simulator's own key. The simulator
    accepts only this key, so it derives from SECRET_KEY: every process of one deployment
    (web, workers) agrees on it and nobody outside can guess it."""
    if settings.FAL_KEY:
        return str(settings.FAL_KEY)
    return "sim-" + salted_hmac("wireflow.simulators.fal", "key").hexdigest()[:40]


def fal_client(key: str | None = None) -> FalClient:
    """The client the settings describe: a team's own key, else the platform's."""
    return FalClient(settings.FAL_QUEUE_URL, key or platform_key())


def parse_webhook(body: dict[str, Any]) -> FalWebhook:
    """Reads a completion webhook delivery; raises ValueError when it is not one."""
    try:
        hook = _WebhookIn.model_validate(body)
    except ValidationError as exc:
        raise ValueError(f"not a fal webhook: {exc.error_count()} invalid field(s)") from exc
    if hook.status == "OK":
        return FalWebhook(hook.request_id, True, hook.payload, None)
    error = detail_message(hook.payload) or hook.error or hook.payload_error \
        or "fal reported an error"
    return FalWebhook(hook.request_id, False, hook.payload, error)


def _parse(schema: type[M], body: Any, what: str) -> M:
    try:
        return schema.model_validate(body)
    except ValidationError as exc:
        raise ProviderError(f"fal answered an unexpected {what} body: {exc.error_count()} "
                            "invalid field(s)", 200) from exc


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _progress(status: str, logs: list[str]) -> float | None:
    """fal reports no progress number; models log "step 3/10" or "30%", so read the last one."""
    if status == "COMPLETED":
        return 1.0
    for line in reversed(logs):
        if step := _STEP.search(line):
            done, total = int(step.group(1)), int(step.group(2))
            if total > 0:
                return min(done / total, 1.0)
        if percent := _PERCENT.search(line):
            return min(float(percent.group(1)) / 100, 1.0)
    return None
