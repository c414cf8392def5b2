"""The OpenAI audio client (speech and transcriptions over the official SDK): against response
bodies recorded from OpenAI's API reference (fixtures/openai_audio/, served by an httpx2
MockTransport, the SDK's own HTTP client), and through real HTTP against the simulator served
by the live ASGI site. A parity test keeps the simulator's bodies carrying every key the
recorded ones carry; the speech it sends decodes as the format asked, and transcribing it gives
the text back."""

import io
import json
import time
import wave
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import httpx2
import mutagen
import mutagen.aac
import mutagen.flac
import mutagen.mp3
import mutagen.oggopus
import pytest

from executions.providers import openai_audio
from executions.providers.credentials import simulator_key
from executions.providers.errors import ProviderError
from executions.providers.openai_audio import OpenAIAudio, Transcript
from executions.simulators import media
from executions.simulators import openai_audio as simulator
from executions.simulators.state import key_fingerprint

from .provider_fakes import recorder, replying2, sync

BASE = "https://api.openai.com/v1"
Sim = Callable[[], OpenAIAudio]
recorded = recorder("openai_audio")


def mocked(handler: Callable[[httpx2.Request], httpx2.Response]) -> OpenAIAudio:
    return OpenAIAudio(BASE, "sk-test", http_client=httpx2.AsyncClient(
        transport=httpx2.MockTransport(handler)))


def answering(status: int, body: Any, headers: dict[str, str] | None = None,
              seen: list[httpx2.Request] | None = None) -> OpenAIAudio:
    return mocked(replying2(status, body, headers, seen))


def speak(client: OpenAIAudio, text: str = "hello there", fmt: str = "mp3", **extra: Any) -> Any:
    return sync(client.speech(model=extra.pop("model", "tts-1"), voice="alloy", text=text,
                              response_format=fmt, **extra))


def wav_of(seconds: float) -> bytes:
    return media.render_wav(seconds, seed=7)


# --- Recorded bodies ----------------------------------------------------------------------

def test_speech_posts_openais_request_and_returns_the_audio_bytes() -> None:
    seen: list[httpx2.Request] = []
    client = answering(200, b"ID3-fake-mp3", {"content-type": "audio/mpeg"}, seen)

    speech = speak(client, "Hello world", speed=1.5, model="gpt-4o-mini-tts",
                   instructions="Cheerful")

    [request] = seen
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/audio/speech")
    assert request.headers["authorization"] == "Bearer sk-test"
    assert json.loads(request.content) == {
        "model": "gpt-4o-mini-tts", "voice": "alloy", "input": "Hello world",
        "response_format": "mp3", "speed": 1.5, "instructions": "Cheerful"}
    assert (speech.content, speech.content_type, speech.simulated) == (
        b"ID3-fake-mp3", "audio/mpeg", False)


def test_speech_without_instructions_does_not_send_them() -> None:
    seen: list[httpx2.Request] = []
    speak(answering(200, b"x", {"content-type": "audio/wav"}, seen), fmt="wav")
    assert "instructions" not in json.loads(seen[0].content)


def test_speech_larger_than_the_bound_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_audio, "MAX_AUDIO_BYTES", 1000)
    with pytest.raises(ProviderError, match="more than 1,000 bytes"):
        speak(answering(200, b"\0" * 5000, {"content-type": "audio/mpeg"}))


def test_a_transcription_uploads_the_file_and_reads_the_text() -> None:
    seen: list[httpx2.Request] = []
    client = answering(200, recorded("transcription"), seen=seen)

    transcript = sync(client.transcribe(model="gpt-4o-transcribe", audio=b"RIFF....",
                                        filename="talk.wav", content_type="audio/wav",
                                        language="en", prompt="Names: Ada"))

    [request] = seen
    assert str(request.url) == f"{BASE}/audio/transcriptions"
    assert request.headers["content-type"].startswith("multipart/form-data")
    sent = request.content
    for part in (b'name="model"', b"gpt-4o-transcribe", b'name="language"', b'name="prompt"',
                 b"Names: Ada", b'name="response_format"', b'filename="talk.wav"',
                 b"RIFF...."):
        assert part in sent
    assert transcript == Transcript(recorded("transcription")["text"], None, False)


def test_a_verbose_transcription_gives_the_duration() -> None:
    transcript = sync(answering(200, recorded("transcription_verbose")).transcribe(
        model="whisper-1", audio=b"x", filename="a.mp3", content_type="audio/mpeg",
        verbose=True))
    assert transcript.text.startswith("The beach was a popular spot")
    assert transcript.duration == pytest.approx(8.47)


@pytest.mark.parametrize(("status", "name", "retryable", "retry_after"), [
    (429, "error_rate_limit", True, 1.2),
    (500, "error_server", True, None),
    (401, "error_invalid_api_key", False, None),
    (400, "error_bad_request", False, None),
])
def test_errors_carry_openais_message_and_whether_to_retry(status: int, name: str,
                                                           retryable: bool,
                                                           retry_after: float | None) -> None:
    seen: list[httpx2.Request] = []
    headers = {"retry-after": "1.2"} if status == 429 else None
    with pytest.raises(ProviderError) as caught:
        speak(answering(status, recorded(name), headers, seen))
    error = caught.value
    assert error.message == f"openai answered HTTP {status}: {recorded(name)['error']['message']}"
    assert (error.http_status, error.retryable, error.retry_after) == (
        status, retryable, retry_after)
    assert len(seen) == 1  # the SDK's own retries are off: the engine retries


def test_a_transcription_error_is_mapped_the_same_way() -> None:
    with pytest.raises(ProviderError) as caught:
        sync(answering(429, recorded("error_rate_limit"), {"retry-after": "3"}).transcribe(
            model="whisper-1", audio=b"x", filename="a.mp3", content_type="audio/mpeg"))
    assert (caught.value.retryable, caught.value.retry_after) == (True, 3.0)


def test_an_unreachable_endpoint_is_retryable() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    with pytest.raises(ProviderError, match="could not reach openai") as caught:
        speak(mocked(refuse))
    assert caught.value.retryable


# --- The simulator over real HTTP ----------------------------------------------------------

@pytest.fixture
def sim(live_site: str, settings: Any) -> Iterator[Sim]:
    """A new client for each call: each test call runs on its own event loop."""
    settings.SIM_DEFAULT_LATENCY = 0
    simulator.tally.reset()
    yield lambda: OpenAIAudio(f"{live_site}/_sim/openai/v1", simulator_key("openai"),
                              timeout=60)
    simulator.tally.reset()


def test_the_simulator_speaks_a_real_wav_a_tone_per_word(sim: Sim) -> None:
    speech = speak(sim(), "one two three four", fmt="wav")

    with wave.open(io.BytesIO(speech.content), "rb") as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (
            1, 2, 24_000)
        seconds = audio.getnframes() / audio.getframerate()
    words = 4 * (simulator.WORD_SECONDS + simulator.GAP_SECONDS)
    assert seconds == pytest.approx(words, abs=0.01)
    assert (speech.content_type, speech.simulated) == ("audio/wav", True)


def test_faster_speech_is_shorter(sim: Sim) -> None:
    slow, fast = (media.wav_seconds(speak(sim(), "a b c d e f", fmt="wav", speed=speed).content)
                  for speed in (1.0, 2.0))
    assert slow is not None and fast is not None
    assert fast == pytest.approx(slow / 2, abs=0.01)


@pytest.mark.parametrize(("fmt", "kind", "content_type"), [
    ("mp3", mutagen.mp3.MP3, "audio/mpeg"),
    ("flac", mutagen.flac.FLAC, "audio/flac"),
    ("opus", mutagen.oggopus.OggOpus, "audio/ogg"),
    ("aac", mutagen.aac.AAC, "audio/aac"),
])
def test_the_simulator_encodes_the_format_asked(sim: Sim, fmt: str, kind: type,
                                                content_type: str) -> None:
    speech = speak(sim(), "encoded speech sounds right", fmt=fmt)
    decoded = kind(io.BytesIO(speech.content))
    assert decoded.info.length == pytest.approx(
        4 * (simulator.WORD_SECONDS + simulator.GAP_SECONDS), abs=0.15)
    assert speech.content_type == content_type


def test_pcm_is_the_raw_samples(sim: Sim) -> None:
    speech = speak(sim(), "raw", fmt="pcm")
    frames = round((simulator.WORD_SECONDS + simulator.GAP_SECONDS) * simulator.RATE)
    assert len(speech.content) == pytest.approx(2 * frames, abs=4)


@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_transcribing_the_simulators_speech_gives_the_text_back(sim: Sim,
                                                                fmt: str) -> None:
    said = "The quick brown fox jumps over the lazy dog"
    speech = speak(sim(), f"{said} [sim latency=0]", fmt=fmt)

    transcript = sync(sim().transcribe(model="gpt-4o-mini-transcribe", audio=speech.content,
                                     filename=f"speech.{fmt}", content_type=speech.content_type))

    assert transcript.text == said
    assert transcript.simulated


def test_other_audio_gets_a_transcript_naming_its_length(sim: Sim) -> None:
    transcript = sync(sim().transcribe(model="whisper-1", audio=wav_of(3.2), filename="a.wav",
                                     content_type="audio/wav", verbose=True))
    assert transcript.text == "(simulated transcript of 3.2 s of audio)"
    assert transcript.duration == pytest.approx(3.2)


def test_audio_the_simulator_cannot_read_is_a_bad_request(sim: Sim) -> None:
    with pytest.raises(ProviderError, match="corrupted or unsupported") as caught:
        sync(sim().transcribe(model="whisper-1", audio=b"not audio at all", filename="a.mp3",
                            content_type="audio/mpeg"))
    assert (caught.value.http_status, caught.value.retryable) == (400, False)


def test_fail_429_twice_answers_rate_limited_with_retry_after_then_speaks(
        sim: Sim) -> None:
    text = "busy [sim fail=429x2]"
    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            speak(sim(), text)
        assert (caught.value.http_status, caught.value.retryable, caught.value.retry_after) == (
            429, True, 1.0)
    assert speak(sim(), text).content
    assert simulator.tally.stats() | {"lastKey": None} == {"speech": 1, "transcriptions": 0,
                                                         "refused": 2, "lastKey": None}


@pytest.mark.parametrize(("directive", "status", "retryable"), [
    ("[sim fail=400]", 400, False), ("[sim fail=500]", 500, True)])
def test_failure_directives_answer_openais_error(sim: Sim, directive: str, status: int,
                                                 retryable: bool) -> None:
    with pytest.raises(ProviderError) as caught:
        speak(sim(), f"words {directive}")
    assert (caught.value.http_status, caught.value.retryable) == (status, retryable)
    assert simulator.tally.stats()["speech"] == 0


def test_transcription_directives_come_from_the_prompt(sim: Sim) -> None:
    with pytest.raises(ProviderError) as caught:
        sync(sim().transcribe(model="whisper-1", audio=wav_of(1), filename="a.wav",
                            content_type="audio/wav", prompt="[sim fail=500]"))
    assert caught.value.http_status == 500
    assert simulator.tally.stats()["transcriptions"] == 0


def test_a_latency_directive_makes_the_answer_wait(sim: Sim) -> None:
    started = time.monotonic()
    speak(sim(), "slow words [sim latency=1s]")
    assert time.monotonic() - started >= 1.0


def test_the_simulator_wants_its_key_and_records_whose_key_spoke(sim: Sim,
                                                                 live_site: str) -> None:
    wrong = OpenAIAudio(f"{live_site}/_sim/openai/v1", "sk-wrong-key-123456", timeout=30)
    with pytest.raises(ProviderError, match="Incorrect API key") as caught:
        speak(wrong)
    assert (caught.value.http_status, caught.value.retryable) == (401, False)

    speak(sim())
    fingerprint = key_fingerprint(simulator_key("openai"))
    assert simulator.tally.stats(fingerprint) == {"speech": 1, "transcriptions": 0, "refused": 0,
                                                  "byKey": {fingerprint: 1},
                                                  "lastKey": fingerprint}


def test_the_simulators_bodies_carry_every_key_of_openais(sim: Sim,
                                                          live_site: str) -> None:
    url = f"{live_site}/_sim/openai/v1/audio/transcriptions"
    headers = {"Authorization": f"Bearer {simulator_key('openai')}"}
    for model, fmt, name in (("gpt-4o-transcribe", "json", "transcription"),
                             ("whisper-1", "verbose_json", "transcription_verbose")):
        answer = httpx.post(url, headers=headers, timeout=30,
                            data={"model": model, "response_format": fmt},
                            files={"file": ("a.wav", wav_of(1), "audio/wav")})
        assert answer.status_code == 200, answer.text
        assert_keys_cover(recorded(name), answer.json())

    refused = httpx.post(url, headers={"Authorization": "Bearer nope-nope-nope"}, timeout=30,
                         data={"model": "whisper-1"}, files={"file": ("a.wav", b"x")})
    assert refused.status_code == 401
    assert_keys_cover(recorded("error_invalid_api_key"), refused.json())


def assert_keys_cover(real: Any, simulated: Any, where: str = "body") -> None:
    """Every key of the recorded body, at every depth (the first item of lists), is in the
    simulator's."""
    if isinstance(real, dict):
        assert isinstance(simulated, dict), where
        missing = set(real) - set(simulated)
        assert not missing, f"{where} lacks {sorted(missing)}"
        for name, value in real.items():
            assert_keys_cover(value, simulated[name], f"{where}.{name}")
    elif isinstance(real, list) and real and isinstance(real[0], dict):
        assert isinstance(simulated, list) and simulated, where
        assert_keys_cover(real[0], simulated[0], f"{where}[0]")


def test_nothing_is_answered_while_the_simulators_are_off(sim: Sim,
                                                          settings: Any) -> None:
    settings.SIMULATORS_ENABLED = False
    with pytest.raises(ProviderError) as caught:
        speak(sim())
    assert caught.value.http_status == 404
    settings.SIMULATORS_ENABLED = True
    assert simulator.tally.stats()["speech"] == 0
