"""Request and response shapes of the versions API (docs/api.md "Versions")."""

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import BaseModel, Field, field_validator

from .schemas import NO_NUL, Edge, Node, Timestamp, storable
from .versions import LIST_DEFAULT, LIST_MAX, MAX_NUMBER, NOTE_MAX


class VersionSummaryOut(Schema):
    number: int
    tag: str | None = Field(description="A semantic version (stored without a leading v), "
                                        "or null when the version is untagged")
    note: str
    createdAt: Timestamp
    createdBy: str | None = Field(description="The email of who saved it, if known")
    nodeCount: int = Field(description="Nodes, not counting sticky notes")
    edgeCount: int


class VersionOut(VersionSummaryOut):
    nodes: list[Node] = Field(description="Write-only params read as a placeholder")
    edges: list[Edge]


class VersionListOut(Schema):
    versions: list[VersionSummaryOut]


class VersionListQuery(Schema):
    limit: int = Field(LIST_DEFAULT, ge=1, le=LIST_MAX)
    before: int | None = Field(None, ge=1, le=MAX_NUMBER + 1,
                               description="Only versions numbered below this (paging)")


class TagIn(BaseModel):
    tag: str = Field(max_length=200, description="A semantic version: 1.4.0, v1.4.0, "
                                                 "2.0.0-rc.1, 1.0.0+build.5")
    note: str | None = Field(None, max_length=NOTE_MAX, pattern=NO_NUL,
                             description="Left out: the version's note is kept")

    @field_validator("note")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class RestoreIn(BaseModel):
    baseUpdatedAt: datetime | None = Field(
        None, description="The updatedAt the client last saw; a newer one on the server is 409")


class NodeChangeOut(Schema):
    nodeId: str
    changes: dict[str, dict[str, Any]] = Field(
        description='{"params.<name>" | "label" | "nodeType": {"from", "to"}}; a write-only '
                    "param shows a placeholder, never its value")


class DiffOut(Schema):
    nodesAdded: list[str]
    nodesRemoved: list[str]
    nodesChanged: list[NodeChangeOut]
    edgesAdded: list[str]
    edgesRemoved: list[str]
