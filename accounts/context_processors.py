from typing import Any

from django.http import HttpRequest

from .selectors import current_team_for_user, teams_for_user


def current_team(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # user_teams stays a lazy queryset: only pages that render the switcher query it.
    return {"current_team": current_team_for_user(user),
            "user_teams": teams_for_user(user)}
