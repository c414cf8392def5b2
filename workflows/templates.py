"""The template gallery: which templates a team sees (selectors) and publishing, republishing,
unpublishing and using them (services).

A team sees the starter templates (shipped in workflows/starter_templates/, no team), its own
templates of either scope, and every other team's public ones. Public templates of other teams
are shown only while settings.PUBLIC_TEMPLATES_ENABLED: an operator who turns public publishing
off stops sharing across teams at once, also for what was published before (the rows stay, still
seen by their own team, and are shared again if the setting is turned back on).

A template is a snapshot: its graph is copied from the workflow when published or republished,
with every write-only node param emptied (workflows/node_secrets.py) and none of the workflow's
own settings (webhook id or secret). Using one makes a new workflow of the caller's team from
that graph alone, so no credit, key or secret of the publishing team goes with it.

Roles are asked of accounts/permissions.py, in the template's team for changes (author or a
manager, `may_change_template`) and in the caller's team for using one.
"""

import base64
import binascii
import copy
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.models import Team, User
from accounts.permissions import Action, ForbiddenRole, may_change_template, parse_id, require_role
from accounts.selectors import membership_role, team_ids_for_user
from executions.models import Execution, ExecutionStatus, NodeRun, NodeStatus
from executions.presenters import media_urls
from wireflow_site.errors import Forbidden, InvalidRequest, NotFound

from . import node_secrets, services
from .graph import runnable_nodes
from .models import Template, TemplateScope, Workflow
from .nodes import catalogue

NAME_MAX = 200
DESCRIPTION_MAX = 2000
TAGS_MAX = 20
TAG_MAX = 50
QUERY_MAX = 200
CURSOR_MAX = 200
STICKY_TYPES = {"stickyNote"}
_IMAGE_KEYS = ("image", "images")
_VIDEO_KEYS = ("video", "videos")


class PublicTemplatesDisabled(Forbidden):
    code = "public_templates_disabled"
    message = "Public templates are turned off on this instance"


def template_not_found() -> NotFound:
    return NotFound("Template not found")


# --- Reads --------------------------------------------------------------------------------

def _visible_to(team_ids: Iterable[int]) -> Q:
    seen = Q(scope=TemplateScope.STARTER) | Q(team_id__in=list(team_ids))
    if settings.PUBLIC_TEMPLATES_ENABLED:
        seen |= Q(scope=TemplateScope.PUBLIC)
    return seen


def template_get_for_user(user: User, template_id: str | uuid.UUID, *,
                          team: Team | None = None) -> Template:
    """The template if the user's teams see it (`team`: only that team, an API key's), else
    NotFound("Template not found") — also for a malformed id."""
    pk = parse_id(template_id)
    team_ids = [team.pk] if team is not None else team_ids_for_user(user)
    found = (Template.objects.filter(_visible_to(team_ids), pk=pk).select_related("team", "author")
             .first() if pk is not None else None)
    if found is None:
        raise template_not_found()
    return found


@dataclass(frozen=True)
class TemplateFilter:
    scope: str | None = None  # starter | team | public
    q: str = ""  # in the name or description
    tag: str = ""  # one of the tags, exactly


@dataclass(frozen=True)
class TemplatePage:
    templates: list[Template]
    next_cursor: str | None


def templates_for_team(team: Team, *, filters: TemplateFilter = TemplateFilter(),
                       limit: int = 50, cursor: str | None = None) -> TemplatePage:
    """The gallery of `team`, most recently updated first, a page at a time. A cursor that is
    not one this function made is 400 invalid_request."""
    found = _filtered(Template.objects.filter(_visible_to([team.pk])), team, filters)
    if cursor:
        moment, pk = _decode_cursor(cursor)
        found = found.filter(Q(updated_at__lt=moment) | Q(updated_at=moment, pk__lt=pk))
    rows = list(found.select_related("team", "author").order_by("-updated_at", "-pk")[:limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return TemplatePage(templates=rows, next_cursor=_encode_cursor(rows[-1]) if more else None)


def _filtered(found: QuerySet[Template], team: Team,
              filters: TemplateFilter) -> QuerySet[Template]:
    if filters.scope == TemplateScope.TEAM:
        found = found.filter(scope=TemplateScope.TEAM, team=team)
    elif filters.scope:
        found = found.filter(scope=filters.scope)
    if filters.q:
        found = found.filter(Q(name__icontains=filters.q) | Q(description__icontains=filters.q))
    if filters.tag:
        found = found.filter(_has_tag(filters.tag))
    return found


def _has_tag(tag: str) -> Q:
    if connection.features.supports_json_field_contains:
        return Q(tags__contains=[tag])
    # SQLite (`make dev`'s embedded database) has no JSON containment: match the tag as it
    # appears in the stored JSON text, quotes included, so "fox" does not match "foxes".
    return Q(tags__icontains=f'"{tag}"')


def template_tags(team: Team, *, limit: int = 30) -> list[str]:
    """The tags of the team's gallery, most used first (for the gallery's filter chips)."""
    counts: dict[str, int] = {}
    for tags in (Template.objects.filter(_visible_to([team.pk]))
                 .order_by("-updated_at").values_list("tags", flat=True)[:500]):
        for tag in tags if isinstance(tags, list) else []:
            if isinstance(tag, str):
                counts[tag] = counts.get(tag, 0) + 1
    return sorted(counts, key=lambda tag: (-counts[tag], tag.lower()))[:limit]


def _encode_cursor(template: Template) -> str:
    raw = f"{template.updated_at.isoformat()}|{template.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment_text, pk_text = raw.split("|")
        moment = datetime.fromisoformat(moment_text)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment, uuid.UUID(pk_text)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest("Invalid request: cursor: not a cursor this API gave",
                             fields=["cursor"]) from exc


# --- What a card and a template page show ---------------------------------------------------

@dataclass(frozen=True)
class Preview:
    url: str
    kind: str  # image | video


def previews(templates: Sequence[Template]) -> dict[uuid.UUID, Preview]:
    """Each template's example output: the first image (else video) of its source workflow's
    last completed run. Two queries for any number of templates."""
    sources = {t.source_workflow_id for t in templates if t.source_workflow_id}
    if not sources:
        return {}
    last_run = (Execution.objects.filter(workflow=OuterRef("pk"), status=ExecutionStatus.COMPLETED)
                .order_by("-created_at").values("pk")[:1])
    latest = dict(Workflow.objects.filter(pk__in=sources).annotate(run=Subquery(last_run))
                  .exclude(run=None).values_list("pk", "run"))
    runs: dict[uuid.UUID, list[NodeRun]] = {}
    for run in (NodeRun.objects.filter(execution_id__in=set(latest.values()),
                                       status=NodeStatus.COMPLETED)
                .only("execution_id", "status", "ports").order_by("position", "pk")):
        runs.setdefault(run.execution_id, []).append(run)
    found = {}
    for template in templates:
        execution_id = latest.get(template.source_workflow_id) \
            if template.source_workflow_id else None
        preview = _first_media(runs.get(execution_id, [])) if execution_id else None
        if preview is not None:
            found[template.pk] = preview
    return found


def _first_media(runs: list[NodeRun]) -> Preview | None:
    for run in runs:
        ports = run.ports if isinstance(run.ports, dict) else {}
        for kind, keys in (("image", _IMAGE_KEYS), ("video", _VIDEO_KEYS)):
            only = NodeRun(status=NodeStatus.COMPLETED,
                           ports={key: ports[key] for key in keys if key in ports})
            urls = media_urls(only)
            if urls:
                return Preview(url=urls[0], kind=kind)
    return None


def node_count(nodes: Any) -> int:
    """The nodes that run (sticky notes are not counted)."""
    return sum(1 for n in nodes if isinstance(n, dict) and n.get("type") not in STICKY_TYPES) \
        if isinstance(nodes, list) else 0


def lead_node(nodes: Any) -> tuple[str, str]:
    """(category, label) of the node a card without a preview is drawn for: the first model
    node, else the first node of a known type; ("", "") for none. Category and label are the
    catalogue's, so the colour is the palette's."""
    known = [catalogue[node.node_type] for node in runnable_nodes(nodes, catalogue)]
    lead = next((spec for spec in known if spec.category == "model"), known[0] if known else None)
    return (lead.category, lead.label) if lead else ("", "")


def author_of(template: Template) -> dict[str, Any] | None:
    """Who published it, as every viewer may see it: their name if set, else the part of their
    email before the @ (the address itself stays private); None for the starter templates."""
    if template.author is None:
        return None
    user = template.author
    name = user.get_full_name().strip() or user.email.split("@", 1)[0]
    return {"name": name, "team": template.team.name if template.team else None}


# --- Writes -------------------------------------------------------------------------------

@dataclass(frozen=True)
class TemplateData:
    """What a client sends; None means "not sent" (a default on publish, unchanged on update)."""

    name: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    scope: str | None = None


def _snapshot(workflow: Workflow) -> tuple[list[Any], list[Any]]:
    """The workflow's graph as a template keeps it: write-only params emptied."""
    nodes = node_secrets.strip_secrets(workflow.nodes)
    return copy.deepcopy(nodes if isinstance(nodes, list) else []), \
        copy.deepcopy(workflow.edges if isinstance(workflow.edges, list) else [])


def _check_scope(scope: str) -> None:
    if scope not in (TemplateScope.TEAM, TemplateScope.PUBLIC):
        raise InvalidRequest("Invalid request: scope: must be team or public", fields=["scope"])
    if scope == TemplateScope.PUBLIC and not settings.PUBLIC_TEMPLATES_ENABLED:
        raise PublicTemplatesDisabled()


@transaction.atomic
def template_publish(workflow: Workflow, *, user: User, data: TemplateData) -> Template:
    """A new template of the workflow's team from its current graph (version 1)."""
    require_role(user, workflow.team, Action.PUBLISH_TEMPLATE)
    scope = data.scope or TemplateScope.TEAM
    _check_scope(scope)
    nodes, edges = _snapshot(workflow)
    now = timezone.now()
    description = workflow.description[:DESCRIPTION_MAX] if data.description is None \
        else data.description
    return Template.objects.create(
        team=workflow.team, scope=scope, name=data.name or workflow.name[:NAME_MAX],
        description=description,
        tags=list(data.tags if data.tags is not None else _bounded_tags(workflow.tags)),
        nodes=nodes, edges=edges, author=user, source_workflow=workflow, version=1,
        created_at=now, updated_at=now)


def _bounded_tags(tags: Any) -> list[str]:
    return [t for t in tags if isinstance(t, str) and 0 < len(t) <= TAG_MAX][:TAGS_MAX] \
        if isinstance(tags, list) else []


def _require_change(template: Template, user: User, acting_team: Team | None) -> None:
    """403 forbidden_role unless the user may change this template: a starter never; a team's
    template by its author or a manager of that team. An API key acts only in its own team."""
    team = template.team
    acts_there = team is not None and (acting_team is None or acting_team.pk == team.pk)
    role = membership_role(user, team) if acts_there and team is not None else None
    if not may_change_template(role, is_author=template.author_id == user.pk):
        raise ForbiddenRole()


def template_may_change(template: Template, user: User) -> bool:
    """Whether the page shows Unpublish and Republish (the same rule the services apply)."""
    try:
        _require_change(template, user, None)
    except ForbiddenRole:
        return False
    return True


@transaction.atomic
def template_update(template: Template, *, user: User, data: TemplateData,
                    workflow: Workflow | None = None,
                    acting_team: Team | None = None) -> Template:
    """Change the template's card; with `workflow`, republish: its current graph replaces the
    snapshot and the version goes up by one."""
    current = Template.objects.select_for_update(of=("self",)) \
        .select_related("team", "author").get(pk=template.pk)
    _require_change(current, user, acting_team)
    changed = ["updated_at"]
    if data.scope is not None and data.scope != current.scope:
        _check_scope(data.scope)
        current.scope = data.scope
        changed.append("scope")
    for field in ("name", "description", "tags"):
        value = getattr(data, field)
        if value is not None:
            setattr(current, field, list(value) if field == "tags" else value)
            changed.append(field)
    if workflow is not None:
        _republish(current, workflow)
        changed += ["nodes", "edges", "source_workflow", "version"]
    current.updated_at = timezone.now()
    current.save(update_fields=changed)
    return current


def _republish(template: Template, workflow: Workflow) -> None:
    if workflow.team_id != template.team_id:
        raise InvalidRequest("Invalid request: workflowId: the workflow must belong to the "
                             "template's team", fields=["workflowId"])
    template.nodes, template.edges = _snapshot(workflow)
    template.source_workflow = workflow
    template.version += 1  # the row is locked: two republishes cannot both read one version


def template_delete(template: Template, *, user: User, acting_team: Team | None = None) -> None:
    """Unpublish. Workflows made from it keep their graph (their `template` becomes None)."""
    _require_change(template, user, acting_team)
    template.delete()


@transaction.atomic
def template_use(template: Template, *, user: User, team: Team,
                 name: str | None = None) -> Workflow:
    """A new workflow of `team` (the caller's) from the template's graph, recording the
    template and its version; the template's use count goes up by one."""
    require_role(user, team, Action.USE_TEMPLATE)
    data = services.WorkflowData(name=name or template.name, nodes=template.nodes,
                                 edges=template.edges, description=template.description,
                                 tags=_bounded_tags(template.tags))
    workflow = services.workflow_create(user=user, team=team, data=data, template=template)
    Template.objects.filter(pk=template.pk).update(use_count=F("use_count") + 1)
    return workflow


def template_published_from(workflow: Workflow) -> Template | None:
    """The template the workflow's team last published from this workflow, if any."""
    return (Template.objects.filter(source_workflow=workflow, team_id=workflow.team_id)
            .select_related("team", "author").order_by("-updated_at").first())


# --- The starter templates -------------------------------------------------------------------

@dataclass(frozen=True)
class StarterSync:
    added: int
    updated: int
    removed: int


@transaction.atomic
def starter_templates_sync() -> StarterSync:
    """Make the starter templates in the gallery what workflows/starter_templates/ holds:
    missing ones added, changed ones updated (version + 1), ones no longer shipped removed.
    Idempotent: run after every `migrate` and by `manage.py seed`."""
    shipped = services.starter_templates()
    existing = {t.slug: t for t in Template.objects.select_for_update()
                .filter(scope=TemplateScope.STARTER)}
    added = updated = 0
    for slug, spec in shipped.items():
        fields = _starter_fields(spec)
        row = existing.get(slug)
        if row is None:
            now = timezone.now()
            Template.objects.create(scope=TemplateScope.STARTER, team=None, slug=slug,
                                    created_at=now, updated_at=now, **fields)
            added += 1
        elif any(getattr(row, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(row, name, value)
            row.version += 1
            row.updated_at = timezone.now()
            row.save(update_fields=[*fields, "version", "updated_at"])
            updated += 1
    gone = [slug for slug in existing if slug not in shipped]
    Template.objects.filter(scope=TemplateScope.STARTER, slug__in=gone).delete()
    return StarterSync(added=added, updated=updated, removed=len(gone))


def _starter_fields(spec: dict[str, Any]) -> dict[str, Any]:
    nodes, edges = services.starter_graph(spec)
    return {"name": str(spec["name"])[:NAME_MAX],
            "description": str(spec.get("description", ""))[:DESCRIPTION_MAX],
            "tags": _bounded_tags(spec.get("tags", [])), "nodes": nodes, "edges": edges}


def starter_templates_list() -> list[Template]:
    """The starter templates, by name (the empty workflow list offers them)."""
    return list(Template.objects.filter(scope=TemplateScope.STARTER).order_by("name", "slug"))
