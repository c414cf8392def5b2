"""A workflow's versions (docs/api.md "Versions"): the snapshot every save that changes the graph
makes, read, tagged with a semantic version, compared, and named by a run.

A version is named by its number (1, 2, 3 …; `3` or `"3"`) or by its tag (`"1.0.0"` or
`"v1.0.0"`). Tags are stored normalised, without the leading `v`, so `v1.0.0` and `1.0.0` are
the same tag. Restoring a version lives with the other graph writes (services.workflow_restore):
it is a save like any other, so validation, secret sealing and stale writes hold.
"""

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.expressions import RawSQL

from accounts.models import User
from accounts.permissions import Action, require_role
from wireflow_site.errors import Conflict, InvalidRequest, NotFound, Unprocessable

from .graph import STICKY_NODE_TYPE, STICKY_TYPE, is_sticky, node_type_of, params_of
from .models import Workflow, WorkflowVersion
from .node_secrets import PLACEHOLDER, redact_graph, secret_params
from .secretbox import reveal_param

TAG_MAX = 40  # WorkflowVersion.tag's column
NOTE_MAX = 500
MAX_NUMBER = 999_999_999  # version numbers are counted saves: far below the column's range
LIST_DEFAULT = 100
LIST_MAX = 500
NOT_FOUND = "Version not found"

_NUMBER = re.compile(r"[0-9]{1,9}")
_NUMERIC_ID = re.compile(r"0|[1-9][0-9]*")
_IDENTIFIER = re.compile(r"[0-9A-Za-z-]+")

VersionRef = int | str


# --- Semantic versions (semver.org 2.0.0) ----------------------------------------------------

def semver_normalised(text: str) -> str | None:
    """`text` without its optional leading `v` if it is a semantic version (MAJOR.MINOR.PATCH,
    an optional `-pre.release` and `+build.metadata`) of at most TAG_MAX characters, else None.

    Checked piece by piece with anchored character-class patterns (no nested quantifiers), on
    a length-bounded string: linear time whatever the input."""
    if len(text) > TAG_MAX + 1:
        return None
    bare = text[1:] if text.startswith("v") else text
    if not bare or len(bare) > TAG_MAX:
        return None
    rest, plus, build = bare.partition("+")
    if plus and not all(_IDENTIFIER.fullmatch(part) for part in build.split(".")):
        return None
    core, dash, pre_release = rest.partition("-")  # the core has no "-"; a pre-release may
    numbers = core.split(".")
    if len(numbers) != 3 or not all(_NUMERIC_ID.fullmatch(n) for n in numbers):
        return None
    if dash and not all(_pre_release_identifier(part) for part in pre_release.split(".")):
        return None
    return bare


def _pre_release_identifier(part: str) -> bool:
    if not _IDENTIFIER.fullmatch(part):
        return False
    # A numeric identifier must not have leading zeros ("01" is not allowed, "0a" is).
    return not part.isdigit() or _NUMERIC_ID.fullmatch(part) is not None


def tag_normalised(tag: str) -> str:
    """The tag as stored, or 422 invalid_version_tag."""
    normalised = semver_normalised(tag.strip())
    if normalised is None:
        raise Unprocessable(
            "tag must be a semantic version such as 1.4.0 (optionally v1.4.0, with a "
            f"-pre.release or +build suffix), at most {TAG_MAX} characters",
            code="invalid_version_tag", fields=["tag"])
    return normalised


def parse_ref(ref: Any) -> int | str | None:
    """A version number, a normalised tag, or None when `ref` can name no version."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ref if 1 <= ref <= MAX_NUMBER else None
    if not isinstance(ref, str):
        return None
    text = ref.strip()
    if _NUMBER.fullmatch(text):
        number = int(text)
        return number if number >= 1 else None
    return semver_normalised(text)


# --- Reads ------------------------------------------------------------------------------------

def version_find(workflow: Workflow, ref: Any) -> WorkflowVersion | None:
    parsed = parse_ref(ref)
    if parsed is None:
        return None
    found = workflow.versions.select_related("created_by")
    if isinstance(parsed, int):
        return found.filter(version=parsed).first()
    return found.filter(tag=parsed).first()


def version_resolve(workflow: Workflow, ref: Any) -> WorkflowVersion:
    """The version `ref` names (a number or a tag, as int or string), else 404."""
    version = version_find(workflow, ref)
    if version is None:
        raise NotFound(NOT_FOUND)
    return version


# Counted in SQL, so listing many versions never loads their graphs. Sticky notes are comments,
# not nodes (as workflows/graph.py treats them). Constant SQL; the two names are parameters.
class _Counted(RawSQL):
    """A count over a version's JSON graph, in PostgreSQL's dialect or, in the embedded mode,
    SQLite's (json_each and json_extract instead of the jsonb functions)."""

    def __init__(self, postgres: str, sqlite: str, params: tuple[str, ...]) -> None:
        super().__init__(postgres, params)
        self.sqlite = sqlite

    def as_sqlite(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        return f"({self.sqlite})", self.params


_NODE_COUNT = _Counted(
    "CASE WHEN jsonb_typeof(workflows_workflowversion.nodes) = 'array' THEN "
    "(SELECT count(*) FROM jsonb_array_elements(workflows_workflowversion.nodes) AS n(node) "
    "WHERE NOT coalesce(node->>'type' = %s OR node->'data'->>'nodeType' = %s, false)) "
    "ELSE 0 END",
    "CASE WHEN json_type(workflows_workflowversion.nodes) = 'array' THEN "
    "(SELECT count(*) FROM json_each(workflows_workflowversion.nodes) AS n "
    "WHERE NOT coalesce(json_extract(n.value, '$.type') = %s "
    "OR json_extract(n.value, '$.data.nodeType') = %s, 0)) "
    "ELSE 0 END", (STICKY_TYPE, STICKY_NODE_TYPE))
_EDGE_COUNT = _Counted(
    "CASE WHEN jsonb_typeof(workflows_workflowversion.edges) = 'array' THEN "
    "jsonb_array_length(workflows_workflowversion.edges) ELSE 0 END",
    "CASE WHEN json_type(workflows_workflowversion.edges) = 'array' THEN "
    "json_array_length(workflows_workflowversion.edges) ELSE 0 END", ())


@dataclass(frozen=True)
class VersionSummary:
    number: int
    tag: str
    note: str
    created_at: datetime
    created_by: str | None
    node_count: int
    edge_count: int

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "tag": self.tag or None, "note": self.note,
                "createdAt": self.created_at, "createdBy": self.created_by,
                "nodeCount": self.node_count, "edgeCount": self.edge_count}


def version_list(workflow: Workflow, *, limit: int = LIST_DEFAULT,
                 before: int | None = None) -> list[VersionSummary]:
    """The workflow's versions, newest first; `before` pages on (versions below that number)."""
    found = workflow.versions.all()
    if before is not None:
        found = found.filter(version__lt=before)
    rows = (found.order_by("-version")
            .annotate(node_count=_NODE_COUNT, edge_count=_EDGE_COUNT)
            .values_list("version", "tag", "note", "created_at", "created_by__email",
                         "node_count", "edge_count")[:limit])
    return [VersionSummary(*row) for row in rows]


def _summary(version: WorkflowVersion) -> VersionSummary:
    nodes = version.nodes if isinstance(version.nodes, list) else []
    edges = version.edges if isinstance(version.edges, list) else []
    return VersionSummary(
        number=version.version, tag=version.tag, note=version.note,
        created_at=version.created_at,
        created_by=version.created_by.email if version.created_by else None,
        node_count=sum(1 for n in nodes if not is_sticky(n)), edge_count=len(edges))


def version_out(version: WorkflowVersion, *, with_graph: bool = True) -> dict[str, Any]:
    """A version as the API shows it: its summary and, with the graph, its nodes (write-only
    params redacted, as GET /workflows/{id} shows them) and edges."""
    shown = _summary(version).as_json()
    if with_graph:
        shown.update(nodes=redact_graph(version.nodes), edges=version.edges)
    return shown


# --- Tags -------------------------------------------------------------------------------------

def _locked(workflow: Workflow) -> Workflow:
    """The workflow row, locked for this transaction: tag changes of one workflow queue up."""
    return Workflow.objects.select_for_update().get(pk=workflow.pk)


def _ensure_not_pinned(workflow: Workflow, version: WorkflowVersion, new_tag: str) -> None:
    if version.tag and version.tag != new_tag and workflow.webhook_version == version.tag:
        raise Conflict(f"Tag {version.tag} pins this workflow's webhook: pin the webhook to "
                       "another version first (workflow settings, or PUT webhookVersion)",
                       code="version_tag_pinned")


@transaction.atomic
def version_tag(workflow: Workflow, *, user: User, ref: Any, tag: str,
                note: str | None = None) -> WorkflowVersion:
    """Give the version `tag` (replacing a tag it had); `note` None keeps its note. Tagging a
    version with the tag it has is a no-op (the note still applies). 409 version_tag_taken
    when another version of the workflow has the tag."""
    require_role(user, workflow.team, Action.MODIFY)
    current = _locked(workflow)
    version = version_resolve(current, ref)
    normalised = tag_normalised(tag)
    if note is not None and len(note) > NOTE_MAX:
        raise InvalidRequest(f"note: at most {NOTE_MAX} characters", fields=["note"])
    holder = current.versions.filter(tag=normalised).exclude(pk=version.pk).first()
    if holder is not None:
        raise Conflict(f"Tag {normalised} is already on version {holder.version} of this "
                       "workflow", code="version_tag_taken")
    _ensure_not_pinned(current, version, normalised)
    version.tag = normalised
    if note is not None:
        version.note = note
    try:
        with transaction.atomic():  # the unique constraint is the last word
            version.save(update_fields=["tag", "note"])
    except IntegrityError:
        raise Conflict(f"Tag {normalised} is already on another version of this workflow",
                       code="version_tag_taken") from None
    return version


@transaction.atomic
def version_untag(workflow: Workflow, *, user: User, ref: Any) -> WorkflowVersion:
    """Take the version's tag off (its note stays). Untagged already: nothing changes."""
    require_role(user, workflow.team, Action.MODIFY)
    current = _locked(workflow)
    version = version_resolve(current, ref)
    _ensure_not_pinned(current, version, "")
    if version.tag:
        version.tag = ""
        version.save(update_fields=["tag"])
    return version


# --- The webhook's pinned version -------------------------------------------------------------

def webhook_pin(workflow: Workflow, ref: Any) -> str:
    """What Workflow.webhook_version stores for `ref`: "" (None or "": the current graph), the
    version number as a string, or the normalised tag. 400 when it names no version."""
    if ref is None or (isinstance(ref, str) and not ref.strip()):
        return ""
    version = version_find(workflow, ref)
    if version is None:
        raise InvalidRequest(f"{NOT_FOUND}: webhookVersion names no version of this workflow "
                             "(a version number or a tag)", fields=["webhookVersion"])
    parsed = parse_ref(ref)
    return parsed if isinstance(parsed, str) else str(version.version)


def webhook_pin_out(workflow: Workflow) -> int | str | None:
    """Workflow.webhook_version as the API shows it: a number, a tag, or null."""
    pinned = workflow.webhook_version
    if not pinned:
        return None
    return int(pinned) if _NUMBER.fullmatch(pinned) else pinned


@transaction.atomic
def workflow_webhook_version_set(workflow: Workflow, *, user: User, ref: Any) -> Workflow:
    """Pin the webhook to a version (None or "": run the current graph). Not a graph edit:
    version and updatedAt stay, as for the other webhook settings."""
    require_role(user, workflow.team, Action.MODIFY)
    current = _locked(workflow)
    pinned = webhook_pin(current, ref)
    if pinned != current.webhook_version:
        current.webhook_version = pinned
        current.save(update_fields=["webhook_version"])
    return current


# --- Diff -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Graph:
    nodes: dict[str, dict[str, Any]]
    edges: dict[str, tuple[Any, ...]]


def _graph_of(version: WorkflowVersion) -> _Graph:
    nodes: dict[str, dict[str, Any]] = {}
    for node in version.nodes if isinstance(version.nodes, list) else []:
        if isinstance(node, dict) and isinstance(node.get("id"), str):
            nodes.setdefault(node["id"], node)
    edges: dict[str, tuple[Any, ...]] = {}
    for edge in version.edges if isinstance(version.edges, list) else []:
        if isinstance(edge, dict) and isinstance(edge.get("id"), str):
            edges.setdefault(edge["id"], tuple(_canonical(edge.get(key)) for key in
                                               ("source", "target", "sourceHandle",
                                                "targetHandle")))
    return _Graph(nodes, edges)


def _canonical(value: Any) -> str:
    """JSON text that tells apart what Python's == confuses (1 and true) and ignores key order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _data(node: dict[str, Any]) -> dict[str, Any]:
    data = node.get("data")
    return data if isinstance(data, dict) else {}


def _secret_shown(value: Any) -> Any:
    """A write-only param in a diff: PLACEHOLDER when set, never its value."""
    return PLACEHOLDER if isinstance(value, str) and value else value


def _secret_plain(value: Any) -> Any:
    return reveal_param(value) if isinstance(value, str) and value else value


def _node_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """label, nodeType and each param that differ; a move on the canvas is not a change."""
    changes: dict[str, dict[str, Any]] = {}
    for key in ("label", "nodeType"):
        before, after = _data(old).get(key), _data(new).get(key)
        if _canonical(before) != _canonical(after):
            changes[key] = {"from": before, "to": after}
    secret = secret_params(node_type_of(old)) | secret_params(node_type_of(new))
    old_params, new_params = params_of(old) or {}, params_of(new) or {}
    for name in [*old_params, *(n for n in new_params if n not in old_params)]:
        before, after = old_params.get(name), new_params.get(name)
        if name in secret:
            if _secret_plain(before) != _secret_plain(after):
                changes[f"params.{name}"] = {"from": _secret_shown(before),
                                             "to": _secret_shown(after)}
        elif _canonical(before) != _canonical(after):
            changes[f"params.{name}"] = {"from": before, "to": after}
    return changes


def version_diff(a: WorkflowVersion, b: WorkflowVersion) -> dict[str, Any]:
    """What changed from `a` to `b`. Nodes and edges are matched by id; an edge whose ends or
    handles changed under the same id is listed as removed and added."""
    old, new = _graph_of(a), _graph_of(b)
    changed = []
    for node_id, node in old.nodes.items():
        if node_id in new.nodes:
            changes = _node_changes(node, new.nodes[node_id])
            if changes:
                changed.append({"nodeId": node_id, "changes": changes})
    return {
        "nodesAdded": [node_id for node_id in new.nodes if node_id not in old.nodes],
        "nodesRemoved": [node_id for node_id in old.nodes if node_id not in new.nodes],
        "nodesChanged": changed,
        "edgesAdded": [edge_id for edge_id, ends in new.edges.items()
                       if old.edges.get(edge_id) != ends],
        "edgesRemoved": [edge_id for edge_id, ends in old.edges.items()
                         if new.edges.get(edge_id) != ends],
    }
