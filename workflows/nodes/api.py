"""GET /api/v1/nodes: the node catalogue the editor builds its palette and forms from."""

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from accounts.auth import ApiAuth
from workflows.nodes import all_types, catalogue_entry
from workflows.schemas import COMMON_ERRORS

router = Router(tags=["nodes"])


class PortOut(Schema):
    id: str
    label: str
    type: str
    required: bool
    multiple: bool


class NodeTypeOut(Schema):
    nodeType: str
    label: str
    category: str
    description: str
    inputs: list[PortOut]
    outputs: list[PortOut]
    paramsSchema: dict[str, Any]
    credits: float
    creditUnit: str
    timeoutSeconds: int
    outputAliases: dict[str, str]


class CatalogueOut(Schema):
    nodes: list[NodeTypeOut]


@router.get("", auth=ApiAuth(), response={200: CatalogueOut, **COMMON_ERRORS},
            summary="List node types")
def list_nodes(request: HttpRequest) -> dict[str, Any]:
    return {"nodes": [catalogue_entry(nt) for nt in all_types()]}
