"""B1: engine overhead per node — a 100-node chain of utility nodes, execute → COMPLETED, / 100,
against one raw Celery no-op round trip on the same Redis."""

import statistics

from tests.builders import chain

from .common import Result, Site, celery_round_trip_ms, create_workflow, run_to_end

CHAIN = 100
RUNS = 5




def run(site: Site) -> list[Result]:
    baseline = celery_round_trip_ms()
    with site.client() as client:
        workflow_id = create_workflow(client, *chain(CHAIN))
        run_to_end(client, workflow_id)  # warm up imports and connections
        walls, engine = [], []
        for _ in range(RUNS):
            wall, poll = run_to_end(client, workflow_id)
            assert poll["status"] == "COMPLETED", poll
            walls.append(wall * 1000 / CHAIN)
            engine.append(poll["durationMs"] / CHAIN)
    per_node = round(statistics.median(walls), 3)
    return [Result(
        id="B1", what="engine overhead per node (100-node utility chain)", figure=per_node,
        unit="ms", baseline=baseline, goal="<= 1.0x raw Celery round trip",
        met=per_node <= baseline,
        note=f"execute->COMPLETED over the API, median of {RUNS}; inside the engine "
             f"{statistics.median(engine):.3f} ms/node",
    )]
