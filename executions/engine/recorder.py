"""The writes of one advance: every node and execution transition, each a conditional UPDATE
(state.py) in a short transaction of its own, never held across a network call.

`guarded` is the failure contract of recording: a step that raises is rolled back and the node's
failure is recorded instead, so an execution is never left RUNNING because a write failed (a
value jsonb refuses, a bug, a broken constraint). Ending an execution (`stop`, `complete`)
cancels remote jobs first, outside any transaction, then writes.
"""

import logging
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from accounts.credits import credits_charge_nodes, credits_release_execution
from accounts.selectors import team_providers_read
from executions.batches import batch_row_finished_safely
from executions.events import EventBuffer, LeaseLost
from executions.models import Execution, ExecutionStatus, NodePhase, NodeRun, NodeStatus, Trigger
from executions.presenters import execution_status, node_state
from executions.providers.errors import ProviderError
from wireflow_site.isotime import iso
from wireflow_site.rows import instances_where
from workflows import dataflow
from workflows.graph import topological_order

from . import fused, limits, state
from .contracts import NodeFailure, NodeResult
from .graphview import GraphView
from .heartbeat import Heartbeat
from .nodectx import (
    TEAM_KEY,
    KeyRing,
    NodeInput,
    common_flags,
    job_credentials,
    submitted_on_team_key,
)
from .remote import cancel_job, close_attempt, gather, outcome
from .retry import backoff_seconds

logger = logging.getLogger("wireflow.engine")
OPEN = (NodeStatus.PENDING, NodeStatus.RUNNING)


class DeadlinePassed(Exception):
    """An inline node's executor was still running at the node's deadline."""


class EndFailed(Exception):
    """Ending the execution in a node's recording transaction failed (its cause chained)."""


class Recorder:
    def __init__(self, execution: Execution, heartbeat: Heartbeat) -> None:
        self.ex = execution
        self.heartbeat = heartbeat
        self.owner = heartbeat.owner
        self.graph = GraphView.build(execution.nodes, execution.edges)
        read = state.node_runs_read(execution)  # with its lease, or afresh
        self.runs = {run.node_id: run for run in (
            read if read is not None else instances_where(NodeRun, "execution", execution.pk))}
        pairs = [(link.source, link.target) for link in self.graph.links]
        self.order = [n for n in topological_order(list(self.graph.nodes), pairs)
                      if n in self.runs]
        self.events = EventBuffer(execution)
        self.keys = KeyRing(execution.team_id, team_providers_read(execution))
        self.finished = False
        self._stop_with: tuple[str, str] | None = None
        # Priced nodes completed in the open recording transaction, charged together at its
        # end (`_settle`): a fan-out's results cost one ledger write, not one per node.
        self._to_charge: list[NodeRun] = []
        # Whether a recording transaction that leaves no node open may end the execution too
        # (`_settle`); off once that failed, so the end is then written on its own.
        self._end_with_last = True
        # Set once a fused step let go of the lease as the pass's last write (`_fused`): the
        # pass then ends, waking the execution next at `let_go_wake`.
        self.let_go = False
        self.let_go_wake: datetime | None = None

    def refresh(self) -> None:
        """Re-read the unfinished nodes: a provider webhook may have marked one due, and a
        runner that lost its lease may still have recorded the node it was running."""
        open_runs = [run.pk for run in self.runs.values() if run.status in OPEN]
        for fresh in NodeRun.objects.filter(pk__in=open_runs):
            self.runs[fresh.node_id] = fresh

    # --- the failure contract of recording ------------------------------------------------

    def guarded(self, run: NodeRun | None, what: str, step: Callable[[], bool]) -> bool:
        """Run one recording step in a transaction of its own; whether a transition won. If
        the step raises, it is undone and the failure of `run` is recorded instead (without a
        run, the exception goes on: the caller ends the execution). A stop asked for by the
        step (a failed node) happens after the commit, because it calls providers.
        On PostgreSQL, a step that changes one node is written in one statement (fused.py)."""
        try:
            fused_won = self._fused(step) if run is not None else None
            if fused_won is None:
                with transaction.atomic():
                    won = step()
                    self._settle()
            else:
                won = fused_won
        except (LeaseLost, SoftTimeLimitExceeded):
            raise  # not the node's doing: the pass ends and the execution is woken again
        except EndFailed:
            self._record_without_the_end([run] if run is not None else [])
            return self.guarded(run, what, step)
        except Exception as exc:
            self._undo()
            if run is None:
                raise
            logger.exception("recording %s of %s in %s failed", what, run.node_id, self.ex.pk)
            run.refresh_from_db()
            with transaction.atomic():
                won = self.fail_node(run, f"Could not record {what}: {_describe(exc)}")
                self.events.flush()
        self._stop_if_asked()
        return won

    def _fused(self, step: Callable[[], bool]) -> bool | None:
        """On PostgreSQL, `step` recorded in one statement when all it does is one node's
        transition and that node's events; whether the transition won. None when it does more:
        nothing of it was sent or kept in memory, and it is to be recorded in a transaction.
        Whatever else it raises, it raises as the ordinary recording would (`guarded`)."""
        if connection.vendor != "postgresql":
            return None
        events, charges, stop = len(self.events.pending), len(self._to_charge), self._stop_with
        collector = fused.Collector()
        try:
            with fused.collect(collector):
                won = step()
                self._settle()
            if collector.run is None:
                if len(self.events.pending) > events:
                    raise fused.Unfusable("events without a node transition")
                return won
            let_go = collector.let_go = self._last_write_of_pass()
            # In a transaction already (a test's): a savepoint, so that a failure undoes it.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                written = collector.write(self.events)
            if written and let_go is not None and collector.let_go_done:
                self.let_go, self.let_go_wake = True, let_go[1]
        except fused.Unfusable:
            collector.restore()
            del self.events.pending[events:]
            del self._to_charge[charges:]
            self._stop_with = stop
            return None
        except BaseException:
            collector.restore()
            raise
        if not written:
            self._stop_with = stop
        return won and written

    def _last_write_of_pass(self) -> tuple[str, datetime | None] | None:
        """When the step being fused (its transition applied in memory) is the pass's last
        write: the lease's owner and the execution's next wake-up, for the same statement to
        let go of the lease (fused.py). None here; the runner knows when a pass ends."""
        return None

    def _stop_if_asked(self) -> None:
        """A stop a committed step asked for (a failed node): done after the commit, because
        it calls providers."""
        if self._stop_with is not None and not self.finished:
            status, error = self._stop_with
            self.stop(status, error)

    def guarded_batch(self, steps: Sequence[tuple[NodeRun, str, Callable[[], bool]]]) -> list[bool]:
        """Several recording steps, each of its own node, in one transaction: one commit and
        one write of their events, where one transaction each cost a round trip or three
        apiece (a 100-way fan-out claims and records 100 nodes in a pass). If any step raises,
        the whole batch is undone and each step runs again in `guarded`, so that a bad step
        fails only its own node. A step that stops the execution (a failed node) ends the
        batch, as it would end a loop of `guarded` steps: the later ones are not taken.
        Whether each step taken won, in order (shorter than `steps` when the batch ended)."""
        if self.finished or len(steps) < 2:
            return self._guarded_each(steps)
        won: list[bool] = []
        try:
            with transaction.atomic():
                for _, _, step in steps:
                    if self._stop_with is not None:
                        break
                    won.append(step())
                self._settle()
        except (LeaseLost, SoftTimeLimitExceeded):
            raise  # not the nodes' doing: the pass ends and the execution is woken again
        except EndFailed:
            self._record_without_the_end([run for run, _, _ in steps])
            return self.guarded_batch(steps)
        except Exception:
            logger.warning("recording %d steps together in %s failed; one by one instead",
                           len(steps), self.ex.pk, exc_info=True)
            self._undo()
            for run, _, _ in steps:
                run.refresh_from_db()
            return self._guarded_each(steps)
        self._stop_if_asked()
        return won

    def _guarded_each(self, steps: Sequence[tuple[NodeRun, str, Callable[[], bool]]]) -> list[bool]:
        won: list[bool] = []
        for run, what, step in steps:
            if self.finished:
                break
            won.append(self.guarded(run, what, step))
        return won

    def _settle(self) -> None:
        """The end of a recording transaction: charge the nodes it completed; if it leaves no
        node open, end the execution in it too (as `complete` would next, in a transaction of
        its own: one commit and one read of the reservation fewer for every run); then write
        its events."""
        ending = self._ends_here()
        released = False
        if self._to_charge:
            runs, self._to_charge = self._to_charge, []
            charged = credits_charge_nodes(self.ex.team_id, self.ex.pk,
                                           [(run.node_id, run.credits) for run in runs],
                                           release_rest=ending)
            released = ending
            for run in runs:
                # The team could not cover the whole cost: the node records what was charged.
                if float(charged[run.node_id]) != run.credits:
                    state.node_transition(run, credits=float(charged[run.node_id]))
                self.events.add("node", node_state(run))
        if ending:
            try:
                self._finish(ExecutionStatus.COMPLETED, "", timezone.now(), self._final_output(),
                             released=released)
            except (OperationalError, InterfaceError, fused.Unfusable):
                raise  # the database is away (nothing of the transaction was written), or
                # the step is to be recorded in a transaction (Recorder._fused)
            except Exception as exc:  # a lost lease too: the results are kept, not the end
                raise EndFailed from exc
        if fused.collecting() is None:  # else written with the step's transition (_fused)
            self.events.flush()

    def _ends_here(self) -> bool:
        """Whether the recording transaction under way leaves the execution complete: no node
        open, none failed it (a stop is written after the commit: it calls providers)."""
        return (self._end_with_last and not self.finished and self._stop_with is None
                and self._all_terminal())

    def _all_terminal(self) -> bool:
        return all(run.status in dataflow.TERMINAL for run in self.runs.values())

    def _record_without_the_end(self, runs: list[NodeRun]) -> None:
        """The steps were fine but ending the execution with them was not: undo it all and
        let the caller record the steps again on their own, as if the end came after them
        (`complete` then writes it, or fails the execution trying, as it always could)."""
        logger.warning("ending %s with its last node failed; recording the node first",
                       self.ex.pk, exc_info=True)
        self._undo()
        for run in runs:
            run.refresh_from_db()
        self._end_with_last = False

    def _undo(self) -> None:
        """Forget what a rolled-back step changed in memory."""
        self.events.pending.clear()
        self._to_charge.clear()
        self._stop_with = None
        self.ex.refresh_from_db(fields=["status", "error", "finished_at", "final_output",
                                        "credits_used", "last_seq", "lease_owner",
                                        "lease_expires_at", "wake_at"])
        self.finished = self.ex.status != ExecutionStatus.RUNNING

    # --- node transitions (call inside `guarded`) -----------------------------------------

    def claim(self, run: NodeRun, prepared: NodeInput, phase: NodePhase, **extra: Any) -> bool:
        """PENDING (or a retry's wait) -> RUNNING with a new attempt: only the runner whose
        claim wins runs the node, and the claim is committed before it does."""
        now = timezone.now()
        attempt = run.attempt + 1
        # A job is checked, fetched and cancelled on the key it was submitted on, and billed
        # by it: the claim records whose that is, before the submit.
        job = ({TEAM_KEY: prepared.billed_by_team}
               if phase == NodePhase.SUBMITTING and prepared.credentials is not None else {})
        won = state.node_transition(
            run, status=NodeStatus.RUNNING, phase=phase, attempt=attempt,
            started_at=run.started_at or now,
            deadline_at=run.deadline_at or now + timedelta(seconds=prepared.timeout_seconds),
            input=prepared.stored, cache_key=prepared.cache_key,
            attempts_log=[*run.attempts_log, {"attempt": attempt, "startedAt": iso(now)}],
            next_check_at=None, request_id="", remote=job, polls=0, **extra)
        if won:
            self.events.add("node", node_state(run))
        return won

    def fail_unstarted(self, run: NodeRun, message: str) -> bool:
        """A node that fails before its executor could run (bad params, an input too big)."""
        now = timezone.now()
        state.node_transition(run, status=NodeStatus.RUNNING, attempt=run.attempt + 1,
                              started_at=now, input=None,
                              attempts_log=[{"attempt": run.attempt + 1, "startedAt": iso(now)}])
        return self.fail_node(run, message)

    def skip(self, run: NodeRun, reason: str) -> bool:
        won = state.node_transition(run, status=NodeStatus.SKIPPED, error="",
                                    finished_at=timezone.now())
        if won:
            logger.debug("skipped %s: %s", run.node_id, reason)
            self.events.add("node", node_state(run))
        return won

    def completed(self, run: NodeRun, result: NodeResult, **extra: Any) -> bool:
        problem = limits.result_problem(result)
        if problem:
            return self.failed_attempt(run, NodeFailure(problem))
        now = timezone.now()
        credits = result.credits
        if run.credits_limit is not None and credits > run.credits_limit:
            # Never more than the bound the reservation covered before the node ran.
            logger.warning("%s cost %s, over its bound %s", run.node_id, credits,
                           run.credits_limit)
            credits = run.credits_limit
        won = state.node_transition(
            run, status=NodeStatus.COMPLETED, phase=NodePhase.NONE, finished_at=now,
            ports=result.ports, output=result.output, credits=credits, progress=1.0,
            next_check_at=None, attempts_log=close_attempt(run.attempts_log, now, None, None),
            **extra)
        if won and run.credits > 0:
            # Charged (and its event written) at the end of the transaction, with the others
            # completed in it: its transition won, so once per node (the ledger's unique
            # constraint backs that up).
            self._to_charge.append(run)
        elif won:
            self.events.add("node", node_state(run))
        return won

    def failed_attempt(self, run: NodeRun, exc: BaseException) -> bool:
        """An attempt failed: wait and try again if the error is retryable and retries are
        left, else fail the node. Every executor, inline or remote, goes through here."""
        if isinstance(exc, DeadlinePassed):
            return self.fail_node(run, f"Timed out after {self.timeout_of(run)} s")
        http_status = exc.http_status if isinstance(exc, ProviderError) else None
        message = str(exc) or exc.__class__.__name__
        retryable = isinstance(exc, ProviderError) and exc.retryable
        if not isinstance(exc, ProviderError | NodeFailure):
            logger.error("executor of %s (%s) crashed", run.node_id, run.node_type, exc_info=exc)
            message = f"Internal error in {run.node_type}: {exc.__class__.__name__}"
        now = timezone.now()
        log = close_attempt(run.attempts_log, now, message, http_status)
        if retryable and run.attempt <= self.retries_of(run):
            retry_after = exc.retry_after if isinstance(exc, ProviderError) else None
            delay = backoff_seconds(run.attempt, retry_after)
            won = state.node_transition(run, phase=NodePhase.RETRY_WAIT, attempts_log=log,
                                        next_check_at=now + timedelta(seconds=delay))
            if won:
                self.events.add("node", node_state(run))
            return won
        state.node_transition(run, attempts_log=log)
        return self.fail_node(run, message)

    def expire(self, run: NodeRun, message: str) -> bool:
        state.node_transition(run, attempts_log=close_attempt(run.attempts_log, timezone.now(),
                                                              message, None))
        return self.fail_node(run, message)

    def fail_node(self, run: NodeRun, message: str) -> bool:
        now = timezone.now()
        if common_flags(self.graph, run.node_id).continue_on_error:
            outputs = self.graph.specs[run.node_id].outputs
            ports = {port.id: {"error": message} for port in outputs}
            won = state.node_transition(run, status=NodeStatus.FAILED, phase=NodePhase.NONE,
                                        error=message, finished_at=now, ports=ports,
                                        output={"error": message}, next_check_at=None)
            if won:
                self.events.add("node", node_state(run))
            return won
        won = state.node_transition(run, status=NodeStatus.FAILED, phase=NodePhase.NONE,
                                    error=message, finished_at=now, next_check_at=None)
        if won:
            self.events.add("node", node_state(run))
            label = self.graph.label(run.node_id)
            self._stop_with = (ExecutionStatus.FAILED,
                               f"Node '{label}' ({run.node_id}) failed: {message}")
        return won

    def retries_of(self, run: NodeRun) -> int:
        return common_flags(self.graph, run.node_id).retries

    def timeout_of(self, run: NodeRun) -> int:
        return common_flags(self.graph, run.node_id).timeout_seconds

    # --- ending the execution ---------------------------------------------------------------

    def stop(self, status: str, error: str) -> None:
        """End the execution: cancel remote jobs in flight and every unfinished node."""
        self._stop_with = None
        jobs = [run for run in self.runs.values()
                if run.status == NodeStatus.RUNNING and run.request_id]
        if jobs:
            keys = {run.pk: job_credentials(self.ex.team_id, self.graph.specs[run.node_id],
                                            self.keys, submitted_on_team_key(run))
                    for run in jobs}
            self.heartbeat.run(gather(
                [outcome("cancel", run, cancel_job(self.graph, run, keys[run.pk]))
                 for run in jobs]), None)

        def cancel_the_rest() -> bool:
            now = timezone.now()
            for run in self.runs.values():
                if run.status in OPEN and state.node_transition(
                        run, status=NodeStatus.CANCELLED, phase=NodePhase.NONE, finished_at=now,
                        next_check_at=None):
                    self.events.add("node", node_state(run))
            return self._finish(status, error, now, {})

        self.guarded(None, "the end of the execution", cancel_the_rest)

    def complete(self) -> None:
        self.guarded(None, "the end of the execution", lambda: self._finish(
            ExecutionStatus.COMPLETED, "", timezone.now(), self._final_output()))

    def _reserved_nothing(self) -> bool:
        """Whether the run cannot hold a reservation, so that its end reads no ledger: credits
        are reserved (at the start) and covered (before a node runs) only for priced nodes, and
        every stored node here is a known type without a price. Any doubt (a node this graph
        does not run) reads the ledger."""
        return len(self.graph.specs) == len(self.ex.nodes) and not any(
            spec.credits for spec in self.graph.specs.values())

    def _finish(self, status: str, error: str, now: datetime, final: dict[str, Any], *,
                released: bool = False) -> bool:
        """`released`: the reservation's rest was given back in this transaction already."""
        # Credits: give back the unused reservation. Before the transition, so the team's lock
        # is always taken before the execution row's; rolled back with it if the lease is lost.
        if not released and not self._reserved_nothing():
            credits_release_execution(self.ex.team_id, self.ex.pk)
        credits = sum(run.credits for run in self.runs.values())
        if not state.execution_transition(self.ex, self.owner, status=status, error=error,
                                          finished_at=now, final_output=final,
                                          credits_used=credits, wake_at=None,
                                          lease_owner="", lease_expires_at=None):
            raise LeaseLost(str(self.ex.pk))
        self.events.add("execution", {**execution_status(self.ex), "finalOutput": final})
        self.finished = True
        if self.ex.trigger == Trigger.BATCH:  # its batch starts the next row once this commits
            transaction.on_commit(partial(batch_row_finished_safely, str(self.ex.pk)))
        return True

    def _final_output(self) -> dict[str, Any]:
        outputs = [n for n in self.order if self.graph.specs[n].node_type.startswith("output:")]
        chosen = outputs or dataflow.sinks(self.order, self.graph.links)
        return {node_id: self.runs[node_id].output for node_id in chosen
                if self.runs[node_id].status == NodeStatus.COMPLETED}


def _describe(exc: BaseException) -> str:
    """What users see of a failed write: the kind of error, not the database's internals."""
    return f"{exc.__class__.__name__} while saving it"
