"""Settings > Usage: the current team's credit balance, plan and limits with meters, its credits
per day (a Chart.js chart, editor/src/charts/) and its credit ledger, a page at a time."""

from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from executions.stats_selectors import stats_window

from .credits import as_number, team_usage
from .models import Team, User
from .plans import limits_for
from .selectors import current_team_for_user
from .usage_selectors import charges_by_day, ledger_page, usage_meters

CHART_DAYS = 30


def credits_text(amount: Decimal, *, sign: bool = False) -> str:
    """12.5, 1,000,000, +20: no trailing zeros, thousands grouped."""
    text = format(amount.normalize(), ",f")
    return f"+{text}" if sign and amount > 0 else text


@login_required
def usage(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # login_required guarantees it
    team = current_team_for_user(user)
    context: dict[str, Any] = {"tab": "usage", "team": team}
    if team is not None:
        context.update(_usage_context(team, request.GET.get("page")))
    return render(request, "accounts/usage.html", context)


def _usage_context(team: Team, page: str | None) -> dict[str, Any]:
    found = team_usage(team)
    ledger = ledger_page(team, page)
    window = stats_window(CHART_DAYS)
    charged = charges_by_day(team, window.start)
    by_day = [{"date": day.isoformat(), "creditsUsed": charged.get(day.isoformat(), 0)}
              for day in window.dates]
    return {
        "usage": found, "plan_label": team.get_plan_display(), "limits": limits_for(team.plan),
        "balance": as_number(found.balance), "used_today": as_number(found.used_today),
        "used_this_month": as_number(found.used_this_month),
        "meters": usage_meters(team, found.executions_today),
        "balance_text": credits_text(found.balance),
        "used_today_text": credits_text(found.used_today),
        "used_this_month_text": credits_text(found.used_this_month),
        "ledger": ledger, "ledger_rows": [(e, credits_text(e.amount, sign=True)) for e in ledger],
        "chart_days": CHART_DAYS,
        "charged_in_window": round(sum(charged.values()), 4),
        "chart_data": {"ledgerByDay": by_day},
    }
