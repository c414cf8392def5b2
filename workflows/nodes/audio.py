"""Speech nodes on OpenAI's audio API: `audio:tts` (text to speech) and `audio:transcribe`
(speech to text), each one direct call (executions/executors/audio.py) on the team's OpenAI
key, else the platform's.

Text to speech is priced per 1,000 characters of the text spoken, transcription per second of
audio; each model has its price (SPEECH_PRICES, TRANSCRIBE_PRICES, credits; 1 credit = $0.01)
and the node type shows its default model's. A run on the team's own key costs 0.
"""

from __future__ import annotations

import io
from typing import Literal

from pydantic import Field

from workflows.graph import Port, PortType

from .fields import MediaUrl
from .registry import TEXTAREA, BaseParams, NodeType, register

MAX_SPEECH_CHARS = 4096  # OpenAI's limit on one speech input
MAX_AUDIO_BYTES = 25 * 1024 * 1024  # OpenAI's limit on one transcription upload
MAX_AUDIO_SECONDS = 1500.0  # the gpt-4o transcribe models' longest input (25 minutes)
ESTIMATED_AUDIO_SECONDS = 60.0  # before a run, when the audio is not measured yet
SPEECH_TIMEOUT_SECONDS = 180
TRANSCRIBE_TIMEOUT_SECONDS = 360
# Credits per 1,000 characters ($0.015 for tts-1, $0.030 for tts-1-hd; gpt-4o-mini-tts about
# the same as tts-1 for a typical text).
SPEECH_PRICES = {"gpt-4o-mini-tts": 1.5, "tts-1": 1.5, "tts-1-hd": 3.0}
SPEECH_DEFAULT = "gpt-4o-mini-tts"
# Credits per second of audio ($0.006 a minute; $0.003 for gpt-4o-mini-transcribe).
TRANSCRIBE_PRICES = {"gpt-4o-mini-transcribe": 0.005, "gpt-4o-transcribe": 0.01,
                     "whisper-1": 0.01}
TRANSCRIBE_DEFAULT = "gpt-4o-mini-transcribe"
AUDIO_FORMATS = {"mp3": ("mp3", "audio/mpeg"), "wav": ("wav", "audio/wav"),
                 "opus": ("opus", "audio/ogg"), "aac": ("aac", "audio/aac"),
                 "flac": ("flac", "audio/flac")}

SpeechModel = Literal["gpt-4o-mini-tts", "tts-1", "tts-1-hd"]
Voice = Literal["alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage",
                "shimmer"]
AudioFormat = Literal["mp3", "wav", "opus", "aac", "flac"]
TranscribeModel = Literal["gpt-4o-mini-transcribe", "gpt-4o-transcribe", "whisper-1"]


class SpeechParams(BaseParams):
    # The text and the model set the price: fed by an edge, the estimate assumes the worst.
    price_fields = frozenset({"text", "model"})

    model: SpeechModel = Field("gpt-4o-mini-tts", description="The speech model.")
    voice: Voice = Field("alloy", description="The voice that speaks.")
    format: AudioFormat = Field("mp3", description="The audio file's format.")
    speed: float = Field(1.0, ge=0.25, le=4.0, description="0.25 (slow) to 4 (fast).")
    instructions: str = Field("", max_length=4096, json_schema_extra=TEXTAREA,
                              description="How to speak: tone, accent, pace "
                                          "(gpt-4o-mini-tts only).")
    text: str = Field("", max_length=MAX_SPEECH_CHARS, json_schema_extra=TEXTAREA,
                      description="What to say, unless a text is connected.")

    def billable_units(self) -> float:
        """Units of the node type's price (its default model's, per 1,000 characters)."""
        return speech_units(len(self.text), self.model)

    @classmethod
    def max_billable_units(cls) -> float:
        return max(speech_units(MAX_SPEECH_CHARS, model) for model in SPEECH_PRICES)


class TranscribeParams(BaseParams):
    price_fields = frozenset({"model"})
    measured_media = ("audio_url", "seconds")

    model: TranscribeModel = Field("gpt-4o-mini-transcribe", description="The transcription model.")
    language: str = Field("", pattern=r"^([a-z]{2})?$", max_length=2,
                          description="The audio's language as an ISO-639-1 code (en, fr, "
                                      "...); empty to detect it.")
    prompt: str = Field("", max_length=2000, json_schema_extra=TEXTAREA,
                        description="Text that guides the style or spelling (names, terms).")
    audio_url: MediaUrl = Field("", description="The audio to transcribe, unless connected.")

    def billable_units(self) -> float:
        return transcribe_units(ESTIMATED_AUDIO_SECONDS, self.model)

    @classmethod
    def max_billable_units(cls) -> float:
        return max(transcribe_units(MAX_AUDIO_SECONDS, model) for model in TRANSCRIBE_PRICES)

    def bound_units(self, measured: float | None) -> float:
        seconds = MAX_AUDIO_SECONDS if measured is None else min(MAX_AUDIO_SECONDS, measured)
        return transcribe_units(seconds, self.model)


def speech_units(characters: int, model: str) -> float:
    return characters / 1000 * SPEECH_PRICES[model] / SPEECH_PRICES[SPEECH_DEFAULT]


def transcribe_units(seconds: float, model: str) -> float:
    return seconds * TRANSCRIBE_PRICES[model] / TRANSCRIBE_PRICES[TRANSCRIBE_DEFAULT]


def audio_seconds(content: bytes) -> float | None:
    """The audio's length from its headers (mutagen), as the engine measures it before."""
    import mutagen

    try:
        audio = mutagen.File(io.BytesIO(content))
        length = float(audio.info.length) if audio is not None else 0.0
    except Exception:  # unreadable or not audio: unknown
        return None
    return length if length > 0 else None


register(
    NodeType(
        node_type="audio:tts", label="Text to speech", category="model",
        description="Speaks a text with one of OpenAI's voices, as an audio file.",
        params=SpeechParams,
        inputs=(Port("text", PortType.TEXT, "Text", required=True),),
        outputs=(Port("audio", PortType.AUDIO, "Audio"),),
        timeout_seconds=SPEECH_TIMEOUT_SECONDS, credits=SPEECH_PRICES[SPEECH_DEFAULT],
        credit_unit="1k characters", provider="openai"),
    NodeType(
        node_type="audio:transcribe", label="Speech to text", category="model",
        description="Writes down what is said in an audio file, with OpenAI's models.",
        params=TranscribeParams,
        inputs=(Port("audio_url", PortType.AUDIO, "Audio", required=True),),
        outputs=(Port("text", PortType.TEXT, "Text"),),
        timeout_seconds=TRANSCRIBE_TIMEOUT_SECONDS,
        credits=TRANSCRIBE_PRICES[TRANSCRIBE_DEFAULT], credit_unit="second", provider="openai"),
)
