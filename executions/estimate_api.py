"""What an execute would cost (mounted under /api/v1/workflows): POST /{id}/estimate."""

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.params import functions as param

from accounts.auth import ApiAuth, caller_of
from accounts.credits import as_number
from accounts.scopes import WORKFLOWS_READ
from workflows.schemas import COMMON_ERRORS, ErrorOut, InvalidGraphOut
from workflows.selectors import workflow_get_for_user
from workflows.versions import version_resolve

from . import services
from .schemas import ExecuteIn

router = Router(tags=["executions"])
_NO_BODY = param.Body(None)  # the same optional body as execute; without one, the saved graph

# A JSON number: whole amounts are sent as integers (20), fractional ones as decimals (12.5).
Credits = int | float


class LineItemOut(Schema):
    nodeId: str
    nodeLabel: str
    nodeType: str
    credits: Credits
    billedBy: Literal["platform", "team"] = Field(
        "platform", description='"team": runs on the team\'s own provider key, 0 credits')


class InsufficientCreditsOut(ErrorOut):
    """The 402 of execute, run and webhook triggers: the estimate exceeds the balance."""

    insufficientCredits: bool
    requiredCredits: Credits
    availableCredits: Credits
    breakdown: list[LineItemOut]


class EstimateOut(Schema):
    workflowId: str
    estimatedCredits: Credits = Field(description="What executing would reserve")
    availableCredits: Credits = Field(description="The workflow's team's balance now")
    sufficient: bool
    breakdown: list[LineItemOut] = Field(description="The nodes that cost credits")


@router.post("/{workflow_id}/estimate", auth=ApiAuth(WORKFLOWS_READ),
             response={200: EstimateOut, 404: ErrorOut, 422: InvalidGraphOut, **COMMON_ERRORS},
             summary="Estimate the credits an execute with this body would reserve")
def estimate(request: HttpRequest, workflow_id: str, payload: ExecuteIn | None = _NO_BODY) -> Any:
    caller = caller_of(request)
    workflow = workflow_get_for_user(caller.user, workflow_id, team=caller.lookup_team)
    body = payload or ExecuteIn.model_validate({})
    # Inputs do not change the price (params do), so they are accepted but not checked here.
    version = version_resolve(workflow, body.version) if body.version is not None else None
    found = services.execution_estimate(workflow, services.ExecuteRequest(
        nodes=body.nodes, edges=body.edges, target_node_id=body.targetNodeId, version=version))
    return {"workflowId": str(workflow.pk), "estimatedCredits": as_number(found.total),
            "availableCredits": as_number(found.available),
            "sufficient": found.total <= found.available,
            "breakdown": [item.as_json() for item in found.items]}
