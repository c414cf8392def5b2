"""Reads for the Runs page and `GET /executions`: a team's executions, newest first, filtered
and paged by the same cursor as a workflow's history."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from django.db.models import Q, QuerySet

from accounts.models import Team
from workflows.models import Workflow

from .models import Execution
from .selectors import _decode_cursor as decode_cursor
from .selectors import encode_cursor


def parse_moment(value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 date or date-time (UTC when it names no zone); a bare date as `until`
    means the end of that day. ValueError for anything else."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        moment = datetime.combine(day, time.max if end_of_day else time.min)
    else:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RunFilter:
    workflow_id: str | None = None  # one of the team's (the caller checked it)
    status: str | None = None
    trigger: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def executions_for_team(team: Team, filters: RunFilter, *, limit: int, cursor: str | None = None
                        ) -> tuple[list[Execution], str | None]:
    """A page of the team's executions (with their workflow's name), and the next cursor."""
    found = _filtered(Execution.objects.filter(team=team), filters)
    if cursor:
        moment, pk = decode_cursor(cursor)
        found = found.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))
    page = list(found.select_related("workflow").only(*_COLUMNS)
                .order_by("-created_at", "-pk")[:limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, encode_cursor(page[-1]) if more and page else None


# What a list shows: not the graphs, inputs and outputs each row carries.
_COLUMNS = ("id", "workflow_id", "team_id", "workflow_version_id", "trigger", "status", "error",
            "credits_used", "created_at", "started_at", "finished_at", "rerun_of_id",
            "workflow__id", "workflow__name")


def _filtered(found: QuerySet[Execution], filters: RunFilter) -> QuerySet[Execution]:
    if filters.workflow_id:
        found = found.filter(workflow_id=filters.workflow_id)
    if filters.status:
        found = found.filter(status=filters.status)
    if filters.trigger:
        found = found.filter(trigger=filters.trigger)
    if filters.since is not None:
        found = found.filter(created_at__gte=filters.since)
    if filters.until is not None:
        found = found.filter(created_at__lt=filters.until)
    return found


def team_workflows(team: Team, limit: int = 500) -> list[tuple[str, str]]:
    """(id, name) of the team's workflows, for the workflow filter."""
    return [(str(pk), name) for pk, name in
            Workflow.objects.filter(team=team).order_by("name").values_list("pk", "name")[:limit]]
