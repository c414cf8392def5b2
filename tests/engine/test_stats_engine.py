"""The statistics of executions the engine really ran (API, Celery worker, fal simulator) agree
with the credit ledger: credits used are the ledger's charges, per node type too."""

from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum

from accounts.credits import credits_grant, to_credits
from accounts.models import CreditEntry, CreditKind, Team

from .helpers import create_workflow, edge, execute, node, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def pipeline(simulate: str = "") -> tuple[list[Any], list[Any]]:
    nodes = [node("prompt", "input:text", "Prompt", text="a red fox"),
             node("gen", "generate:nano_banana_pro", "Generate"),
             node("up", "upscale:crystal_upscaler", "Upscale", simulate=simulate)]
    edges = [edge("prompt", "text", "gen", "prompt"), edge("gen", "image", "up", "image_url")]
    return nodes, edges


def charged(team: Team, **where: Any) -> Decimal:
    total = (CreditEntry.objects.filter(team=team, kind=CreditKind.CHARGE, **where)
             .aggregate(total=Sum("amount"))["total"])
    return -total if total else Decimal(0)


def test_the_stats_credits_are_the_ledgers_charges(engine: str, api: Any, team: Team) -> None:
    credits_grant(team, 200)
    workflow_id = create_workflow(api, *pipeline())
    polls = [wait_for(api, execute(api, workflow_id)) for _ in range(2)]
    failing = create_workflow(api, *pipeline(simulate="[sim fail=400]"))
    polls.append(wait_for(api, execute(api, failing)))
    assert [p["status"] for p in polls] == ["COMPLETED", "COMPLETED", "FAILED"]

    stats = api.get("/stats?days=2").json()  # two days: a test across midnight counts all
    assert (stats["runs"], stats["completed"], stats["failed"]) == (3, 2, 1)
    assert to_credits(stats["creditsUsed"]) == charged(team) == \
        sum(to_credits(p["creditsUsed"]) for p in polls)
    assert sum(to_credits(day["creditsUsed"]) for day in stats["byDay"]) == charged(team)
    by_type = {row["nodeType"]: row for row in stats["byNodeType"]}
    assert to_credits(by_type["generate:nano_banana_pro"]["creditsUsed"]) == \
        charged(team, node_id="gen") == 60
    assert to_credits(by_type["upscale:crystal_upscaler"]["creditsUsed"]) == \
        charged(team, node_id="up")
    assert (by_type["upscale:crystal_upscaler"]["runs"],
            by_type["upscale:crystal_upscaler"]["failed"]) == (3, 1)
    assert stats["p50DurationMs"] is not None and stats["p95DurationMs"] >= stats["p50DurationMs"]

    workflow = api.get(f"/workflows/{workflow_id}/stats?days=2").json()
    assert (workflow["runs"], workflow["completed"]) == (2, 2)
    assert {n["nodeId"]: n["label"] for n in workflow["byNode"]} == {
        "prompt": "Prompt", "gen": "Generate", "up": "Upscale"}
