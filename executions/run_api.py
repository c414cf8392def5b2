"""Run with inputs (docs/api.md): GET describes a workflow's inputs, POST starts a run with them.
Mounted under /api/v1/workflows."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Router, Status
from ninja.params import functions as param
from pydantic import BaseModel, Field, field_validator

from accounts.auth import EXECUTION, ApiAuth, caller_of
from accounts.scopes import WORKFLOWS_EXECUTE
from wireflow_site.idempotency import OPENAPI as IDEMPOTENCY_OPENAPI
from wireflow_site.idempotency import idempotent
from workflows.schemas import (
    COMMON_ERRORS,
    ErrorOut,
    InvalidGraphOut,
    VersionRef,
    storable_json_problem,
)
from workflows.selectors import workflow_get_for_user

from . import services
from .api import poll_url, version_to_run, workflow_to_start
from .estimate_api import InsufficientCreditsOut
from .run_inputs import example_inputs, require_inputs, run_inputs

router = Router(tags=["executions"])
_NO_BODY = param.Body(None)  # a workflow without required inputs runs with an empty body
_VERSION_QUERY = param.Query(None, max_length=50,
                       description="Describe this saved version's inputs (a number or a tag)")


class RunInputOut(BaseModel):
    nodeId: str
    label: str
    type: str = Field(description="text | image | url | number | boolean | select")
    required: bool
    default: Any = Field(None, description="Present when the node has a value of its own")
    options: list[str] | None = Field(None, description="Present for select inputs")


class RunDescriptionOut(BaseModel):
    workflowId: str
    workflowName: str
    inputs: list[RunInputOut]
    endpoint: str
    method: str
    example: dict[str, Any]


class RunIn(BaseModel):
    inputs: dict[str, Any] = Field(default_factory=dict,
                                   description="Values for input nodes, by node id or label.")
    version: VersionRef | None = Field(
        default=None, description="Run this saved version (a number or a tag) instead of the "
                                  "current graph. Unknown: 404.")

    @field_validator("inputs")
    @classmethod
    def _storable(cls, value: dict[str, Any]) -> dict[str, Any]:
        problem = storable_json_problem(value)
        if problem:
            raise ValueError(f"value {problem}")
        return value


class RunOut(BaseModel):
    executionId: str
    status: str



@router.get("/{workflow_id}/run", auth=ApiAuth(WORKFLOWS_EXECUTE),
            response={200: RunDescriptionOut, 404: ErrorOut, **COMMON_ERRORS},
            exclude_unset=True, summary="Describe the inputs a run of this workflow takes")
def describe_run(request: HttpRequest, workflow_id: str,
                 version: str | None = _VERSION_QUERY) -> Any:
    caller = caller_of(request)
    workflow = workflow_get_for_user(caller.user, workflow_id, team=caller.lookup_team)
    pinned = version_to_run(workflow, version)
    inputs = run_inputs(pinned.nodes if pinned is not None else workflow.nodes)
    return {"workflowId": str(workflow.pk), "workflowName": workflow.name,
            "inputs": [i.as_json() for i in inputs],
            "endpoint": f"{settings.SITE_URL}/api/v1/workflows/{workflow.pk}/run",
            "method": "POST", "example": {"inputs": example_inputs(inputs)}}


@router.post("/{workflow_id}/run", auth=ApiAuth(WORKFLOWS_EXECUTE, counts=EXECUTION),
             response={202: RunOut, 402: InsufficientCreditsOut, 404: ErrorOut, 409: ErrorOut,
                       422: InvalidGraphOut | ErrorOut, **COMMON_ERRORS},
             openapi_extra=IDEMPOTENCY_OPENAPI,
             summary="Run the workflow with these inputs; poll the Location URL for progress")
@idempotent
def run(request: HttpRequest, workflow_id: str, response: HttpResponse,
        payload: RunIn | None = _NO_BODY) -> Any:
    caller = caller_of(request)
    workflow = workflow_to_start(request, workflow_id)
    body = payload or RunIn()
    version = version_to_run(workflow, body.version)
    nodes = version.nodes if version is not None else workflow.nodes
    require_inputs(run_inputs(nodes), services.resolve_inputs(nodes, body.inputs, strict=True))
    execution = services.execution_start(workflow, caller.user, services.ExecuteRequest(
        inputs=body.inputs, trigger=caller.trigger, version=version))
    response["Location"] = poll_url(execution)
    return Status(202, {"executionId": str(execution.pk), "status": execution.status})
