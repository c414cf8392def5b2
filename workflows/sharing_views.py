"""A workflow shared by link: its public page /workflows/<id>/ and "Use this workflow".

Anyone with the link sees the name, description, inputs and the editor's read-only canvas of
a workflow shared by link, stripped of secret-shaped values (workflows/sharing.py). A private
workflow's page is 404, except for its team's members, who are sent to the editor.
"""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from accounts.models import User
from accounts.permissions import Action, ForbiddenRole, user_may
from accounts.selectors import current_team_for_user
from executions.run_inputs import run_inputs
from wireflow_site.errors import NotFound, render_error

from . import services
from .models import Workflow
from .nodes import all_types, catalogue_entry
from .selectors import workflow_get_for_user
from .sharing import (
    copy_source_for,
    public_edges,
    public_nodes,
    public_text,
    shared_workflow_get,
)

FORBIDDEN = ("Your role in your current team cannot create workflows. Switch to a team where "
             "you are an editor, admin or owner, or ask for another role.")


def _signed_in(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


@never_cache
@require_safe
def workflow_shared(request: HttpRequest, workflow_id: str) -> HttpResponse:
    workflow = shared_workflow_get(workflow_id)
    if workflow is not None:
        return _page(request, workflow)
    user = _signed_in(request)
    if user is not None:
        try:
            own = workflow_get_for_user(user, workflow_id)
        except NotFound:
            pass
        else:
            return redirect("workflow_edit", workflow_id=own.pk)
    raise Http404("Workflow not found")


def _page(request: HttpRequest, workflow: Workflow, status: int = 200) -> HttpResponse:
    user = _signed_in(request)
    team = current_team_for_user(user) if user else None
    shown = public_nodes(workflow)
    nodes = shown if isinstance(shown, list) else []
    config = {"mode": "view", "workflowId": None,
              "graph": {"nodes": nodes, "edges": public_edges(workflow)},
              "csrfToken": get_token(request),
              # The catalogue the canvas draws nodes with, readable without an account.
              "apiBase": reverse("workflow_shared_nodes", args=[workflow.pk]).removesuffix(
                  "/nodes"),
              "listUrl": "/workflows/", "team": None}
    return render(request, "workflows/shared.html", {
        "workflow": workflow, "name": public_text(workflow, workflow.name),
        "description": public_text(workflow, workflow.description),
        "config": config, "inputs": run_inputs(nodes), "team": team,
        "node_count": sum(1 for n in nodes if isinstance(n, dict)
                          and n.get("type") != "stickyNote"),
        "is_member": user is not None and user_may(user, workflow.team, Action.READ),
        "can_use": user is None or (team is not None and user_may(user, team, Action.MODIFY)),
    }, status=status)


@require_POST
def workflow_shared_use(request: HttpRequest, workflow_id: str) -> HttpResponse:
    workflow = shared_workflow_get(workflow_id)
    if workflow is None:
        raise Http404("Workflow not found")
    user = _signed_in(request)
    if user is None:
        # Back to the public page after signing in or up, to press the button again.
        return redirect_to_login(reverse("workflow_shared", args=[workflow.pk]))
    team = current_team_for_user(user)
    if team is None or not user_may(user, team, Action.MODIFY):
        messages.error(request, FORBIDDEN)
        return _page(request, workflow, status=403)
    try:
        copied = services.workflow_duplicate(copy_source_for(workflow, team), user=user, team=team)
    except ForbiddenRole:
        messages.error(request, FORBIDDEN)
        return _page(request, workflow, status=403)
    messages.success(request, f"{copied.name} was copied into {team.name}.")
    return redirect("workflow_edit", workflow_id=copied.pk)


@never_cache
@require_safe
def workflow_shared_nodes(request: HttpRequest, workflow_id: str) -> JsonResponse:
    """The node catalogue for the public page's canvas (GET /api/v1/nodes needs an account)."""
    if shared_workflow_get(workflow_id) is None:
        return render_error(NotFound("Workflow not found"))
    return JsonResponse({"nodes": [catalogue_entry(nt) for nt in all_types()]})
