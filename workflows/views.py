"""Browser pages for workflows: the team's list and the canvas editor (the template gallery's
pages are in gallery_views.py).

The editor itself is a React app (editor/); these views only check access and hand it what it
needs (workflow id, CSRF token, team) through json_script.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render

from accounts.models import Team, User
from accounts.permissions import Action, actions_for, user_may
from accounts.selectors import current_team_for_user, membership_role
from executions.stats_selectors import with_run_summary

from . import gallery_views
from .models import Workflow
from .pages import workflow_or_404
from .selectors import user_can_modify, workflows_for_team
from .templates import starter_templates_list, template_may_change, template_published_from

STICKY_TYPES = {"stickyNote"}


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required guarantees it
    return request.user


@login_required
def workflow_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    team = current_team_for_user(user)
    # Each row's last run status and runs in the last 7 days come in the list's own query.
    workflows = list(with_run_summary(workflows_for_team(team))) if team else []
    rows = [{"workflow": w, "node_count": _node_count(w)} for w in workflows]
    # An empty list offers the gallery's starter templates: a new team has something to run.
    can_create = team is not None and user_can_modify(user, team)
    starters = gallery_views.cards(starter_templates_list()) if not rows and can_create else []
    can_publish = team is not None and user_may(user, team, Action.PUBLISH_TEMPLATE)
    return render(request, "workflows/list.html", {"rows": rows, "team": team,
                                                   "starters": starters,
                                                   "can_create": can_create,
                                                   "can_publish": can_publish})


@login_required
def workflow_new(request: HttpRequest) -> HttpResponse:
    return _editor(request, None)


@login_required
def workflow_edit(request: HttpRequest, workflow_id: str) -> HttpResponse:
    return _editor(request, workflow_or_404(_user(request), workflow_id))


def _editor(request: HttpRequest, workflow: Workflow | None) -> HttpResponse:
    user = _user(request)
    team = workflow.team if workflow else current_team_for_user(user)
    # The role in the workflow's team decides what the editor shows (the API still enforces it).
    role = membership_role(user, team) if team else None
    published = template_published_from(workflow) if workflow else None
    config = {
        "mode": "edit",
        "workflowId": str(workflow.pk) if workflow else None,
        "csrfToken": get_token(request),
        "apiBase": "/api/v1",
        "listUrl": "/workflows/",
        "team": _team_json(team),
        "permissions": actions_for(role),
        "publicTemplates": settings.PUBLIC_TEMPLATES_ENABLED,
        # Publishing again republishes that template, if this person may change it; otherwise
        # they publish a template of their own.
        "publishedTemplateId": str(published.pk)
        if published and template_may_change(published, user) else None,
    }
    title = workflow.name if workflow else "New workflow"
    return render(request, "workflows/editor.html", {"config": config, "title": title})


def _team_json(team: Team | None) -> dict[str, Any] | None:
    return {"id": team.pk, "name": team.name} if team else None


def _node_count(workflow: Workflow) -> int:
    nodes = workflow.nodes if isinstance(workflow.nodes, list) else []
    return sum(1 for n in nodes if isinstance(n, dict) and n.get("type") not in STICKY_TYPES)
