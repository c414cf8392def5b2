"""Under load the site waits or says "busy" — 429 or 503 with Retry-After — and never answers
500: the site as `make serve` runs it (uvicorn ×2 with a bounded PostgreSQL pool per process, a
Celery worker), 50 and then 200 concurrent clients on each endpoint. Counts are bounded: this
proves behaviour, `make bench` measures speed."""

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from accounts.models import User
from accounts.services import api_key_create
from tests.builders import edge, node
from tests.harness import ProductionWeb
from workflows.services import WorkflowData, workflow_create, workflow_webhook_set

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS_PER_RUN = 400
ALLOWED = {200, 201, 202, 429, 503}


@pytest.fixture
def web(live_site: str) -> Iterator[ProductionWeb]:
    # Rate limits would answer most of these with 429 before the database is touched.
    site = ProductionWeb(workers=2, WIREFLOW_RATE_LIMITS="0")
    yield site
    site.stop()


@pytest.fixture
def target(owner: User) -> dict[str, Any]:
    team = owner.current_team
    assert team is not None
    nodes = [node("t", "input:text", text="hi"), node("u", "utility:prompt_concat"),
             node("o", "output:result")]
    edges = [edge("t", "text", "u", "texts"), edge("u", "text", "o", "value")]
    workflow = workflow_create(user=owner, team=team, data=WorkflowData(
        name="load", nodes=nodes, edges=edges))
    workflow = workflow_webhook_set(workflow, user=owner, enabled=True)
    key = api_key_create(user=owner, team=team, name="load").secret
    return {"workflow": str(workflow.pk), "webhook": workflow.webhook_id, "key": key}


Outcome = httpx.Response | Exception


async def _hammer(base: str, clients: int, request: dict[str, Any]) -> list[Outcome]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    per_client = max(1, REQUESTS_PER_RUN // clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        async def one_request() -> Outcome:
            try:
                return await client.request(**request)
            except httpx.HTTPError as exc:  # a dropped connection is a failure too
                return exc

        async def one_client() -> list[Outcome]:
            return [await one_request() for _ in range(per_client)]

        batches = await asyncio.gather(*(one_client() for _ in range(clients)))
    return [outcome for batch in batches for outcome in batch]


def _status(outcome: Outcome) -> int | str:
    return outcome.status_code if isinstance(outcome, httpx.Response) else type(outcome).__name__


def _problems(responses: list[Outcome]) -> list[str]:
    problems = []
    for r in responses:
        if isinstance(r, Exception):
            problems.append(f"{type(r).__name__}: {r}")
        elif r.status_code not in ALLOWED:
            problems.append(f"{r.status_code}: {r.text[:200]}")
        elif r.status_code in (429, 503) and not (
                r.headers.get("Retry-After") and r.headers["content-type"].startswith(
                    "application/json") and r.json().get("code")):
            problems.append(f"{r.status_code} without Retry-After or an error body: {r.text}")
    return problems


@pytest.mark.parametrize("clients", [50, 200])
def test_every_endpoint_waits_or_says_busy_under_load_and_never_fails(web: ProductionWeb,
                                                                      target: dict[str, Any],
                                                                      clients: int) -> None:
    auth = {"Authorization": f"Bearer {target['key']}"}
    started = httpx.post(f"{web.url}/api/v1/workflows/{target['workflow']}/execute",
                         headers=auth, json={})
    assert started.status_code == 201, started.text
    execution = started.json()["executionId"]
    endpoints = {
        "list": {"method": "GET", "url": "/api/v1/workflows", "headers": auth},
        "poll": {"method": "GET", "url": f"/api/v1/workflows/executions/{execution}/poll",
                 "headers": auth},
        "execute": {"method": "POST", "url": f"/api/v1/workflows/{target['workflow']}/execute",
                    "headers": auth, "json": {}},
        "trigger": {"method": "POST", "url": f"/api/v1/workflow/{target['webhook']}/trigger",
                    "json": {"t": "from the webhook"}},
    }
    for name, request in endpoints.items():
        responses = asyncio.run(_hammer(web.url, clients, request))
        statuses = Counter(_status(r) for r in responses)
        assert _problems(responses) == [], f"{name} with {clients} clients: {statuses}"
        assert statuses[200] + statuses[201] + statuses[202] > 0, f"{name}: {statuses}"
    assert httpx.get(f"{web.url}/healthz").status_code == 200


def test_with_no_free_database_connection_the_answer_is_503_with_retry_after(
        live_site: str, target: dict[str, Any]) -> None:
    # One connection per process and no patience: most of 50 concurrent polls find it taken.
    site = ProductionWeb(workers=1, WIREFLOW_RATE_LIMITS="0", WIREFLOW_DB_POOL_SIZE="1",
                         WIREFLOW_DB_POOL_TIMEOUT="0.01")
    try:
        auth = {"Authorization": f"Bearer {target['key']}"}
        request = {"method": "GET", "url": "/api/v1/workflows", "headers": auth}
        responses = asyncio.run(_hammer(site.url, 50, request))
    finally:
        site.stop()
    statuses = Counter(_status(r) for r in responses)
    assert _problems(responses) == [], statuses
    busy = [r for r in responses if isinstance(r, httpx.Response) and r.status_code == 503]
    assert busy, statuses
    assert busy[0].json() == {"error": "The service is busy. Try again in a few seconds.",
                              "code": "service_unavailable"}
    assert busy[0].headers["Retry-After"] == "2"
