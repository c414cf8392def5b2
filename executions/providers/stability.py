"""Stability AI's Stable Image generate API (v2beta) over httpx.

    POST {base}/v2beta/stable-image/generate/{core|ultra|sd3}
    multipart/form-data: prompt, negative_prompt, aspect_ratio, seed, output_format,
                         style_preset (core), model (sd3: sd3.5-large, ...)
    authorization: Bearer <key>, accept: application/json
    -> 200 {"image": <base64>, "finish_reason": "SUCCESS" | "CONTENT_FILTERED", "seed": n}
    -> 4xx/5xx {"id", "name", "errors": [...]}

The answer is read as a stream and refused past MAX_ANSWER_BYTES; the whole call is bounded by
TIMEOUT_SECONDS. A filtered image is a NodeFailure (retrying the same prompt gives the same).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from executions.engine.contracts import NodeFailure
from wireflow_site.tls import client_context

from .errors import ProviderError, is_retryable_status, parse_retry_after, transport_errors

PROVIDER = "stability"
TIMEOUT_SECONDS = 120.0
MAX_ANSWER_BYTES = 48 * 1024 * 1024  # base64 of the largest image (ultra: ~4 MP PNG)
SD3_MODELS = frozenset({"sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash"})
ENDPOINTS = frozenset({"core", "ultra", "sd3"})
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True)
class GeneratedImage:
    content: bytes
    seed: int
    finish_reason: str
    simulated: bool = False


def endpoint_of(model: str) -> str:
    """The API path's last part: core and ultra are their own; SD 3.5 models share sd3."""
    if model in ENDPOINTS - {"sd3"}:
        return model
    if model in SD3_MODELS:
        return "sd3"
    raise ValueError(f"not a Stability image model: {model}")


class StabilityClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = TIMEOUT_SECONDS,
                 http: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.http = http

    async def generate(self, *, model: str, prompt: str, negative_prompt: str = "",
                       aspect_ratio: str = "1:1", seed: int = 0, output_format: str = "png",
                       style_preset: str = "") -> GeneratedImage:
        endpoint = endpoint_of(model)
        fields: list[tuple[str, str]] = [("prompt", prompt), ("aspect_ratio", aspect_ratio),
                                         ("seed", str(seed)), ("output_format", output_format)]
        if negative_prompt:
            fields.append(("negative_prompt", negative_prompt))
        if style_preset:
            fields.append(("style_preset", style_preset))
        if endpoint == "sd3":
            fields += [("model", model), ("mode", "text-to-image")]
        url = f"{self.base_url}/v2beta/stable-image/generate/{endpoint}"
        status, headers, raw = await self._post(url, fields)
        body = _json(raw)
        if status >= 400:
            raise error_from_stability(status, headers, body)
        return read_generated(body)

    async def _post(self, url: str, fields: list[tuple[str, str]]
                    ) -> tuple[int, httpx.Headers, bytes]:
        # (None, value) parts are plain form fields: httpx then sends multipart/form-data.
        files = [(name, (None, value)) for name, value in fields]
        headers = {"authorization": f"Bearer {self.api_key}", "accept": "application/json"}
        http = self.http or httpx.AsyncClient(timeout=self.timeout, verify=client_context())
        try:
            with transport_errors(PROVIDER, "POST", url):
                return await _read_bounded(http, url, files, headers, self.timeout)
        finally:
            if self.http is None:
                await http.aclose()


async def _read_bounded(http: httpx.AsyncClient, url: str, files: Any, headers: dict[str, str],
                        timeout: float) -> tuple[int, httpx.Headers, bytes]:
    async with http.stream("POST", url, files=files, headers=headers,
                           timeout=timeout) as response:
        parts: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise ProviderError(f"stability answered more than {MAX_ANSWER_BYTES:,} bytes")
            parts.append(chunk)
        return response.status_code, response.headers, b"".join(parts)


def read_generated(body: object) -> GeneratedImage:
    if not isinstance(body, Mapping):
        raise ProviderError("stability answered a body that is not a generated image")
    finish = str(body.get("finish_reason") or "SUCCESS")
    if finish == "CONTENT_FILTERED":
        raise NodeFailure("Stability's content filter blocked this image (finish_reason "
                          "CONTENT_FILTERED); change the prompt")
    image = body.get("image")
    if not isinstance(image, str) or not image:
        raise ProviderError("stability answered without an image")
    try:
        content = base64.b64decode(image, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProviderError("stability answered an image that is not base64") from exc
    seed = body.get("seed")
    return GeneratedImage(content, seed if isinstance(seed, int) else 0, finish,
                          body.get("simulated") is True)


def error_from_stability(status: int, headers: Mapping[str, str], body: object
                         ) -> ProviderError:
    """`{"id", "name", "errors": [...]}`: the name and the errors make the message."""
    message = f"stability answered HTTP {status}"
    if isinstance(body, Mapping):
        errors = body.get("errors")
        problems = [str(item) for item in errors[:10]] if isinstance(errors, list) else []
        name = body.get("name") if isinstance(body.get("name"), str) else None
        if problems or name:
            message = f"{name or 'error'}: {'; '.join(problems)}" if problems else str(name)
    retryable = is_retryable_status(status)
    retry_after = parse_retry_after(headers.get("retry-after")) if retryable else None
    return ProviderError(message[:2000], http_status=status, retryable=retryable,
                         retry_after=retry_after)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return None
