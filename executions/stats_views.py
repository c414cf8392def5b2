"""The Dashboard (/dashboard/) and a workflow's statistics page (/workflows/<id>/stats/):
server-rendered cards and tables, with Chart.js charts (editor/src/charts/) drawn from the same
numbers, handed over with json_script. The numbers are the API's (executions/stats_selectors.py)."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import User
from accounts.selectors import current_team_for_user
from workflows.pages import workflow_or_404

from . import stats_selectors
from .presenters import format_duration

RANGES = (7, 30)  # the switch on the pages; the API takes any number of days up to 365
DEFAULT_DAYS = 30


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required guarantees it
    return request.user


def days_asked(request: HttpRequest) -> int:
    """The page's window: one of the switch's ranges; anything else is the default."""
    asked = request.GET.get("days", "")
    return int(asked) if asked in {str(days) for days in RANGES} else DEFAULT_DAYS


def format_credits(value: float | int | None) -> str:
    text = f"{float(value or 0):,.4f}".rstrip("0").rstrip(".")
    return text or "0"


def format_rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%".replace(".0%", "%")


def cards(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """The four cards; `value` is what the API says, `text` how the page shows it."""
    return [
        {"key": "runs", "label": "Runs", "value": stats["runs"], "text": f"{stats['runs']:,}",
         "note": f"{stats['completed']:,} completed · {stats['failed']:,} failed"},
        {"key": "success-rate", "label": "Success rate", "value": stats["successRate"],
         "text": format_rate(stats["successRate"]), "note": "of the finished runs"},
        {"key": "credits", "label": "Credits used", "value": stats["creditsUsed"],
         "text": format_credits(stats["creditsUsed"]),
         "note": f"{format_credits(stats['avgCreditsPerRun'])} a run on average"},
        {"key": "p95", "label": "p95 duration", "value": stats["p95DurationMs"],
         "text": format_duration(stats["p95DurationMs"]),
         "note": f"median {format_duration(stats['p50DurationMs'])}"},
    ]


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**row, "credits_text": format_credits(row["creditsUsed"]),
             "p50_text": format_duration(row.get("p50DurationMs"))} for row in rows]


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    team = current_team_for_user(_user(request))
    days = days_asked(request)
    stats = stats_selectors.team_stats(team, days) if team else None
    context: dict[str, Any] = {"team": team, "days": days, "ranges": RANGES, "stats": stats}
    if stats is not None:
        context.update(
            cards=cards(stats), workflows=_rows(stats["byWorkflow"]),
            node_types=_rows(stats["byNodeType"]),
            chart_data={key: stats[key] for key in ("byDay", "byWorkflow", "byNodeType")})
    return render(request, "executions/dashboard.html", context)


@login_required
def workflow_stats(request: HttpRequest, workflow_id: str) -> HttpResponse:
    workflow = workflow_or_404(_user(request), workflow_id)
    days = days_asked(request)
    stats = stats_selectors.workflow_stats(workflow, days)
    return render(request, "executions/workflow_stats.html", {
        "workflow": workflow, "days": days, "ranges": RANGES, "stats": stats,
        "cards": cards(stats), "nodes": _rows(stats["byNode"]),
        "chart_data": {key: stats[key] for key in ("byDay", "byNode")}})
