"""Nothing is lost when a worker dies, and no slot is held while a model generates."""

from collections.abc import Callable

import pytest

from executions.models import Execution, ExecutionStatus, NodeRun
from executions.simulators.state import simulator_stats
from tests.conftest import ApiClient
from tests.harness import POOLS, Worker, flush_broker, wait_until

from .helpers import (
    create_workflow,
    edge,
    execute,
    node,
    states,
    wait_for,
    wait_until_submitted,
)

pytestmark = pytest.mark.django_db(transaction=True)
# Bounds a hang of the 200-execution test. Each of its waits took 10-25 s here (the quick run
# shares the two slots with the 200 executions' scheduled polls); how long is for bench/b3.
PATIENCE = 300


# Celery's prefork pool and its threads pool (many passes in one process, their time limits
# enforced by wireflow_site/task_limits.py) keep the same promises: the tests run on POOLS.
@pytest.mark.parametrize("pool", POOLS)
def test_a_killed_worker_loses_nothing_and_submits_nothing_twice(
        pool: str, sim_site: str, api: ApiClient, worker_factory: Callable[..., Worker]) -> None:
    flush_broker()
    first = worker_factory(f"doomed-{pool}", pool=pool)
    nodes = [node("p", "input:text", text="survive [sim latency=3s]"),
             node("gen", "generate:nano_banana_pro"),
             node("up", "upscale:crystal_upscaler")]
    edges = [edge("p", "text", "gen", "prompt"), edge("gen", "image", "up", "image_url")]
    execution_id = execute(api, create_workflow(api, nodes, edges))
    wait_until_submitted(api, execution_id, "gen")
    first.kill()
    worker_factory(f"rescuer-{pool}", pool=pool)
    poll = wait_for(api, execution_id)
    assert poll["status"] == "COMPLETED", poll
    stats = simulator_stats()
    assert stats["submissions"] == 2  # gen once, up once
    assert states(poll)["gen"]["attempts"] == 1


@pytest.mark.parametrize("pool", POOLS)
def test_executions_waiting_on_a_model_hold_no_slot_and_a_quick_run_overtakes_them(
        pool: str, sim_site: str, api: ApiClient, worker_factory: Callable[..., Worker]) -> None:
    flush_broker()
    # The model never answers, so these 200 wait for as long as the test looks at them.
    hanging = create_workflow(api, [node("g", "generate:flux_2", image_size="square",
                                         prompt="forever [sim hang]")], [], name="hanging")
    waiting = [execute(api, hanging) for _ in range(200)]
    worker_factory(f"capacity-{pool}", concurrency=2, pool=pool)
    # Counted by the request id the provider gave: it stays once recorded, whatever the node
    # does next. Were a waiting execution to hold a slot, two would be submitted, never 200.
    submitted = NodeRun.objects.filter(execution_id__in=waiting).exclude(request_id="")
    wait_until(lambda: submitted.count() == 200, PATIENCE,
               message=lambda: f"{submitted.count()} of the 200 executions were submitted")
    quick = create_workflow(api, [node("t", "input:text", text="hi"),
                                  node("u", "utility:prompt_concat"),
                                  node("o", "output:result")],
                            [edge("t", "text", "u", "texts"), edge("u", "text", "o", "value")],
                            name="quick")
    poll = wait_for(api, execute(api, quick), timeout=PATIENCE)
    assert poll["status"] == "COMPLETED", poll
    assert list(poll["finalOutput"]) == ["o"]
    # It overtook all of them: not one of the 200 has ended.
    ended = Execution.objects.filter(pk__in=waiting).exclude(status=ExecutionStatus.RUNNING)
    assert list(ended.values_list("status", flat=True)) == []
