"""Graph builders and polling for the engine tests."""

from typing import Any

from tests.builders import edge as edge  # the engine tests import them from here
from tests.builders import node as node
from tests.harness import wait_until

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
# Bounds a hang, not a speed: a run that should take a second may take many on a busy machine.
RUN_TIMEOUT = 90


def create_workflow(api: Any, nodes: list[dict[str, Any]], edges: list[dict[str, Any]],
                    name: str = "test", **fields: Any) -> str:
    response = api.post("/workflows", {"name": name, "nodes": nodes, "edges": edges, **fields})
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def save_workflow(api: Any, workflow: dict[str, Any], body: dict[str, Any],
                  **fields: Any) -> dict[str, Any]:
    """PUT the workflow (its name kept) with `body` and `fields`; the saved workflow."""
    response = api.put(f"/workflows/{workflow['id']}",
                       {"name": workflow["name"], **body, **fields})
    assert response.status_code == 200, response.content
    return dict(response.json())


def execute(api: Any, workflow_id: str, body: dict[str, Any] | None = None) -> str:
    response = api.post(f"/workflows/{workflow_id}/execute", body or {})
    assert response.status_code == 201, response.content
    return str(response.json()["executionId"])


def poll_of(api: Any, execution_id: str) -> dict[str, Any]:
    return dict(api.get(f"/workflows/executions/{execution_id}/poll").json())


def wait_for(api: Any, execution_id: str, timeout: float = RUN_TIMEOUT,
             until: set[str] = TERMINAL) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    def reached() -> dict[str, Any] | None:
        seen[:] = [poll_of(api, execution_id)]
        return seen[-1] if seen[-1]["status"] in until else None

    return wait_until(reached, timeout,
                      lambda: f"execution still {seen[-1]['status']}: {seen[-1]}", interval=0.1)


def wait_until_submitted(api: Any, execution_id: str, node_id: str,
                         timeout: float = RUN_TIMEOUT) -> str:
    """Until the provider has accepted the node's job; returns the job's request id."""
    def request_id() -> str:
        return str(states(poll_of(api, execution_id))[node_id]["requestId"] or "")

    return wait_until(request_id, timeout,
                      f"the model {node_id} of {execution_id} was never submitted")


def states(poll: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {state["nodeId"]: state for state in poll["nodeStates"]}


def statuses(poll: dict[str, Any]) -> dict[str, str]:
    return {node_id: state["status"] for node_id, state in states(poll).items()}
