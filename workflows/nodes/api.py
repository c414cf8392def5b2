"""GET /api/v1/nodes: the node catalogue the editor builds its palette and forms from."""

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from accounts.auth import ApiAuth
from workflows.graph import PortType
from workflows.nodes import all_types, catalogue_entry
from workflows.nodes.registry import Category, CreditUnit, InputType
from workflows.schemas import COMMON_ERRORS

router = Router(tags=["nodes"])


class PortOut(Schema):
    id: str
    label: str
    type: PortType
    required: bool
    multiple: bool


class NodeTypeOut(Schema):
    nodeType: str
    label: str
    category: Category
    description: str
    inputs: list[PortOut]
    outputs: list[PortOut]
    paramsSchema: dict[str, Any]
    credits: float
    creditUnit: CreditUnit
    timeoutSeconds: int
    outputAliases: dict[str, str]
    inputParam: str | None = Field(
        description="Input nodes: the param a run input fills (null for other nodes)")
    inputType: InputType | None = Field(
        description="Input nodes: how a run asks for the value: text, image, url (a video or "
                    "audio file), number, boolean or select (one of params.options)")


class CatalogueOut(Schema):
    nodes: list[NodeTypeOut]


@router.get("", auth=ApiAuth(), response={200: CatalogueOut, **COMMON_ERRORS},
            summary="List node types")
def list_nodes(request: HttpRequest) -> dict[str, Any]:
    return {"nodes": [catalogue_entry(nt) for nt in all_types()]}
