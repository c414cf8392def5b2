"""The batch services (executions/batches.py): concurrent fills never run more rows than the
concurrency, the engine's hook starts the next row, the sweep settles what a lost hook left,
and the CSV reader's bounds."""

import threading
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from pytest_django import Settings

from accounts.models import User
from executions import batches, services
from executions.batch_results import rows_from_csv
from executions.models import (
    Batch,
    BatchRow,
    BatchStatus,
    Execution,
    ExecutionStatus,
    RowStatus,
)
from tests.api.run_helpers import simple_graph
from tests.engine.inprocess import drive
from wireflow_site.errors import InvalidRequest
from workflows.models import Workflow


def make_workflow(owner: User) -> Workflow:
    assert owner.current_team is not None
    return Workflow.objects.create(team=owner.current_team, created_by=owner, name="Fox run",
                                   **simple_graph())


def pending_batch(workflow: Workflow, owner: User, rows: int, concurrency: int) -> Batch:
    """A batch whose rows are all stored PENDING and none started yet."""
    batch = Batch.objects.create(workflow=workflow, team_id=workflow.team_id, created_by=owner,
                                 total=rows, concurrency=concurrency)
    BatchRow.objects.bulk_create([BatchRow(batch=batch, index=i, inputs={"prompt": f"fox {i}"})
                                  for i in range(1, rows + 1)])
    return batch


def execution_of(row: BatchRow) -> Execution:
    assert row.execution_id is not None
    return Execution.objects.get(pk=row.execution_id)


def running(batch: Batch) -> int:
    return BatchRow.objects.filter(batch=batch, status=RowStatus.RUNNING).count()


def in_threads(count: int, work: Any) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def _hook_or_fill(ids: list[Any], batch_id: str, i: int) -> None:
    if i < len(ids):
        batches.batch_row_finished(str(ids[i]))
    else:
        batches.batch_fill(batch_id)


def end(execution_id: Any, status: str = ExecutionStatus.COMPLETED) -> None:
    Execution.objects.filter(pk=execution_id).update(status=status, finished_at=timezone.now())


@pytest.mark.django_db(transaction=True)
def test_concurrent_fills_never_run_more_rows_than_the_concurrency(
        owner: User, sent: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    start = services.execution_start  # the module batches starts executions through

    def slow_start(*args: Any, **kwargs: Any) -> Execution:
        # Widens the window between counting the running rows and starting one, so a fill
        # that did not hold the batch's lock would run too many.
        started = start(*args, **kwargs)
        threading.Event().wait(0.05)
        return started

    monkeypatch.setattr(services, "execution_start", slow_start)
    batch = pending_batch(make_workflow(owner), owner, rows=30, concurrency=3)
    in_threads(8, lambda i: batches.batch_fill(str(batch.pk)))
    assert running(batch) == 3
    seen_most = 0
    while BatchRow.objects.filter(batch=batch, status=RowStatus.RUNNING).exists():
        ids = list(BatchRow.objects.filter(batch=batch, status=RowStatus.RUNNING)
                   .values_list("execution_id", flat=True))
        for execution_id in ids:
            end(execution_id)
        # Every running row's hook and some extra fills race for the freed slots.
        in_threads(len(ids) + 3, partial(_hook_or_fill, ids, str(batch.pk)))
        seen_most = max(seen_most, running(batch))
        assert running(batch) <= 3
    assert seen_most == 3
    assert BatchRow.objects.filter(batch=batch, status=RowStatus.COMPLETED).count() == 30
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.COMPLETED
    # One execution per row: none started twice, none started and then dropped.
    assert Execution.objects.filter(workflow=batch.workflow).count() == 30
    assert Execution.objects.filter(batch_row__batch=batch).count() == 30


@pytest.mark.django_db(transaction=True)
def test_the_engines_hook_starts_the_next_row_when_one_ends(owner: User, sent: list[str]) -> None:
    batch = pending_batch(make_workflow(owner), owner, rows=3, concurrency=1)
    batches.batch_fill(str(batch.pk))
    for index in (1, 2, 3):
        row = BatchRow.objects.get(batch=batch, index=index)
        assert row.status == RowStatus.RUNNING
        finished = drive(str(row.execution_id))  # the hook runs on the engine's commit
        assert finished.status == ExecutionStatus.COMPLETED
    rows = list(BatchRow.objects.filter(batch=batch).order_by("index"))
    assert [r.status for r in rows] == [RowStatus.COMPLETED] * 3
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.COMPLETED
    outputs = [execution_of(r).final_output["result"]["value"] for r in rows]
    assert outputs == ["fox 1", "fox 2", "fox 3"]


@pytest.mark.django_db
def test_the_sweep_settles_rows_whose_hook_was_lost_and_fills_the_slots(owner: User,
                                                                        sent: list[str]) -> None:
    batch = pending_batch(make_workflow(owner), owner, rows=4, concurrency=2)
    batches.batch_fill(str(batch.pk))
    first, second = BatchRow.objects.filter(batch=batch, status=RowStatus.RUNNING)
    end(first.execution_id, ExecutionStatus.FAILED)
    assert second.execution_id is not None
    Execution.objects.filter(pk=second.execution_id).delete()
    assert batches.batch_sweep() == 2
    assert BatchRow.objects.get(pk=first.pk).status == RowStatus.FAILED
    gone = BatchRow.objects.get(pk=second.pk)
    assert gone.status == RowStatus.FAILED and gone.error == "The row's execution was deleted"
    assert running(batch) == 2
    assert batches.batch_sweep() == 0  # nothing more to do: idempotent


@pytest.mark.django_db
def test_the_sweep_settles_a_batchs_rows_in_the_transaction_that_ends_it(
        owner: User, sent: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Settled under the batch's lock with the batch's end, so a sweep cut short after the
    settle leaves nothing half-done (every row done beside a batch still RUNNING)."""
    batch = pending_batch(make_workflow(owner), owner, rows=1, concurrency=1)
    batches.batch_fill(str(batch.pk))
    row = BatchRow.objects.get(batch=batch)
    end(row.execution_id)  # its hook lost
    real = batches._settle_rows

    def settle_then_fail(row_ids: Any) -> None:
        real(row_ids)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(batches, "_settle_rows", settle_then_fail)
    with pytest.raises(RuntimeError):
        batches.batch_sweep()
    assert (BatchRow.objects.get(pk=row.pk).status,
            Batch.objects.get(pk=batch.pk).status) == (RowStatus.RUNNING, BatchStatus.RUNNING)
    monkeypatch.setattr(batches, "_settle_rows", real)
    batches.batch_sweep()
    assert (BatchRow.objects.get(pk=row.pk).status,
            Batch.objects.get(pk=batch.pk).status) == (RowStatus.COMPLETED,
                                                       BatchStatus.COMPLETED)


@pytest.mark.django_db
def test_a_batch_is_completed_once_no_row_is_pending_or_running(owner: User,
                                                                sent: list[str]) -> None:
    batch = pending_batch(make_workflow(owner), owner, rows=1, concurrency=1)
    batches.batch_fill(str(batch.pk))
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.RUNNING
    row = BatchRow.objects.get(batch=batch)
    end(row.execution_id)
    batches.batch_row_finished(str(row.execution_id))
    finished = Batch.objects.get(pk=batch.pk)
    assert finished.status == BatchStatus.COMPLETED and finished.finished_at is not None


@pytest.mark.django_db
def test_a_row_of_an_inactive_workflow_fails_with_the_reason(owner: User, sent: list[str]) -> None:
    workflow = make_workflow(owner)
    batch = pending_batch(workflow, owner, rows=2, concurrency=1)
    Workflow.objects.filter(pk=workflow.pk).update(is_active=False)
    batches.batch_fill(str(batch.pk))
    rows = list(BatchRow.objects.filter(batch=batch).order_by("index"))
    assert [(r.status, r.error) for r in rows] == [(RowStatus.FAILED, "Workflow is inactive")] * 2
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.COMPLETED


@pytest.mark.django_db
def test_a_cancelled_batch_starts_nothing_more(owner: User, sent: list[str]) -> None:
    batch = pending_batch(make_workflow(owner), owner, rows=5, concurrency=2)
    batches.batch_fill(str(batch.pk))
    assert batches.batch_cancel(batch) is True
    row = BatchRow.objects.filter(batch=batch, status=RowStatus.RUNNING).first()
    assert row is not None
    end(row.execution_id, ExecutionStatus.CANCELLED)
    batches.batch_row_finished(str(row.execution_id))
    batches.batch_sweep()
    assert Execution.objects.filter(batch_row__batch=batch).count() == 2
    assert BatchRow.objects.filter(batch=batch, status=RowStatus.CANCELLED).count() == 4
    assert batches.batch_cancel(batch) is False


# --- The CSV reader -----------------------------------------------------------------------

def test_the_csv_reader_keeps_quoted_commas_and_newlines_and_drops_blank_lines() -> None:
    text = 'Prompt,Style\r\n"a, b","line\nbreak"\r\n\r\n,photo\r\n'
    assert rows_from_csv(text.encode()) == [{"Prompt": "a, b", "Style": "line\nbreak"},
                                           {"Style": "photo"}]


def test_the_csv_reader_skips_a_byte_order_mark() -> None:
    assert rows_from_csv("\ufeffPrompt\nfox\n".encode()) == [{"Prompt": "fox"}]


def test_the_csv_reader_stops_at_the_row_bound(settings: Settings) -> None:
    settings.BATCH_MAX_ROWS = 3
    assert len(rows_from_csv(b"P\n1\n2\n3\n")) == 3
    with pytest.raises(InvalidRequest, match="Too many rows"):
        rows_from_csv(b"P\n1\n2\n3\n4\n")
