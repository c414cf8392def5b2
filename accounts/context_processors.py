from typing import Any

from django.http import HttpRequest

from .selectors import current_team_for_user


def current_team(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"current_team": current_team_for_user(user)}  # type: ignore[arg-type]
