"""Batches API (docs/api.md "Batches"), mounted at the API root: create a batch of runs from JSON
rows or a CSV file, follow it, cancel it, download its results."""

from typing import Any

from django.conf import settings
from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import Query, Router, Schema, Status
from pydantic import Field, ValidationError, field_validator

from accounts.auth import EXECUTION, ApiAuth, caller_of
from accounts.permissions import Action, require_role
from accounts.scopes import WORKFLOWS_EXECUTE, WORKFLOWS_READ
from wireflow_site.errors import ApiError, InvalidRequest
from wireflow_site.isotime import iso
from wireflow_site.jsonbody import MalformedJson, parse_json
from workflows.schemas import (
    COMMON_ERRORS,
    ErrorOut,
    InvalidGraphOut,
    VersionRef,
    storable,
    storable_json_problem,
)

from . import batch_results, batch_selectors, batches
from .api import version_to_run, workflow_to_start
from .estimate_api import InsufficientCreditsOut
from .models import Batch, BatchStatus, RowStatus

router = Router(tags=["batches"])
_read = ApiAuth(WORKFLOWS_READ)
_MULTIPART = "multipart/form-data"

_BODY_OPENAPI = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {
        "type": "object", "required": ["rows"],
        "properties": {
            "rows": {"type": "array", "items": {"type": "object"},
                     "description": "One object of inputs per run, keyed by input node id "
                                    "or label"},
            "concurrency": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5},
            "version": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}}},
    _MULTIPART: {"schema": {
        "type": "object", "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": "CSV, UTF-8; header row: input node ids or labels"},
            "concurrency": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5},
            "version": {"type": "string"}}}},
}}}


def _file_response(content_type: str) -> dict[str, Any]:
    return {"responses": {200: {"description": "The file, as an attachment", "content": {
        content_type: {"schema": {"type": "string", "format": "binary"}}}}}}


class BatchIn(Schema):
    rows: list[dict[str, Any]] = Field(description="One object of inputs per run")
    concurrency: int = Field(batches.DEFAULT_CONCURRENCY,
                             description="How many rows run at once (1-50)")
    version: VersionRef | None = Field(None, description="Run this saved version")

    @field_validator("rows")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class BatchCreatedOut(Schema):
    batchId: str
    workflowId: str
    total: int
    status: str


class NodeOutputOut(Schema):
    nodeId: str
    label: str
    urls: list[str]
    texts: list[str]


class BatchRowOut(Schema):
    index: int = Field(description="The row's number, from 1")
    inputs: dict[str, Any] = Field(description="The row's inputs, by input node id")
    executionId: str | None
    status: str
    error: str | None
    outputs: list[NodeOutputOut]


class BatchOut(Schema):
    batchId: str
    workflowId: str
    status: str
    total: int
    concurrency: int
    pending: int
    running: int
    completed: int
    failed: int
    cancelled: int
    creditsUsed: float
    createdAt: str | None
    finishedAt: str | None
    rows: list[BatchRowOut]
    nextCursor: str | None


class BatchQuery(Schema):
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=20)


class BatchCancelOut(Schema):
    batchId: str
    status: str
    message: str


@router.post("/workflows/{workflow_id}/batches",
             auth=ApiAuth(WORKFLOWS_EXECUTE, counts=EXECUTION),
             response={201: BatchCreatedOut, 402: InsufficientCreditsOut, 404: ErrorOut,
                       409: ErrorOut, 422: InvalidGraphOut | ErrorOut, **COMMON_ERRORS},
             openapi_extra=_BODY_OPENAPI,
             summary="Run the workflow once per row of inputs (JSON rows or a CSV file)")
def create_batch(request: HttpRequest, workflow_id: str) -> Any:
    caller = caller_of(request)
    workflow = workflow_to_start(request, workflow_id)
    body = _body(request)
    version = version_to_run(workflow, body.version)
    batch = batches.batch_create(workflow, caller.user, body.rows, body.concurrency, version)
    return Status(201, {"batchId": str(batch.pk), "workflowId": str(workflow.pk),
                        "total": batch.total, "status": batch.status})


def _body(request: HttpRequest) -> BatchIn:
    """The batch request: a JSON body, or a multipart form with the CSV `file`."""
    if request.content_type == _MULTIPART:
        return _csv_body(request)
    try:
        raw = parse_json(request.body or b"null")
    except MalformedJson:
        raise InvalidRequest("Malformed JSON body", code="invalid_json") from None
    if not isinstance(raw, dict):
        raise InvalidRequest("The body must be a JSON object with `rows`", fields=["body"])
    return _validated(raw)


def _csv_body(request: HttpRequest) -> BatchIn:
    try:
        upload = request.FILES.get("file")
    except MultiPartParserError as exc:
        raise InvalidRequest(f"Malformed multipart body: {exc}", fields=["file"]) from None
    if upload is None:
        raise InvalidRequest("Send the CSV as the multipart field `file`", fields=["file"])
    if upload.size is None or upload.size > settings.BATCH_CSV_MAX_BYTES:
        raise ApiError(f"The CSV file is over {settings.BATCH_CSV_MAX_BYTES} bytes",
                       code="payload_too_large", status=413)
    rows = batch_results.rows_from_csv(upload.read(settings.BATCH_CSV_MAX_BYTES + 1))
    problem = storable_json_problem(rows)
    if problem:
        raise InvalidRequest(f"The CSV file has a value that cannot be stored: {problem}",
                             fields=["file"])
    fields: dict[str, Any] = {"rows": rows}
    for name in ("concurrency", "version"):
        value = request.POST.get(name, "").strip()
        if value:
            fields[name] = value
    return _validated(fields)


def _validated(raw: dict[str, Any]) -> BatchIn:
    try:
        return BatchIn.model_validate(raw)
    except ValidationError as exc:
        names = sorted({".".join(str(p) for p in e["loc"][:1]) or "body" for e in exc.errors()})
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                            for e in exc.errors()[:10])
        raise InvalidRequest(f"Invalid request: {details}", fields=names) from None


@router.get("/batches/{batch_id}", auth=_read,
            response={200: BatchOut, 404: ErrorOut, **COMMON_ERRORS},
            summary="A batch's progress and its rows with their outputs, paged by cursor")
def get_batch(request: HttpRequest, batch_id: str, query: Query[BatchQuery]) -> Any:
    # The batch (its status) first, then its counts, then its rows: each read is at least as
    # new as the one before, and a batch's last rows and its end commit together. So a status
    # that says it ended comes with final counts and rows; read the other way round, a row
    # could still say RUNNING beside the batch's end, and a client that stops following it
    # there (the Batch dialog) would show it so for good. A status read as RUNNING beside
    # counts with no row left to run was read before the end committed: it is read again.
    batch = _batch(request, batch_id)
    counts = batch_selectors.batch_counts(batch)
    rows, cursor = batch_selectors.batch_rows_page(batch, limit=query.limit, cursor=query.cursor)
    if batch.status == BatchStatus.RUNNING and not (counts[RowStatus.PENDING]
                                                    or counts[RowStatus.RUNNING]):
        batch.refresh_from_db(fields=["status", "finished_at"])
    return _batch_shape(batch, counts, rows, cursor)


@router.post("/batches/{batch_id}/cancel", auth=ApiAuth(WORKFLOWS_EXECUTE),
             response={202: BatchCancelOut, 404: ErrorOut, **COMMON_ERRORS},
             summary="Cancel a batch: pending rows never start, running ones are cancelled")
def cancel_batch(request: HttpRequest, batch_id: str) -> Any:
    batch = _batch(request, batch_id)
    require_role(caller_of(request).user, batch.team, Action.EXECUTE)
    cancelled = batches.batch_cancel(batch)
    message = "Batch cancelled" if cancelled else f"Batch already {batch.status}"
    return Status(202, {"batchId": str(batch.pk), "status": batch.status, "message": message})


@router.get("/batches/{batch_id}/results.csv", auth=_read,
            response={200: None, 404: ErrorOut, **COMMON_ERRORS},
            openapi_extra=_file_response("text/csv"),
            summary="A CSV line per row: its inputs, status, output URLs and texts")
def results_csv(request: HttpRequest, batch_id: str) -> Any:
    batch = _batch(request, batch_id)
    lines = batch_results.results_csv(batch, batch_results.input_columns(batch))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-results.csv"'
    return response


@router.get("/batches/{batch_id}/results.zip", auth=_read,
            response={200: None, 404: ErrorOut, **COMMON_ERRORS},
            openapi_extra=_file_response("application/zip"),
            summary="The media files of the rows' outputs, named row-003-<nodeId>.png")
def results_zip(request: HttpRequest, batch_id: str) -> Any:
    batch = _batch(request, batch_id)
    return FileResponse(batch_results.results_zip(batch), as_attachment=True,
                        filename=f"batch-{batch.pk}-results.zip",
                        content_type="application/zip")


def _batch(request: HttpRequest, batch_id: str) -> Batch:
    caller = caller_of(request)
    return batch_selectors.batch_get_for_user(caller.user, batch_id, team=caller.lookup_team)


def _batch_shape(batch: Batch, counts: dict[str, Any], rows: list[Any],
                 cursor: str | None) -> dict[str, Any]:
    outputs = batch_selectors.outputs_of(rows)
    return {
        "batchId": str(batch.pk), "workflowId": str(batch.workflow_id), "status": batch.status,
        "total": batch.total, "concurrency": batch.concurrency,
        "pending": counts["PENDING"], "running": counts["RUNNING"],
        "completed": counts["COMPLETED"], "failed": counts["FAILED"],
        "cancelled": counts["CANCELLED"], "creditsUsed": counts["credits"],
        "createdAt": iso(batch.created_at), "finishedAt": iso(batch.finished_at),
        "rows": [{"index": row.index, "inputs": row.inputs,
                  "executionId": str(row.execution_id) if row.execution_id else None,
                  "status": row.status, "error": row.error or None,
                  "outputs": [o.as_json() for o in outputs.get(row.pk, [])]}
                 for row in rows],
        "nextCursor": cursor,
    }
