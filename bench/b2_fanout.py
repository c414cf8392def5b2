"""B2: fan-out efficiency — N parallel model nodes of 1 s simulated latency each, against one
such node alone (ideal: the same wall time). Times are the site's own (the execution's startedAt
to its finishedAt); the end is watched in the database, so the waiting loads nothing."""

from .common import Result, Site, cpu_note, create_workflow, node, run_site_timed

LATENCY = "[sim latency=1s]"


def fan_out(n: int) -> tuple[list, list]:
    """N independent model nodes (the prompt is a param: 100 nodes is the graph limit)."""
    nodes = [node(f"g{i}", "generate:flux_2", image_size="square", prompt=f"fan {i} {LATENCY}")
             for i in range(n)]
    return nodes, []


def run(site: Site) -> list[Result]:
    results = []
    with site.client() as client:
        single_id = create_workflow(client, *fan_out(1))
        run_site_timed(client, single_id)  # warm up
        single, _, _ = run_site_timed(client, single_id)
        for n in (10, 50, 100):
            workflow_id = create_workflow(client, *fan_out(n))
            before = site.cpu_seconds()
            wall, status, error = run_site_timed(client, workflow_id)
            after = site.cpu_seconds()
            assert status == "COMPLETED", error
            goal_met = wall <= 1.2 * single if n == 100 else None
            results.append(Result(
                id="B2", what=f"fan-out of {n} parallel 1 s model nodes", figure=round(wall, 3),
                unit="s", baseline=round(single, 3),
                goal="<= 1.2x one node at N=100" if n == 100 else "(trend)", met=goal_met,
                note=cpu_note({part: after[part] - before[part] for part in after}),
            ))
    return results
