"""Writes for workflows: create, update, delete, duplicate; the demo account and estimates."""

import copy
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Team, User
from accounts.permissions import Action, require_role
from accounts.selectors import current_team_for_user
from accounts.services import user_setup_personal_team
from wireflow_site.errors import Conflict, InvalidGraph, NotFound
from wireflow_site.isotime import iso

from . import graph, node_secrets, schemas, secretbox, versions
from .models import Template, Workflow, WorkflowVersion
from .nodes import catalogue

NAME_MAX = schemas.NAME_MAX
COPY_SUFFIX = " (copy)"
WEBHOOK_ID_BYTES = 24  # 192 random bits: a webhook id cannot be guessed
TEMPLATES_DIR = Path(__file__).resolve().parent / "starter_templates"
DEMO_EMAIL = "demo@wireflow.local"
DEMO_PASSWORD = "wireflow-demo"  # noqa: S105 - the public demo login, printed by `make dev`


@dataclass(frozen=True)
class WorkflowData:
    """What a client sends. None means "not sent": a default on create, unchanged on update."""

    name: str
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    description: str | None = None
    tags: list[str] | None = None
    is_active: bool | None = None
    webhook_enabled: bool | None = None
    webhook_secret: str | None = None  # "" clears it
    webhook_version: str | int | None = None  # a version number or tag; "" = current graph


# --- Times --------------------------------------------------------------------------------

def _to_ms(moment: datetime) -> datetime:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.replace(microsecond=aware.microsecond // 1000 * 1000)


def _next_updated_at(previous: datetime | None) -> datetime:
    """Now at millisecond resolution (what clients see), but always later than the previous
    value, so two saves within one millisecond still make an older baseUpdatedAt stale."""
    now = _to_ms(timezone.now())
    if previous is not None and now <= _to_ms(previous):
        return _to_ms(previous) + timedelta(milliseconds=1)
    return now


# --- The graph ----------------------------------------------------------------------------

def graph_lint(nodes: list[Any], edges: list[Any]) -> tuple[list[dict[str, Any]],
                                                            list[dict[str, Any]]]:
    """(violations, warnings) as dicts. Pure; never raises on any JSON shape."""
    violations, warnings = graph.lint(nodes, edges, catalogue)
    return [v.to_dict() for v in violations], [w.to_dict() for w in warnings]


def _checked_graph(nodes: list[dict[str, Any]], edges: list[dict[str, Any]],
                   previous: list[dict[str, Any]]
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The graph as stored: write-only params sealed (a placeholder keeps what `previous`
    stored), validated, categories filled in."""
    nodes = node_secrets.seal_graph(nodes, previous)
    violations = graph.validate(nodes, edges, catalogue)
    if violations:
        raise InvalidGraph(violations=[v.to_dict() for v in violations])
    return _with_categories(nodes), copy.deepcopy(edges)


def _with_categories(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of the nodes with `data.category` taken from the catalogue (a sent one is
    ignored); every other key is kept exactly as sent."""
    filled = copy.deepcopy(nodes)
    for node in filled:
        spec = catalogue.get(graph.node_type_of(node) or "")
        if spec is not None:
            node["data"]["category"] = spec.category
    return filled


# --- Workflows ----------------------------------------------------------------------------

def _ensure_can_modify(user: User, team: Team) -> None:
    require_role(user, team, Action.MODIFY)


def _snapshot(workflow: Workflow, user: User | None, note: str = "") -> WorkflowVersion:
    return WorkflowVersion.objects.create(
        workflow=workflow, version=workflow.version, nodes=workflow.nodes, edges=workflow.edges,
        created_at=workflow.updated_at, created_by=user, note=note[:versions.NOTE_MAX])


@transaction.atomic
def workflow_create(*, user: User, team: Team, data: WorkflowData,
                    template: Template | None = None) -> Workflow:
    """`template`: the gallery template this workflow is made from (recorded with its version)."""
    _ensure_can_modify(user, team)
    nodes, edges = _checked_graph(data.nodes, data.edges, previous=[])
    now = _next_updated_at(None)
    workflow = Workflow.objects.create(
        team=team, created_by=user, name=data.name, description=data.description or "",
        nodes=nodes, edges=edges, tags=list(data.tags or []),
        is_active=True if data.is_active is None else data.is_active,
        created_at=now, updated_at=now, version=1,
        template=template, template_version=template.version if template else None)
    _snapshot(workflow, user)
    return workflow


@transaction.atomic
def workflow_update(workflow: Workflow, *, user: User, data: WorkflowData,
                    base_updated_at: datetime | None = None, note: str = "") -> Workflow:
    """Replace the workflow's fields and graph; 409 stale_write if someone saved since
    `base_updated_at`. The row is locked, so two racing saves cannot both pass the check.

    A save that changes the graph (nodes or edges, compared as stored: after sealing) makes a
    new version and its snapshot, with `note`; one that changes neither keeps the version and
    makes no snapshot. Either way updatedAt moves on, so an older baseUpdatedAt is stale."""
    _ensure_can_modify(user, workflow.team)
    current = Workflow.objects.select_for_update().get(pk=workflow.pk)
    if base_updated_at is not None and _to_ms(base_updated_at) != _to_ms(current.updated_at):
        raise Conflict("Workflow was modified since baseUpdatedAt", code="stale_write",
                       currentUpdatedAt=iso(current.updated_at),
                       yourBaseUpdatedAt=iso(base_updated_at))
    nodes, edges = _checked_graph(data.nodes, data.edges, previous=current.nodes)
    graph_changed = not _same_graph(nodes, edges, current.nodes, current.edges)
    if not graph_changed:  # keep the stored JSON (and the sealed secrets) exactly as it is
        nodes, edges = current.nodes, current.edges
    _apply(current, data, nodes, edges)
    webhook_fields = _apply_webhook(current, enabled=data.webhook_enabled,
                                    secret=data.webhook_secret)
    if graph_changed:
        current.version += 1
    current.updated_at = _next_updated_at(current.updated_at)
    current.save(update_fields=["name", "description", "nodes", "edges", "tags", "is_active",
                                "version", "updated_at", *webhook_fields])
    if graph_changed:
        _snapshot(current, user, note)
    if data.webhook_version is not None:  # after the snapshot: the new version may be pinned
        pinned = versions.webhook_pin(current, data.webhook_version)
        if pinned != current.webhook_version:
            current.webhook_version = pinned
            current.save(update_fields=["webhook_version"])
    return current


def _same_graph(nodes: list[dict[str, Any]], edges: list[dict[str, Any]],
                stored_nodes: Any, stored_edges: Any) -> bool:
    """Whether a checked graph equals the stored one: as JSON (key order aside, 1 is not
    true), with write-only params compared by their plaintext (sealing the same secret twice
    gives two different ciphertexts)."""
    return (_canonical(edges) == _canonical(stored_edges)
            and _canonical(_revealed(nodes)) == _canonical(_revealed(stored_nodes)))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _secret_parts(node: Any) -> tuple[frozenset[str], dict[str, Any] | None]:
    """(the node's write-only param names, its params) — (empty, None) for any other node."""
    node_type, params = graph.node_type_of(node), graph.params_of(node)
    if node_type is None or params is None or not isinstance(node.get("id"), str):
        return frozenset(), None
    return node_secrets.secret_params(node_type), params


def _with_params(node: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    return {**node, "data": {**node["data"], "params": params}}


def _revealed(nodes: Any) -> Any:
    """The nodes with each sealed write-only param replaced by its plaintext (in memory only,
    for comparing)."""
    if not isinstance(nodes, list):
        return nodes
    shown = []
    for node in nodes:
        names, params = _secret_parts(node)
        if names and params is not None:
            node = _with_params(node, {
                key: secretbox.reveal_param(value) if key in names and isinstance(value, str)
                else value for key, value in params.items()})
        shown.append(node)
    return shown


@transaction.atomic
def workflow_restore(workflow: Workflow, *, user: User, version: WorkflowVersion,
                     base_updated_at: datetime | None = None) -> Workflow:
    """Make the workflow's graph that of `version` again, as a new version (history is never
    rewritten): a save like any other, validated, its secrets sealed, stale writes refused.
    Restoring the graph the workflow already has makes no new version."""
    _ensure_can_modify(user, workflow.team)
    current = Workflow.objects.select_for_update().get(pk=workflow.pk)
    data = WorkflowData(name=current.name, nodes=_resendable(version.nodes, current.nodes),
                        edges=copy.deepcopy(version.edges))
    return workflow_update(current, user=user, data=data, base_updated_at=base_updated_at,
                           note=f"Restored from version {version.version}")


def _resendable(nodes: Any, stored: Any) -> Any:
    """A snapshot's nodes as a client would send them to save that graph: each write-only
    param in plaintext (seal_graph seals it again), or the placeholder where the workflow
    stores the same secret for the same node (so its ciphertext is kept). A secret that can no
    longer be read (SECRET_KEY changed without a fallback) is 422: it must be entered again."""
    if not isinstance(nodes, list):
        return copy.deepcopy(nodes)
    stored_by_id = {node["id"]: node for node in stored if isinstance(node, dict)
                    and isinstance(node.get("id"), str)} if isinstance(stored, list) else {}
    resent, violations = [], []
    for node in copy.deepcopy(nodes):
        names, params = _secret_parts(node)
        if not names or params is None:
            resent.append(node)
            continue
        twin = stored_by_id.get(node["id"])
        _, twin_params = _secret_parts(twin)
        kept_params = twin_params if twin_params is not None and twin is not None \
            and graph.node_type_of(twin) == graph.node_type_of(node) else {}
        shown = dict(params)
        for name in names & params.keys():
            value = params[name]
            if not isinstance(value, str) or not value or value == node_secrets.PLACEHOLDER:
                continue
            plain = secretbox.reveal_param(value)
            if plain is None:
                violations.append({"rule": "invalid_params", "nodeId": node["id"],
                                   "message": f"{name}: this version's secret can no longer "
                                              "be read: enter the secret again"})
                continue
            kept = kept_params.get(name)
            same = isinstance(kept, str) and bool(kept) and secretbox.reveal_param(kept) == plain
            shown[name] = node_secrets.PLACEHOLDER if same else plain
        resent.append(_with_params(node, shown))
    if violations:
        raise InvalidGraph(violations=violations)
    return resent


def _apply(workflow: Workflow, data: WorkflowData, nodes: list[dict[str, Any]],
           edges: list[dict[str, Any]]) -> None:
    workflow.name, workflow.nodes, workflow.edges = data.name, nodes, edges
    if data.description is not None:
        workflow.description = data.description
    if data.tags is not None:
        workflow.tags = list(data.tags)
    if data.is_active is not None:
        workflow.is_active = data.is_active


# --- One node ------------------------------------------------------------------------------

@dataclass(frozen=True)
class NodePatch:
    """Changes to one node: params merged shallowly (None removes a key), label and position
    replaced. None means "not sent"."""

    params: dict[str, Any] | None = None
    label: str | None = None
    position: dict[str, float] | None = None


@transaction.atomic
def workflow_node_patch(workflow: Workflow, *, user: User, node_id: str, patch: NodePatch,
                        base_updated_at: datetime | None = None
                        ) -> tuple[Workflow, dict[str, Any]]:
    """Change one node and save the graph as PUT does (validated, versioned, 409 when stale).
    Returns the workflow and the node as saved, its write-only params hidden."""
    _ensure_can_modify(user, workflow.team)
    current = Workflow.objects.select_for_update().get(pk=workflow.pk)
    # As a client would send them: a sealed secret reads as the placeholder that keeps it.
    nodes = copy.deepcopy(node_secrets.redact_graph(current.nodes))
    target = next((node for node in nodes if isinstance(node, dict)
                   and node.get("id") == node_id), None)
    if target is None:
        raise NotFound("Node not found")
    _patch_node(target, patch)
    data = WorkflowData(name=current.name, nodes=nodes, edges=current.edges)
    saved = workflow_update(current, user=user, data=data, base_updated_at=base_updated_at,
                            note=f"Node {node_id} changed")
    node = next(node for node in saved.nodes if node.get("id") == node_id)
    return saved, node_secrets.redact_graph([node])[0]


def _patch_node(node: dict[str, Any], patch: NodePatch) -> None:
    data = node.setdefault("data", {})
    if patch.params is not None:
        params = data.get("params")
        merged = dict(params) if isinstance(params, dict) else {}
        secret = node_secrets.secret_params(graph.node_type_of(node))
        for key, value in patch.params.items():
            if value is not None:
                merged[key] = value
            elif key in secret:
                merged[key] = ""  # a left-out secret would be kept: "" is "no secret"
            else:
                merged.pop(key, None)
        data["params"] = merged
    if patch.label is not None:
        data["label"] = patch.label
    if patch.position is not None:
        node["position"] = dict(patch.position)


# --- The webhook trigger ------------------------------------------------------------------

def _apply_webhook(workflow: Workflow, *, enabled: bool | None,
                   secret: str | None) -> list[str]:
    """Change the in-memory row; returns the fields changed. Enabling gives a new id;
    disabling drops the id, so the old URL leads nowhere. The secret outlives a disable."""
    changed = []
    if enabled is not None and enabled != workflow.webhook_enabled:
        workflow.webhook_enabled = enabled
        workflow.webhook_id = secrets.token_urlsafe(WEBHOOK_ID_BYTES) if enabled else None
        changed += ["webhook_enabled", "webhook_id"]
    if secret is not None:
        workflow.webhook_secret = secretbox.seal(secret) if secret else ""
        changed.append("webhook_secret")
    return changed


@transaction.atomic
def workflow_webhook_set(workflow: Workflow, *, user: User, enabled: bool | None = None,
                         secret: str | None = None) -> Workflow:
    """Turn the webhook on or off and/or set the signing secret ("" clears it). Not a graph
    edit: version and updatedAt stay, so an open editor's next save is not stale."""
    _ensure_can_modify(user, workflow.team)
    current = Workflow.objects.select_for_update().get(pk=workflow.pk)
    changed = _apply_webhook(current, enabled=enabled, secret=secret)
    if changed:
        current.save(update_fields=changed)
    return current


@transaction.atomic
def workflow_webhook_rotate(workflow: Workflow, *, user: User) -> Workflow:
    """A new webhook id: the old URL stops working at once."""
    _ensure_can_modify(user, workflow.team)
    current = Workflow.objects.select_for_update().get(pk=workflow.pk)
    if not current.webhook_enabled:
        raise Conflict("The webhook is disabled: enable it to get a URL",
                       code="webhook_disabled")
    current.webhook_id = secrets.token_urlsafe(WEBHOOK_ID_BYTES)
    current.save(update_fields=["webhook_id"])
    return current


def workflow_delete(workflow: Workflow, *, user: User) -> None:
    _ensure_can_modify(user, workflow.team)
    workflow.delete()


@transaction.atomic
def workflow_duplicate(workflow: Workflow, *, user: User, team: Team,
                       name: str | None = None) -> Workflow:
    """A copy of the workflow in `team` (the caller's current team), as a new workflow named
    `name` (default: the original's name + " (copy)"). Its nodes' secrets go with it only
    within the team: another team could otherwise have deliveries signed with them."""
    _ensure_can_modify(user, team)
    now = _next_updated_at(None)
    nodes = workflow.nodes if team.pk == workflow.team_id \
        else node_secrets.strip_secrets(workflow.nodes)
    copied = Workflow.objects.create(
        team=team, created_by=user, name=name or _copy_name(workflow.name),
        description=workflow.description, nodes=copy.deepcopy(nodes),
        edges=copy.deepcopy(workflow.edges), tags=list(workflow.tags),
        is_active=workflow.is_active, created_at=now, updated_at=now, version=1)
    _snapshot(copied, user)
    return copied


def _copy_name(name: str) -> str:
    return name[:NAME_MAX - len(COPY_SUFFIX)] + COPY_SUFFIX


# --- Demo account, starter templates and estimates ---------------------------------------
# The starter templates are gallery templates (scope "starter", workflows/templates.py installs
# them); here: reading their files, and what a graph costs to run.

def starter_templates() -> dict[str, dict[str, Any]]:
    """The templates shipped in workflows/starter_templates/, by slug (the file name)."""
    return {path.stem: json.loads(path.read_text())
            for path in sorted(TEMPLATES_DIR.glob("*.json"))}


def starter_graph(template: dict[str, Any]) -> tuple[list[dict[str, Any]],
                                                     list[dict[str, Any]]]:
    """A starter file's graph as a workflow would store it: validated, categories filled."""
    return _checked_graph(template["nodes"], template["edges"], previous=[])


def estimate_credits(nodes: Any) -> float:
    """The credits one run of these nodes is expected to cost (each node's own estimate from
    its params); 0 for anything malformed. Pure: the gallery and the empty list show it."""
    return round(sum(catalogue[node.node_type].estimate_credits(node.params)
                     for node in graph.runnable_nodes(nodes, catalogue)), 2)


def demo_account_ensure() -> tuple[User, Team]:
    """The demo user and their team, created with the public demo password if missing."""
    user = User.objects.filter(email=DEMO_EMAIL).first()
    if user is None:
        # Creating a user gives them a personal team (accounts/signals.py).
        user = User.objects.create_user(email=DEMO_EMAIL, password=DEMO_PASSWORD)
    team = current_team_for_user(user) or user_setup_personal_team(user)
    return user, team
