"""Each semantic of docs/engine.md, through the API, a Celery worker and the fal simulator."""

import io
from datetime import datetime
from typing import Any

import httpx
import pytest
from PIL import Image

from executions.simulators.state import simulator_stats
from tests.conftest import ApiClient

from .helpers import (
    create_workflow,
    edge,
    execute,
    node,
    states,
    statuses,
    wait_for,
    wait_until_submitted,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _png_size(url: str) -> tuple[int, int]:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    return image.size


def _seed_pipeline(prompt: str = "a red fox") -> tuple[list[dict[str, Any]],
                                                       list[dict[str, Any]]]:
    nodes = [node("prompt", "input:text", "Prompt", text=prompt),
             node("gen", "generate:nano_banana_pro", "Generate"),
             node("up", "upscale:crystal_upscaler", "Upscale")]
    edges = [edge("prompt", "text", "gen", "prompt"), edge("gen", "image", "up", "image_url")]
    return nodes, edges


def test_the_seed_pipeline_completes_and_the_upscale_is_twice_the_size(engine: str,
                                                                       api: ApiClient) -> None:
    workflow_id = create_workflow(api, *_seed_pipeline())
    poll = wait_for(api, execute(api, workflow_id))
    assert poll["status"] == "COMPLETED", poll
    by_id = states(poll)
    generated, upscaled = by_id["gen"], by_id["up"]
    width, height = _png_size(generated["outputUrl"])
    assert _png_size(upscaled["outputUrl"]) == (2 * width, 2 * height)
    for state in (generated, upscaled):
        assert state["requestId"] and state["attempts"] == 1
        assert state["startedAt"] and state["finishedAt"] and state["durationMs"] >= 0
        assert state["credits"] > 0
    assert generated["credits"] == 20
    assert poll["creditsUsed"] == pytest.approx(generated["credits"] + upscaled["credits"])
    assert poll["finalOutput"] == {"up": poll["nodeResults"]["nodeRuns"][2]["output"]}


def test_a_three_way_fan_out_runs_in_parallel(engine: str, api: ApiClient) -> None:
    nodes = [node("p", "input:text", text="fan out [sim latency=1s]")]
    edges = []
    for i in range(3):
        nodes.append(node(f"g{i}", "generate:flux_2", f"Gen {i}", image_size="square"))
        edges.append(edge("p", "text", f"g{i}", "prompt"))
    poll = wait_for(api, execute(api, create_workflow(api, nodes, edges)))
    assert poll["status"] == "COMPLETED", poll
    spans = [(datetime.fromisoformat(s["startedAt"]), datetime.fromisoformat(s["finishedAt"]))
             for s in poll["nodeStates"] if s["nodeId"].startswith("g")]
    latest_start = max(start for start, _ in spans)
    earliest_finish = min(finish for _, finish in spans)
    assert latest_start < earliest_finish, "the three model calls did not overlap"


def test_a_router_runs_one_branch_and_skips_the_other_downstream_too(engine: str,
                                                                     api: ApiClient) -> None:
    nodes = [node("n", "input:number", value=7),
             node("r", "logic:router", operator="gt", value=5),
             node("yes", "utility:text_template", template="big"),
             node("yes_out", "output:result"),
             node("no", "utility:text_template", template="small"),
             node("no_out", "output:result")]
    edges = [edge("n", "value", "r", "value"),
             edge("r", "true", "yes", "vars"), edge("yes", "text", "yes_out", "value"),
             edge("r", "false", "no", "vars"), edge("no", "text", "no_out", "value")]
    poll = wait_for(api, execute(api, create_workflow(api, nodes, edges)))
    assert poll["status"] == "COMPLETED", poll
    assert statuses(poll) == {"n": "COMPLETED", "r": "COMPLETED", "yes": "COMPLETED",
                              "yes_out": "COMPLETED", "no": "SKIPPED", "no_out": "SKIPPED"}
    assert list(poll["finalOutput"]) == ["yes_out"]


def test_a_node_rate_limited_twice_succeeds_on_the_third_attempt(engine: str,
                                                                 api: ApiClient) -> None:
    nodes = [node("g", "generate:flux_2", prompt="retry me [sim fail=429x2]")]
    poll = wait_for(api, execute(api, create_workflow(api, nodes, [])))
    assert poll["status"] == "COMPLETED", poll
    assert states(poll)["g"]["attempts"] == 3
    details = api.get(f"/workflows/executions/{poll['executionId']}").json()
    log = details["nodeStates"][0]["attemptsLog"]
    assert [entry["httpStatus"] for entry in log] == [429, 429, None]
    assert [entry["attempt"] for entry in log] == [1, 2, 3]


def test_a_permanent_failure_fails_the_execution_and_cancels_the_rest(engine: str,
                                                                      api: ApiClient) -> None:
    nodes = [node("p", "input:text", text="slow [sim latency=5s]"),
             node("slow", "generate:flux_2", "Slow"),
             node("bad", "generate:flux_2", "Broken", prompt="nope [sim fail=400]"),
             node("after", "upscale:crystal_upscaler", "After")]
    edges = [edge("p", "text", "slow", "prompt"), edge("bad", "image", "after", "image_url")]
    poll = wait_for(api, execute(api, create_workflow(api, nodes, edges)))
    assert poll["status"] == "FAILED"
    assert "Broken" in poll["error"] and "bad" in poll["error"]
    assert statuses(poll) == {"p": "COMPLETED", "slow": "CANCELLED", "bad": "FAILED",
                              "after": "CANCELLED"}


def test_continue_on_error_passes_the_error_downstream(engine: str, api: ApiClient) -> None:
    nodes = [node("bad", "generate:flux_2", "Broken", prompt="x [sim fail=400]",
                  continueOnError=True),
             node("out", "output:result")]
    edges = [edge("bad", "image", "out", "value")]
    poll = wait_for(api, execute(api, create_workflow(api, nodes, edges)))
    assert poll["status"] == "COMPLETED", poll
    assert statuses(poll) == {"bad": "FAILED", "out": "COMPLETED"}
    result = poll["nodeResults"]["nodeRuns"][1]["output"]
    assert "error" in str(result)


def test_a_node_past_its_deadline_fails(engine: str, api: ApiClient) -> None:
    nodes = [node("g", "generate:flux_2", prompt="forever [sim hang]", timeoutSeconds=1)]
    poll = wait_for(api, execute(api, create_workflow(api, nodes, [])))
    assert poll["status"] == "FAILED"
    assert "Timed out after 1 s" in states(poll)["g"]["error"]


def test_cancel_stops_the_run_and_cancels_the_remote_job(engine: str, api: ApiClient) -> None:
    # The model never finishes on its own: only the cancel can end this run, and the simulator
    # records a cancel only for a job that was still going.
    nodes = [node("g", "generate:flux_2", prompt="long [sim hang]")]
    execution_id = execute(api, create_workflow(api, nodes, []))
    request_id = wait_until_submitted(api, execution_id, "g")
    assert api.post(f"/workflows/executions/{execution_id}/cancel").status_code == 202
    poll = wait_for(api, execution_id)
    assert poll["status"] == "CANCELLED", poll
    assert statuses(poll) == {"g": "CANCELLED"}
    assert simulator_stats()["cancelled"] == [request_id]


def test_run_to_here_reuses_cached_upstream_results(engine: str, api: ApiClient) -> None:
    nodes, edges = _seed_pipeline("cached fox")
    workflow_id = create_workflow(api, nodes, edges)
    first = wait_for(api, execute(api, workflow_id))
    assert first["status"] == "COMPLETED"
    submitted = simulator_stats()["submissions"]
    second = wait_for(api, execute(api, workflow_id, {"targetNodeId": "gen"}))
    assert second["status"] == "COMPLETED"
    assert set(statuses(second)) == {"prompt", "gen"}
    assert simulator_stats()["submissions"] == submitted + 1  # only the target ran
    third = wait_for(api, execute(api, workflow_id, {"targetNodeId": "up"}))
    assert simulator_stats()["submissions"] == submitted + 2  # gen reused, only up ran
    assert states(third)["gen"]["cached"] is True
    assert states(third)["gen"]["outputUrl"] == states(second)["gen"]["outputUrl"]
