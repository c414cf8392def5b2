"""The developer endpoints (mounted at /api/v1/developer): the team's plan and usage."""

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from workflows.schemas import COMMON_ERRORS

from .auth import ApiAuth, caller_of
from .credits import as_number, team_usage
from .scopes import USAGE_READ

router = Router(tags=["developer"])

# A JSON number: whole amounts are sent as integers (20), fractional ones as decimals (12.5).
Credits = int | float


class UsageOut(Schema):
    plan: str
    creditBalance: Credits = Field(description="Credits available now (1 credit = US$0.01)")
    creditsUsedToday: Credits = Field(description="Charged since 00:00 UTC")
    creditsUsedThisMonth: Credits = Field(description="Charged since the 1st, 00:00 UTC")
    executionsToday: int = Field(description="Executions started in the last 24 hours, the "
                                             "window the daily limit counts")
    dailyExecutionLimit: int | None = Field(description="null: unlimited")
    rateLimitPerMinute: int = Field(description="API requests per minute")


@router.get("/usage", auth=ApiAuth(USAGE_READ), response={200: UsageOut, **COMMON_ERRORS},
            summary="The team's plan, credit balance, usage and limits")
def usage(request: HttpRequest) -> Any:
    caller = caller_of(request)
    found = team_usage(caller.team)
    return {"plan": found.plan, "creditBalance": as_number(found.balance),
            "creditsUsedToday": as_number(found.used_today),
            "creditsUsedThisMonth": as_number(found.used_this_month),
            "executionsToday": found.executions_today,
            "dailyExecutionLimit": found.daily_execution_limit,
            "rateLimitPerMinute": found.requests_per_minute}
