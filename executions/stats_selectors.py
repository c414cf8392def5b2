"""Statistics of a team's executions (docs/api.md "Runs and statistics"), for GET /stats, GET
/workflows/{id}/stats, the Dashboard and the workflow list.

Every count, sum and percentile is computed by the database: one grouped query per breakdown.
PostgreSQL computes percentiles with `percentile_cont`; SQLite (the embedded `make dev` mode) has
no such aggregate, so there a portable query ranks the durations with window functions and
interpolates between the two ranks around the percentile, the way `percentile_cont` does.

The window of `days` days is whole UTC days: today and the `days - 1` before it, so `byDay` has
exactly `days` entries (a day without runs is zeros). Executions count on the day they were
created; their credits are `credits_used`, the sum of their nodes' ledger charges (set when the
execution ends: a running execution counts as a run, with its credits once it has finished).
"""

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    Expression,
    F,
    FloatField,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from accounts.models import Team
from workflows.models import Workflow
from workflows.nodes import get as node_type_get

from .models import Execution, ExecutionStatus, NodeRun, NodeStatus

MAX_DAYS = 365
PERCENTS = (50, 95)
TOP_ROWS = 100  # byWorkflow, byNodeType and byNode keep the rows with the most credits


@dataclass(frozen=True)
class Window:
    days: int
    start: datetime  # 00:00 UTC of the first day
    dates: tuple[date, ...]


def stats_window(days: int, now: datetime | None = None) -> Window:
    today = (now or timezone.now()).astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    return Window(days=days, start=datetime.combine(first, time.min, tzinfo=UTC),
                  dates=tuple(first + timedelta(days=i) for i in range(days)))


# --- SQL building blocks --------------------------------------------------------------------

class DurationMs(Func):
    """Milliseconds from `start` to `end`; NULL while either is NULL."""

    output_field = FloatField()
    arity = 2
    # PostgreSQL; other databases than SQLite are not supported.
    template = "CAST(EXTRACT(EPOCH FROM (%(expressions)s)) * 1000 AS double precision)"
    arg_joiner = " - "

    def __init__(self, end: str, start: str) -> None:
        super().__init__(F(end), F(start))

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(compiler, connection, arg_joiner=") - julianday(",
                           template="((julianday(%(expressions)s)) * 86400000.0)",
                           **extra_context)


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile of an expression (NULLs are ignored)."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Expression, percent: int, **extra: Any) -> None:
        # The fraction is one of our constants, never user input.
        super().__init__(expression, fraction=f"{int(percent) / 100:.2f}", **extra)


def native_percentiles() -> bool:
    return connection.vendor == "postgresql"


def _percent_column(percent: int) -> str:
    """One percentile of each group, from ranked rows (i: 0-based rank, n: group size): the
    value at rank p(n-1)/100, interpolated towards the next rank. Integer arithmetic finds the
    lower rank (floor, on both PostgreSQL and SQLite); `percent` is one of our constants."""
    p = int(percent)
    lower = f"(({p} * (n - 1)) / 100)"
    weight = f"((({p} * (n - 1)) - 100 * {lower}) / 100.0)"
    return (f"SUM(CASE WHEN i = {lower} THEN stat_ms * (1 - {weight}) "
            f"WHEN i = {lower} + 1 THEN stat_ms * {weight} ELSE 0 END)")


def portable_percentiles(rows: QuerySet[Any], key: str | None, duration: Expression,
                         percents: Iterable[int] = PERCENTS) -> dict[Any, dict[int, float]]:
    """{group key: {percent: value}} of `duration` over `rows` grouped by `key` (None: one
    group, keyed None), for databases without percentile_cont. The rows are filtered by the
    ORM (scoping included); only the ranking around them is written here."""
    ranked = (rows.annotate(stat_key=F(key) if key else Value(None, IntegerField()),
                            stat_ms=duration)
              .filter(stat_ms__isnull=False).order_by().values_list("stat_key", "stat_ms"))
    inner, params = ranked.query.sql_with_params()
    percents = tuple(percents)
    columns = ", ".join(_percent_column(p) for p in percents)
    # Safe to join: `inner` is the ORM's SQL with its values left as parameters, and the
    # columns hold only integer constants.
    sql = ("WITH d AS (" + inner + "), r AS (SELECT stat_key, stat_ms, "  # noqa: S608
           "ROW_NUMBER() OVER (PARTITION BY stat_key ORDER BY stat_ms) - 1 AS i, "
           "COUNT(*) OVER (PARTITION BY stat_key) AS n FROM d) "
           "SELECT stat_key, " + columns + " FROM r GROUP BY stat_key")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    return {group_key(row[0]): dict(zip(percents, row[1:], strict=True)) for row in found}


def group_key(value: Any) -> Any:
    """A group's key as both the ORM and a raw cursor give it (SQLite's raw rows hold dates
    and UUIDs as text)."""
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, date):
        return value.isoformat()
    return value


def _percentile_measures(duration: Expression, percents: Iterable[int]) -> dict[str, Any]:
    if not native_percentiles():
        return {}
    return {f"p{p}": PercentileCont(duration, p) for p in percents}


def _grouped(rows: QuerySet[Any], key: str | None, measures: Mapping[str, Any],
             duration: Expression, percents: tuple[int, ...]) -> list[dict[str, Any]]:
    """The measures (and duration percentiles, as p50, p95...) of `rows`, one dict per value of
    `key`, or a single dict for `key=None`."""
    every = {**measures, **_percentile_measures(duration, percents)}
    if key is None:
        found = [rows.aggregate(**every)]
    else:
        found = list(rows.order_by().values(key).annotate(**every))
    if not native_percentiles() and percents:
        extra = portable_percentiles(rows, key, duration, percents)
        for row in found:
            values = extra.get(group_key(row[key]) if key else None, {})
            row.update({f"p{p}": values.get(p) for p in percents})
    return found


def _ms(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def _credits(value: float | None) -> float:
    return round(float(value or 0), 4)


# --- Executions -----------------------------------------------------------------------------

def _execution_measures() -> dict[str, Any]:
    def count(status: str) -> Count:
        return Count("pk", filter=Q(status=status))

    return {"runs": Count("pk"), "completed": count(ExecutionStatus.COMPLETED),
            "failed": count(ExecutionStatus.FAILED),
            "cancelled": count(ExecutionStatus.CANCELLED),
            "credits": Sum("credits_used", default=0.0)}


def _execution_duration() -> DurationMs:
    return DurationMs("finished_at", "started_at")


def executions_in(team: Team, window: Window, workflow: Workflow | None = None
                  ) -> QuerySet[Execution]:
    found = Execution.objects.filter(team=team, created_at__gte=window.start)
    return found.filter(workflow=workflow) if workflow is not None else found


def _totals(executions: QuerySet[Execution]) -> dict[str, Any]:
    [row] = _grouped(executions, None, _execution_measures(), _execution_duration(), PERCENTS)
    finished = row["completed"] + row["failed"] + row["cancelled"]
    credits = _credits(row["credits"])
    return {"runs": row["runs"], "completed": row["completed"], "failed": row["failed"],
            "cancelled": row["cancelled"],
            "successRate": round(row["completed"] / finished, 4) if finished else None,
            "p50DurationMs": _ms(row["p50"]), "p95DurationMs": _ms(row["p95"]),
            "creditsUsed": credits,
            "avgCreditsPerRun": round(credits / row["runs"], 4) if row["runs"] else 0.0}


def _by_day(executions: QuerySet[Execution], window: Window) -> list[dict[str, Any]]:
    days = executions.annotate(day=TruncDate("created_at", tzinfo=UTC))
    found = {row["day"]: row for row in
             _grouped(days, "day", _execution_measures(), _execution_duration(), (50,))}
    return [_day_row(day, found.get(day)) for day in window.dates]


def _day_row(day: date, row: Mapping[str, Any] | None) -> dict[str, Any]:
    row = row or {}
    return {"date": day.isoformat(), "runs": row.get("runs", 0),
            "completed": row.get("completed", 0), "failed": row.get("failed", 0),
            "cancelled": row.get("cancelled", 0), "creditsUsed": _credits(row.get("credits")),
            "p50DurationMs": _ms(row.get("p50"))}


def _by_workflow(executions: QuerySet[Execution]) -> list[dict[str, Any]]:
    rows = _grouped(executions, "workflow_id", _execution_measures(), _execution_duration(),
                    (50,))
    rows.sort(key=lambda r: (-r["credits"], -r["runs"], str(r["workflow_id"])))
    rows = rows[:TOP_ROWS]
    names = dict(Workflow.objects.filter(pk__in=[r["workflow_id"] for r in rows])
                 .values_list("pk", "name"))
    return [{"workflowId": str(r["workflow_id"]), "name": names.get(r["workflow_id"], ""),
             "runs": r["runs"], "completed": r["completed"], "failed": r["failed"],
             "creditsUsed": _credits(r["credits"]), "p50DurationMs": _ms(r["p50"])}
            for r in rows]


# --- Node runs ------------------------------------------------------------------------------

def _node_runs_of(executions: QuerySet[Execution]) -> QuerySet[NodeRun]:
    """The node runs that ran (or failed trying) in these executions: not the skipped ones, nor
    those a cancellation stopped before they started."""
    return NodeRun.objects.filter(Q(started_at__isnull=False) | Q(status=NodeStatus.FAILED),
                                  execution__in=executions.values("pk"))


def _node_measures() -> dict[str, Any]:
    return {"runs": Count("pk"), "failed": Count("pk", filter=Q(status=NodeStatus.FAILED)),
            "credits": Sum("credits", default=0.0)}


def _node_type_facts(node_type: str) -> dict[str, str]:
    spec = node_type_get(node_type)
    return {"nodeTypeLabel": spec.label if spec else node_type,
            "category": spec.category if spec else ""}


def _by_node_type(executions: QuerySet[Execution]) -> list[dict[str, Any]]:
    rows = _grouped(_node_runs_of(executions), "node_type", _node_measures(),
                    DurationMs("finished_at", "started_at"), ())
    rows.sort(key=lambda r: (-r["credits"], -r["runs"], r["node_type"]))
    return [{"nodeType": r["node_type"], **_node_type_facts(r["node_type"]), "runs": r["runs"],
             "failed": r["failed"], "creditsUsed": _credits(r["credits"])}
            for r in rows[:TOP_ROWS]]


def _by_node(executions: QuerySet[Execution], workflow: Workflow) -> list[dict[str, Any]]:
    measures = {**_node_measures(), "label": Max("label"), "node_type": Max("node_type")}
    rows = _grouped(_node_runs_of(executions), "node_id", measures,
                    DurationMs("finished_at", "started_at"), (50,))
    rows.sort(key=lambda r: (-r["credits"], -r["runs"], r["node_id"]))
    labels = _current_labels(workflow)
    return [{"nodeId": r["node_id"], "label": labels.get(r["node_id"]) or r["label"] or "",
             "nodeType": r["node_type"], **_node_type_facts(r["node_type"]), "runs": r["runs"],
             "failed": r["failed"], "creditsUsed": _credits(r["credits"]),
             "p50DurationMs": _ms(r["p50"])}
            for r in rows[:TOP_ROWS]]


def _current_labels(workflow: Workflow) -> dict[str, str]:
    """Node labels as the workflow's graph names them now (a renamed node shows its new name)."""
    labels: dict[str, str] = {}
    for item in workflow.nodes if isinstance(workflow.nodes, list) else []:
        data = item.get("data") if isinstance(item, dict) else None
        if isinstance(data, dict) and isinstance(data.get("label"), str):
            labels[str(item.get("id"))] = data["label"]
    return labels


# --- The two reports ------------------------------------------------------------------------

def team_stats(team: Team, days: int, now: datetime | None = None) -> dict[str, Any]:
    """GET /stats: the team's executions of the last `days` UTC days."""
    window = stats_window(days, now)
    executions = executions_in(team, window)
    return {"days": days, **_totals(executions), "byDay": _by_day(executions, window),
            "byWorkflow": _by_workflow(executions),
            "byNodeType": _by_node_type(executions)}


def workflow_stats(workflow: Workflow, days: int, now: datetime | None = None
                   ) -> dict[str, Any]:
    """GET /workflows/{id}/stats: one workflow's executions of the last `days` UTC days."""
    window = stats_window(days, now)
    executions = executions_in(workflow.team, window, workflow)
    return {"workflowId": str(workflow.pk), "days": days, **_totals(executions),
            "byDay": _by_day(executions, window), "byNode": _by_node(executions, workflow)}


# --- The workflow list ----------------------------------------------------------------------

def with_run_summary(workflows: QuerySet[Workflow], now: datetime | None = None
                     ) -> QuerySet[Workflow]:
    """Annotate each workflow with `last_run_status`, `last_run_at` and `runs_7d` (its
    executions in the Dashboard's 7-day window), in the list's own query."""
    runs = Execution.objects.filter(workflow=OuterRef("pk"))
    latest = runs.order_by("-created_at", "-pk")
    since = stats_window(7, now).start
    week = (runs.filter(created_at__gte=since).order_by().values("workflow")
            .annotate(total=Count("pk")).values("total"))
    return workflows.annotate(
        last_run_status=Subquery(latest.values("status")[:1]),
        last_run_at=Subquery(latest.values("created_at")[:1]),
        runs_7d=Coalesce(Subquery(week, output_field=IntegerField()), 0))
