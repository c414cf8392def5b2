"""Browser pages for workflows: the team's list and the canvas editor.

The editor itself is a React app (editor/); these views only check access and hand it what it
needs (workflow id, CSRF token, team) through json_script.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Team, User
from accounts.selectors import current_team_for_user
from wireflow_site.errors import Forbidden, NotFound

from . import services
from .models import Workflow
from .selectors import user_can_modify, workflow_get_for_user, workflows_for_team

STICKY_TYPES = {"stickyNote"}


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required guarantees it
    return request.user


@login_required
def workflow_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    team = current_team_for_user(user)
    workflows = list(workflows_for_team(team)) if team else []
    rows = [{"workflow": w, "node_count": _node_count(w)} for w in workflows]
    # An empty list offers the starter templates: a new team has something to run at once.
    can_create = team is not None and user_can_modify(user, team)
    starters = services.starter_cards() if not rows and can_create else []
    return render(request, "workflows/list.html", {"rows": rows, "team": team,
                                                   "starters": starters,
                                                   "can_create": can_create})


@login_required
@require_POST
def workflow_from_starter(request: HttpRequest, slug: str) -> HttpResponse:
    user = _user(request)
    team = current_team_for_user(user)
    if team is None:
        messages.warning(request, "Create a team first: workflows belong to a team.")
        return redirect("workflow_list")
    try:
        workflow = services.starter_template_use(user=user, team=team, slug=slug)
    except NotFound as exc:
        raise Http404("Template not found") from exc
    except Forbidden as exc:
        messages.error(request, f"{exc.message}. Ask an owner or admin of {team.name} "
                                "for the editor role.")
        return redirect("workflow_list")
    return redirect("workflow_edit", workflow_id=workflow.pk)


@login_required
def workflow_new(request: HttpRequest) -> HttpResponse:
    return _editor(request, None)


@login_required
def workflow_edit(request: HttpRequest, workflow_id: str) -> HttpResponse:
    try:
        workflow = workflow_get_for_user(_user(request), workflow_id)
    except NotFound as exc:
        raise Http404("Workflow not found") from exc
    return _editor(request, workflow)


def _editor(request: HttpRequest, workflow: Workflow | None) -> HttpResponse:
    team = workflow.team if workflow else current_team_for_user(_user(request))
    config = {
        "workflowId": str(workflow.pk) if workflow else None,
        "csrfToken": get_token(request),
        "apiBase": "/api/v1",
        "listUrl": "/workflows/",
        "team": _team_json(team),
    }
    title = workflow.name if workflow else "New workflow"
    return render(request, "workflows/editor.html", {"config": config, "title": title})


def _team_json(team: Team | None) -> dict[str, Any] | None:
    return {"id": team.pk, "name": team.name} if team else None


def _node_count(workflow: Workflow) -> int:
    nodes = workflow.nodes if isinstance(workflow.nodes, list) else []
    return sum(1 for n in nodes if isinstance(n, dict) and n.get("type") not in STICKY_TYPES)
