"""B3q, beside B3 (README.md, Benchmarks): a utility-only execution started behind 200
executions that wait on a model, execute → COMPLETED, against the same execution on the idle
site. Waiting executions hold no worker slot (tests/engine/test_durability.py proves that); this
measures what they cost the one behind them.
"""

import statistics
import time

import httpx

from .common import Result, Site, create_workflow, edge, node, run_to_end

WAITING = 200
RUNS = 5
# Behind them, one run every few seconds for 40 s: across the waves of the safety-net polls that
# the waiting executions schedule 10 s and 25 s after their submits.
BEHIND_RUNS, BEHIND_EVERY_S = 10, 4.0
GOAL_S = 1.0


def quick_graph() -> tuple[list, list]:
    nodes = [node("t", "input:text", text="hi"), node("u", "utility:prompt_concat"),
             node("o", "output:result")]
    return nodes, [edge("t", "text", "u", "texts"), edge("u", "text", "o", "value")]


def run(site: Site) -> list[Result]:
    with site.client() as client:
        quick = create_workflow(client, *quick_graph())
        run_to_end(client, quick)  # warm up imports and connections
        idle = statistics.median(run_to_end(client, quick)[0] for _ in range(RUNS))
        hanging = create_workflow(client, [node("g", "generate:flux_2", image_size="square",
                                                prompt="waits [sim hang]")], [])
        waiting = [_execute(client, hanging) for _ in range(WAITING)]
        try:
            _wait_until_submitted(client, waiting)
            walls = []
            for _ in range(BEHIND_RUNS):
                wall, poll = run_to_end(client, quick)
                assert poll["status"] == "COMPLETED", poll
                walls.append(wall)
                time.sleep(max(0.0, BEHIND_EVERY_S - wall))
        finally:
            for execution_id in waiting:
                client.post(f"/workflows/executions/{execution_id}/cancel")
            site.wait_until_idle(hanging)  # the cancels' backlog: not into what follows
    behind = statistics.median(walls)
    return [Result(
        id="B3q", what=f"utility run behind {WAITING} waiting on a model", figure=round(behind, 3),
        unit="s", baseline=round(idle, 3), goal=f"<= {GOAL_S:g} s", met=behind <= GOAL_S,
        note=f"execute->COMPLETED over the API, median of {BEHIND_RUNS} over 40 s (slowest "
             f"{max(walls):.3f} s); baseline: the idle site, median of {RUNS}",
    )]


def _execute(client: httpx.Client, workflow_id: str) -> str:
    response = client.post(f"/workflows/{workflow_id}/execute", json={})
    response.raise_for_status()
    return str(response.json()["executionId"])


def _wait_until_submitted(client: httpx.Client, execution_ids: list[str],
                          timeout: float = 600) -> None:
    """Until the provider has accepted every one's job: they all wait on the model then."""
    pending = set(execution_ids)
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} of {WAITING} executions were never submitted")
        for execution_id in list(pending):
            poll = client.get(f"/workflows/executions/{execution_id}/poll").json()
            if all(state["requestId"] for state in poll["nodeStates"]):
                pending.discard(execution_id)
        time.sleep(0.5)
