"""The replicate:custom node: its catalogue entry and price, the model and input checks,
placeholder filling into the input JSON, and how a prediction's output becomes ports; through
the API: a bad model is refused when the workflow is saved, and the team's own key makes the
estimate 0. Its runs through the engine and the simulator: tests/engine/test_replicate_engine.py;
Replicate's own bodies: tests/executions/test_replicate_client.py."""

from typing import Any

import pytest
from pydantic import ValidationError

from executions.engine.contracts import NodeContext, NodeFailure
from executions.executors.replicate import ReplicateExecutor, output_ports
from tests.conftest import ApiClient
from tests.engine.helpers import create_workflow, edge, node
from workflows.nodes import catalogue, catalogue_entry
from workflows.nodes.replicate import MAX_INPUT_CHARS, PRICE_PER_RUN, ReplicateParams

NODE = "replicate:custom"
VERSION = "a" * 64


def params(**values: Any) -> ReplicateParams:
    return ReplicateParams.model_validate({"model": "meta/llama", **values})


def context(values: dict[str, Any], inputs: dict[str, Any] | None = None,
            labels: dict[str, list[str]] | None = None) -> NodeContext:
    return NodeContext(execution_id="e", team_id=0, node_id="n", node_type=NODE, label="n",
                       params=params(**values), inputs=inputs or {}, input_labels=labels or {})


def test_the_node_is_a_replicate_model_priced_per_run_with_its_ports() -> None:
    spec = catalogue[NODE]
    entry = catalogue_entry(spec)
    assert (entry["category"], entry["credits"], entry["creditUnit"]) == (
        "model", PRICE_PER_RUN, "run")
    assert [(p["id"], p["type"], p["multiple"]) for p in entry["inputs"]] == [
        ("prompt", "TEXT", False), ("image_url", "IMAGE", False), ("vars", "ANY", True)]
    assert [p["id"] for p in entry["outputs"]] == ["output", "text", "image", "images", "video",
                                                   "audio"]
    assert spec.provider == "replicate"  # the team's Replicate key runs it
    assert spec.estimate_credits({"model": "x/y"}) == PRICE_PER_RUN


@pytest.mark.parametrize("model", ["meta/llama", f"owner/name:{VERSION}", VERSION])
def test_a_model_by_name_by_name_and_version_or_by_version(model: str) -> None:
    assert params(model=model).model == model


@pytest.mark.parametrize("model", ["", "llama", "a/b/c", "owner/name:short",
                                   "{{prompt}}/x", "x" * 301])
def test_other_models_are_refused(model: str) -> None:
    with pytest.raises(ValidationError, match="model"):
        params(model=model)


def test_the_input_json_and_output_path_are_checked() -> None:
    with pytest.raises(ValidationError, match="at most"):
        params(input={"prompt": "x" * MAX_INPUT_CHARS})
    with pytest.raises(ValidationError, match="JSON path"):
        params(output_path="items[0]")
    assert params(output_path="$[0]").output_path == "$[0]"


def test_placeholders_are_filled_from_the_ports_anywhere_in_the_input() -> None:
    ctx = context({"input": {"prompt": "Describe {{prompt}}", "image": "{{image_url}}",
                             "steps": "{{steps}}", "nested": [{"note": "by {{author}}"}],
                             "unknown": "{{nobody}}"}},
                  inputs={"prompt": "a fox", "image_url": "https://x.test/a.png",
                          "vars": [28, "Ada"]},
                  labels={"vars": ["Steps", "Author"]})
    assert ReplicateExecutor(price=5).payload(ctx) == {
        "prompt": "Describe a fox", "image": "https://x.test/a.png",
        "steps": 28,  # a whole placeholder keeps the value's type
        "nested": [{"note": "by Ada"}], "unknown": "{{nobody}}"}


def test_a_connected_prompt_fills_the_prompt_when_the_input_has_none() -> None:
    ctx = context({"input": {"max_tokens": 10}}, inputs={"prompt": "hello"})
    assert ReplicateExecutor(price=5).payload(ctx) == {"max_tokens": 10, "prompt": "hello"}


def test_an_input_nested_too_deep_fails_the_node() -> None:
    deep: Any = "x"
    for _ in range(30):
        deep = [deep]
    with pytest.raises(NodeFailure, match="nested deeper"):
        ReplicateExecutor(price=5).payload(context({"input": {"a": deep}}))


@pytest.mark.parametrize(("value", "ports"), [
    (["Hello", " world", "!"], {"text": "Hello world!"}),  # an LLM's streamed tokens
    ("just text", {"text": "just text"}),
    (["https://r.test/out-0.webp", "https://r.test/out-1.png"],
     {"image": "https://r.test/out-0.webp",
      "images": ["https://r.test/out-0.webp", "https://r.test/out-1.png"]}),
    ("https://r.test/v.mp4?sig=1", {"video": "https://r.test/v.mp4?sig=1"}),
    ("https://r.test/speech.wav", {"audio": "https://r.test/speech.wav"}),
    ({"answer": 42}, {}),
    ([1, 2], {}),
])
def test_the_output_becomes_ports(value: Any, ports: dict[str, Any]) -> None:
    assert output_ports(value) == {"output": value, **ports}


def test_the_output_path_picks_the_value_first() -> None:
    ctx = context({"output_path": "$.choices[0]"})
    assert ReplicateExecutor(price=5).ports(ctx, {"choices": ["one", "two"]}) == {
        "output": "one", "text": "one"}
    with pytest.raises(NodeFailure, match="nothing at"):
        ReplicateExecutor(price=5).ports(ctx, {"choices": []})


# --- Through the API -----------------------------------------------------------------------

def test_a_workflow_with_a_bad_model_is_refused_when_saved(api: ApiClient) -> None:
    nodes = [node("rep", NODE, "Replicate", model="not a model", input={})]
    response = api.post("/workflows", {"name": "bad", "nodes": nodes, "edges": []})
    assert response.status_code == 422, response.content
    assert "model" in response.content.decode()


def test_on_the_teams_own_key_the_estimate_is_0(api: ApiClient) -> None:
    nodes = [node("p", "input:text", "Prompt", text="hi"),
             node("rep", NODE, "Replicate", model="meta/llama", input={"prompt": "{{prompt}}"}),
             node("out", "output:result", "Result")]
    workflow_id = create_workflow(api, nodes, [edge("p", "text", "rep", "prompt"),
                                               edge("rep", "text", "out", "value")])
    estimate = api.post(f"/workflows/{workflow_id}/estimate", {}).json()
    assert estimate["estimatedCredits"] == PRICE_PER_RUN
    assert api.put("/providers/replicate", {"apiKey": "r8_team-key-0123456789"}) \
        .status_code == 200
    estimate = api.post(f"/workflows/{workflow_id}/estimate", {}).json()
    assert estimate["estimatedCredits"] == 0
    [line] = [item for item in estimate["breakdown"] if item["nodeId"] == "rep"]
    assert line["billedBy"] == "team"


def test_replicate_runs_on_the_simulator_without_a_token(api: ApiClient) -> None:
    [row] = [row for row in api.get("/providers").json() if row["provider"] == "replicate"]
    assert (row["configured"], row["simulated"]) == (False, True)


def test_whose_token_runs_it(db: None, team: Any, settings: Any) -> None:
    from executions.providers.credentials import NoProviderKey, provider_credentials
    from executions.providers.replicate import platform_token

    settings.SIMULATORS_ENABLED, settings.REPLICATE_API_TOKEN = True, ""
    settings.REPLICATE_API_URL = "http://127.0.0.1:8000/_sim/replicate"
    assert provider_credentials(team.pk, "replicate") == (
        platform_token(), "http://127.0.0.1:8000/_sim/replicate", "platform")
    settings.REPLICATE_API_TOKEN = "r8_platform-token"
    settings.REPLICATE_API_URL = "https://api.replicate.com"
    assert provider_credentials(team.pk, "replicate") == (
        "r8_platform-token", "https://api.replicate.com", "platform")
    settings.SIMULATORS_ENABLED, settings.REPLICATE_API_TOKEN = False, ""
    with pytest.raises(NoProviderKey, match="no API key for replicate"):
        provider_credentials(team.pk, "replicate")
