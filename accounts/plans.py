"""The plan table of docs/api.md ("Plans and rate limits"), in one place, and the operator's way to
move a team to another plan (`manage.py setplan`).

Limits belong to the team: every key and webhook of a team draws on the same allowance.
wireflow_site/ratelimit.py enforces them; the usage endpoint reports them.
"""

from dataclasses import dataclass

from .models import Plan, Role, Team


@dataclass(frozen=True)
class PlanLimits:
    requests_per_minute: int
    executions_per_minute: int
    executions_per_day: int | None  # None: unlimited


PLANS: dict[str, PlanLimits] = {
    Plan.FREE: PlanLimits(requests_per_minute=10, executions_per_minute=10,
                          executions_per_day=50),
    Plan.STARTER: PlanLimits(requests_per_minute=20, executions_per_minute=10,
                             executions_per_day=200),
    Plan.PRO: PlanLimits(requests_per_minute=60, executions_per_minute=10,
                         executions_per_day=1_000),
    Plan.ENTERPRISE: PlanLimits(requests_per_minute=200, executions_per_minute=10,
                                executions_per_day=None),
}

# The browser editor is a client of the API too, but a person editing a graph (saves, lints,
# polls) would trip 10 requests a minute. Session calls therefore do not draw on the team's API
# allowance; this per-user ceiling only stops a runaway page. Executions started from the editor
# do count against the team's execution limits like any other.
EDITOR_REQUESTS_PER_MINUTE = 600


def limits_for(plan: str) -> PlanLimits:
    # A plan name not in the table can only come from a hand-edited row: the most restrictive
    # plan is the safe reading.
    return PLANS.get(plan, PLANS[Plan.FREE])


class PlanChangeError(ValueError):
    """Why an operator's plan change cannot be made; the message is meant for them."""


def team_for_operator(reference: str) -> Team:
    """The team an operator names by its slug or by its owner's email address."""
    reference = reference.strip()
    if "@" not in reference:
        team = Team.objects.filter(slug=reference).first()
        if team is None:
            raise PlanChangeError(f"No team with the slug “{reference}”.")
        return team
    owned = list(Team.objects.filter(memberships__user__email__iexact=reference,
                                     memberships__role=Role.OWNER).order_by("slug"))
    if not owned:
        raise PlanChangeError(f"No team is owned by {reference}.")
    if len(owned) > 1:
        slugs = ", ".join(team.slug for team in owned)
        raise PlanChangeError(f"{reference} owns several teams ({slugs}); name one by its slug.")
    return owned[0]


def team_set_plan(team: Team, plan: str) -> None:
    if plan not in PLANS:
        raise PlanChangeError(f"Unknown plan “{plan}”. Plans: {', '.join(PLANS)}.")
    team.plan = plan
    team.save(update_fields=["plan"])

