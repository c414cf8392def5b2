"""The embedded mode (no broker): the in-process scheduler runs executions to the end.

No Celery worker fixture is used in this module, on purpose: the broker queue is checked to
stay empty, so a run that completes can only have been driven by executions/inprocess.py.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings

from executions.inprocess import scheduler_stop
from executions.simulators.state import simulator_stats
from tests.conftest import ApiClient
from tests.harness import flush_broker
from workflows.services import starter_templates

from .helpers import create_workflow, execute, states, statuses, wait_for, wait_until_submitted

pytestmark = pytest.mark.django_db(transaction=True)


def _broker_queue_length() -> int:
    return int(redis.Redis.from_url(django_settings.CELERY_BROKER_URL).llen("celery"))


@pytest.fixture
def embedded(sim_site: str, settings: Any) -> Iterator[str]:
    """The live site with the simulator as fal, in the embedded mode. The dispatcher reads
    the setting at send time, so this also covers the live server's provider webhooks.
    Afterwards the scheduler is stopped: its sweeps must not outlive the test."""
    flush_broker()
    settings.EMBEDDED = True
    yield sim_site
    settings.EMBEDDED = False  # so work still in flight cannot start a new scheduler
    scheduler_stop()
    flush_broker()


def test_the_seed_pipeline_completes_in_process_without_a_worker(embedded: str,
                                                                   api: ApiClient) -> None:
    seed = starter_templates()["seed-pipeline"]
    execution_id = execute(api, create_workflow(api, seed["nodes"], seed["edges"]))
    poll = wait_for(api, execution_id)
    assert poll["status"] == "COMPLETED", poll
    assert set(statuses(poll).values()) == {"COMPLETED"}
    models = [s for s in poll["nodeStates"] if s["nodeType"].split(":")[0] in
              {"generate", "upscale"}]
    assert len(models) == 2
    assert all(s["requestId"] and s["outputUrl"] for s in models)
    assert simulator_stats()["submissions"] == 2  # each model job submitted exactly once
    result_id = next(s["nodeId"] for s in poll["nodeStates"] if s["nodeType"] == "output:result")
    assert list(poll["finalOutput"]) == [result_id]
    assert _broker_queue_length() == 0, "a Celery task was sent in the embedded mode"


def test_cancel_stops_an_in_process_run(embedded: str, api: ApiClient) -> None:
    seed = starter_templates()["seed-pipeline"]
    nodes = [dict(n) for n in seed["nodes"]]
    prompt = next(n for n in nodes if n["data"]["nodeType"] == "input:text")
    # The model never finishes on its own, so the run can only end by the cancel.
    prompt["data"] = {**prompt["data"], "params": {"text": "slow fox [sim hang]"}}
    execution_id = execute(api, create_workflow(api, nodes, seed["edges"]))
    model = next(n["id"] for n in nodes if n["data"]["nodeType"].startswith("generate:"))
    request_id = wait_until_submitted(api, execution_id, model)
    assert api.post(f"/workflows/executions/{execution_id}/cancel").status_code == 202
    poll = wait_for(api, execution_id)
    assert poll["status"] == "CANCELLED", poll
    assert simulator_stats()["cancelled"] == [request_id]
    assert states(poll)[model]["status"] == "CANCELLED"
    assert _broker_queue_length() == 0

