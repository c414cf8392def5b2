"""The speech nodes' one call each on OpenAI's audio API (executions.engine.calls.Direct):
`audio:tts` speaks a text into an audio file, `audio:transcribe` writes down what an audio file
says. Charged at workflows/nodes/audio.py's prices, or 0 on the team's own key."""

import asyncio
import mimetypes
from typing import Any, cast
from urllib.parse import urlsplit

from executions.engine.calls import Direct, Stream
from executions.engine.contracts import NodeContext, NodeFailure, NodeResult
from executions.media import save_media
from executions.providers.openai_audio import OpenAIAudio
from workflows.nodes.audio import (
    AUDIO_FORMATS,
    MAX_AUDIO_BYTES,
    MAX_AUDIO_SECONDS,
    MAX_SPEECH_CHARS,
    SPEECH_PRICES,
    TRANSCRIBE_PRICES,
    TRANSCRIBE_TIMEOUT_SECONDS,
    SpeechParams,
    TranscribeParams,
    audio_seconds,
)

from .runtime import absolute, read_media
from .table import executes


def _credentials(ctx: NodeContext) -> Any:
    if ctx.credentials is None:
        raise NodeFailure("no API key for openai: set one in Settings > Providers")
    return ctx.credentials


async def speak(ctx: NodeContext, stream: Stream) -> NodeResult:
    params = cast(SpeechParams, ctx.params)
    credentials = _credentials(ctx)
    text = params.text
    if not text.strip():
        raise NodeFailure("there is no text to speak")
    if len(text) > MAX_SPEECH_CHARS:
        raise NodeFailure(f"the text is {len(text):,} characters; OpenAI speaks at most "
                          f"{MAX_SPEECH_CHARS:,}")
    client = OpenAIAudio(credentials.base_url, credentials.api_key)
    speech = await client.speech(
        model=params.model, voice=params.voice, text=text, response_format=params.format,
        speed=params.speed,
        instructions=params.instructions if params.model == "gpt-4o-mini-tts" else "")
    ext, content_type = AUDIO_FORMATS[params.format]
    url = await asyncio.to_thread(save_media, speech.content, ext, content_type,
                                  folder="nodes")
    output: dict[str, Any] = {"audio": {"url": url, "content_type": content_type},
                              "characters": len(text)}
    if speech.simulated:
        output["simulated"] = True
    credits = 0.0 if credentials.source == "team" \
        else round(SPEECH_PRICES[params.model] * len(text) / 1000, 4)
    return NodeResult(ports={"audio": url}, output=output, credits=credits)


async def transcribe(ctx: NodeContext, stream: Stream) -> NodeResult:
    params = cast(TranscribeParams, ctx.params)
    credentials = _credentials(ctx)
    if not params.audio_url:
        raise NodeFailure("there is no audio to transcribe")
    url = str(absolute(params.audio_url))
    content = await asyncio.to_thread(read_media, url)
    if len(content) > MAX_AUDIO_BYTES:
        raise NodeFailure(f"the audio is larger than {MAX_AUDIO_BYTES:,} bytes (OpenAI's limit)")
    measured = await asyncio.to_thread(audio_seconds, content)
    if measured is not None and measured > MAX_AUDIO_SECONDS:
        raise NodeFailure(f"the audio is {measured:,.0f} s long; at most "
                          f"{MAX_AUDIO_SECONDS:,.0f} s can be transcribed")
    filename, content_type = _file_of(url)
    client = OpenAIAudio(credentials.base_url, credentials.api_key,
                         timeout=TRANSCRIBE_TIMEOUT_SECONDS)
    transcript = await client.transcribe(
        model=params.model, audio=content, filename=filename, content_type=content_type,
        language=params.language, prompt=params.prompt, verbose=params.model == "whisper-1")
    stream.text(transcript.text)
    seconds = min(MAX_AUDIO_SECONDS, measured if measured is not None
                  else transcript.duration if transcript.duration is not None
                  else MAX_AUDIO_SECONDS)
    output: dict[str, Any] = {"text": transcript.text, "seconds": round(seconds, 3)}
    if transcript.simulated:
        output["simulated"] = True
    credits = 0.0 if credentials.source == "team" \
        else round(TRANSCRIBE_PRICES[params.model] * seconds, 4)
    return NodeResult(ports={"text": transcript.text}, output=output, credits=credits)


def _file_of(url: str) -> tuple[str, str]:
    """A file name OpenAI accepts (it reads the format from the extension) and its type."""
    name = urlsplit(url).path.rsplit("/", 1)[-1][-100:] or "audio.mp3"
    if "." not in name:
        name += ".mp3"
    guessed = mimetypes.guess_type(name)[0]
    return name, guessed or "application/octet-stream"


executes("audio:tts", Direct(call=speak))
executes("audio:transcribe", Direct(call=transcribe))
