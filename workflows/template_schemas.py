"""Request and response shapes of the templates API (docs/api.md "Templates"), and their
builders."""

from typing import Any, Literal

from ninja import Schema
from pydantic import BaseModel, Field, field_validator

from executions.run_api import RunInputOut
from executions.run_inputs import run_inputs

from . import services
from . import templates as gallery
from .models import Template, TemplateScope
from .schemas import NO_NUL, Edge, Node, Tag, Timestamp, storable

NAME_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"  # at least one visible character, no NUL
PublishScope = Literal["team", "public"]


# --- Requests -----------------------------------------------------------------------------

class TemplateListQuery(Schema):
    scope: str | None = Field(None, max_length=10, description="starter | team | public")
    q: str | None = Field(None, max_length=gallery.QUERY_MAX, pattern=NO_NUL,
                          description="Words in the name or description")
    tag: str | None = Field(None, max_length=gallery.TAG_MAX, pattern=NO_NUL)
    limit: int = Field(50, ge=1, le=100)
    cursor: str | None = Field(None, max_length=gallery.CURSOR_MAX, pattern=NO_NUL,
                               description="The nextCursor of the previous page")

    @field_validator("scope")
    @classmethod
    def _known_scope(cls, value: str | None) -> str | None:
        if value and value not in TemplateScope.values:
            raise ValueError("must be starter, team or public")
        return value or None


class _CardIn(BaseModel):
    name: str | None = Field(None, max_length=gallery.NAME_MAX, pattern=NAME_PATTERN)
    description: str | None = Field(None, max_length=gallery.DESCRIPTION_MAX, pattern=NO_NUL)
    tags: list[Tag] | None = Field(None, max_length=gallery.TAGS_MAX)

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None

    @field_validator("name", "description", "tags")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class TemplatePublishIn(_CardIn):
    workflowId: str = Field(max_length=100, description="The workflow whose graph to publish")
    scope: PublishScope = Field(description="team: the workflow's team; public: every account "
                                            "on this instance (if the operator allows it)")


class TemplateUpdateIn(_CardIn):
    scope: PublishScope | None = None
    workflowId: str | None = Field(
        None, max_length=100,
        description="Republish from this workflow's current graph: version + 1")


class TemplateUseIn(BaseModel):
    name: str | None = Field(None, max_length=gallery.NAME_MAX, pattern=NAME_PATTERN,
                             description="The new workflow's name (default: the template's)")

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return storable(value.strip()) if value is not None else None


# --- Responses ----------------------------------------------------------------------------

class TemplateAuthorOut(Schema):
    name: str = Field(description="Their name, else their email address before the @")
    team: str | None = Field(description="The publishing team's name")


class TemplateSummaryOut(Schema):
    id: str
    name: str
    description: str
    tags: list[str]
    scope: str = Field(description="starter | team | public")
    teamId: int | None = Field(description="None for the starter templates")
    author: TemplateAuthorOut | None = Field(description="None for the starter templates")
    nodeCount: int = Field(description="Nodes that run (sticky notes not counted)")
    inputs: list[RunInputOut] = Field(description="As GET /workflows/{id}/run's inputs")
    estimatedCredits: float
    previewUrl: str | None = Field(description="The first image (else video) of the source "
                                               "workflow's last completed run")
    version: int
    useCount: int
    createdAt: Timestamp
    updatedAt: Timestamp


class TemplateOut(TemplateSummaryOut):
    nodes: list[Node]
    edges: list[Edge]


class TemplateListOut(Schema):
    templates: list[TemplateSummaryOut]
    nextCursor: str | None


class TemplateUseOut(Schema):
    id: str
    name: str
    url: str = Field(description="The new workflow's editor page")


def template_summary(template: Template, preview: gallery.Preview | None) -> dict[str, Any]:
    return {
        "id": str(template.pk), "name": template.name, "description": template.description,
        "tags": template.tags, "scope": template.scope, "teamId": template.team_id,
        "author": gallery.author_of(template), "nodeCount": gallery.node_count(template.nodes),
        "inputs": [i.as_json() for i in run_inputs(template.nodes)],
        "estimatedCredits": services.estimate_credits(template.nodes),
        "previewUrl": preview.url if preview else None, "version": template.version,
        "useCount": template.use_count, "createdAt": template.created_at,
        "updatedAt": template.updated_at,
    }


def template_out(template: Template) -> dict[str, Any]:
    preview = gallery.previews([template]).get(template.pk)
    return {**template_summary(template, preview), "nodes": template.nodes,
            "edges": template.edges}


def template_list_out(page: gallery.TemplatePage) -> dict[str, Any]:
    found = gallery.previews(page.templates)
    return {"templates": [template_summary(t, found.get(t.pk)) for t in page.templates],
            "nextCursor": page.next_cursor}
