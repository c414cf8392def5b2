"""Statistics (mounted at the API root): GET /stats for the caller's team and
GET /workflows/{workflow_id}/stats for one workflow (docs/api.md "Runs and statistics")."""

from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from accounts.auth import ApiAuth, caller_of
from accounts.scopes import EXECUTIONS_READ
from workflows.schemas import COMMON_ERRORS, ErrorOut
from workflows.selectors import workflow_get_for_user

from . import stats_selectors

router = Router(tags=["stats"])
_read = ApiAuth(EXECUTIONS_READ)

_DAYS = ("The window: today and the days before it, whole UTC days "
         f"(1-{stats_selectors.MAX_DAYS}; otherwise 400 invalid_request).")
_RATE = "completed / (completed + failed + cancelled), 0-1; null without finished runs"
_P = "Duration percentile (finishedAt - startTime) of the finished runs; null without any"


class StatsQuery(Schema):
    days: int = Field(30, ge=1, le=stats_selectors.MAX_DAYS, description=_DAYS)


class DayOut(Schema):
    date: str = Field(description="YYYY-MM-DD (UTC)")
    runs: int
    completed: int
    failed: int
    cancelled: int
    creditsUsed: float
    p50DurationMs: int | None


class WorkflowRowOut(Schema):
    workflowId: str
    name: str
    runs: int
    completed: int
    failed: int
    creditsUsed: float
    p50DurationMs: int | None


class NodeTypeRowOut(Schema):
    nodeType: str
    nodeTypeLabel: str
    category: str = Field(description="The palette category (input, model, utility, ...)")
    runs: int
    failed: int
    creditsUsed: float


class NodeRowOut(NodeTypeRowOut):
    nodeId: str
    label: str
    p50DurationMs: int | None


class TotalsOut(Schema):
    days: int
    runs: int = Field(description="Executions started in the window, running ones included")
    completed: int
    failed: int
    cancelled: int
    successRate: float | None = Field(description=_RATE)
    p50DurationMs: int | None = Field(description=_P)
    p95DurationMs: int | None = Field(description=_P)
    creditsUsed: float = Field(description="Credits charged for these runs (their ledger "
                                           "charges; counted once a run has ended)")
    avgCreditsPerRun: float
    byDay: list[DayOut] = Field(description="Every day of the window, oldest first")


class TeamStatsOut(TotalsOut):
    byWorkflow: list[WorkflowRowOut] = Field(description="Most credits first (at most 100)")
    byNodeType: list[NodeTypeRowOut] = Field(description="Most credits first (at most 100)")


class WorkflowStatsOut(TotalsOut):
    workflowId: str
    byNode: list[NodeRowOut] = Field(description="Most credits first (at most 100)")


@router.get("/stats", auth=_read, response={200: TeamStatsOut, **COMMON_ERRORS},
            summary="The team's runs, success rate, durations and credits, by day, workflow "
                    "and node type")
def team_stats(request: HttpRequest, query: Query[StatsQuery]) -> Any:
    return stats_selectors.team_stats(caller_of(request).team, query.days)


@router.get("/workflows/{workflow_id}/stats", auth=_read,
            response={200: WorkflowStatsOut, 404: ErrorOut, **COMMON_ERRORS},
            summary="One workflow's runs, success rate, durations and credits, by day and node")
def workflow_stats(request: HttpRequest, workflow_id: str, query: Query[StatsQuery]) -> Any:
    caller = caller_of(request)
    workflow = workflow_get_for_user(caller.user, workflow_id, team=caller.lookup_team)
    return stats_selectors.workflow_stats(workflow, query.days)
