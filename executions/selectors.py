"""Reads for executions, scoped to the caller's teams (404 otherwise)."""

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from accounts.models import Team, User
from accounts.permissions import readable_one
from wireflow_site.errors import InvalidRequest
from wireflow_site.rows import instances_where, one_row
from workflows.models import Workflow

from . import presenters
from .models import Execution, ExecutionEvent, NodeRun

# What a poll and the live streams' snapshot (presenters.poll_shape) do not show: the graph and
# inputs, which may be large JSON, are not read for them.
_NOT_POLLED = ("nodes", "edges", "inputs", "trigger_data")
_VERSION_NOT_POLLED = ("workflow_version__nodes", "workflow_version__edges")
_RUN_NOT_POLLED = ("input", "attempts_log", "logs", "remote")


def execution_get_for_user(user: User, execution_id: str, *, team: Team | None = None,
                           for_poll: bool = False) -> Execution:
    """`for_poll`: only what poll_shape shows is read."""
    # Its version comes along: poll, details and history show its number and tag.
    rows = Execution.objects.select_related("workflow_version")
    return readable_one(rows.defer(*_NOT_POLLED, *_VERSION_NOT_POLLED) if for_poll else rows,
                        user, execution_id,
                        team=team, not_found="Execution not found")


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
