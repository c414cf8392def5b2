"""Credits while executions really run (API, Celery worker, fal simulator): each completed node
is charged once, the rest of the reservation comes back however the run ends, and the balance
never goes below zero, also under 50 parallel executes."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from itertools import accumulate
from typing import Any

import httpx
import pytest
from django.db import connection
from django.db.models import Sum

from accounts.credits import credit_balance, credits_grant, to_credits
from accounts.models import CreditEntry, CreditKind, Team, User
from executions.models import Execution
from tests.conftest import ApiClient

from .helpers import create_workflow, edge, execute, node, states, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_signup_credits(settings: Any) -> None:
    """The personas' teams start at zero; each test funds its team with what it needs."""
    settings.SIGNUP_CREDITS = 0


def seed_pipeline(prompt: str = "a red fox",
                  **upscale: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Estimated 40 credits: Nano Banana Pro 20, the upscaler 5 x 4 MP."""
    nodes = [node("prompt", "input:text", "Prompt", text=prompt),
             node("gen", "generate:nano_banana_pro", "Generate"),
             node("up", "upscale:crystal_upscaler", "Upscale", **upscale)]
    edges = [edge("prompt", "text", "gen", "prompt"), edge("gen", "image", "up", "image_url")]
    return nodes, edges


def entries_of(execution_id: str) -> list[tuple[str, Decimal, str]]:
    return [(e.kind, e.amount, e.node_id) for e in
            CreditEntry.objects.filter(execution_id=execution_id).order_by("pk")]


def ledger_sum(team: Team) -> Decimal:
    return CreditEntry.objects.filter(team=team).aggregate(s=Sum("amount"))["s"] or Decimal(0)


def running_balances(team: Team) -> list[Decimal]:
    """The balance after each entry, in the order they were written (every write holds the
    team's lock, so id order is commit order)."""
    return list(accumulate(CreditEntry.objects.filter(team=team).order_by("pk")
                           .values_list("amount", flat=True)))


def test_a_completed_run_charges_each_node_once_and_releases_the_rest(engine: str, api: ApiClient,
                                                                      team: Team) -> None:
    credits_grant(team, 100)
    execution_id = execute(api, create_workflow(api, *seed_pipeline()))
    poll = wait_for(api, execution_id)
    assert poll["status"] == "COMPLETED", poll
    gen, up = (to_credits(states(poll)[n]["credits"]) for n in ("gen", "up"))
    assert gen == 20 and 0 < up < 20  # the simulator's images are small: under the estimate
    assert entries_of(execution_id) == [
        ("reserve", Decimal(-40), ""),
        ("release", gen, "gen"), ("charge", -gen, "gen"),
        ("release", up, "up"), ("charge", -up, "up"),
        ("release", 40 - gen - up, "")]
    assert credit_balance(team.pk) == 100 - gen - up == ledger_sum(team)
    assert to_credits(poll["creditsUsed"]) == gen + up


def test_a_failed_run_gives_back_the_whole_reservation(engine: str, api: ApiClient,
                                                       team: Team) -> None:
    credits_grant(team, 100)
    execution_id = execute(api, create_workflow(api, *seed_pipeline("x [sim fail=400]")))
    poll = wait_for(api, execution_id)
    assert poll["status"] == "FAILED"
    assert entries_of(execution_id) == [("reserve", Decimal(-40), ""),
                                        ("release", Decimal(40), "")]
    assert credit_balance(team.pk) == 100
    assert poll["creditsUsed"] == 0


def test_a_run_failing_halfway_pays_only_for_what_completed(engine: str, api: ApiClient,
                                                            team: Team) -> None:
    credits_grant(team, 100)
    nodes, edges = seed_pipeline(simulate="[sim fail=400]")
    poll = wait_for(api, execute(api, create_workflow(api, nodes, edges)))
    assert poll["status"] == "FAILED"
    assert [states(poll)[n]["status"] for n in ("gen", "up")] == ["COMPLETED", "FAILED"]
    assert credit_balance(team.pk) == 80
    assert poll["creditsUsed"] == 20


def test_a_cancelled_run_gives_back_the_whole_reservation(engine: str, api: ApiClient,
                                                          team: Team) -> None:
    credits_grant(team, 100)
    # The model never finishes on its own, so the run can only end by the cancel.
    execution_id = execute(api, create_workflow(api, *seed_pipeline("slow [sim hang]")))
    wait_for(api, execution_id, until={"RUNNING"})
    assert credit_balance(team.pk) == 60
    assert api.post(f"/workflows/executions/{execution_id}/cancel").status_code == 202
    assert wait_for(api, execution_id)["status"] == "CANCELLED"
    assert credit_balance(team.pk) == 100
    assert [e[0] for e in entries_of(execution_id)] == ["reserve", "release"]


# --- Concurrency -----------------------------------------------------------------------------

class BalanceSampler(threading.Thread):
    """Reads the team's balance from its own database connection, over and over, while the
    executes race."""

    def __init__(self, team: Team) -> None:
        super().__init__(daemon=True)
        self.team = team
        self.samples: list[Decimal] = []
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while True:
                self.samples.append(credit_balance(self.team.pk))
                if self.done.wait(0.005):  # paced, and stops as soon as it is told
                    return
        finally:
            connection.close()


def test_fifty_parallel_executes_with_credits_for_ten_start_exactly_ten(
        engine: str, api_for: Any, owner: User, team: Team) -> None:
    client = api_for(owner)
    nodes = [node("gen", "generate:flux_2", "Generate", prompt="a lighthouse")]  # 3 credits
    workflow_id = create_workflow(client, nodes, [])
    credits_grant(team, 30)
    headers = {"Authorization": f"Bearer {client.secret}"}
    url = f"{engine}/api/v1/workflows/{workflow_id}/execute"
    barrier = threading.Barrier(50)

    def fire(_: int) -> httpx.Response:
        barrier.wait()
        return httpx.post(url, json={}, headers=headers, timeout=60)

    sampler = BalanceSampler(team)
    sampler.start()
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(fire, range(50)))
    started = [r.json()["executionId"] for r in responses if r.status_code == 201]
    refused = [r.json() for r in responses if r.status_code == 402]
    assert (len(started), len(refused)) == (10, 40), [r.status_code for r in responses]
    assert all(body["requiredCredits"] == 3 and body["availableCredits"] < 3
               for body in refused)
    for execution_id in started:
        assert wait_for(client, execution_id)["status"] == "COMPLETED"
    sampler.done.set()
    sampler.join(timeout=60)
    assert not sampler.is_alive()

    assert sampler.samples and min(sampler.samples) >= 0
    assert min(running_balances(team)) >= 0
    assert credit_balance(team.pk) == 0 == ledger_sum(team)
    assert client.get("/developer/usage").json()["creditBalance"] == 0
    assert Execution.objects.filter(team=team).count() == 10
    assert CreditEntry.objects.filter(team=team, kind=CreditKind.CHARGE).count() == 10
