"""Conditional writes for the engine. Each returns whether it won; a loser (a stale or duplicate
worker) changes nothing and backs off."""

from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.credits import credits_release_execution
from accounts.selectors import keep_team_providers, team_providers_sql
from executions.models import Execution, ExecutionStatus, NodePhase, NodeRun, NodeStatus
from wireflow_site.rows import column_field, columns, instances, one_row, update_where

from . import fused


def lease_seconds() -> float:
    return float(getattr(settings, "ENGINE_LEASE_SECONDS", 15))


def acquire_lease(execution_id: str, owner: str) -> Execution | None:
    """Take the lease when it is free or expired, and read the execution as it then is (one
    statement where the database returns rows from an UPDATE; with it, the providers its team
    has keys for: `team_providers`, and on PostgreSQL its node runs: `node_runs_read`); None
    when it was not free.
    Whatever wake-up was left for a previous holder is this pass's to see: it starts by
    reading everything."""
    now = timezone.now()
    expires = now + timedelta(seconds=lease_seconds())
    if connection.features.can_return_columns_from_insert:
        return _lease_returning(execution_id, owner, now, expires)
    won = (Execution.objects
           .filter(pk=execution_id, status=ExecutionStatus.RUNNING)
           .filter(Q(lease_owner="") | Q(lease_expires_at__lt=now))
           .update(lease_owner=owner, lease_expires_at=expires, wake_requested=False))
    return Execution.objects.filter(pk=execution_id).first() if won else None


def _lease_returning(execution_id: str, owner: str, now: datetime,
                     expires: datetime) -> Execution | None:
    def prep(name: str, value: Any) -> Any:
        return column_field(Execution, name).get_db_prep_value(value, connection)

    with_runs = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(_lease_sql(with_runs), [owner, prep("lease_expires_at", expires),
                                               prep("wake_requested", False),
                                               prep("id", execution_id), ExecutionStatus.RUNNING,
                                               "", prep("lease_expires_at", now)])
        rows = cursor.fetchall()
    if not rows:
        return None
    if not with_runs:
        execution = instances(rows[0][:-1], [Execution])[0]
        keep_team_providers(execution, rows[0][-1])
        return cast(Execution, execution)
    # The execution's row first, then one row per node run (see _lease_sql).
    width = _execution_width()
    execution = instances(rows[0][1:1 + width], [Execution])[0]
    keep_team_providers(execution, rows[0][1 + width])
    execution.read_node_runs = [instances(row[2 + width:], [NodeRun])[0] for row in rows[1:]]
    return cast(Execution, execution)


def node_runs_read(execution: Execution) -> list[NodeRun] | None:
    """The execution's node runs as its lease read them, the first time they are asked for
    (a later pass reads them afresh); None when the lease did not read them."""
    read = execution.__dict__.pop("read_node_runs", None)
    return read if isinstance(read, list) else None


@cache
def _execution_width() -> int:
    """How many columns the execution's part of the lease's row has (`columns(Execution)`)."""
    return len(columns(Execution).split(", "))


@cache
def _lease_sql(with_runs: bool) -> str:
    """_lease_returning's statement, written once (every pass takes a lease). `with_runs`
    (PostgreSQL): the node runs come in the same statement, each a row after the execution's,
    its part of the row NULL where the other's is (a pass reads them all next anyway: one
    round trip instead of two)."""
    meta = Execution._meta
    quote = connection.ops.quote_name

    def col(name: str) -> str:
        return quote(column_field(Execution, name).column)

    # Only our own table and column names are interpolated; every value is a parameter.
    update = (f"UPDATE {quote(meta.db_table)} SET {col('lease_owner')} = %s, "  # noqa: S608
              f"{col('lease_expires_at')} = %s, {col('wake_requested')} = %s "
              f"WHERE {col('id')} = %s AND {col('status')} = %s "
              f"AND ({col('lease_owner')} = %s OR {col('lease_expires_at')} < %s) "
              f"RETURNING {columns(Execution)}, "
              + team_providers_sql(f"{quote(meta.db_table)}.{col('team')}"))
    if not with_runs:
        return update
    execution_width = _execution_width() + 1  # and the team's providers
    run_columns = columns(NodeRun, "r").split(", ")
    position = run_columns.index(f'r.{quote(column_field(NodeRun, "position").column)}')
    run_table, run_execution = (quote(NodeRun._meta.db_table),
                                quote(column_field(NodeRun, "execution").column))
    nulls = ", ".join(["NULL"] * execution_width)
    run_nulls = ", ".join(["NULL"] * len(run_columns))
    return (f"WITH lease AS ({update}) "  # noqa: S608
            f"SELECT 0, lease.*, {run_nulls} FROM lease UNION ALL "
            f"SELECT 1, {nulls}, {', '.join(run_columns)} FROM {run_table} r "
            f"WHERE r.{run_execution} = (SELECT {col('id')} FROM lease) "
            f"ORDER BY 1, {2 + execution_width + position}")


def request_wake(execution_id: str) -> bool:
    """Leave a wake-up for the live holder of the lease; False when there is none (the lease
    is free or expired, or the execution has ended): then the caller takes the lease itself."""
    return Execution.objects.filter(
        pk=execution_id, status=ExecutionStatus.RUNNING, lease_expires_at__gte=timezone.now(),
    ).exclude(lease_owner="").update(wake_requested=True) == 1


def wake_holder(execution_id: str) -> bool:
    """After a change the engine must see is committed: make sure the live holder of the
    lease runs another pass; False when there is none (then send a task). A wake-up already
    waiting for it is enough, and seeing one is a read, not a write on the execution's row,
    which a fan-out's deliveries would otherwise all queue on: the holder clears it only when
    it takes it, and the pass it then runs starts after that change."""
    found = one_row(Execution.objects.filter(pk=execution_id, status=ExecutionStatus.RUNNING)
                    .values_list("lease_owner", "lease_expires_at", "wake_requested"))
    if found is None:
        return False  # ended: a task finds nothing to do
    owner, expires, waiting = found
    if not owner or expires is None or expires < timezone.now():
        return False
    return bool(waiting) or request_wake(execution_id)


def renew_lease(execution_id: str, owner: str) -> bool:
    expires = timezone.now() + timedelta(seconds=lease_seconds())
    return update_where(Execution, {"id": execution_id, "lease_owner": owner},
                        {"lease_expires_at": expires}) == 1


def release_lease(execution_id: str, owner: str, wake_at: datetime | None,
                  force: bool = False) -> bool:
    """Let go of the lease, unless a wake-up arrived meanwhile: then take the wake-up (clear
    its mark) and keep the lease, and return False so the holder runs another pass. Both are
    conditional writes of one row, so a wake-up is either seen here or finds the lease free.
    `force` lets go whatever arrived (leaving the mark for the next holder)."""
    mine: dict[str, Any] = {"id": execution_id, "lease_owner": owner}
    if update_where(Execution, mine if force else {**mine, "wake_requested": False},
                    {"lease_owner": "", "lease_expires_at": None, "wake_at": wake_at}):
        return True
    return not update_where(Execution, {**mine, "wake_requested": True},
                            {"wake_requested": False})


def wake_pending(execution_id: str) -> bool:
    """A wake-up left while the lease was held, not yet served (the lease now free)."""
    return Execution.objects.filter(pk=execution_id, status=ExecutionStatus.RUNNING,
                                    lease_owner="", wake_requested=True).exists()


def lease_holder(execution_id: str) -> str | None:
    """Who holds the running execution's lease ("" when free); None once it has ended."""
    return (Execution.objects.filter(pk=execution_id, status=ExecutionStatus.RUNNING)
            .values_list("lease_owner", flat=True).first())


def node_transition(run: NodeRun, **fields: Any) -> bool:
    """UPDATE the run WHERE it is still in the status and attempt we last saw (while a step is
    being collected, fused.py: taken as won, and written with the step's events)."""
    collector = fused.collecting()
    if collector is not None:
        return collector.transition(run, fields)
    won = update_where(NodeRun, {"id": run.pk, "status": run.status, "attempt": run.attempt},
                       fields) == 1
    if won:
        for name, value in fields.items():
            setattr(run, name, value)
    return won


def execution_transition(execution: Execution, owner: str, **fields: Any) -> bool:
    won = update_where(Execution, {"id": execution.pk, "status": ExecutionStatus.RUNNING,
                                   "lease_owner": owner}, fields) == 1
    if won:
        for name, value in fields.items():
            setattr(execution, name, value)
    return won


@transaction.atomic
def execution_force_fail(execution_id: str, owner: str, error: str) -> bool:
    """The last resort when ending an execution the ordinary way failed: every unfinished node
    CANCELLED, the execution FAILED, its credit reservation released. Plain writes, no events
    or provider calls, so that as little as possible can fail again."""
    credits_release_execution(
        Execution.objects.filter(pk=execution_id).values_list("team_id", flat=True).get(),
        execution_id)
    now = timezone.now()
    NodeRun.objects.filter(execution_id=execution_id,
                           status__in=[NodeStatus.PENDING, NodeStatus.RUNNING]).update(
        status=NodeStatus.CANCELLED, phase=NodePhase.NONE, finished_at=now, next_check_at=None)
    return Execution.objects.filter(pk=execution_id, status=ExecutionStatus.RUNNING,
                                    lease_owner=owner).update(
        status=ExecutionStatus.FAILED, error=error, finished_at=now, wake_at=None) == 1
