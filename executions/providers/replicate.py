"""A thin async client for Replicate's predictions API (create, get, cancel, webhooks).

    POST {base}/v1/predictions                         {version, input, webhook?, ...}
    POST {base}/v1/models/{owner}/{name}/predictions   {input, webhook?, ...}  (official models)
    GET  prediction.urls.get      POST prediction.urls.cancel

The base URL comes from settings (REPLICATE_API_URL) or the team's own (Settings > Providers),
so the same code path runs against Replicate and against the built-in simulator. Failures:
a ProviderError, retryable for 408/409/429 (with Retry-After) and 5xx; any other 4xx is a
NodeFailure (retrying will not fix it). Replicate's error bodies are `{"detail": ...}` or
problem details `{"title", "detail", "status"}`.
"""

from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import httpx
from django.conf import settings
from django.utils.crypto import salted_hmac
from pydantic import BaseModel, ValidationError

from executions.engine.contracts import NodeFailure
from wireflow_site.tls import client_context
from workflows.nodes.replicate import model_ref

from .errors import (
    ProviderError,
    detail_message,
    is_retryable_status,
    parse_retry_after,
    transport_errors,
)
from .io import Client, pooled

PROVIDER = "replicate"
Status = Literal["starting", "processing", "succeeded", "failed", "canceled"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "canceled"})
MAX_ERROR_CHARS = 2000
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ModelRef:
    owner: str | None
    name: str | None
    version: str | None

    @property
    def official(self) -> bool:
        """Given as owner/name only: run through the model's own predictions endpoint."""
        return self.version is None


def parse_model(text: str) -> ModelRef:
    """Reads a model reference; raises ValueError when it is not one."""
    match = model_ref(text)
    owner, name, version, bare = match.groups()
    return ModelRef(owner, name, version or bare)


@dataclass(frozen=True)
class Prediction:
    id: str
    status: Status
    output: Any = None
    error: str | None = None
    logs: str = ""
    get_url: str = ""
    cancel_url: str = ""
    simulated: bool = False  # answered by the built-in simulator (it says so in the body)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


# --- What Replicate answers (read through schemas; unknown fields are ignored) ---------------

class _Urls(BaseModel):
    get: str = ""
    cancel: str = ""


class _PredictionOut(BaseModel):
    id: str
    status: Status
    output: Any = None
    error: Any = None
    logs: str | None = None
    urls: _Urls | None = None
    simulated: bool = False


class ReplicateClient:
    def __init__(self, base_url: str, token: str, *, http: Client | None = None,
                 timeout: float = 30.0) -> None:
        # Accept the base with or without its /v1 (a team may name .../v1).
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        self.token = token
        self.timeout = timeout
        self._http = http

    async def create(self, model: str | ModelRef, payload: dict[str, Any], *,
                     webhook_url: str | None = None) -> Prediction:
        ref = parse_model(model) if isinstance(model, str) else model
        body: dict[str, Any] = {"input": payload}
        if webhook_url:
            body["webhook"] = webhook_url
            body["webhook_events_filter"] = ["completed"]
        if ref.official:
            url = f"{self.base_url}/v1/models/{ref.owner}/{ref.name}/predictions"
        else:
            url = f"{self.base_url}/v1/predictions"
            # Replicate takes "owner/name:<version>" or the bare id in `version`.
            body["version"] = f"{ref.owner}/{ref.name}:{ref.version}" if ref.owner \
                else ref.version
        prediction = read_prediction(await self._call("POST", url, json=body))
        # The token goes wherever these URLs point: only to the API it was meant for.
        for link in (prediction.get_url, prediction.cancel_url):
            if link and not _same_origin(link, self.base_url):
                raise ProviderError(f"replicate answered a prediction URL on another host "
                                    f"({_origin(link)}); refusing to send the token there")
        return prediction

    async def get(self, url_or_prediction: Prediction | str) -> Prediction:
        url = url_or_prediction.get_url if isinstance(url_or_prediction, Prediction) \
            else url_or_prediction
        return read_prediction(await self._call("GET", url))

    async def cancel(self, url: str) -> Prediction:
        """Replicate answers the prediction; canceling a finished one changes nothing."""
        return read_prediction(await self._call("POST", url))

    async def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        response = await self._send(method, url, **kwargs)
        body = _json_or_none(response)
        if response.is_error:
            raise error_from_response(response.status_code, response.headers, body)
        if body is None:
            raise ProviderError(f"replicate answered HTTP {response.status_code} without JSON",
                                response.status_code)
        return body

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {"Accept": "application/json", "Authorization": f"Bearer {self.token}"}
        with transport_errors("replicate", method, url):
            http = self._http or pooled()
            if http is not None:
                return await http.request(method, url, headers=headers, timeout=self.timeout,
                                          **kwargs)
            # Off the provider loop (io.py), a client per call: a pooled one must not outlive
            # the loop it was made in.
            async with httpx.AsyncClient(timeout=self.timeout, verify=client_context()) as http:
                return await http.request(method, url, headers=headers, **kwargs)


def error_from_response(status: int, headers: Any, body: object) -> Exception:
    """A retryable ProviderError (408/409/429/5xx, honouring Retry-After), else NodeFailure."""
    message = detail_message(body)
    if message is None and isinstance(body, dict) and isinstance(body.get("title"), str):
        message = body["title"]
    message = (message or f"replicate answered HTTP {status}")[:MAX_ERROR_CHARS]
    if is_retryable_status(status):
        return ProviderError(message, http_status=status, retryable=True,
                             retry_after=parse_retry_after(headers.get("retry-after")))
    if 400 <= status < 500:
        return NodeFailure(f"replicate: {message} (HTTP {status})")
    return ProviderError(message, http_status=status)


def read_prediction(body: Any) -> Prediction:
    try:
        out = _PredictionOut.model_validate(body)
    except ValidationError as exc:
        raise ProviderError(f"replicate answered an unexpected prediction body: "
                            f"{exc.error_count()} invalid field(s)", 200) from exc
    error = None if out.error in (None, "") else str(out.error)[:MAX_ERROR_CHARS]
    urls = out.urls or _Urls()
    return Prediction(out.id, out.status, out.output, error, out.logs or "", urls.get,
                      urls.cancel, out.simulated)


def parse_webhook(body: dict[str, Any]) -> Prediction:
    """A webhook delivery is the prediction itself; raises ValueError when it is not one."""
    try:
        return read_prediction(body)
    except ProviderError as exc:
        raise ValueError(f"not a replicate webhook: {exc.message}") from exc


def platform_token() -> str:
    """REPLICATE_API_TOKEN, else the built-in simulator's own token (derived from SECRET_KEY,
    so every process of one deployment agrees on it and nobody outside can guess it)."""
    if settings.REPLICATE_API_TOKEN:
        return str(settings.REPLICATE_API_TOKEN)
    return "r8_sim" + salted_hmac("wireflow.simulators.replicate", "key").hexdigest()[:34]


def replicate_client(token: str | None = None) -> ReplicateClient:
    return ReplicateClient(settings.REPLICATE_API_URL, token or platform_token())


def _origin(url: str) -> tuple[str, str]:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return ("", "")
    return (parsed.scheme, parsed.netloc.decode("ascii", "replace"))


def _same_origin(url: str, base: str) -> bool:
    return _origin(url) == _origin(base) != ("", "")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
