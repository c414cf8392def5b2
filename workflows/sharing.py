"""Sharing a workflow by link: the reads and the one write behind its public page
(workflows/sharing_views.py), the visibility endpoint (workflows/sharing_api.py) and the
settings page.

A workflow whose link_permission is "view" can be read by anyone with the link, without an
account. What is shown has its secret-shaped values stripped (write-only node params, anything
that looks like a key, the workflow's webhook id and signing secret); a copy into another team
is made from that same stripped graph. The public lookup is the only one not scoped to the
caller's teams, and it finds only workflows shared by link.
"""

import copy
import re
import uuid
from typing import Any

from django.conf import settings
from django.urls import reverse

from accounts.models import Team, User
from accounts.permissions import Action, require_role
from wireflow_site.errors import ApiError

from . import secretbox
from .models import LinkPermission, Workflow
from .node_secrets import strip_secrets


def shared_workflow_get(workflow_id: str) -> Workflow | None:
    """The workflow if it is shared by link ("view"), else None: anyone may read it."""
    try:
        pk = uuid.UUID(str(workflow_id))
    except ValueError:
        return None
    return (Workflow.objects.filter(pk=pk, link_permission=LinkPermission.VIEW)
            .select_related("team").first())


def public_url(workflow: Workflow) -> str:
    """The absolute URL of the workflow's public page (SITE_URL, like the webhook's URL)."""
    return f"{settings.SITE_URL}{reverse('workflow_shared', args=[workflow.pk])}"


def workflow_visibility_set(workflow: Workflow, *, user: User, visibility: str) -> Workflow:
    """Share the workflow by link ("view") or stop ("private"). Not a graph edit: version and
    updatedAt stay, so an open editor's next save is not stale."""
    require_role(user, workflow.team, Action.MODIFY)
    if visibility not in LinkPermission.values:
        raise ApiError("visibility must be \"view\" or \"private\"", code="invalid_field")
    Workflow.objects.filter(pk=workflow.pk).update(link_permission=visibility)
    workflow.link_permission = visibility
    return workflow


# Values shaped like credentials: API keys (ours sk-wf_..., OpenAI's and Anthropic's sk-...,
# Replicate's r8_..., fal's id:secret), bearer and basic credentials, passwords in URLs, sealed
# values. Anchored on word boundaries and long enough that ordinary prose is left alone.
_SECRET_SHAPES = re.compile(
    r"\bsk-[A-Za-z0-9_\-]{16,}"
    r"|\br8_[A-Za-z0-9]{16,}"
    r"|\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}:[0-9a-fA-F]{16,}"
    r"|(?i:\bbearer)\s+[A-Za-z0-9._~+/=\-]{16,}"
    r"|\bBasic\s+[A-Za-z0-9+/]{16,}=*"
    r"|(?<=://)[^/\s:@]+:[^/\s@]+@"
    r"|wf-sealed:v1:\S+"
    r"|\bgAAAAA[A-Za-z0-9_\-=]{16,}")
# Keys whose value is a credential, wherever they appear (a header, a JSON body template).
_SECRET_KEYS = re.compile(
    r"(?i)^(?:authorization|proxy-authorization|cookie|x-api-key|x-auth-token|"
    r".*(?:secret|password|passwd|token|api[-_]?key|access[-_]?key|private[-_]?key))$")


def public_nodes(workflow: Workflow) -> Any:
    """The nodes as the public page shows them (and a copy into another team receives them)."""
    own = _own_secrets(workflow)
    return _scrub(strip_secrets(workflow.nodes), own)


def public_edges(workflow: Workflow) -> Any:
    return _scrub(workflow.edges, _own_secrets(workflow))


def public_text(workflow: Workflow, text: str) -> str:
    return str(_scrub(text, _own_secrets(workflow)))


def _own_secrets(workflow: Workflow) -> list[str]:
    """The workflow's webhook id and signing secret (as stored and as plaintext)."""
    found = [workflow.webhook_id or "", workflow.webhook_secret]
    if workflow.webhook_secret:
        found.append(secretbox.unseal(workflow.webhook_secret) or "")
    return [value for value in found if len(value) >= 4]


def _scrub(value: Any, own: list[str]) -> Any:
    """A copy of a JSON value with secret-shaped strings (and credential-named keys' values)
    emptied. Stored graphs are at most 64 levels deep (schemas.storable), so recursion is
    bounded."""
    if isinstance(value, dict):
        return {key: "" if isinstance(key, str) and isinstance(item, str)
                and _SECRET_KEYS.match(key) else _scrub(item, own)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, own) for item in value]
    if isinstance(value, str):
        for secret in own:
            value = value.replace(secret, "")
        return _SECRET_SHAPES.sub("", value)
    return value


def copy_source_for(workflow: Workflow, team: Team) -> Workflow:
    """What a copy into `team` is made from: the graph as the public page shows it, unless the
    team is the workflow's own."""
    if team.pk == workflow.team_id:
        return workflow
    shown = copy.copy(workflow)
    shown.nodes = public_nodes(workflow)
    shown.name = public_text(workflow, workflow.name).strip() or "Shared workflow"
    shown.description = public_text(workflow, workflow.description)
    return shown
