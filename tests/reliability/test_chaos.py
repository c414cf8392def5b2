"""Kill -9 chaos: workers SIGKILLed at random moments while 50 executions of a paid model
pipeline run. Every execution ends, no provider job is submitted twice, every completed node is
charged exactly once, and the credit balance equals its ledger."""

import random
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db.models import Count, Sum

from accounts.credits import credit_balance, reservation_outstanding
from accounts.models import CreditEntry, CreditKind, Team
from executions.engine.runner import LOST_WHILE_SUBMITTING
from executions.models import Execution, ExecutionStatus, NodeRun, NodeStatus
from executions.simulators.state import simulator_stats
from tests.builders import edge, node
from tests.conftest import ApiClient
from tests.engine.helpers import create_workflow, execute
from tests.harness import POOLS, Worker, flush_broker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

EXECUTIONS = 50
KILLS = 5
POOL_SIZE = {"prefork": 2, "threads": 8}


# Celery's prefork pool, and its threads pool (one process: a kill takes all its passes at once).
@pytest.mark.parametrize("pool", POOLS)
def test_sigkilled_workers_lose_nothing_submit_nothing_twice_and_charge_once(
        pool: str, sim_site: str, api: ApiClient, worker_factory: Callable[..., Worker],
        team: Team) -> None:
    flush_broker()
    rng = random.Random(20261130)  # noqa: S311 - a reproducible schedule, not a secret
    workflow = create_workflow(api, [
        node("p", "input:text"),
        node("gen", "generate:flux_2", image_size="square", timeoutSeconds=60),
        node("up", "upscale:crystal_upscaler", timeoutSeconds=60)],
        [edge("p", "text", "gen", "prompt"), edge("gen", "image", "up", "image_url")])
    worker = worker_factory(f"chaos-{pool}-0", pool=pool, concurrency=POOL_SIZE[pool])
    # A distinct prompt each, so the simulator can tell every job apart.
    started = [execute(api, workflow, {"inputs": {"p": f"chaos {i} [sim latency=3s]"}})
               for i in range(EXECUTIONS)]
    ended = Execution.objects.filter(pk__in=started).exclude(status=ExecutionStatus.RUNNING)

    # Strike at random moments while work is in flight: each kill when the provider has
    # received a randomly chosen number of jobs, so some are usually still to come. Nodes lost
    # while submitting fail their execution before its second job, so a run can hold fewer
    # jobs than the schedule assumes: the kills stop once everything has ended, and the
    # checks below say what happened before the count of kills that struck work is judged.
    thresholds = sorted(rng.sample(range(5, 2 * EXECUTIONS - 5), KILLS))
    struck = 0
    for kill, threshold in enumerate(thresholds, start=1):
        def due(t: int = threshold) -> bool:
            return bool(simulator_stats()["submissions"] >= t
                        or ended.count() == EXECUTIONS)

        wait_until(due, 300, f"the provider never received {threshold} jobs")
        worker.kill()
        if ended.count() == EXECUTIONS:
            break
        struck += 1
        worker = worker_factory(f"chaos-{pool}-{kill}", pool=pool, concurrency=POOL_SIZE[pool])

    wait_until(lambda: ended.count() == EXECUTIONS, 600,
               lambda: f"{EXECUTIONS - ended.count()} executions never ended")
    # A node whose worker died between claiming it and the provider's answer is never submitted
    # again (that could pay twice): it ends at its deadline with an error that says so.
    failed = NodeRun.objects.filter(execution_id__in=started, status=NodeStatus.FAILED)
    assert {run.error for run in failed} <= {LOST_WHILE_SUBMITTING}, \
        [run.error for run in failed]
    statuses = Counter(ended.values_list("status", flat=True))
    assert statuses[ExecutionStatus.COMPLETED] + statuses[ExecutionStatus.FAILED] == EXECUTIONS
    assert statuses[ExecutionStatus.FAILED] == len({run.execution_id for run in failed})

    stats = simulator_stats()
    twice = {payload: n for payload, n in stats["byRequest"].items() if n > 1}
    assert twice == {}, "jobs submitted more than once"
    paid = NodeRun.objects.filter(execution_id__in=started, status=NodeStatus.COMPLETED,
                                  node_id__in=["gen", "up"])
    # Every completed model node was one job; a lost one at most one more.
    assert paid.count() <= stats["submissions"] <= paid.count() + failed.count()

    charges = (CreditEntry.objects.filter(execution_id__in=started, kind=CreditKind.CHARGE)
               .values("execution_id", "node_id").annotate(n=Count("id")))
    assert [c for c in charges if c["n"] != 1] == [], "a node charged more than once"
    assert {(c["execution_id"], c["node_id"]) for c in charges} == \
        set(paid.values_list("execution_id", "node_id"))
    assert all(reservation_outstanding(e) == 0 for e in started)
    ledger = CreditEntry.objects.filter(team=team).aggregate(s=Sum("amount"))["s"]
    assert credit_balance(team.pk) == (ledger or Decimal(0))
    # Last, so that a run cut short by an engine fault fails on that fault above.
    assert struck >= KILLS - 2, (
        f"only {struck} of {KILLS} kills struck work in flight: {dict(statuses)}, "
        f"{stats['submissions']} jobs, thresholds {thresholds}")
