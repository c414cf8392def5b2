"""Batches with the real engine (a Celery worker and the fal simulator): a 20-row CSV batch runs
five at a time to 20/20 and its results.csv matches the executions' outputs; a cancelled batch
never starts its pending rows."""

import csv
import io
import json
import zipfile
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from executions.batches import batch_sweep
from executions.models import BatchRow, Execution, RowStatus
from tests.conftest import ApiClient
from tests.harness import wait_until

from .helpers import RUN_TIMEOUT, create_workflow, edge, node, poll_of

pytestmark = pytest.mark.django_db(transaction=True)


def image_pipeline(api: ApiClient) -> str:
    nodes = [node("prompt", "input:text", "Prompt", text="a red fox"),
             node("gen", "generate:nano_banana_pro", "Generate"),
             node("result", "output:result", "Result")]
    edges = [edge("prompt", "text", "gen", "prompt"), edge("gen", "image", "result", "value")]
    return create_workflow(api, nodes, edges)


def post_csv(api: ApiClient, workflow_id: str, text: str, **fields: str) -> str:
    upload = SimpleUploadedFile("rows.csv", text.encode(), content_type="text/csv")
    response = api.client.post(f"/api/v1/workflows/{workflow_id}/batches",
                               {"file": upload, **fields}, headers=api._headers(None))
    assert response.status_code == 201, response.content
    return str(response.json()["batchId"])


def batch_of(api: ApiClient, batch_id: str) -> dict[str, Any]:
    response = api.get(f"/batches/{batch_id}?limit=200")
    assert response.status_code == 200, response.content
    return dict(response.json())


def test_a_20_row_csv_batch_runs_five_at_a_time_to_the_end(engine: str, api: ApiClient) -> None:
    workflow_id = image_pipeline(api)
    text = "Prompt\n" + "".join(f"fox number {i} [sim latency=300ms]\n" for i in range(1, 21))
    batch_id = post_csv(api, workflow_id, text, concurrency="5")
    most_running = [0]

    def done() -> dict[str, Any] | None:
        body = batch_of(api, batch_id)
        assert body["running"] <= 5, body
        most_running[0] = max(most_running[0], body["running"])
        return body if body["completed"] + body["failed"] == 20 else None

    body = wait_until(done, RUN_TIMEOUT * 2, lambda: f"batch {batch_of(api, batch_id)}",
                      interval=0.1)
    assert (body["status"], body["completed"], body["failed"], body["total"]) == \
        ("COMPLETED", 20, 0, 20)
    assert most_running[0] >= 2  # rows did run side by side
    lines = list(csv.DictReader(io.StringIO(
        b"".join(api.get(f"/batches/{batch_id}/results.csv").streaming_content).decode())))
    assert [line["row"] for line in lines] == [str(i) for i in range(1, 21)]
    for i, line in enumerate(lines, 1):
        assert line["prompt"] == f"fox number {i} [sim latency=300ms]"
        assert line["status"] == "COMPLETED"
        poll = poll_of(api, line["executionId"])
        assert poll["trigger"] == "batch"
        gen = next(s for s in poll["nodeStates"] if s["nodeId"] == "gen")
        assert line["outputUrls"] == gen["outputUrl"] != ""
        assert gen["outputUrl"] in json.dumps(poll["finalOutput"]["result"])
    assert body["rows"][0]["outputs"][0]["urls"] == [lines[0]["outputUrls"]]
    archive = zipfile.ZipFile(io.BytesIO(
        b"".join(api.get(f"/batches/{batch_id}/results.zip").streaming_content)))
    names = archive.namelist()
    assert names == [f"row-{i:03d}-result.png" for i in range(1, 21)], names
    assert archive.read("row-007-result.png").startswith(b"\x89PNG")


def test_a_cancelled_batch_never_starts_its_pending_rows(engine: str, api: ApiClient) -> None:
    workflow_id = image_pipeline(api)
    text = "Prompt\n" + "".join(f"slow fox {i} [sim latency=60s]\n" for i in range(1, 11))
    batch_id = post_csv(api, workflow_id, text, concurrency="2")
    wait_until(lambda: all(
        s["requestId"] for row in batch_of(api, batch_id)["rows"][:2] if row["executionId"]
        for s in poll_of(api, row["executionId"])["nodeStates"] if s["nodeId"] == "gen"),
        RUN_TIMEOUT, "the first two rows' models were never submitted")
    response = api.post(f"/batches/{batch_id}/cancel")
    assert response.status_code == 202 and response.json()["status"] == "CANCELLED"

    def settled() -> dict[str, Any] | None:
        body = batch_of(api, batch_id)
        return body if body["running"] == 0 else None

    body = wait_until(settled, RUN_TIMEOUT, lambda: f"batch {batch_of(api, batch_id)}")
    assert batch_sweep() == 0  # the safety net starts nothing either
    assert (body["status"], body["cancelled"], body["pending"]) == ("CANCELLED", 10, 0)
    started = Execution.objects.filter(batch_row__batch_id=batch_id)
    assert started.count() == 2
    assert {e.status for e in started} == {"CANCELLED"}
    assert not BatchRow.objects.filter(batch_id=batch_id, index__gt=2,
                                       execution__isnull=False).exists()
    assert BatchRow.objects.filter(batch_id=batch_id, status=RowStatus.CANCELLED).count() == 10
