"""The speech nodes `audio:tts` and `audio:transcribe`: catalogue entries and prices, param
checks, the bound a run is reserved against never below what it is charged, and their
executors' calls run directly against the OpenAI audio simulator served by the live site (on the
platform's key, on the team's own key for 0 credits, and with no key at all). OpenAI's own
bodies: tests/executions/test_openai_audio_client.py."""

import asyncio
import io
from collections.abc import Iterator
from typing import Any

import mutagen.mp3
import pytest
from pydantic import ValidationError

from accounts.models import Team, User
from accounts.provider_keys import provider_key_set
from executions.engine.contracts import NodeContext, NodeFailure, NodeResult
from executions.engine.pricing import audio_seconds
from executions.media import open_media_by_url, save_media
from executions.providers.credentials import Credentials, simulator_key
from executions.simulators import media
from executions.simulators import openai_audio as simulator
from executions.simulators.state import key_fingerprint
from workflows.nodes import catalogue, catalogue_entry
from workflows.nodes.audio import (
    MAX_SPEECH_CHARS,
    SPEECH_PRICES,
    TRANSCRIBE_PRICES,
    SpeechParams,
    TranscribeParams,
)

from .calls import direct

TTS, STT = "audio:tts", "audio:transcribe"
TEAM_KEY = "sk-team-openai-key-0123456789"


class Stream:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def text(self, text: str) -> None:
        self.texts.append(text)


def run(node_type: str, params: dict[str, Any], credentials: Credentials | None,
        stream: Stream | None = None) -> NodeResult:
    spec = catalogue[node_type]
    ctx = NodeContext(execution_id="e", team_id=0, node_id="n", node_type=node_type,
                      label="n", params=spec.params.model_validate(params), inputs={},
                      input_labels={}, credentials=credentials)
    result: NodeResult = asyncio.run(direct(spec.node_type).call(ctx, stream or Stream()))
    return result


def bound(node_type: str, params: dict[str, Any], measured: float | None = None) -> float:
    spec = catalogue[node_type]
    return round(spec.credits * spec.params.model_validate(params).bound_units(measured), 4)


# --- The catalogue ---------------------------------------------------------------------------

def test_text_to_speech_is_an_openai_model_priced_per_1000_characters() -> None:
    spec = catalogue[TTS]
    entry = catalogue_entry(spec)
    assert (entry["label"], entry["category"], entry["credits"], entry["creditUnit"]) == (
        "Text to speech", "model", 1.5, "1k characters")
    assert [(p["id"], p["type"], p["required"]) for p in entry["inputs"]] == [
        ("text", "TEXT", True)]
    assert [(p["id"], p["type"]) for p in entry["outputs"]] == [("audio", "AUDIO")]
    assert spec.provider == "openai"  # the team's OpenAI key runs it
    assert entry["paramsSchema"]["properties"]["text"]["format"] == "textarea"


def test_speech_to_text_is_an_openai_model_priced_per_second() -> None:
    spec = catalogue[STT]
    entry = catalogue_entry(spec)
    assert (entry["label"], entry["category"], entry["creditUnit"]) == (
        "Speech to text", "model", "second")
    assert entry["credits"] == TRANSCRIBE_PRICES["gpt-4o-mini-transcribe"] > 0
    assert [(p["id"], p["type"], p["required"]) for p in entry["inputs"]] == [
        ("audio_url", "AUDIO", True)]
    assert [(p["id"], p["type"]) for p in entry["outputs"]] == [("text", "TEXT")]
    assert spec.provider == "openai"
    assert spec.params.measured_media == ("audio_url", "seconds")


def test_a_fresh_node_of_each_validates_with_its_defaults() -> None:
    speech = SpeechParams.model_validate({})
    assert (speech.model, speech.voice, speech.format, speech.speed) == (
        "gpt-4o-mini-tts", "alloy", "mp3", 1.0)
    assert TranscribeParams.model_validate({}).model == "gpt-4o-mini-transcribe"


@pytest.mark.parametrize("params", [
    {"voice": "robot"}, {"speed": 0.1}, {"speed": 4.5}, {"format": "ogg"},
    {"model": "tts-2"}, {"text": "x" * (MAX_SPEECH_CHARS + 1)}])
def test_speech_params_outside_openais_ranges_are_refused(params: dict[str, Any]) -> None:
    assert catalogue[TTS].param_errors(params, set())


@pytest.mark.parametrize("params", [
    {"language": "eng"}, {"language": "EN"}, {"model": "whisper-2"},
    {"audio_url": "ftp://example.com/a.mp3"}])
def test_transcription_params_outside_openais_ranges_are_refused(
        params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TranscribeParams.model_validate(params)


def test_a_connected_text_replaces_the_param_so_it_is_not_reported_missing() -> None:
    assert catalogue[TTS].param_errors({"text": "x" * 5000}, {"text"}) == []


# --- Prices and bounds --------------------------------------------------------------------

def test_speech_is_estimated_on_the_text_and_model_and_at_worst_when_the_text_is_connected(
        ) -> None:
    spec = catalogue[TTS]
    assert spec.estimate_credits({"text": "a" * 2000}) == 3.0
    assert spec.estimate_credits({"text": "a" * 2000, "model": "tts-1-hd"}) == 6.0
    worst = round(MAX_SPEECH_CHARS / 1000 * max(SPEECH_PRICES.values()), 4)
    assert spec.estimate_credits({"text": "short"}, connected={"text"}) == worst
    assert spec.estimate_credits({"model": "tts-1"}, connected={"model"}) == worst


def test_transcription_is_bounded_by_the_measured_length_or_the_longest_audio() -> None:
    assert bound(STT, {"model": "whisper-1"}, measured=30.0) == 0.3
    assert bound(STT, {}, measured=30.0) == 0.15
    assert bound(STT, {"model": "whisper-1"}, measured=None) == 15.0  # 1,500 s at most
    assert bound(STT, {}, measured=99_999.0) == 7.5


# --- The executors against the simulator ------------------------------------------------------

@pytest.fixture
def openai_sim(live_site: str, settings: Any) -> Iterator[str]:
    settings.SITE_URL = live_site
    settings.SIM_DEFAULT_LATENCY = 0
    simulator.tally.reset()
    yield f"{live_site}/_sim/openai/v1"
    simulator.tally.reset()


def platform(base_url: str) -> Credentials:
    return Credentials(simulator_key("openai"), base_url, "platform")


def test_speech_saves_an_mp3_and_charges_its_characters_within_the_bound(
        openai_sim: str) -> None:
    text = "Welcome to the show, everyone"
    params = {"text": text, "voice": "nova", "model": "tts-1-hd"}

    result = run(TTS, params, platform(openai_sim))

    url = result.ports["audio"]
    assert result.output == {"audio": {"url": url, "content_type": "audio/mpeg"},
                             "characters": len(text), "simulated": True}
    saved = open_media_by_url(url)
    assert saved is not None
    decoded = mutagen.mp3.MP3(io.BytesIO(saved))  # type: ignore[no-untyped-call]  # untyped __init__
    assert decoded.info is not None and decoded.info.length > 0.5
    assert result.credits == round(3.0 * len(text) / 1000, 4)
    assert bound(TTS, params) >= result.credits > 0


def test_speech_of_a_wav_is_a_wav(openai_sim: str) -> None:
    result = run(TTS, {"text": "one two", "format": "wav"}, platform(openai_sim))
    saved = open_media_by_url(result.ports["audio"])
    assert saved is not None and media.wav_seconds(saved) == pytest.approx(
        2 * (simulator.WORD_SECONDS + simulator.GAP_SECONDS), abs=0.01)
    assert result.ports["audio"].endswith(".wav")


def test_speech_then_transcription_gives_the_text_back_charged_per_second(
        openai_sim: str) -> None:
    said = "Speech nodes talk to each other"
    audio = run(TTS, {"text": said}, platform(openai_sim)).ports["audio"]
    stream = Stream()

    result = run(STT, {"audio_url": audio, "model": "whisper-1", "language": "en"},
                 platform(openai_sim), stream)

    assert result.ports == {"text": said}
    assert result.output["text"] == said and result.output["simulated"] is True
    measured = audio_seconds(audio)
    assert measured is not None
    assert result.credits == round(TRANSCRIBE_PRICES["whisper-1"] * measured, 4)
    assert bound(STT, {"model": "whisper-1"}, measured) >= result.credits > 0
    assert stream.texts[-1] == said


def test_audio_from_elsewhere_gets_the_simulated_transcript(openai_sim: str) -> None:
    url = save_media(media.render_wav(2.0, seed=3), "wav", "audio/wav", folder="tests")
    result = run(STT, {"audio_url": url}, platform(openai_sim))
    assert result.ports["text"] == "(simulated transcript of 2.0 s of audio)"
    assert result.credits == round(TRANSCRIBE_PRICES["gpt-4o-mini-transcribe"] * 2.0, 4)


def test_on_the_teams_own_key_a_run_costs_nothing_and_the_key_is_the_teams(
        openai_sim: str, owner: User, team: Team) -> None:
    provider_key_set(team, "openai", TEAM_KEY, None, by=owner)
    own = Credentials(TEAM_KEY, openai_sim, "team")

    speech = run(TTS, {"text": "our own key"}, own)
    text = run(STT, {"audio_url": speech.ports["audio"]}, own)

    assert (speech.credits, text.credits) == (0.0, 0.0)
    fingerprint = key_fingerprint(TEAM_KEY)
    assert simulator.tally.stats(fingerprint)["byKey"] == {fingerprint: 2}


def test_a_provider_error_reaches_the_engine_with_whether_to_retry(openai_sim: str) -> None:
    from executions.providers.errors import ProviderError

    with pytest.raises(ProviderError) as caught:
        run(TTS, {"text": "hello [sim fail=429]"}, platform(openai_sim))
    assert (caught.value.http_status, caught.value.retryable) == (429, True)
    with pytest.raises(ProviderError) as refused:
        run(TTS, {"text": "hello [sim fail=400]"}, platform(openai_sim))
    assert not refused.value.retryable


def test_without_a_key_or_an_input_the_node_fails(openai_sim: str) -> None:
    with pytest.raises(NodeFailure, match="no API key for openai: set one in Settings"):
        run(TTS, {"text": "hi"}, None)
    with pytest.raises(NodeFailure, match="no text"):
        run(TTS, {"text": "   "}, platform(openai_sim))
    with pytest.raises(NodeFailure, match="no audio"):
        run(STT, {}, platform(openai_sim))
    assert simulator.tally.stats()["speech"] == 0


def test_an_audio_url_on_an_internal_address_is_never_fetched(openai_sim: str) -> None:
    with pytest.raises(NodeFailure, match="not a public address"):
        run(STT, {"audio_url": "http://10.0.0.1/secret.mp3"}, platform(openai_sim))
    assert simulator.tally.stats()["transcriptions"] == 0
