"""What the workflow pages share: the workflow a URL names, or the 404 page."""

from django.http import Http404

from accounts.models import User
from wireflow_site.errors import NotFound

from .models import Workflow
from .selectors import workflow_get_for_user


def workflow_or_404(user: User, workflow_id: str) -> Workflow:
    """The workflow when it is one of the user's teams'; the 404 page otherwise, as for one
    that does not exist, so a page cannot tell whether another team's workflow does."""
    try:
        return workflow_get_for_user(user, workflow_id)
    except NotFound as exc:
        raise Http404("Workflow not found") from exc
