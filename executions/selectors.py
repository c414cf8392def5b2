"""Reads for executions, scoped to the caller's teams (404 otherwise)."""

import base64
import binascii
import functools
import uuid
from datetime import datetime
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import Model, Q, QuerySet

from accounts.models import Membership, Team, User
from accounts.permissions import readable_one, readable_row
from wireflow_site.errors import InvalidRequest
from wireflow_site.rows import columns, instances, instances_where, one_row
from workflows.models import Workflow, WorkflowVersion

from . import presenters
from .models import Execution, ExecutionEvent, NodeRun

# What a poll and the live streams' snapshot (presenters.poll_shape) do not show: the graph and
# inputs, which may be large JSON, are not read for them.
_NOT_POLLED = ("nodes", "edges", "inputs", "trigger_data")
_RUN_NOT_POLLED = ("input", "attempts_log", "logs", "remote")


def execution_get_for_user(user: User, execution_id: str, *,
                           team: Team | None = None) -> Execution:
    # Its version comes along: details and history show its number and tag.
    return readable_one(Execution.objects.select_related("workflow_version"), user,
                        execution_id, team=team, not_found="Execution not found")


def execution_get_for_poll(user: User, execution_id: str, *,
                           team: Team | None = None) -> Execution:
    """execution_get_for_user, reading only what poll_shape shows (its version's number and
    tag, not the graphs), in one statement written once: every poll makes this lookup, and
    the ORM spent ~1 ms building its membership join, its version's join and its deferred
    columns on each. The same answers: NotFound for another team's execution, a missing one
    and an id that is not one."""
    row = readable_row(Execution, _poll_sql, user, execution_id, team=team,
                       not_found="Execution not found")
    execution, version = instances(row, (Execution, WorkflowVersion), _POLL_DEFERRED)
    Execution._meta.get_field("workflow_version").set_cached_value(
        execution, version if version.pk is not None else None)  # none: a graph sent to run
    return cast(Execution, execution)


_POLL_DEFERRED: dict[type[Model], tuple[str, ...]] = {Execution: _NOT_POLLED,
                                                      WorkflowVersion: ("nodes", "edges")}


@functools.cache
def _poll_sql(roles: int, narrowed: bool) -> str:
    quote = connection.ops.quote_name
    execution, member, version = (quote(m._meta.db_table)
                                  for m in (Execution, Membership, WorkflowVersion))
    # Names from the models' metadata, quoted; the values are parameters.
    return (f"SELECT {columns(Execution, 'e', _NOT_POLLED)}, "  # noqa: S608
            f"{columns(WorkflowVersion, 'v', _POLL_DEFERRED[WorkflowVersion])} "
            f"FROM {execution} e "
            f"JOIN {member} m ON m.team_id = e.team_id AND m.user_id = %s "
            f"LEFT JOIN {version} v ON v.id = e.workflow_version_id "
            f"WHERE e.id = %s AND m.role IN ({', '.join(['%s'] * roles)})"
            + (" AND e.team_id = %s" if narrowed else ""))


def node_runs_of(execution: Execution, *, for_poll: bool = False) -> list[NodeRun]:
    """In the graph's order (a run's position, one per node). Read by SQL built once: every
    poll reads them, and the ORM spent longer building the query than running it."""
    return instances_where(NodeRun, "execution", execution.pk,
                           deferred=_RUN_NOT_POLLED if for_poll else ())


def execution_snapshot(execution_id: str) -> tuple[int, dict[str, Any] | None]:
    """(last event seq, poll shape) for the live streams; (0, None) once it is gone. Read under
    the execution row's lock, which the engine takes when it numbers the events of a change,
    in the change's own transaction: the state is exactly the one after that seq, so an event
    replayed after the snapshot is never one the snapshot already shows."""
    with transaction.atomic():
        execution = (Execution.objects.select_for_update(no_key=True).defer(*_NOT_POLLED)
                     .filter(pk=execution_id).first())
        if execution is None:
            return 0, None
        return execution.last_seq, presenters.poll_shape(
            execution, node_runs_of(execution, for_poll=True))


def execution_progress(execution_id: str) -> tuple[str, int] | None:
    """(status, last event seq), or None once the execution is gone."""
    return one_row(Execution.objects.filter(pk=execution_id).values_list("status", "last_seq"))


def events_after(execution_id: str, seq: int, limit: int = 1000) -> list[ExecutionEvent]:
    return list(ExecutionEvent.objects.filter(execution_id=execution_id, seq__gt=seq)
                .order_by("seq")[:limit])


def encode_cursor(execution: Execution) -> str:
    raw = f"{execution.created_at.isoformat()}|{execution.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, pk = raw.split("|", 1)
        return datetime.fromisoformat(moment), uuid.UUID(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest("Invalid cursor", fields=["cursor"]) from None


def executions_for_workflow(workflow: Workflow, *, status: str | None, limit: int,
                            cursor: str | None) -> tuple[list[Execution], str | None]:
    """A page of the workflow's executions, newest first, and the cursor of the next page."""
    found: QuerySet[Execution] = workflow.executions.all()
    if status:
        found = found.filter(status=status)
    if cursor:
        moment, pk = _decode_cursor(cursor)
        found = found.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))
    page = list(found.order_by("-created_at", "-pk")[:limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, encode_cursor(page[-1]) if more and page else None
