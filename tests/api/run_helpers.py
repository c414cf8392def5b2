"""A small runnable workflow (inputs straight into a result, no model calls) shared by the
idempotency, run and webhook trigger tests."""

from typing import Any

import redis
from django.conf import settings

from accounts.models import Team
from tests.builders import node
from tests.conftest import ApiClient


def inputs_graph() -> dict[str, Any]:
    """Prompt (text, "a red fox"), Style (a required select with no value), Count (number 0)
    and Photo (an image with no URL), all feeding one result."""
    nodes = [
        node("prompt", "input:text", "Prompt", text="a red fox"),
        node("style", "input:select", "Style", options=["photo", "sketch"], required=True),
        node("count", "input:number", "Count", value=0),
        node("photo", "input:image", "Photo"),
        node("result", "output:result", "Result", x=400),
    ]
    edges = [{"id": f"e-{source}", "source": source, "target": "result",
              "sourceHandle": f"out-{port}", "targetHandle": "in-value"}
             for source, port in [("prompt", "text"), ("style", "value"), ("count", "value"),
                                  ("photo", "image")]]
    return {"nodes": nodes, "edges": edges}


def simple_graph() -> dict[str, Any]:
    """One text input, no required inputs: runs with an empty body."""
    nodes = [node("prompt", "input:text", "Prompt", text="a red fox"),
             node("result", "output:result", "Result", x=400)]
    edges = [{"id": "e1", "source": "prompt", "target": "result",
              "sourceHandle": "out-text", "targetHandle": "in-value"}]
    return {"nodes": nodes, "edges": edges}


def create_workflow(client: ApiClient, graph: dict[str, Any] | None = None,
                    **fields: Any) -> dict[str, Any]:
    response = client.post("/workflows", {"name": "Fox run", **(graph or simple_graph()),
                                          **fields})
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def forget_rate_limits(team: Team) -> None:
    """Drop the team's rate-limit buckets: Redis outlives the test database, whose ids repeat."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(*client.keys(f"wf:rl:team:{team.pk}:*") or ["-"])

