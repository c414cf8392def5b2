"""Graph builders and polling for the engine tests."""

import time
from typing import Any

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def node(node_id: str, node_type: str, label: str | None = None, **params: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "basedNode", "position": {"x": 0, "y": 0},
            "data": {"label": label or node_id, "nodeType": node_type, "params": params}}


def edge(source: str, source_port: str, target: str, target_port: str) -> dict[str, Any]:
    return {"id": f"{source}.{source_port}->{target}.{target_port}", "source": source,
            "target": target, "sourceHandle": f"out-{source_port}",
            "targetHandle": f"in-{target_port}"}


def create_workflow(api: Any, nodes: list[dict[str, Any]], edges: list[dict[str, Any]],
                    name: str = "test") -> str:
    response = api.post("/workflows", {"name": name, "nodes": nodes, "edges": edges})
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def execute(api: Any, workflow_id: str, body: dict[str, Any] | None = None) -> str:
    response = api.post(f"/workflows/{workflow_id}/execute", body or {})
    assert response.status_code == 201, response.content
    return str(response.json()["executionId"])


def wait_for(api: Any, execution_id: str, timeout: float = 30,
             until: set[str] = TERMINAL) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        poll = api.get(f"/workflows/executions/{execution_id}/poll").json()
        if poll["status"] in until:
            return dict(poll)
        if time.monotonic() > deadline:
            raise AssertionError(f"execution still {poll['status']} after {timeout}s: {poll}")
        time.sleep(0.1)


def states(poll: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {state["nodeId"]: state for state in poll["nodeStates"]}


def statuses(poll: dict[str, Any]) -> dict[str, str]:
    return {node_id: state["status"] for node_id, state in states(poll).items()}
