"""The LLM, speech and Stability nodes while executions really run (API, Celery worker, the
simulators as providers): the content pipeline's branches overlap in time, an LLM's tokens
reach a WebSocket viewer before the node completes, a team's own key is the one the provider
sees (and costs nothing, and is never shown again), and with no key anywhere every provider's
nodes fail with the same clear message."""

import io
import json
from datetime import datetime
from typing import Any

import mutagen
import pytest
from django.conf import settings
from django.test import Client

from accounts.credits import credit_balance
from accounts.models import Team
from executions.engine.calls import Direct
from executions.executors import executor_for
from executions.executors.runtime import read_media
from executions.models import ExecutionStatus, NodeRun
from executions.providers.credentials import simulator_key
from executions.simulators import anthropic as sim_anthropic
from executions.simulators import openai_audio as sim_audio
from executions.simulators import openai_chat as sim_chat
from executions.simulators import stability as sim_stability
from executions.simulators.state import key_fingerprint
from workflows.nodes import catalogue
from workflows.services import starter_templates

from .helpers import create_workflow, edge, execute, node, states, wait_for
from .inprocess import drive
from .test_live_events import _socket

pytestmark = pytest.mark.django_db(transaction=True)

TEAM_KEY = "sk-team-own-openai-key-0123456789-WXYZ"


@pytest.fixture(autouse=True)
def _clean_simulators() -> None:
    for tally in (sim_chat.tally, sim_anthropic.tally, sim_audio.tally, sim_stability.tally):
        tally.reset()


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_content_pipeline_runs_its_three_branches_at_the_same_time(engine: str,
                                                                       api: Any) -> None:
    template = starter_templates()["content-pipeline"]
    nodes = json.loads(json.dumps(template["nodes"]))
    topic = next(n for n in nodes if n["id"] == "topic")
    # Each branch takes a second or more, so overlapping is not a matter of luck.
    topic["data"]["params"]["text"] += " [sim latency=1500ms]"
    poll = wait_for(api, execute(api, create_workflow(api, nodes, template["edges"])))
    assert poll["status"] == "COMPLETED", poll
    by_id = states(poll)
    spans = {nid: (_moment(by_id[nid]["startedAt"]), _moment(by_id[nid]["finishedAt"]))
             for nid in ("title", "hero", "voice")}
    # Overlapping: each branch started before every other one had finished.
    assert max(start for start, _ in spans.values()) < min(end for _, end in spans.values()), \
        spans
    final = poll["finalOutput"]
    assert "waggle" in json.dumps(final["out_title"]).lower()
    voice_url = by_id["voice"]["outputUrl"]
    assert voice_url and voice_url.endswith(".mp3")
    audio = mutagen.File(io.BytesIO(read_media(voice_url)))
    assert audio is not None and audio.info.length > 1  # real speech-length audio
    assert by_id["hero"]["outputUrl"]


def test_an_llms_text_reaches_a_websocket_viewer_before_the_node_completes(
        engine: str, api: Any, owner: Any) -> None:
    nodes = [node("p", "input:text", "Prompt",
                  text="Write a short story about a lighthouse keeper [sim latency=3s]"),
             node("llm", "llm:claude", "Claude", max_tokens=200),
             node("out", "output:result")]
    execution_id = execute(api, create_workflow(
        api, nodes, [edge("p", "text", "llm", "prompt"), edge("llm", "text", "out", "value")]))
    streamed: list[str] = []
    with _socket(engine, owner, execution_id) as socket:
        while True:
            message = json.loads(socket.recv(timeout=60))
            if message["type"] == "node.stream":
                assert message["data"]["nodeId"] == "llm"
                streamed.append(message["data"]["text"])
            if message["type"] == "node" and message["data"]["nodeId"] == "llm" \
                    and message["data"]["status"] == "COMPLETED":
                completed_text = message["data"]["text"]
                break
    assert len(streamed) >= 2, streamed
    assert all(later.startswith(earlier) and len(later) > len(earlier)
               for earlier, later in zip(streamed, streamed[1:], strict=False))
    assert completed_text.startswith(streamed[-1])


def test_an_llm_on_the_teams_own_key_costs_nothing_and_the_key_is_never_shown(
        engine: str, api: Any, team: Team) -> None:
    response = api.put("/providers/openai", {"apiKey": TEAM_KEY})
    assert response.status_code == 200, response.content
    balance = credit_balance(team.pk)
    nodes = [node("llm", "llm:chat", "LLM", prompt="Name three rivers"),
             node("out", "output:result")]
    workflow_id = create_workflow(api, nodes, [edge("llm", "text", "out", "value")])
    estimate = api.post(f"/workflows/{workflow_id}/estimate", {}).json()
    assert estimate["estimatedCredits"] == 0
    assert estimate["breakdown"][0]["billedBy"] == "team"
    execution_id = execute(api, workflow_id)
    poll = wait_for(api, execution_id)
    assert poll["status"] == "COMPLETED", poll
    assert states(poll)["llm"]["credits"] == 0 and credit_balance(team.pk) == balance
    fingerprint = key_fingerprint(TEAM_KEY)
    assert sim_chat.tally.stats(fingerprint)["byKey"] == {fingerprint: 1}
    assert sim_chat.tally.stats()["requests"] == 1
    # Never answered again: not by the API, not in the run's output or events, not by a page.
    seen = [api.get("/providers").content, json.dumps(poll).encode(),
            api.get(f"/workflows/executions/{execution_id}").content]
    browser = Client()
    browser.force_login(team.memberships.first().user)  # type: ignore[union-attr]
    seen += [browser.get(path).content
             for path in ("/settings/providers/", f"/runs/{execution_id}/")]
    assert all(TEAM_KEY.encode() not in body for body in seen)
    assert all(TEAM_KEY[-4:].encode() in body for body in seen[:1])


def test_speech_then_transcription_gives_the_text_back_and_stability_draws(
        engine: str, api: Any) -> None:
    said = "Bees dance to tell each other where the flowers are"
    nodes = [node("t", "input:text", "Text", text=said),
             node("tts", "audio:tts", "Speak", format="wav"),
             node("stt", "audio:transcribe", "Listen"),
             node("img", "stability:generate", "Stability", prompt="a bee on a flower"),
             node("out", "output:result")]
    edges = [edge("t", "text", "tts", "text"), edge("tts", "audio", "stt", "audio_url"),
             edge("stt", "text", "out", "value"), edge("img", "image", "out", "value")]
    poll = wait_for(api, execute(api, create_workflow(api, nodes, edges)))
    assert poll["status"] == "COMPLETED", poll
    by_id = states(poll)
    assert by_id["stt"]["text"].strip().rstrip(".").lower() == said.lower()
    assert by_id["img"]["outputUrl"] and by_id["tts"]["outputUrl"].endswith(".wav")
    assert all(by_id[nid]["credits"] > 0 for nid in ("tts", "stt", "img"))
    platform = key_fingerprint(simulator_key("openai"))
    assert sim_audio.tally.stats(platform)["byKey"] == {platform: 2}  # speech + transcription
    assert sim_stability.tally.stats()["generations"] == 1


DIRECT_TYPES = sorted(t for t in catalogue if isinstance(executor_for(t), Direct))


@pytest.mark.parametrize("node_type", DIRECT_TYPES)
def test_in_production_a_provider_configured_nowhere_fails_its_nodes_clearly(
        sent: list[str], api: Any, settings: Any, node_type: str) -> None:
    settings.SIMULATORS_ENABLED = False
    settings.OPENAI_API_KEY = settings.ANTHROPIC_API_KEY = settings.STABILITY_API_KEY = ""
    params: dict[str, Any] = {"audio_url": "https://example.com/a.mp3"} \
        if node_type == "audio:transcribe" else {"prompt": "hello", "text": "hello"}
    execution = drive(execute(api, create_workflow(api, [node("n", node_type, **params)], [])))
    assert execution.status == ExecutionStatus.FAILED
    run = NodeRun.objects.get(execution=execution, node_id="n")
    provider = catalogue[node_type].provider
    assert run.error == f"no API key for {provider}: set one in Settings > Providers"
    assert run.attempt <= 1 and not run.request_id  # nothing was sent anywhere


def test_direct_provider_types_are_every_llm_speech_and_stability_node() -> None:
    assert DIRECT_TYPES == ["audio:transcribe", "audio:tts", "llm:chat", "llm:claude",
                            "stability:generate"]
    assert settings.SIMULATORS_ENABLED  # the suite runs on the simulators


@pytest.mark.parametrize(("node_type", "params"), [
    ("llm:chat", {"prompt": "never answers [sim hang]"}),
    ("audio:tts", {"text": "never answers [sim hang]"}),
    ("stability:generate", {"prompt": "never answers [sim hang]"}),
])
def test_a_call_that_never_answers_fails_at_its_timeout(engine: str, api: Any,
                                                        node_type: str,
                                                        params: dict[str, Any]) -> None:
    nodes = [node("n", node_type, "Slow", timeoutSeconds=2, retries=0, **params)]
    poll = wait_for(api, execute(api, create_workflow(api, nodes, [])))
    assert poll["status"] == "FAILED", poll
    assert states(poll)["n"]["error"] == "Timed out after 2 s"
    assert states(poll)["n"]["credits"] == 0
