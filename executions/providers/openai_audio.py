"""OpenAI's speech (text to speech) and transcription (speech to text) over the official SDK.

`AsyncOpenAI` with its own retries off (max_retries=0: the engine's retry contract retries) and
a bounded timeout. The audio answered is read as a stream and refused past MAX_AUDIO_BYTES, so
a misbehaving endpoint (OPENAI_BASE_URL may name any compatible API) cannot fill the worker's
memory. Every SDK error becomes a ProviderError: retryable for 408/409/429/5xx and for
connection failures, with the server's Retry-After.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ProviderError
from .sdk_errors import sdk, sdk_errors

if TYPE_CHECKING:
    import openai

SPEECH_TIMEOUT_SECONDS = 120.0
TRANSCRIBE_TIMEOUT_SECONDS = 300.0
MAX_AUDIO_BYTES = 64 * 1024 * 1024  # 4,096 characters of speech are a few MB in any format
MAX_JSON_BYTES = 8 * 1024 * 1024  # a transcript's answer (verbose_json lists every word)
MAX_TEXT_CHARS = 1_000_000  # a transcript, bounded all the same
SIMULATED_HEADER = "x-wireflow-simulated"  # the built-in simulator marks its answers
AUDIO_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac",
               "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm"}


@dataclass(frozen=True)
class Speech:
    content: bytes
    content_type: str
    simulated: bool = False


@dataclass(frozen=True)
class Transcript:
    text: str
    duration: float | None = None  # seconds, when the provider says (verbose_json, usage)
    simulated: bool = False


class OpenAIAudio:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = SPEECH_TIMEOUT_SECONDS,
                 http_client: Any = None) -> None:
        self.timeout = timeout
        self.module = sdk("openai")
        self.sdk: openai.AsyncOpenAI = self.module.AsyncOpenAI(
            api_key=api_key, base_url=base_url.rstrip("/"), max_retries=0, timeout=timeout,
            http_client=http_client)

    async def speech(self, *, model: str, voice: str, text: str, response_format: str = "mp3",
                     speed: float = 1.0, instructions: str = "") -> Speech:
        extra: dict[str, Any] = {"instructions": instructions} if instructions else {}
        async with (sdk_errors("openai", self.module, timeout=self.timeout),
                    self.sdk.audio.speech.with_streaming_response.create(
                        model=model, voice=voice, input=text,
                        response_format=response_format,  # type: ignore[arg-type]
                        speed=speed, **extra) as response):
            content = await _read_bounded(response.iter_bytes(), MAX_AUDIO_BYTES)
            headers = response.headers
        if not content:
            raise ProviderError("openai answered no audio", retryable=True)
        content_type = headers.get("content-type", "").split(";")[0].strip()
        if not content_type.startswith("audio/"):
            content_type = AUDIO_TYPES.get(response_format, "application/octet-stream")
        return Speech(content, content_type, headers.get(SIMULATED_HEADER) == "true")

    async def transcribe(self, *, model: str, audio: bytes, filename: str,
                         content_type: str, language: str = "", prompt: str = "",
                         verbose: bool = False) -> Transcript:
        """`verbose` asks for verbose_json (whisper-1 only): the answer then has the duration."""
        extra: dict[str, Any] = {}
        if language:
            extra["language"] = language
        if prompt:
            extra["prompt"] = prompt
        async with (sdk_errors("openai", self.module, timeout=self.timeout),
                    self.sdk.audio.transcriptions.with_streaming_response.create(
                        model=model, file=(filename, audio, content_type),
                        response_format="verbose_json" if verbose else "json",
                        **extra) as response):
            raw = await _read_bounded(response.iter_bytes(), MAX_JSON_BYTES)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise ProviderError("openai answered a transcription that is not JSON") from exc
        return read_transcript(body)


async def _read_bounded(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise ProviderError(f"openai answered more than {limit:,} bytes")
        parts.append(chunk)
    return b"".join(parts)


def read_transcript(body: object) -> Transcript:
    if not isinstance(body, Mapping) or not isinstance(body.get("text"), str):
        raise ProviderError("openai answered a transcription without text")
    text = str(body["text"])
    if len(text) > MAX_TEXT_CHARS:
        raise ProviderError(f"openai answered more than {MAX_TEXT_CHARS:,} characters")
    return Transcript(text, _duration(body), body.get("simulated") is True)


def _duration(body: Mapping[str, Any]) -> float | None:
    usage = body.get("usage")
    candidates = [body.get("duration")]
    if isinstance(usage, Mapping) and usage.get("type") == "duration":
        candidates.append(usage.get("seconds"))
    for value in candidates:
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
    return None
