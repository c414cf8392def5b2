"""Execute, poll, details, cancel and history (mounted under /api/v1/workflows)."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status
from ninja.params import functions as param

from accounts.auth import EXECUTION, ApiAuth, caller_of
from accounts.permissions import Action, require_role, require_role_of
from accounts.scopes import EXECUTIONS_READ, WORKFLOWS_EXECUTE, WORKFLOWS_WRITE
from wireflow_site import ratelimit
from wireflow_site.errors import InvalidRequest
from wireflow_site.idempotency import OPENAPI as IDEMPOTENCY_OPENAPI
from wireflow_site.idempotency import idempotent
from wireflow_site.isotime import iso
from workflows.models import Workflow, WorkflowVersion
from workflows.schemas import COMMON_ERRORS, ErrorOut, InvalidGraphOut
from workflows.selectors import workflow_get_for_user, workflow_get_with_role
from workflows.versions import version_resolve

from . import presenters, selectors, services
from .estimate_api import InsufficientCreditsOut
from .models import Execution
from .schemas import CancelOut, DetailsOut, ExecuteIn, ExecuteOut, HistoryOut, HistoryQuery, PollOut

router = Router(tags=["executions"])
_NO_BODY = param.Body(None)  # every field is optional, so an empty body is a plain execute
_execute = ApiAuth(WORKFLOWS_EXECUTE)
_read = ApiAuth(EXECUTIONS_READ)



def _execution(request: HttpRequest, execution_id: str, *, for_poll: bool = False) -> Execution:
    caller = caller_of(request)
    find = selectors.execution_get_for_poll if for_poll else selectors.execution_get_for_user
    return find(caller.user, execution_id, team=caller.lookup_team)


def workflow_to_start(request: HttpRequest, workflow_id: str, *,
                      overrides_graph: bool = False) -> Workflow:
    """The workflow an execute or run starts, once the caller may: 404 unless it is theirs,
    403 forbidden_role for a viewer of its team, 403 for a key without workflows:write when the
    body replaces the graph (running a graph of one's own is writing one); then the execution
    is charged to the limits of the team that owns the workflow (429)."""
    caller = caller_of(request)
    workflow, role = workflow_get_with_role(caller.user, workflow_id, team=caller.lookup_team)
    require_role_of(role, Action.EXECUTE)
    if overrides_graph:
        caller.require_scope(WORKFLOWS_WRITE)
    ratelimit.enforce_execution_limits(workflow.team, request)
    return workflow


def version_to_run(workflow: Workflow, ref: int | str | None, *,
                   overrides_graph: bool = False) -> WorkflowVersion | None:
    """The version a body's `version` names (None: the current graph); 404 Version not found
    for an unknown one, 400 when the body also sends a graph of its own."""
    if ref is None:
        return None
    if overrides_graph:
        raise InvalidRequest("Send either a version or a graph (nodes, edges), not both",
                             fields=["version"])
    return version_resolve(workflow, ref)


def poll_url(execution: Execution) -> str:
    return f"/api/v1/workflows/executions/{execution.pk}/poll"


def started(execution: Execution, response: HttpResponse) -> Status[dict[str, Any]]:
    """The 201 of an execute (and of a re-run): the new execution, its poll URL as Location."""
    response["Location"] = poll_url(execution)
    start = iso(execution.started_at)
    return Status(201, {"executionId": str(execution.pk), "workflowId": str(execution.workflow_id),
                        "status": execution.status,
                        "executionRuns": [{"id": str(execution.pk), "status": execution.status,
                                           "startTime": start, "nodeRuns": []}]})


@router.post("/{workflow_id}/execute", auth=ApiAuth(WORKFLOWS_EXECUTE, counts=EXECUTION),
             response={201: ExecuteOut, 402: InsufficientCreditsOut, 404: ErrorOut,
                       409: ErrorOut, 422: InvalidGraphOut | ErrorOut, **COMMON_ERRORS},
             openapi_extra=IDEMPOTENCY_OPENAPI,
             summary="Execute a workflow; poll the Location URL for its progress")
@idempotent
def execute(request: HttpRequest, workflow_id: str, response: HttpResponse,
            payload: ExecuteIn | None = _NO_BODY) -> Any:
    caller = caller_of(request)
    body = payload or ExecuteIn.model_validate({})
    overrides = body.nodes is not None or body.edges is not None
    workflow = workflow_to_start(request, workflow_id, overrides_graph=overrides)
    version = version_to_run(workflow, body.version, overrides_graph=overrides)
    execution = services.execution_start(workflow, caller.user, services.ExecuteRequest(
        nodes=body.nodes, edges=body.edges, inputs=body.inputs,
        target_node_id=body.targetNodeId, trigger_data=body.triggerData,
        trigger=caller.trigger, version=version, force=body.force))
    return started(execution, response)


@router.get("/executions/{execution_id}/poll", auth=_read,
            response={200: PollOut, 404: ErrorOut, **COMMON_ERRORS},
            summary="The execution's status, per-node states and outputs")
def poll(request: HttpRequest, execution_id: str) -> Any:
    execution = _execution(request, execution_id, for_poll=True)
    return presenters.poll_shape(execution, selectors.node_runs_of(execution, for_poll=True))


@router.get("/executions/{execution_id}", auth=_read,
            response={200: DetailsOut, 404: ErrorOut, **COMMON_ERRORS},
            summary="Everything about one execution: the graph run, inputs, attempts")
def details(request: HttpRequest, execution_id: str) -> Any:
    execution = _execution(request, execution_id)
    return presenters.details_shape(execution, selectors.node_runs_of(execution))


@router.post("/executions/{execution_id}/cancel", auth=_execute,
             response={202: CancelOut, 404: ErrorOut, **COMMON_ERRORS},
             summary="Cancel a running execution, remote jobs included")
def cancel(request: HttpRequest, execution_id: str) -> Any:
    execution = _execution(request, execution_id)
    require_role(caller_of(request).user, execution.team, Action.EXECUTE)
    asked = services.execution_cancel(execution)
    message = "Cancellation requested" if asked else f"Execution already {execution.status}"
    return Status(202, {"executionId": str(execution.pk), "status": execution.status,
                        "message": message})


@router.get("/{workflow_id}/executions", auth=_read,
            response={200: HistoryOut, 404: ErrorOut, **COMMON_ERRORS},
            summary="The workflow's executions, newest first, paged by cursor")
def history(request: HttpRequest, workflow_id: str, query: Query[HistoryQuery]) -> Any:
    caller = caller_of(request)
    workflow = workflow_get_for_user(caller.user, workflow_id, team=caller.lookup_team)
    page, cursor = selectors.executions_for_workflow(workflow, status=query.status,
                                                     limit=query.limit, cursor=query.cursor)
    return {"executions": presenters.summaries(page), "nextCursor": cursor}
