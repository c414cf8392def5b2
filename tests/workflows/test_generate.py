"""POST /workflows/generate/stream: a workflow built from a sentence by the team's LLM, over
real HTTP against the live site with the simulators as the providers. Events come in order,
the graph passes lint and holds the kinds the sentence names, a broken answer is repaired (at
most twice), and nothing is saved."""

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from accounts.models import User
from accounts.provider_keys import provider_key_set
from accounts.services import api_key_create
from executions.simulators import anthropic as sim_anthropic
from executions.simulators import openai_chat as sim_chat
from tests.harness import wait_until
from workflows import generate
from workflows.models import Workflow, WorkflowVersion
from workflows.services import graph_lint

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/api/v1/workflows/generate/stream"
FOX = "an image of a fox, upscaled, then a video"


def parse(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """SSE frames as {"event", "data"} (data parsed as JSON)."""
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            continue
        if line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        elif fields:
            yield {"event": fields.get("event", "message"), "data": json.loads(fields["data"])}
            fields = {}


class Answer:
    def __init__(self, response: httpx.Response, frames: list[dict[str, Any]]) -> None:
        self.response = response
        self.frames = frames

    @property
    def names(self) -> list[str]:
        return [frame["event"] for frame in self.frames]

    def data(self, event: str) -> dict[str, Any]:
        found: dict[str, Any]
        [found] = [frame["data"] for frame in self.frames if frame["event"] == event]
        return found

    def stages(self) -> list[str]:
        return [frame["data"]["stage"] for frame in self.frames if frame["event"] == "progress"]


def secret_of(user: User, scopes: list[str] | None = None) -> str:
    assert user.current_team is not None
    return api_key_create(user=user, team=user.current_team, name="gen", scopes=scopes).secret


def post(site: str, secret: str, body: Any) -> Answer:
    with httpx.Client(base_url=site, timeout=60) as client, client.stream(
            "POST", PATH, json=body, headers={"Authorization": f"Bearer {secret}"}) as response:
        if response.headers["content-type"].startswith("text/event-stream"):
            return Answer(response, list(parse(response.iter_lines())))
        response.read()
        return Answer(response, [])


def node_types(graph: dict[str, Any]) -> list[str]:
    return [node["data"]["nodeType"] for node in graph["nodes"]]


@pytest.fixture
def sims(sim_site: str, settings: Any) -> str:
    settings.SIM_DEFAULT_LATENCY = 0.2
    sim_chat.tally.reset()
    sim_anthropic.tally.reset()
    return sim_site


def model_calls(tally: Any) -> int:
    return int(tally.stats()["requests"])


# --- The stream ---------------------------------------------------------------------------

def test_it_streams_progress_then_a_valid_workflow_then_done(sims: str, owner: User) -> None:
    answer = post(sims, secret_of(owner), {"prompt": FOX})

    assert answer.response.status_code == 200
    assert answer.response.headers["content-type"].startswith("text/event-stream")
    assert answer.response.headers["cache-control"] == "no-cache"
    assert answer.names[-2:] == ["workflow", "done"]
    assert set(answer.names[:-2]) == {"progress"}
    assert answer.stages()[0] == "asking" and answer.stages()[-1] == "valid"
    streamed = "".join(frame["data"]["text"] for frame in answer.frames
                       if frame["event"] == "progress" and frame["data"]["stage"] == "model")
    assert json.loads(streamed)["nodes"]  # the model's own text arrived as it was written
    assert answer.data("done") == {"modelCalls": 1, "repairs": 0, "provider": "openai",
                                   "model": "gpt-4o-mini", "simulated": True}

    graph = answer.data("workflow")
    assert graph_lint(graph["nodes"], graph["edges"])[0] == []
    assert {"input:text", "generate:flux_2", "upscale:crystal_upscaler",
            "video:kling_video_2_5_i2v", "output:result"} <= set(node_types(graph))
    by_type = {node["data"]["nodeType"]: node for node in graph["nodes"]}
    assert by_type["input:text"]["data"]["params"]["text"] == FOX
    # Laid out left to right: every edge goes to a column further right.
    x_of = {node["id"]: node["position"]["x"] for node in graph["nodes"]}
    assert all(x_of[edge["source"]] < x_of[edge["target"]] for edge in graph["edges"])
    assert all(edge["sourceHandle"].startswith("out-") and edge["targetHandle"].startswith("in-")
               for edge in graph["edges"])
    assert model_calls(sim_chat.tally) == 1


@pytest.mark.parametrize(("prompt", "wanted"), [
    ("a talking head presenter reading the news", {"talking:veed_fabric", "audio:tts",
                                                   "generate:flux_2"}),
    ("write a title for a photo of a lighthouse, then edit it",
     {"llm:chat", "generate:flux_2", "edit:flux_2_edit"}),
    ("a voice narrating a short story", {"llm:chat", "audio:tts"}),
    ("edit my photo to look like autumn", {"input:image", "edit:flux_2_edit"}),
])
def test_the_workflow_holds_the_kinds_the_sentence_names(sims: str, owner: User, prompt: str,
                                                         wanted: set[str]) -> None:
    graph = post(sims, secret_of(owner), {"prompt": prompt}).data("workflow")
    assert wanted <= set(node_types(graph))
    assert graph_lint(graph["nodes"], graph["edges"])[0] == []


def test_a_sentence_naming_no_kind_gets_text_into_an_llm_into_a_result(sims: str,
                                                                         owner: User) -> None:
    graph = post(sims, secret_of(owner), {"prompt": "hello there"}).data("workflow")
    assert node_types(graph) == ["input:text", "llm:chat", "output:result"]
    assert [(e["source"], e["target"]) for e in graph["edges"]] == [("n1", "n2"), ("n2", "n3")]


def test_the_same_sentence_gives_the_same_workflow(sims: str, owner: User) -> None:
    secret = secret_of(owner)
    first, second = (post(sims, secret, {"prompt": FOX}).data("workflow") for _ in range(2))
    assert first == second


def test_a_teams_anthropic_key_generates_through_claude(sims: str, owner: User) -> None:
    assert owner.current_team is not None
    provider_key_set(owner.current_team, "anthropic", "team-anthropic-key-0123456789",
                     f"{sims}/_sim/anthropic", by=owner)
    answer = post(sims, secret_of(owner), {"prompt": FOX})

    assert answer.data("done")["provider"] == "anthropic"
    assert "video:kling_video_2_5_i2v" in node_types(answer.data("workflow"))
    assert (model_calls(sim_anthropic.tally), model_calls(sim_chat.tally)) == (1, 0)


# --- Repairs ------------------------------------------------------------------------------

@pytest.mark.parametrize("tally", [sim_chat.tally, sim_anthropic.tally])
def test_a_broken_first_answer_is_repaired_with_its_violations(sims: str, owner: User,
                                                               tally: Any) -> None:
    if tally is sim_anthropic.tally:
        assert owner.current_team is not None
        provider_key_set(owner.current_team, "anthropic", "team-anthropic-key-0123456789",
                         f"{sims}/_sim/anthropic", by=owner)
    answer = post(sims, secret_of(owner), {"prompt": f"{FOX} [sim invalid=1]"})

    assert answer.names[-2:] == ["workflow", "done"]
    assert "repairing" in answer.stages()
    assert answer.data("done")["modelCalls"] == 2 and answer.data("done")["repairs"] == 1
    graph = answer.data("workflow")
    assert graph_lint(graph["nodes"], graph["edges"])[0] == []
    assert model_calls(tally) == 2


def test_it_gives_up_with_an_error_after_two_failed_repairs(sims: str, owner: User) -> None:
    answer = post(sims, secret_of(owner), {"prompt": f"{FOX} [sim invalid]"})

    assert answer.names[-1] == "error" and "workflow" not in answer.names
    assert "done" not in answer.names
    error = answer.data("error")
    assert error["code"] == "invalid_graph"
    assert {v["rule"] for v in error["violations"]} >= {"unknown_port"}
    assert answer.stages().count("repairing") == 2
    assert model_calls(sim_chat.tally) == generate.MAX_MODEL_CALLS == 3


def test_a_provider_failure_is_an_error_event(sims: str, owner: User) -> None:
    answer = post(sims, secret_of(owner), {"prompt": f"{FOX} [sim fail=500]"})
    assert answer.names[-1] == "error"
    assert answer.data("error")["code"] == "provider_error"
    assert "500" in answer.data("error")["error"]
    assert model_calls(sim_chat.tally) == 0


def test_a_generation_past_its_time_bound_is_a_timeout_error(sims: str, owner: User,
                                                             monkeypatch: Any) -> None:
    monkeypatch.setattr(generate, "TOTAL_SECONDS", 1.5)
    answer = post(sims, secret_of(owner), {"prompt": f"{FOX} [sim latency=20s]"})
    assert answer.names[-1] == "error"
    assert answer.data("error") == {"error": "The workflow took longer than 1.5 s to generate",
                                    "code": "timeout"}


def test_a_client_that_leaves_stops_the_model_call(sims: str, owner: User,
                                                  _asgi_server: Any) -> None:
    with httpx.Client(base_url=sims, timeout=60) as client, client.stream(
            "POST", PATH, json={"prompt": f"{FOX} [sim latency=60s]"},
            headers={"Authorization": f"Bearer {secret_of(owner)}"}) as response:
        frames = parse(response.iter_lines())
        assert next(frames)["data"]["stage"] == "asking"
        assert next(frames)["data"]["stage"] == "model"  # the model is writing
    # Both requests (ours and the simulated model's) end long before the model would have.
    tasks = _asgi_server.server.server_state.tasks
    wait_until(lambda: not tasks, 20, lambda: f"{len(tasks)} requests still answered")


def test_the_answer_is_parsed_never_evaluated_and_never_raises() -> None:
    for text in ["", "not json", "[1, 2]", '{"nodes": 5, "edges": []}', "```json\n{}\n```",
                 '{"nodes": [7, {"id": 3}], "edges": ["x", {"source": []}]}', "[" * 10_000]:
        graph, violations = generate.graph_from_answer(text)
        assert violations, text
    graph, violations = generate.graph_from_answer(json.dumps({
        "nodes": [{"id": "a", "nodeType": "input:text", "label": "A",
                   "params": [{"name": "text", "value": "__import__('os')"}]},
                  {"id": "b", "nodeType": "output:result", "label": "B", "params": []}],
        "edges": [{"source": "a", "sourcePort": "text", "target": "b", "targetPort": "value"}]}))
    assert violations == []
    assert graph["nodes"][0]["data"]["params"] == {"text": "__import__('os')"}


# --- Refusals before any streaming ---------------------------------------------------------

def test_without_any_llm_provider_it_is_a_409_json_error(sims: str, owner: User,
                                                         settings: Any) -> None:
    settings.SIMULATORS_ENABLED = False
    settings.OPENAI_API_KEY = settings.ANTHROPIC_API_KEY = ""
    answer = post(sims, secret_of(owner), {"prompt": FOX})
    assert answer.response.status_code == 409
    assert answer.response.json()["code"] == "provider_not_configured"
    assert answer.response.json()["error"].startswith("No LLM provider is configured")


def test_a_viewer_may_not_generate(sims: str, viewer: User) -> None:
    answer = post(sims, secret_of(viewer, ["workflows:read"]), {"prompt": FOX})
    assert answer.response.status_code == 403
    assert answer.response.json()["code"] == "forbidden"
    # A key with the scope does not help: the role decides.
    answer = post(sims, _viewer_write_key(viewer), {"prompt": FOX})
    assert (answer.response.status_code, answer.response.json()["code"]) == (
        403, "forbidden_role")
    assert model_calls(sim_chat.tally) == 0


def _viewer_write_key(viewer: User) -> str:
    """A write-scoped key whose creator was demoted to viewer after making it."""
    from accounts.models import Membership

    Membership.objects.filter(user=viewer).update(role="editor")
    secret = secret_of(viewer)
    Membership.objects.filter(user=viewer).update(role="viewer")
    return secret


@pytest.mark.parametrize("body", [{}, {"prompt": ""}, {"prompt": "   "},
                                  {"prompt": "x" * 2001}, {"prompt": 5},
                                  {"prompt": "a\u0000b"}])
def test_a_bad_prompt_is_a_400(sims: str, owner: User, body: dict[str, Any]) -> None:
    answer = post(sims, secret_of(owner), body)
    assert answer.response.status_code == 400
    assert answer.response.json()["code"] == "invalid_request"
    assert model_calls(sim_chat.tally) == 0


def test_the_longest_prompt_is_accepted(sims: str, owner: User) -> None:
    answer = post(sims, secret_of(owner), {"prompt": "a fox " * 333 + "ab"})
    assert answer.names[-1] == "done"


def test_it_counts_as_an_api_request(sims: str, owner: User, settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = True
    secret = secret_of(owner)
    first, second = (post(sims, secret, {"prompt": "hello"}) for _ in range(2))
    assert int(second.response.headers["X-RateLimit-Remaining"]) == \
        int(first.response.headers["X-RateLimit-Remaining"]) - 1


def test_generating_saves_nothing(sims: str, owner: User) -> None:
    answer = post(sims, secret_of(owner), {"prompt": FOX})
    assert answer.names[-1] == "done"
    assert Workflow.objects.count() == 0 and WorkflowVersion.objects.count() == 0
