"""Runs API (mounted at the API root, paths as docs/api.md gives them): the team's executions, and
re-running one (all of it, or from failed)."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from ninja.params import functions as param
from pydantic import Field, StrictBool, field_validator

from accounts.auth import EXECUTION, ApiAuth, caller_of
from accounts.scopes import EXECUTIONS_READ, WORKFLOWS_EXECUTE
from wireflow_site.idempotency import OPENAPI as IDEMPOTENCY_OPENAPI
from wireflow_site.idempotency import idempotent
from workflows.schemas import COMMON_ERRORS, ErrorOut, InvalidGraphOut
from workflows.selectors import workflow_get_for_user

from . import presenters, reruns, runs_selectors, selectors
from .api import started, workflow_to_start
from .estimate_api import InsufficientCreditsOut
from .models import ExecutionStatus, Trigger
from .runs_selectors import parse_moment
from .schemas import ExecuteOut, HistoryOut, ObjectBody

router = Router(tags=["runs"])
_NO_BODY = param.Body(None)  # fromFailed is optional, so an empty body is a plain re-run


class RunsQuery(Schema):
    workflowId: str | None = Field(None, max_length=100)
    status: ExecutionStatus | None = None
    trigger: Trigger | None = None
    since: str | None = Field(None, max_length=40, description="ISO 8601 date or date-time")
    until: str | None = Field(None, max_length=40, description="ISO 8601 date or date-time "
                                                                "(a date: up to its end)")
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, max_length=500)

    @field_validator("since", "until")
    @classmethod
    def _a_moment(cls, value: str | None) -> str | None:
        try:
            parse_moment(value)
        except ValueError:
            raise ValueError("expected an ISO 8601 date or date-time") from None
        return value

    @field_validator("status", "trigger", "workflowId", "cursor", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class RerunIn(ObjectBody):
    fromFailed: StrictBool = Field(False, description="Keep the outputs of the nodes that "
                                                      "completed (not charged again); run the "
                                                      "rest again.")


@router.get("/executions", auth=ApiAuth(EXECUTIONS_READ),
            response={200: HistoryOut, 404: ErrorOut, **COMMON_ERRORS},
            summary="The team's executions, newest first, filtered and paged by cursor")
def runs(request: HttpRequest, query: Query[RunsQuery]) -> Any:
    caller = caller_of(request)
    workflow = (workflow_get_for_user(caller.user, query.workflowId, team=caller.team)
                if query.workflowId else None)
    filters = runs_selectors.RunFilter(
        workflow_id=str(workflow.pk) if workflow else None, status=query.status,
        trigger=query.trigger,
        since=parse_moment(query.since), until=parse_moment(query.until, end_of_day=True))
    page, cursor = runs_selectors.executions_for_team(caller.team, filters, limit=query.limit,
                                                      cursor=query.cursor)
    return {"executions": presenters.summaries(page), "nextCursor": cursor}


@router.post("/workflows/executions/{execution_id}/rerun",
             auth=ApiAuth(WORKFLOWS_EXECUTE, counts=EXECUTION),
             response={201: ExecuteOut, 402: InsufficientCreditsOut, 404: ErrorOut,
                       409: ErrorOut, 422: InvalidGraphOut | ErrorOut, **COMMON_ERRORS},
             openapi_extra=IDEMPOTENCY_OPENAPI,
             summary="Run an execution again: the same graph, inputs and version")
@idempotent
def rerun(request: HttpRequest, execution_id: str, response: HttpResponse,
          payload: RerunIn | None = _NO_BODY) -> Any:
    caller = caller_of(request)
    body = payload or RerunIn(fromFailed=False)
    original = selectors.execution_get_for_user(caller.user, execution_id,
                                                team=caller.lookup_team)
    workflow = workflow_to_start(request, str(original.workflow_id))
    execution = reruns.execution_rerun(original, workflow, caller.user, trigger=caller.trigger,
                                       from_failed=body.fromFailed)
    return started(execution, response)
