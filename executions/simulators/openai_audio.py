"""The simulated OpenAI audio API: speech and transcriptions, at /_sim/openai/v1/audio/.

    POST /_sim/openai/v1/audio/speech           {model, input, voice, response_format, speed}
    POST /_sim/openai/v1/audio/transcriptions   multipart: file, model, language, prompt,
                                                response_format (json, verbose_json, text)
    GET  /_sim/openai/_audio_stats[?key=<fingerprint>]   POST /_sim/openai/_audio_reset

Speech is real audio made from the text: one short tone per word, its pitch from the word, in a
24 kHz mono WAV (the stdlib's `wave`), encoded to mp3/opus/aac/flac by the ffmpeg binary of
imageio-ffmpeg, or raw 16-bit PCM. What was said is kept in the cache under the audio's hash,
so transcribing audio the simulator made gives its text back; other audio gets a transcript
that names its length.

Directives ([sim latency=..], [sim fail=429x2], [sim fail=500], [sim fail=400]) are read from
the speech's input and from the transcription's prompt. Every call needs `Authorization:
Bearer <key>`: the simulator's own OpenAI key (credentials.simulator_key) or a team's stored
one. Requests are counted, with a fingerprint of the key, for tests; errors answer OpenAI's
`{"error": {message, type, param, code}}`. Nothing is answered while SIMULATORS_ENABLED is off.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import math
import os
import struct
import subprocess
import tempfile
import wave
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse

from executions.providers.credentials import is_a_team_key, simulator_key

from . import state
from .directives import Directives, parse_directives, strip_directives
from .tally import Tally
from .views import AsyncView, Refusal, simulator_view

logger = logging.getLogger("wireflow.simulators")
_PREFIX = "sim:openai_audio:"
TTL_SECONDS = 24 * 3600
RATE = 24_000  # OpenAI's speech is 24 kHz mono
WORD_SECONDS = 0.12
GAP_SECONDS = 0.04
MAX_INPUT_CHARS = 4096
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
FFMPEG_TIMEOUT_SECONDS = 60.0
VOICES = frozenset({"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage",
                    "shimmer", "verse", "marin", "cedar"})
SPEECH_MODELS = frozenset({"tts-1", "tts-1-hd", "gpt-4o-mini-tts"})
TRANSCRIBE_MODELS = frozenset({"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"})
CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac",
                 "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm"}
# ffmpeg's muxer and encoder for each format (mp3 and opus as OpenAI sends them).
ENCODERS = {"mp3": ("mp3", "libmp3lame"), "opus": ("ogg", "libopus"), "aac": ("adts", "aac"),
            "flac": ("flac", "flac")}
SIMULATED_HEADER = "x-wireflow-simulated"
tally = Tally(_PREFIX, ("speech", "transcriptions", "refused"))



class OpenAIRefusal(Refusal):
    """An error answer in OpenAI's format."""

    def __init__(self, http_status: int, message: str, error_type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message, http_status, {"error": {
            "message": message, "type": error_type, "param": param, "code": code}}, headers)


def audio_view(method: str) -> Callable[[AsyncView], Any]:
    return simulator_view(
        # (_checked_key is defined below: looked up when a request comes.)
        method, provider="openai audio", checked_key=lambda request: _checked_key(request),
        refusal=lambda status, text: OpenAIRefusal(
            status, text, code="not_found" if status == 404 else None),
        crashed=lambda: {"error": {"message": "The server had an error while processing your "
                                              "request.", "type": "server_error", "param": None,
                                   "code": None}})


# --- Views ---------------------------------------------------------------------------------

@audio_view("POST")
async def speech_view(request: HttpRequest, key: str) -> HttpResponse:
    body = _json_body(request)
    text = _string(body, "input", required=True)
    if len(text) > MAX_INPUT_CHARS:
        raise OpenAIRefusal(400, f"Invalid 'input': string too long. Expected a string with "
                                 f"maximum length {MAX_INPUT_CHARS}, but got a string with "
                                 f"length {len(text)} instead.", param="input",
                            code="string_above_max_length")
    model = _string(body, "model", required=True)
    if model not in SPEECH_MODELS:
        raise OpenAIRefusal(404, f"The model `{model[:100]}` does not exist or you do not "
                                 "have access to it.", code="model_not_found")
    voice = _string(body, "voice", required=True)
    if voice not in VOICES:
        raise OpenAIRefusal(400, f"Invalid value for 'voice': '{voice[:40]}'.",
                            param="voice", code="invalid_value")
    fmt = _string(body, "response_format") or "mp3"
    if fmt not in CONTENT_TYPES:
        raise OpenAIRefusal(400, f"Invalid value for 'response_format': '{fmt[:40]}'.",
                            param="response_format", code="invalid_value")
    speed = body.get("speed", 1.0)
    if not isinstance(speed, int | float) or isinstance(speed, bool) or not 0.25 <= speed <= 4:
        raise OpenAIRefusal(400, "Invalid 'speed': expected a number from 0.25 to 4.",
                            param="speed", code="invalid_value")
    directives = parse_directives(text, _string(body, "instructions"))
    await _obey(directives, "speech", body)
    spoken = strip_directives(text)
    content = await sync_to_async(render_speech, thread_sensitive=False)(spoken, float(speed),
                                                                         fmt)
    await sync_to_async(_remember, thread_sensitive=False)(content, spoken)
    await sync_to_async(tally.count, thread_sensitive=False)(
        "speech", state.key_fingerprint(key))
    response = HttpResponse(content, content_type=CONTENT_TYPES[fmt])
    response[SIMULATED_HEADER] = "true"
    return response


@audio_view("POST")
async def transcriptions_view(request: HttpRequest, key: str) -> HttpResponse:
    upload = request.FILES.get("file")
    if upload is None:
        raise OpenAIRefusal(400, "you must provide a file", param="file")
    if upload.size is None or upload.size > MAX_UPLOAD_BYTES:
        raise OpenAIRefusal(413, f"Maximum content size limit ({MAX_UPLOAD_BYTES}) exceeded.")
    model = request.POST.get("model", "")
    if not model:
        raise OpenAIRefusal(400, "you must provide a model parameter", param="model")
    if model not in TRANSCRIBE_MODELS:
        raise OpenAIRefusal(404, f"The model `{model[:100]}` does not exist or you do not "
                                 "have access to it.", code="model_not_found")
    fmt = request.POST.get("response_format", "json")
    if fmt not in ("json", "verbose_json", "text"):
        raise OpenAIRefusal(400, f"Invalid value for 'response_format': '{fmt[:40]}'.",
                            param="response_format", code="invalid_value")
    if fmt == "verbose_json" and model != "whisper-1":
        raise OpenAIRefusal(400, f"response_format 'verbose_json' is not compatible with "
                                 f"model '{model}'. Use 'json' or 'text' instead.",
                            param="response_format", code="unsupported_value")
    prompt = request.POST.get("prompt", "")[:MAX_INPUT_CHARS * 4]
    await _obey(parse_directives(prompt), "transcriptions",
                {"model": model, "prompt": prompt, "size": upload.size, "name": upload.name})
    content = upload.read()
    text, seconds = await sync_to_async(transcribe, thread_sensitive=False)(content)
    await sync_to_async(tally.count, thread_sensitive=False)(
        "transcriptions", state.key_fingerprint(key))
    if fmt == "text":
        response = HttpResponse(text + "\n", content_type="text/plain; charset=utf-8")
    else:
        response = JsonResponse(_transcription_body(model, fmt, text, seconds,
                                                    request.POST.get("language", "")))
    response[SIMULATED_HEADER] = "true"
    return response


@audio_view("GET")
async def stats_view(request: HttpRequest, key: str) -> HttpResponse:
    fingerprint = request.GET.get("key", "")[:64] or None
    return JsonResponse(await sync_to_async(tally.stats)(fingerprint))


@audio_view("POST")
async def reset_view(request: HttpRequest, key: str) -> HttpResponse:
    await sync_to_async(tally.reset)()
    return JsonResponse({"reset": True})


# --- Audio ---------------------------------------------------------------------------------

def render_speech(text: str, speed: float, fmt: str) -> bytes:
    """The text as tones, in `fmt`; `pcm` is the raw 16-bit little-endian mono samples."""
    pcm = speech_pcm(text, speed)
    if fmt == "pcm":
        return pcm
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm)
    if fmt == "wav":
        return buffer.getvalue()
    return encode(buffer.getvalue(), fmt)


def speech_pcm(text: str, speed: float) -> bytes:
    words = text.split()[:MAX_INPUT_CHARS] or ["..."]
    tone = max(1, round(WORD_SECONDS / speed * RATE))
    silence = b"\0\0" * max(1, round(GAP_SECONDS / speed * RATE))
    out = bytearray()
    for word in words:
        pitch = 180 + int(hashlib.sha256(word.lower().encode()).hexdigest()[:4], 16) % 600
        step = 2 * math.pi * pitch / RATE
        fade = max(1, tone // 10)  # no clicks: a short fade in and out
        out += b"".join(struct.pack("<h", round(7000 * min(1.0, i / fade, (tone - i) / fade)
                                                * math.sin(step * i)))
                        for i in range(tone))
        out += silence
    return bytes(out)


def encode(wav_bytes: bytes, fmt: str) -> bytes:
    """Through a file, not a pipe: FLAC and MP3 write their length into the header at the end,
    which they can only do on a file they can seek in."""
    import imageio_ffmpeg  # locates the bundled binary: only when a format needs it

    muxer, codec = ENCODERS[fmt]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"speech.{fmt}")
        command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
                   "-f", "wav", "-i", "pipe:0", "-c:a", codec, "-f", muxer, path]
        # The bundled binary, fixed arguments and our own file: nothing of the request's is on
        # the command line.
        done = subprocess.run(command, input=wav_bytes, capture_output=True,  # noqa: S603
                              check=False, timeout=FFMPEG_TIMEOUT_SECONDS)
        if done.returncode != 0 or not os.path.exists(path):
            raise RuntimeError(f"ffmpeg could not encode {fmt}: {done.stderr[-500:]!r}")
        with open(path, "rb") as file:
            return file.read()


def transcribe(content: bytes) -> tuple[str, float | None]:
    """What the simulator said in this audio, else a transcript naming the audio's length."""
    said = cache.get(_said_key(content))
    seconds = audio_seconds(content)
    if isinstance(said, str):
        return said, seconds
    if seconds is None:
        raise OpenAIRefusal(400, "Audio file might be corrupted or unsupported",
                            param="file", code="invalid_value")
    return f"(simulated transcript of {seconds:.1f} s of audio)", seconds


def audio_seconds(content: bytes) -> float | None:
    import mutagen

    try:
        audio = mutagen.File(io.BytesIO(content))
        length = float(audio.info.length) if audio is not None else 0.0
    except Exception:  # not audio mutagen knows
        return None
    return length if length > 0 else None


def _transcription_body(model: str, fmt: str, text: str, seconds: float | None,
                        language: str) -> dict[str, Any]:
    length = round(seconds or 0.0, 2)
    if fmt == "verbose_json":
        return {"task": "transcribe", "language": _LANGUAGES.get(language, "english"),
                "duration": length, "text": text,
                "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": length, "text": text,
                              "tokens": [], "temperature": 0.0, "avg_logprob": -0.2,
                              "compression_ratio": 1.0, "no_speech_prob": 0.01}],
                "usage": {"type": "duration", "seconds": math.ceil(length)},
                "simulated": True}
    if model == "whisper-1":
        usage: dict[str, Any] = {"type": "duration", "seconds": math.ceil(length)}
    else:
        audio_tokens = max(1, round(length * 10))
        output_tokens = max(1, len(text.split()))
        usage = {"type": "tokens", "input_tokens": audio_tokens,
                 "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
                 "output_tokens": output_tokens, "total_tokens": audio_tokens + output_tokens}
    return {"text": text, "usage": usage, "simulated": True}


_LANGUAGES = {"en": "english", "fr": "french", "de": "german", "es": "spanish",
              "it": "italian", "nl": "dutch", "pt": "portuguese", "ja": "japanese"}


# --- State: counters, attempts, what was said ------------------------------------------------











def _said_key(content: bytes) -> str:
    return f"{_PREFIX}said:{hashlib.sha256(content).hexdigest()}"


def _remember(content: bytes, text: str) -> None:
    cache.set(_said_key(content), text, TTL_SECONDS)


async def _obey(directives: Directives, route: str, payload: dict[str, Any]) -> None:
    failing = await tally.obey(directives, route, payload)
    if failing:
        assert directives.fail_status is not None
        raise _injected(directives.fail_status, failing)


def _injected(status: int, attempt: int) -> OpenAIRefusal:
    if status == 400:
        return OpenAIRefusal(400, "Simulated validation error ([sim fail=400])", param="input",
                             code="invalid_value")
    if status == 429:
        return OpenAIRefusal(429, f"Rate limit reached for requests (simulated, attempt "
                                  f"{attempt}). Please try again in 1s.", "requests",
                             code="rate_limit_exceeded", headers={"Retry-After": "1"})
    if status < 500:
        return OpenAIRefusal(status, f"Simulated HTTP {status} error (attempt {attempt})")
    return OpenAIRefusal(status, f"The server had an error while processing your request "
                                 f"(simulated HTTP {status}, attempt {attempt}).",
                         "server_error")


# --- Request helpers -----------------------------------------------------------------------

def _token_of(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme == "Bearer" else ""


def _checked_key(request: HttpRequest) -> str:
    token = _token_of(request)
    if not token or not hmac.compare_digest(token.encode(), simulator_key("openai").encode()) \
            and not is_a_team_key("openai", token):
        shown = f"{token[:3]}***{token[-4:]}" if len(token) > 8 else "***"
        raise OpenAIRefusal(401, f"Incorrect API key provided: {shown}. You can find your "
                                 "API key at https://platform.openai.com/account/api-keys.",
                            code="invalid_api_key")
    return token


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, RecursionError) as exc:
        raise OpenAIRefusal(400, "We could not parse the JSON body of your request.") from exc
    if not isinstance(body, dict):
        raise OpenAIRefusal(400, "The body of your request must be a JSON object.")
    return body


def _string(body: dict[str, Any], name: str, required: bool = False) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise OpenAIRefusal(400, f"Missing required parameter: '{name}'." if value is None
                            else f"Invalid type for '{name}': expected a string.",
                            param=name, code="missing_required_parameter" if value is None
                            else "invalid_type")
    return value
