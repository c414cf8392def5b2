"""Batches through the full API (docs/api.md "Batches"): create from JSON rows or a CSV file, the
bounds, the 402 for all rows, scoping and roles, progress, cancel and results.csv. The engine
does not run here (nothing is committed): rows' executions are ended by the test."""

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from pytest_django import Settings

from accounts.credits import credits_grant
from accounts.models import Team, User
from accounts.scopes import WORKFLOWS_READ
from executions.batches import batch_row_finished
from executions.models import (
    Batch,
    BatchRow,
    Execution,
    ExecutionStatus,
    NodeRun,
    NodeStatus,
    RowStatus,
    Trigger,
)
from tests.api.run_helpers import create_workflow, error_of, inputs_graph
from tests.builders import node
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

MISSING_ID = "00000000-0000-4000-8000-000000000000"


def create_batch(api: ApiClient, workflow_id: str, rows: list[dict[str, Any]],
                 **fields: Any) -> Any:
    return api.post(f"/workflows/{workflow_id}/batches", {"rows": rows, **fields})


def post_csv(api: ApiClient, workflow_id: str, text: str | bytes, **fields: str) -> Any:
    content = text.encode() if isinstance(text, str) else text
    upload = SimpleUploadedFile("rows.csv", content, content_type="text/csv")
    return api.client.post(f"/api/v1/workflows/{workflow_id}/batches",
                           {"file": upload, **fields}, headers=api._headers(None))


def fox_rows(n: int) -> list[dict[str, str]]:
    return [{"Prompt": f"fox {i}"} for i in range(1, n + 1)]


def finish(execution_id: str, status: str = ExecutionStatus.COMPLETED, error: str = "",
           text: str | None = None) -> None:
    """End a row's execution as the engine would (its output node holding `text`), then run
    the engine's hook."""
    execution = Execution.objects.get(pk=execution_id)
    final = {"result": {"name": "Result", "value": text}} if text is not None else {}
    if text is not None:
        NodeRun.objects.filter(execution=execution).update(status=NodeStatus.COMPLETED)
        NodeRun.objects.filter(execution=execution, node_id="result").update(
            output=final["result"])
    Execution.objects.filter(pk=execution_id).update(status=status, error=error,
                                                     final_output=final,
                                                     finished_at=timezone.now())
    batch_row_finished(execution_id)


@pytest.fixture
def workflow_id(api: ApiClient) -> str:
    return str(create_workflow(api)["id"])


# --- Create -------------------------------------------------------------------------------

def test_json_rows_make_a_batch_that_starts_as_many_rows_as_its_concurrency(
        api: ApiClient, workflow_id: str) -> None:
    response = create_batch(api, workflow_id, fox_rows(7), concurrency=3)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["workflowId"] == workflow_id and body["total"] == 7
    assert body["status"] == "RUNNING"
    rows = BatchRow.objects.filter(batch_id=body["batchId"]).order_by("index")
    assert [r.status for r in rows] == ["RUNNING"] * 3 + ["PENDING"] * 4
    assert [r.inputs for r in rows][:2] == [{"prompt": "fox 1"}, {"prompt": "fox 2"}]
    started = Execution.objects.filter(batch_row__batch_id=body["batchId"])
    assert {e.trigger for e in started} == {Trigger.BATCH}
    assert sorted(e.inputs["prompt"] for e in started) == ["fox 1", "fox 2", "fox 3"]


def test_the_concurrency_defaults_to_five(api: ApiClient, workflow_id: str) -> None:
    body = create_batch(api, workflow_id, fox_rows(8)).json()
    assert Batch.objects.get(pk=body["batchId"]).concurrency == 5
    assert BatchRow.objects.filter(batch_id=body["batchId"], status="RUNNING").count() == 5


def test_a_csv_file_with_ids_or_labels_in_its_header_makes_a_batch(api: ApiClient) -> None:
    workflow = create_workflow(api, inputs_graph())
    text = "Prompt,style,Count\na red fox,photo,3\n\"a fox, sketched\",sketch,\n"
    response = post_csv(api, workflow["id"], text, concurrency="1")
    assert response.status_code == 201, response.content
    rows = BatchRow.objects.filter(batch_id=response.json()["batchId"]).order_by("index")
    assert [r.inputs for r in rows] == [
        {"prompt": "a red fox", "style": "photo", "count": "3"},
        {"prompt": "a fox, sketched", "style": "sketch"}]
    assert Batch.objects.get(pk=response.json()["batchId"]).concurrency == 1


def test_a_csv_file_over_the_json_body_limit_is_accepted(api: ApiClient, workflow_id: str,
                                                         settings: Settings) -> None:
    settings.BATCH_MAX_ROWS = 1000
    cell = "x" * 300
    text = "Prompt\n" + "".join(f"{cell}{i}\n" for i in range(1000))
    assert len(text) > settings.API_MAX_BODY_BYTES
    response = post_csv(api, workflow_id, text)
    assert response.status_code == 201, response.content
    assert response.json()["total"] == 1000


def test_a_json_body_over_the_limit_is_still_413(api: ApiClient, workflow_id: str,
                                                 settings: Settings) -> None:
    rows = [{"Prompt": "x" * 300} for _ in range(1000)]
    response = create_batch(api, workflow_id, rows)
    assert error_of(response) == (413, "payload_too_large")


def test_a_csv_file_over_its_limit_is_413(api: ApiClient, workflow_id: str,
                                          settings: Settings) -> None:
    settings.BATCH_CSV_MAX_BYTES = 1000
    response = post_csv(api, workflow_id, "Prompt\n" + "a fox\n" * 400)
    assert error_of(response) == (413, "payload_too_large")
    assert not Batch.objects.exists()


# --- Bounds and bad input ---------------------------------------------------------------------

def test_1001_rows_are_refused(api: ApiClient, workflow_id: str) -> None:
    response = create_batch(api, workflow_id, [{"Prompt": "a"}] * 1001)
    assert error_of(response) == (400, "invalid_request")
    assert "Too many rows: 1001 (at most 1000)" in response.json()["error"]
    assert not Batch.objects.exists()


def test_1001_csv_rows_are_refused(api: ApiClient, workflow_id: str) -> None:
    response = post_csv(api, workflow_id, "Prompt\n" + "a\n" * 1001)
    assert error_of(response) == (400, "invalid_request")
    assert "Too many rows" in response.json()["error"]


@pytest.mark.parametrize("concurrency", [0, 51, -1])
def test_a_concurrency_out_of_1_to_50_is_refused(api: ApiClient, workflow_id: str,
                                                 concurrency: int) -> None:
    response = create_batch(api, workflow_id, fox_rows(2), concurrency=concurrency)
    assert error_of(response) == (400, "invalid_request")
    assert response.json()["error"] == "concurrency must be between 1 and 50"
    assert response.json()["fields"] == ["concurrency"]


def test_no_rows_is_refused(api: ApiClient, workflow_id: str) -> None:
    response = create_batch(api, workflow_id, [])
    assert error_of(response) == (400, "invalid_request")


@pytest.mark.parametrize("body", [{}, {"rows": "abc"}, {"rows": [1, 2]}, [],
                                  {"rows": [{}], "concurrency": "many"}])
def test_a_body_of_the_wrong_shape_is_400(api: ApiClient, workflow_id: str, body: object) -> None:
    response = api.post(f"/workflows/{workflow_id}/batches", body)
    assert error_of(response) == (400, "invalid_request")


def test_malformed_json_is_400_invalid_json(api: ApiClient, workflow_id: str) -> None:
    response = api.post(f"/workflows/{workflow_id}/batches", raw="{nope")
    assert error_of(response) == (400, "invalid_json")


def test_a_bad_row_is_400_naming_it(api: ApiClient, workflow_id: str) -> None:
    rows = [{"Prompt": "ok"}, {"Prompt": "ok"}, {"Nope": "x"}]
    response = create_batch(api, workflow_id, rows)
    assert error_of(response) == (400, "invalid_request")
    assert response.json()["error"].startswith("Row 3: Unknown input: Nope")
    assert response.json()["fields"] == ["rows.3"]
    assert not Batch.objects.exists()


def test_a_row_missing_a_required_input_is_400_naming_it(api: ApiClient) -> None:
    workflow = create_workflow(api, inputs_graph())
    response = create_batch(api, workflow["id"], [{"Style": "photo"}, {"Prompt": "no style"}])
    assert error_of(response) == (400, "invalid_request")
    assert response.json()["error"].startswith("Row 2: Missing required input: 'Style'")


def test_an_unknown_csv_column_is_400(api: ApiClient, workflow_id: str) -> None:
    response = post_csv(api, workflow_id, "Prompt,Colour\na fox,red\n")
    assert error_of(response) == (400, "invalid_request")
    assert "Row 1: Unknown input: Colour" in response.json()["error"]


@pytest.mark.parametrize(("text", "message"), [
    ("", "no header row"),
    ("Prompt,Prompt\na,b\n", "repeats a column: Prompt"),
    ("Prompt,\na,b\n", "empty column name"),
    ("Prompt\na,b\n", "more than the 1 columns"),
    ("Prompt\n\"unclosed\n", "cannot be read"),
    (b"Prompt\n\xff\xfe\n", "not UTF-8"),
    ("Prompt\n" + "x" * 70_000 + "\n", "a cell over"),
])
def test_a_bad_csv_is_400_saying_why(api: ApiClient, workflow_id: str, text: str | bytes,
                                     message: str) -> None:
    response = post_csv(api, workflow_id, text)
    assert error_of(response) == (400, "invalid_request")
    assert message in response.json()["error"]


def test_a_csv_request_without_a_file_is_400(api: ApiClient, workflow_id: str) -> None:
    response = api.client.post(f"/api/v1/workflows/{workflow_id}/batches",
                               {"concurrency": "2"}, headers=api._headers(None))
    assert error_of(response) == (400, "invalid_request")
    assert response.json()["fields"] == ["file"]


def test_a_malformed_multipart_body_is_400(api: ApiClient, workflow_id: str) -> None:
    response = api.client.post(f"/api/v1/workflows/{workflow_id}/batches", data=b"--x--",
                               content_type="multipart/form-data",
                               headers=api._headers(None))
    assert error_of(response) == (400, "invalid_request")


def test_a_csv_cell_postgres_cannot_store_is_400(api: ApiClient, workflow_id: str) -> None:
    response = post_csv(api, workflow_id, "Prompt\na\x00b\n")
    assert error_of(response) == (400, "invalid_request")


def test_an_inactive_workflow_is_409(api: ApiClient) -> None:
    workflow = create_workflow(api, isActive=False)
    response = create_batch(api, workflow["id"], fox_rows(1))
    assert error_of(response) == (409, "workflow_inactive")


def test_an_unknown_version_is_404(api: ApiClient, workflow_id: str) -> None:
    response = create_batch(api, workflow_id, fox_rows(1), version=99)
    assert response.status_code == 404
    assert response.json()["error"] == "Version not found"


def test_a_pinned_version_is_what_every_row_runs(api: ApiClient, workflow_id: str) -> None:
    response = create_batch(api, workflow_id, fox_rows(2), version=1)
    assert response.status_code == 201, response.content
    versions = {e.workflow_version.version if e.workflow_version else None
                for e in Execution.objects.filter(batch_row__batch_id=response.json()["batchId"])}
    assert versions == {1}


# --- Credits --------------------------------------------------------------------------------

def priced_graph() -> dict[str, Any]:
    """Prompt -> Nano Banana Pro (20 credits a run)."""
    nodes = [node("prompt", "input:text", "Prompt", text="a red fox"),
             node("gen", "generate:nano_banana_pro", "Generate", x=300)]
    edges = [{"id": "e1", "source": "prompt", "target": "gen", "sourceHandle": "out-text",
              "targetHandle": "in-prompt"}]
    return {"nodes": nodes, "edges": edges}


@pytest.fixture
def poor_team(team: Team) -> Team:
    """The owner's team with no credits but what a test grants."""
    from accounts.credits import credit_balance, credits_adjust

    credits_adjust(team, -credit_balance(team.pk), note="test: start at zero")
    return team


def test_credits_for_every_row_are_checked_up_front(api: ApiClient, poor_team: Team) -> None:
    credits_grant(poor_team, 50, note="test")
    workflow = create_workflow(api, priced_graph())
    response = create_batch(api, workflow["id"], fox_rows(3))
    assert response.status_code == 402
    assert response.json() == {
        "error": "Insufficient credits. Required: 60, Available: 50",
        "code": "insufficient_credits", "insufficientCredits": True,
        "requiredCredits": 60, "availableCredits": 50,
        "breakdown": [{"nodeId": "gen", "nodeLabel": "Generate",
                       "nodeType": "generate:nano_banana_pro", "credits": 60,
                       "billedBy": "platform"}]}
    assert not Batch.objects.exists() and not Execution.objects.exists()


def test_a_row_refused_for_credits_spent_meanwhile_fails_with_the_reason(api: ApiClient,
                                                                         poor_team: Team) -> None:
    from accounts.credits import credit_balance, credits_adjust

    credits_grant(poor_team, 40, note="test")
    workflow = create_workflow(api, priced_graph())
    body = create_batch(api, workflow["id"], fox_rows(2), concurrency=1).json()
    credits_adjust(poor_team, -credit_balance(poor_team.pk), note="spent elsewhere")
    first = BatchRow.objects.get(batch_id=body["batchId"], index=1)
    finish(str(first.execution_id))
    second = BatchRow.objects.get(batch_id=body["batchId"], index=2)
    assert second.status == RowStatus.FAILED and second.execution_id is None
    assert second.error.startswith("Insufficient credits")
    assert Batch.objects.get(pk=body["batchId"]).status == "COMPLETED"


# --- Scoping and roles ------------------------------------------------------------------------

def test_another_teams_workflow_is_404(api_for: Callable[..., ApiClient], stranger: User,
                                       workflow_id: str) -> None:
    response = create_batch(api_for(stranger), workflow_id, fox_rows(1))
    assert response.status_code == 404
    assert response.json()["error"] == "Workflow not found"


@pytest.mark.parametrize("path", ["", "/results.csv", "/results.zip"])
def test_another_teams_batch_is_404(api: ApiClient, api_for: Callable[..., ApiClient],
                                    stranger: User, workflow_id: str, path: str) -> None:
    batch_id = create_batch(api, workflow_id, fox_rows(1)).json()["batchId"]
    for batch in (batch_id, MISSING_ID, "not-a-uuid"):
        response = api_for(stranger).get(f"/batches/{batch}{path}")
        assert response.status_code == 404
        assert response.json() == {"error": "Batch not found", "code": "not_found"}


def test_another_teams_batch_cannot_be_cancelled(api: ApiClient, api_for: Callable[..., ApiClient],
                                                 stranger: User, workflow_id: str) -> None:
    batch_id = create_batch(api, workflow_id, fox_rows(3), concurrency=1).json()["batchId"]
    response = api_for(stranger).post(f"/batches/{batch_id}/cancel")
    assert response.status_code == 404
    assert Batch.objects.get(pk=batch_id).status == "RUNNING"


def test_a_viewer_may_read_a_batch_but_not_start_or_cancel_one(api: ApiClient,
                                                               api_for: Callable[..., ApiClient],
                                                               viewer: User,
                                                               workflow_id: str) -> None:
    batch_id = create_batch(api, workflow_id, fox_rows(2)).json()["batchId"]
    as_viewer = api_for(viewer, scopes=[WORKFLOWS_READ])
    assert as_viewer.get(f"/batches/{batch_id}").status_code == 200
    assert as_viewer.get(f"/batches/{batch_id}/results.csv").status_code == 200
    with_all_scopes = _session(viewer)
    response = with_all_scopes.post(f"/api/v1/workflows/{workflow_id}/batches",
                                    {"rows": fox_rows(1)}, content_type="application/json")
    assert error_of(response) == (403, "forbidden_role")
    response = with_all_scopes.post(f"/api/v1/batches/{batch_id}/cancel")
    assert error_of(response) == (403, "forbidden_role")
    assert Batch.objects.get(pk=batch_id).status == "RUNNING"


def _session(user: User) -> Any:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_a_teammate_may_start_and_cancel(api_for: Callable[..., ApiClient], teammate: User,
                                         workflow_id: str) -> None:
    as_teammate = api_for(teammate)
    batch_id = create_batch(as_teammate, workflow_id, fox_rows(2)).json()["batchId"]
    assert as_teammate.post(f"/batches/{batch_id}/cancel").status_code == 202


def test_a_key_without_the_execute_scope_cannot_start_a_batch(api_for: Callable[..., ApiClient],
                                                              owner: User,
                                                              workflow_id: str) -> None:
    response = create_batch(api_for(owner, scopes=[WORKFLOWS_READ]), workflow_id, fox_rows(1))
    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden: missing scope workflows:execute"


# --- Progress, cancel, results ------------------------------------------------------------

@pytest.mark.parametrize("after", ["batch_get_for_user", "batch_counts", "batch_rows_page"])
def test_a_batch_ending_while_it_is_read_shows_its_end_only_with_final_rows(
        api: ApiClient, workflow_id: str, monkeypatch: pytest.MonkeyPatch, after: str) -> None:
    """The last row's end (and with it the batch's) may commit between any two of a read's
    queries (the batch, its counts, its rows). Whichever: an ended status never stands beside
    a row still RUNNING (the Batch dialog stops following the batch there and would show that
    row so for good), and counts with every row done never stand beside a RUNNING status."""
    from executions import batch_selectors

    batch_id = create_batch(api, workflow_id, fox_rows(2), concurrency=2).json()["batchId"]
    first, last = BatchRow.objects.filter(batch_id=batch_id).order_by("index")
    finish(str(first.execution_id), text="one")
    real = getattr(batch_selectors, after)

    def then_the_end(*args: Any, **kwargs: Any) -> Any:
        read = real(*args, **kwargs)
        finish(str(last.execution_id), text="done")  # commits before the next query
        return read

    monkeypatch.setattr(batch_selectors, after, then_the_end)
    body = api.get(f"/batches/{batch_id}").json()
    monkeypatch.undo()
    statuses = [row["status"] for row in body["rows"]]
    if body["status"] != "RUNNING":
        assert statuses == ["COMPLETED", "COMPLETED"], body
        assert (body["completed"], body["running"]) == (2, 0) and body["finishedAt"], body
    else:
        assert body["running"] + body["pending"] > 0, body
    body = api.get(f"/batches/{batch_id}").json()  # and the next read is the end
    assert body["status"] == "COMPLETED" and [row["status"] for row in body["rows"]] == [
        "COMPLETED", "COMPLETED"]


def test_the_batch_shows_its_progress_and_rows_with_outputs(api: ApiClient,
                                                            workflow_id: str) -> None:
    batch_id = create_batch(api, workflow_id, fox_rows(3), concurrency=2).json()["batchId"]
    rows = {r.index: r for r in BatchRow.objects.filter(batch_id=batch_id)}
    finish(str(rows[1].execution_id), text="fox one done")
    finish(str(rows[2].execution_id), ExecutionStatus.FAILED, "Node 'x' failed: boom")
    body = api.get(f"/batches/{batch_id}").json()
    assert {k: body[k] for k in ("status", "total", "pending", "running", "completed",
                                 "failed", "cancelled")} == {
        "status": "RUNNING", "total": 3, "pending": 0, "running": 1, "completed": 1,
        "failed": 1, "cancelled": 0}
    first, second, third = body["rows"]
    assert first["status"] == "COMPLETED" and first["inputs"] == {"prompt": "fox 1"}
    assert first["outputs"] == [{"nodeId": "result", "label": "Result", "urls": [],
                                 "texts": ["fox one done"]}]
    assert second["status"] == "FAILED" and second["error"] == "Node 'x' failed: boom"
    assert third["status"] == "RUNNING" and third["executionId"]
    finish(third["executionId"], text="three")
    body = api.get(f"/batches/{batch_id}").json()
    assert body["status"] == "COMPLETED" and body["completed"] == 2 and body["finishedAt"]


def test_rows_are_paged_by_cursor(api: ApiClient, workflow_id: str) -> None:
    batch_id = create_batch(api, workflow_id, fox_rows(5)).json()["batchId"]
    first = api.get(f"/batches/{batch_id}?limit=2").json()
    assert [r["index"] for r in first["rows"]] == [1, 2] and first["nextCursor"]
    second = api.get(f"/batches/{batch_id}?limit=2&cursor={first['nextCursor']}").json()
    third = api.get(f"/batches/{batch_id}?limit=2&cursor={second['nextCursor']}").json()
    assert [r["index"] for r in second["rows"] + third["rows"]] == [3, 4, 5]
    assert third["nextCursor"] is None
    assert error_of(api.get(f"/batches/{batch_id}?cursor=abc")) == (400, "invalid_request")
    assert error_of(api.get(f"/batches/{batch_id}?limit=500")) == (400, "invalid_request")


def test_cancel_stops_pending_rows_and_cancels_running_executions(api: ApiClient,
                                                                  workflow_id: str) -> None:
    batch_id = create_batch(api, workflow_id, fox_rows(6), concurrency=2).json()["batchId"]
    response = api.post(f"/batches/{batch_id}/cancel")
    assert response.status_code == 202
    assert response.json() == {"batchId": batch_id, "status": "CANCELLED",
                               "message": "Batch cancelled"}
    rows = list(BatchRow.objects.filter(batch_id=batch_id).order_by("index"))
    assert [r.status for r in rows] == ["RUNNING"] * 2 + ["CANCELLED"] * 4
    assert all(Execution.objects.get(pk=str(r.execution_id)).cancel_requested for r in rows[:2])
    finish(str(rows[0].execution_id), ExecutionStatus.CANCELLED, "Cancelled")
    assert BatchRow.objects.get(pk=rows[0].pk).status == "CANCELLED"
    assert BatchRow.objects.filter(batch_id=batch_id, execution__isnull=False).count() == 2
    again = api.post(f"/batches/{batch_id}/cancel").json()
    assert again["message"] == "Batch already CANCELLED"


def test_results_csv_has_a_line_per_row_with_inputs_status_and_outputs(api: ApiClient,
                                                                       workflow_id: str) -> None:
    rows = [{"Prompt": "fox 1"}, {"Prompt": "=HYPERLINK(1)"}, {"Prompt": "fox 3"}]
    batch_id = create_batch(api, workflow_id, rows, concurrency=3).json()["batchId"]
    by_index = {r.index: r for r in BatchRow.objects.filter(batch_id=batch_id)}
    finish(str(by_index[1].execution_id), text="one")
    finish(str(by_index[2].execution_id), ExecutionStatus.FAILED, "boom")
    finish(str(by_index[3].execution_id), text="https://example.com/a.png")
    response = api.get(f"/batches/{batch_id}/results.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    lines = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["row"], r["prompt"], r["status"], r["error"], r["outputUrls"], r["outputTexts"])
            for r in lines] == [
        ("1", "fox 1", "COMPLETED", "", "", "one"),
        ("2", "'=HYPERLINK(1)", "FAILED", "boom", "", ""),
        ("3", "fox 3", "COMPLETED", "", "https://example.com/a.png", "")]
    assert lines[0]["executionId"] == str(by_index[1].execution_id)


def test_results_zip_is_a_zip_naming_files_by_row(api: ApiClient, workflow_id: str,
                                                  settings: Settings,
                                                  tmp_path: Path) -> None:
    import zipfile

    from executions.media import save_media

    settings.MEDIA_ROOT = str(tmp_path)
    url = save_media(b"\x89PNG fake", "png", "image/png")
    batch_id = create_batch(api, workflow_id, fox_rows(2)).json()["batchId"]
    by_index = {r.index: r for r in BatchRow.objects.filter(batch_id=batch_id)}
    finish(str(by_index[1].execution_id), text=url)
    finish(str(by_index[2].execution_id), text="no media")
    response = api.get(f"/batches/{batch_id}/results.zip")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == ["row-001-result.png"]
    assert archive.read("row-001-result.png") == b"\x89PNG fake"


def test_results_zip_lists_what_it_could_not_fetch(api: ApiClient, workflow_id: str) -> None:
    import zipfile

    batch_id = create_batch(api, workflow_id, fox_rows(1)).json()["batchId"]
    row = BatchRow.objects.get(batch_id=batch_id)
    finish(str(row.execution_id), text="http://127.0.0.1:1/private.png")
    response = api.get(f"/batches/{batch_id}/results.zip")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == ["MISSING.txt"]
    assert "row-001-result.png" in archive.read("MISSING.txt").decode()
