"""Writes for workflows: create, update, delete, duplicate, and the starter templates."""

import copy
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Team, User
from accounts.selectors import current_team_for_user
from accounts.services import user_setup_personal_team
from wireflow_site.errors import Conflict, Forbidden, InvalidGraph, NotFound

from . import graph, node_secrets, secretbox
from .models import Workflow, WorkflowVersion
from .nodes import catalogue
from .schemas import iso_ms
from .selectors import user_can_modify

NAME_MAX = 200
COPY_SUFFIX = " (copy)"
WEBHOOK_ID_BYTES = 24  # 192 random bits: a webhook id cannot be guessed
TEMPLATES_DIR = Path(__file__).resolve().parent / "starter_templates"
_SLUG = re.compile(r"[a-z0-9-]{1,100}")
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
        data = node.get("data")
        node_type = data.get("nodeType") if isinstance(data, dict) else None
        spec = catalogue.get(node_type) if isinstance(node_type, str) else None
        if spec is not None and isinstance(data, dict):
            data["category"] = spec.category
    return filled


# --- Workflows ----------------------------------------------------------------------------

def _ensure_can_modify(user: User, team: Team) -> None:
    if not user_can_modify(user, team):
        raise Forbidden("Forbidden: viewers cannot modify workflows")


def _snapshot(workflow: Workflow, user: User | None) -> WorkflowVersion:
    return WorkflowVersion.objects.create(
        workflow=workflow, version=workflow.version, nodes=workflow.nodes, edges=workflow.edges,
        created_at=workflow.updated_at, created_by=user)


@transaction.atomic
def workflow_create(*, user: User, team: Team, data: WorkflowData,
                    template_slug: str = "") -> Workflow:
    _ensure_can_modify(user, team)
    nodes, edges = _checked_graph(data.nodes, data.edges, previous=[])
    now = _next_updated_at(None)
    workflow = Workflow.objects.create(
        team=team, created_by=user, name=data.name, description=data.description or "",
        nodes=nodes, edges=edges, tags=list(data.tags or []),
        is_active=True if data.is_active is None else data.is_active,
        created_at=now, updated_at=now, version=1,
        is_template=bool(template_slug), template_slug=template_slug)
    _snapshot(workflow, user)
    return workflow


@transaction.atomic
def workflow_update(workflow: Workflow, *, user: User, data: WorkflowData,
                    base_updated_at: datetime | None = None) -> Workflow:
    """Replace the workflow's fields and graph; 409 stale_write if someone saved since
    `base_updated_at`. The row is locked, so two racing saves cannot both pass the check."""
    _ensure_can_modify(user, workflow.team)
    current = Workflow.objects.select_for_update().get(pk=workflow.pk)
    if base_updated_at is not None and _to_ms(base_updated_at) != _to_ms(current.updated_at):
        raise Conflict("Workflow was modified since baseUpdatedAt", code="stale_write",
                       currentUpdatedAt=iso_ms(current.updated_at))
    nodes, edges = _checked_graph(data.nodes, data.edges, previous=current.nodes)
    _apply(current, data, nodes, edges)
    webhook_fields = _apply_webhook(current, enabled=data.webhook_enabled,
                                    secret=data.webhook_secret)
    current.version += 1
    current.updated_at = _next_updated_at(current.updated_at)
    current.save(update_fields=["name", "description", "nodes", "edges", "tags", "is_active",
                                "version", "updated_at", *webhook_fields])
    _snapshot(current, user)
    return current


def _apply(workflow: Workflow, data: WorkflowData, nodes: list[dict[str, Any]],
           edges: list[dict[str, Any]]) -> None:
    workflow.name, workflow.nodes, workflow.edges = data.name, nodes, edges
    if data.description is not None:
        workflow.description = data.description
    if data.tags is not None:
        workflow.tags = list(data.tags)
    if data.is_active is not None:
        workflow.is_active = data.is_active


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
def workflow_duplicate(workflow: Workflow, *, user: User, team: Team) -> Workflow:
    """A copy of the workflow in `team` (the caller's current team), as a new workflow. Its
    nodes' secrets go with it only within the team: another team could otherwise have
    deliveries signed with them."""
    _ensure_can_modify(user, team)
    now = _next_updated_at(None)
    nodes = workflow.nodes if team.pk == workflow.team_id \
        else node_secrets.strip_secrets(workflow.nodes)
    copied = Workflow.objects.create(
        team=team, created_by=user, name=_copy_name(workflow.name),
        description=workflow.description, nodes=copy.deepcopy(nodes),
        edges=copy.deepcopy(workflow.edges), tags=list(workflow.tags),
        is_active=workflow.is_active, created_at=now, updated_at=now, version=1)
    _snapshot(copied, user)
    return copied


def _copy_name(name: str) -> str:
    return name[:NAME_MAX - len(COPY_SUFFIX)] + COPY_SUFFIX


# --- Demo account and starter templates (`manage.py seed`) -------------------------------

def starter_templates() -> dict[str, dict[str, Any]]:
    """The templates shipped in workflows/starter_templates/, by slug (the file name)."""
    return {path.stem: json.loads(path.read_text())
            for path in sorted(TEMPLATES_DIR.glob("*.json"))}


@dataclass(frozen=True)
class StarterCard:
    slug: str
    name: str
    description: str
    tags: list[str]
    node_count: int
    estimated_credits: float


def starter_cards() -> list[StarterCard]:
    """The starter templates as an empty workflow list offers them."""
    return [StarterCard(slug=slug, name=t["name"], description=t.get("description", ""),
                        tags=list(t.get("tags", [])), node_count=len(t["nodes"]),
                        estimated_credits=_estimate(t["nodes"]))
            for slug, t in starter_templates().items()]


def _estimate(nodes: list[dict[str, Any]]) -> float:
    total = 0.0
    for node in nodes:
        data = node.get("data") or {}
        spec = catalogue.get(data.get("nodeType", ""))
        total += spec.estimate_credits(data.get("params") or {}) if spec else 0.0
    return round(total, 2)


def starter_template_use(*, user: User, team: Team, slug: str) -> Workflow:
    """A new workflow of the team's own, copied from a starter template."""
    template = starter_templates().get(slug) if _SLUG.fullmatch(slug) else None
    if template is None:
        raise NotFound("Template not found")
    data = WorkflowData(name=template["name"], description=template.get("description", ""),
                        nodes=template["nodes"], edges=template["edges"],
                        tags=template.get("tags", []))
    return workflow_create(user=user, team=team, data=data)


def demo_account_ensure() -> tuple[User, Team]:
    """The demo user and their team, created with the public demo password if missing."""
    user = User.objects.filter(email=DEMO_EMAIL).first()
    if user is None:
        # Creating a user gives them a personal team (accounts/signals.py).
        user = User.objects.create_user(email=DEMO_EMAIL, password=DEMO_PASSWORD)
    team = current_team_for_user(user) or user_setup_personal_team(user)
    return user, team


@transaction.atomic
def starter_templates_install(*, user: User, team: Team) -> list[Workflow]:
    """Add each starter template the team does not have yet; returns the ones added."""
    have = set(Workflow.objects.filter(team=team, is_template=True)
               .values_list("template_slug", flat=True))
    added = []
    for slug, template in starter_templates().items():
        if slug in have:
            continue
        data = WorkflowData(name=template["name"], description=template.get("description", ""),
                            nodes=template["nodes"], edges=template["edges"],
                            tags=template.get("tags", []))
        added.append(workflow_create(user=user, team=team, data=data, template_slug=slug))
    return added
