"""Nothing is lost when a worker dies, and no slot is held while a model generates."""

import time

import pytest

from executions.models import NodeRun
from executions.simulators.state import simulator_stats
from tests.harness import flush_broker

from .helpers import create_workflow, edge, execute, node, states, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_killed_worker_loses_nothing_and_submits_nothing_twice(sim_site, api, worker_factory):
    flush_broker()
    first = worker_factory("doomed")
    nodes = [node("p", "input:text", text="survive [sim latency=3s]"),
             node("gen", "generate:nano_banana_pro"),
             node("up", "upscale:crystal_upscaler")]
    edges = [edge("p", "text", "gen", "prompt"), edge("gen", "image", "up", "image_url")]
    execution_id = execute(api, create_workflow(api, nodes, edges))
    deadline = time.monotonic() + 15
    while not states(api.get(f"/workflows/executions/{execution_id}/poll").json()
                     )["gen"]["requestId"]:
        assert time.monotonic() < deadline, "the model was never submitted"
        time.sleep(0.05)
    first.kill()
    worker_factory("rescuer")
    poll = wait_for(api, execution_id, timeout=40)
    assert poll["status"] == "COMPLETED", poll
    stats = simulator_stats()
    assert stats["submissions"] == 2  # gen once, up once
    assert states(poll)["gen"]["attempts"] == 1


def test_waiting_executions_hold_no_worker_slot(sim_site, api, worker_factory):
    flush_broker()
    slow = create_workflow(api, [node("g", "generate:flux_2", image_size="square",
                                      prompt="slow [sim latency=10s]")], [], name="slow")
    waiting = [execute(api, slow) for _ in range(200)]
    # The worker starts with all 200 queued, so they are submitted back to back and all wait
    # on the model together (creating them through the API takes longer than its 10 s).
    worker_factory("capacity", concurrency=2)
    begun = time.monotonic()
    while NodeRun.objects.filter(phase="submitted").count() < 200:  # all wait on the model
        assert time.monotonic() < begun + 30, "the 200 slow executions were not all submitted"
        time.sleep(0.2)
    quick = create_workflow(api, [node("t", "input:text", text="hi"),
                                  node("u", "utility:prompt_concat"),
                                  node("o", "output:result")],
                            [edge("t", "text", "u", "texts"), edge("u", "text", "o", "value")],
                            name="quick")
    started = time.monotonic()
    poll = wait_for(api, execute(api, quick), timeout=10)
    elapsed = time.monotonic() - started
    assert poll["status"] == "COMPLETED"
    # The last ones submitted are still waiting on the model: the quick one overtook them.
    still_waiting = [api.get(f"/workflows/executions/{e}/poll").json()["status"]
                     for e in waiting[-20:]]
    assert set(still_waiting) == {"RUNNING"}
    assert elapsed < 1.0, f"a utility-only execution took {elapsed:.2f}s behind 200 waiting ones"
