"""Batches (docs/api.md "Batches"): many executions of one workflow, a row of inputs each, at most
`concurrency` running at once.

A batch's rows are stored PENDING and started by `batch_fill`, which takes the batch row's lock:
it counts the rows RUNNING and starts pending ones (a conditional UPDATE from PENDING, in the
transaction that creates the row's execution) until `concurrency` run, so concurrent fills can
never run more. When a row's execution ends, the engine calls `batch_row_finished` after its
commit (executions/engine/recorder.py), which settles the row and fills the freed slot; the
periodic sweep (`batch_sweep`) does the same for anything a lost hook left behind, so a batch
never gets stuck. Credits for every row are checked up front; a row whose start is refused later
(credits spent meanwhile, the workflow made inactive) is FAILED with the refusal's message.
"""

import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.credits import InsufficientCredits, LineItem, credit_balance, total_of
from accounts.models import User
from wireflow_site.errors import ApiError, Conflict, InvalidRequest
from workflows.models import Workflow, WorkflowVersion

from . import services
from .models import (
    Batch,
    BatchRow,
    BatchStatus,
    Execution,
    ExecutionStatus,
    RowStatus,
    Trigger,
)
from .run_inputs import require_inputs, run_inputs

logger = logging.getLogger("wireflow.batches")
DEFAULT_CONCURRENCY = 5
SWEEP_BATCHES = 200  # the most running batches one sweep looks at

_ROW_STATUS = {ExecutionStatus.COMPLETED: RowStatus.COMPLETED,
               ExecutionStatus.FAILED: RowStatus.FAILED,
               ExecutionStatus.CANCELLED: RowStatus.CANCELLED}


# --- Creating a batch -----------------------------------------------------------------------

def batch_create(workflow: Workflow, user: User | None, rows: Sequence[Mapping[str, Any]],
                 concurrency: int = DEFAULT_CONCURRENCY,
                 version: WorkflowVersion | None = None) -> Batch:
    """Check every row (400 naming the first bad one) and the credits of all of them (402),
    store the rows PENDING and start the first `concurrency` of them."""
    _check_bounds(rows, concurrency)
    if not workflow.is_active:
        raise Conflict("Workflow is inactive", code="workflow_inactive")
    plan = services.plan_run(workflow, services.ExecuteRequest(version=version))
    resolved = [_row_inputs(plan.nodes, row, number) for number, row in enumerate(rows, 1)]
    _check_credits(workflow, services.line_items(plan, team_id=workflow.team_id),
                   len(resolved))
    with transaction.atomic():
        batch = Batch.objects.create(workflow=workflow, team_id=workflow.team_id,
                                     created_by=user, version=version, total=len(resolved),
                                     concurrency=concurrency)
        BatchRow.objects.bulk_create([BatchRow(batch=batch, index=number, inputs=inputs)
                                      for number, inputs in enumerate(resolved, 1)])
    batch_fill(str(batch.pk))
    return batch


def _check_bounds(rows: Sequence[Mapping[str, Any]], concurrency: int) -> None:
    if not rows:
        raise InvalidRequest("A batch needs at least one row", fields=["rows"])
    if len(rows) > settings.BATCH_MAX_ROWS:
        raise InvalidRequest(f"Too many rows: {len(rows)} (at most {settings.BATCH_MAX_ROWS})",
                             fields=["rows"])
    if not 1 <= concurrency <= settings.BATCH_MAX_CONCURRENCY:
        raise InvalidRequest(f"concurrency must be between 1 and "
                             f"{settings.BATCH_MAX_CONCURRENCY}", fields=["concurrency"])


def _row_inputs(nodes: list[dict[str, Any]], row: Mapping[str, Any],
                number: int) -> dict[str, Any]:
    """The row's inputs keyed by input node id; a bad row is a 400 that names it (from 1)."""
    if not isinstance(row, Mapping):
        raise InvalidRequest(f"Row {number}: a row is an object of inputs",
                             fields=[f"rows.{number}"])
    try:
        resolved = services.resolve_inputs(nodes, row, strict=True)
        require_inputs(run_inputs(nodes), resolved)
    except InvalidRequest as exc:
        raise InvalidRequest(f"Row {number}: {exc.message}", fields=[f"rows.{number}"]) from None
    return resolved


def _check_credits(workflow: Workflow, items: list[LineItem], rows: int) -> None:
    """The estimate of one run times the rows, against the balance now: a batch that cannot
    be paid for is refused whole, before anything starts."""
    per_batch = [LineItem(node_id=item.node_id, node_label=item.node_label,
                          node_type=item.node_type, credits=item.credits * rows)
                 for item in items]
    required = total_of(per_batch)
    available = credit_balance(workflow.team_id)
    if required > Decimal(0) and required > available:
        raise InsufficientCredits(required, available, per_batch)


# --- Running its rows -----------------------------------------------------------------------

def batch_fill(batch_id: str, settle: Sequence[int] = ()) -> int:
    """Start pending rows while fewer than `concurrency` run; mark the batch COMPLETED once no
    row is pending or running. Returns how many rows were started (failed starts included).
    `settle`: rows whose execution ended, settled in the same transaction as the first look,
    so that nobody sees every row done while the batch still says RUNNING."""
    started = 0
    while _start_next(batch_id, settle):
        settle = ()
        started += 1
    return started


def _start_next(batch_id: str, settle: Sequence[int] = ()) -> bool:
    """Start one pending row if a slot is free, under the batch's lock. False: nothing to do."""
    with transaction.atomic():
        batch = (Batch.objects.select_for_update(of=("self",))
                 .select_related("workflow", "version", "created_by")
                 .filter(pk=batch_id).first())
        if settle:
            _settle_rows(settle)
        if batch is None or batch.status != BatchStatus.RUNNING:
            return False
        rows = BatchRow.objects.filter(batch=batch)
        row = rows.filter(status=RowStatus.PENDING).order_by("index").first()
        if row is None:
            if not rows.filter(status=RowStatus.RUNNING).exists():
                Batch.objects.filter(pk=batch.pk, status=BatchStatus.RUNNING).update(
                    status=BatchStatus.COMPLETED, finished_at=timezone.now())
            return False
        if rows.filter(status=RowStatus.RUNNING).count() >= batch.concurrency:
            return False
        _start_row(batch, row)
        return True


def _start_row(batch: Batch, row: BatchRow) -> None:
    """Create the row's execution (trigger "batch"), or record why it was refused."""
    request = services.ExecuteRequest(
        inputs=row.inputs, trigger=Trigger.BATCH, version=batch.version,
        trigger_data={"batchId": str(batch.pk), "row": row.index})
    try:
        with transaction.atomic():  # a savepoint: a refusal leaves nothing behind
            execution = services.execution_start(batch.workflow, batch.created_by, request)
    except ApiError as exc:
        _set_row(row, RowStatus.FAILED, error=exc.message)
        return
    except Exception as exc:  # a bug must not leave the row pending forever
        logger.exception("starting row %s of batch %s failed", row.index, batch.pk)
        _set_row(row, RowStatus.FAILED, error=f"Internal error ({exc.__class__.__name__})")
        return
    _set_row(row, RowStatus.RUNNING, execution=execution)


def _set_row(row: BatchRow, status: str, **fields: Any) -> None:
    BatchRow.objects.filter(pk=row.pk, status=RowStatus.PENDING).update(status=status, **fields)


def batch_row_finished(execution_id: str) -> None:
    """The engine ended a batch row's execution: settle the row and fill the freed slot."""
    row = (BatchRow.objects.filter(execution_id=execution_id)
           .values_list("pk", "batch_id").first())
    if row is None:
        return
    batch_fill(str(row[1]), settle=[row[0]])


def batch_row_finished_safely(execution_id: str) -> None:
    """batch_row_finished for the engine's on-commit hook: a failure is logged, never raised
    into the engine (the sweep settles the row later)."""
    try:
        batch_row_finished(execution_id)
    except Exception:
        logger.exception("settling the batch row of execution %s failed", execution_id)


def _settle_rows(row_ids: Sequence[int]) -> None:
    """RUNNING rows whose execution has ended take its status (and error); a row whose
    execution was deleted fails."""
    found = (BatchRow.objects.filter(pk__in=row_ids, status=RowStatus.RUNNING)
             .select_related("execution"))
    for row in found:
        execution: Execution | None = row.execution
        if execution is None:
            status, error = RowStatus.FAILED, "The row's execution was deleted"
        elif execution.status in _ROW_STATUS:
            status, error = _ROW_STATUS[ExecutionStatus(execution.status)], execution.error
        else:
            continue
        BatchRow.objects.filter(pk=row.pk, status=RowStatus.RUNNING).update(status=status,
                                                                          error=error)


# --- Cancelling and the sweep ---------------------------------------------------------------

def batch_cancel(batch: Batch) -> bool:
    """Pending rows CANCELLED, running executions asked to stop, the batch CANCELLED (its
    running rows then take their executions' end). False if it had already ended."""
    with transaction.atomic():
        locked = Batch.objects.select_for_update().filter(pk=batch.pk).first()
        if locked is None or locked.status != BatchStatus.RUNNING:
            return False
        now = timezone.now()
        Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.CANCELLED,
                                                 cancel_requested=True, finished_at=now)
        BatchRow.objects.filter(batch=batch, status=RowStatus.PENDING).update(
            status=RowStatus.CANCELLED, error="Cancelled")
        running = list(Execution.objects.filter(batch_row__batch=batch,
                                                batch_row__status=RowStatus.RUNNING))
    for execution in running:
        services.execution_cancel(execution)
    batch.refresh_from_db()
    return True


def batch_sweep() -> int:
    """The safety net of the engine's hook: settle running rows whose execution has ended (or
    is gone), in every batch still RUNNING and in cancelled ones, then fill the running
    batches. Run with the periodic sweep. Returns how many rows it started."""
    ended = (BatchRow.objects.filter(status=RowStatus.RUNNING)
             .exclude(execution__status=ExecutionStatus.RUNNING)
             .values_list("pk", "batch_id")[:1000])
    settle: dict[str, list[int]] = {}
    for row_id, batch_id in ended:
        settle.setdefault(str(batch_id), []).append(row_id)
    running = (Batch.objects.filter(status=BatchStatus.RUNNING)
               .order_by("created_at").values_list("pk", flat=True)[:SWEEP_BATCHES])
    # Each batch's rows are settled under its lock, in the transaction that ends the batch
    # when they were its last: nobody sees every row done while the batch says RUNNING.
    batch_ids = dict.fromkeys([*settle, *(str(batch_id) for batch_id in running)])
    return sum(batch_fill(batch_id, settle=settle.get(batch_id, ())) for batch_id in batch_ids)
