"""advance(execution_id): take the lease, run every node that is ready, record, and return.

Claim, then act: a node is claimed (PENDING -> RUNNING, committed) before its executor runs and
its outcome is recorded by a second conditional update; network calls happen between the two,
outside any transaction, while the lease is kept alive (heartbeat.py). Inline nodes (input,
utility, logic, output, local media ops) run one by one on a thread of their own, bounded by
their deadline. Remote nodes are submitted, checked and fetched as coroutines, all due ones at
once; between those calls the task returns and the execution is woken again by the provider's
webhook or a scheduled poll, so no worker slot is held while a model generates.

Every executor has the same failure contract (recorder.py): `retries` for retryable errors,
`timeoutSeconds`, `continueOnError`. An inline node found RUNNING that this runner did not
claim belongs to a runner that died or lost its lease (or the database, mid-call): one without
side effects is run again, once, under a new attempt that makes a late result of the old one
lose; one with side effects (a webhook delivery) is left alone until its deadline, then failed
as timed out, so it is never repeated.
A remote node lost while `submitting` is never submitted again: if the provider accepted it,
its completion webhook (signed for that attempt) still delivers the result; else it fails at
its deadline.
"""

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from accounts.credits import InsufficientCredits, credits_cover_node
from executions import dispatch
from executions.events import LeaseLost
from executions.models import Execution, ExecutionStatus, NodePhase, NodeRun, NodeStatus
from executions.presenters import node_state
from wireflow_site import rows
from wireflow_site.isotime import iso
from workflows import dataflow

from . import fused, limits, state
from .contracts import NodeFailure, NodeResult, inline, remote
from .heartbeat import CallTimedOut, Heartbeat
from .limits import input_problem
from .nodectx import (
    TEAM_KEY,
    NodeInput,
    cached_result,
    job_credentials,
    prepare,
    submitted_on_team_key,
    webhook_url,
    webhooks_arrive,
)
from .pricing import cost_bound, line_item
from .recorder import DeadlinePassed, EndFailed, Recorder
from .remote import (
    Outcome,
    cancel_job,
    check_and_fetch,
    close_attempt,
    deliveries_of,
    gather,
    is_due,
    outcome,
)
from .retry import poll_delay

logger = logging.getLogger("wireflow.engine")
MAX_ROUNDS = 1000
PURE_BATCH = 50  # pure nodes recorded per transaction
LOST_INLINE = "The worker running this attempt was lost; the node was run again."
LOST_WHILE_SUBMITTING = ("The worker submitting this job was lost before it recorded the "
                         "provider's answer. The job was not submitted again, so as not to pay "
                         "twice, and the provider did not report back before the deadline.")


def advance(execution_id: str) -> None:
    """Coalesced wake-ups: a wake-up that finds the lease held leaves a mark for the holder
    and returns; the holder runs another pass before it lets go. So N provider webhooks that
    arrive together cost a pass or two, not N tasks backing off and retrying."""
    owner = uuid.uuid4().hex
    taken: Execution | None = _take_lease(execution_id, owner)
    if taken is None:
        return
    heartbeat = Heartbeat(execution_id, owner)
    started = time.monotonic()
    wake_at: datetime | None = None
    while True:
        released, ended = True, False
        try:
            ended, wake_at = _advance(execution_id, heartbeat, taken)
            taken = None  # a further pass reads the execution afresh
        finally:
            # If the database is gone this fails too: the lease then expires and the sweeper
            # re-advances the execution once it is back. An execution that ended let go of
            # its lease in the same write, and so did a pass whose last write was a job's
            # submission (Runner._last_write_of_pass).
            out_of_time = time.monotonic() - started >= settings.ENGINE_PASS_SECONDS
            if not ended:
                released = state.release_lease(execution_id, owner, wake_at, force=out_of_time)
        if released or heartbeat.lost:
            break
        # A wake-up arrived during the pass: the next pass sees what it brought.
    if out_of_time and state.wake_pending(execution_id):
        wake_at = timezone.now()  # a wake-up was left unserved: a fresh task takes it
    if wake_at is not None:
        delay = max(0.0, (wake_at - timezone.now()).total_seconds())
        # A wake-up further off (a safety-net poll while the provider's webhook is awaited) is
        # kept only as the execution's wake_at, and the sweeper sends it once overdue: a
        # message per waiting execution held by the broker and the worker for a minute or two
        # would cost every submit a send and every worker the memory of thousands.
        if delay < settings.ENGINE_SWEEPER_WAKES_AFTER_SECONDS:
            dispatch.advance_later(execution_id, delay)


def _take_lease(execution_id: str, owner: str) -> Execution | None:
    """The lease and the execution as it then is, or None: a wake-up was left for its live
    holder (or it ended). Each try is one conditional write; between two failed ones the
    lease changed hands, so a few tries settle it."""
    for _ in range(5):
        taken = state.acquire_lease(execution_id, owner)
        if taken is not None:
            return taken
        if state.request_wake(execution_id):
            return None  # the holder runs another pass before it lets go
        if state.lease_holder(execution_id) is None:
            return None  # ended meanwhile
    dispatch.advance_later(execution_id, 0.05)  # a busy moment: look again shortly
    return None


def _advance(execution_id: str, heartbeat: Heartbeat,
             execution: Execution | None = None) -> tuple[bool, datetime | None]:
    """Run a pass over `execution` (read afresh when not given): (whether its lease was let go
    already, by the end of the execution or with the pass's last write; when to wake it next).
    Whatever goes wrong, the execution ends up terminal or due again."""
    try:
        runner = Runner(execution or Execution.objects.get(pk=execution_id), heartbeat)
        wake_at = runner.run()
        return runner.finished or runner.let_go, wake_at
    except Execution.DoesNotExist:
        return False, None  # deleted meanwhile
    except LeaseLost:
        logger.warning("lost the lease on %s; another worker continues", execution_id)
        dispatch.advance_later(execution_id)  # so that whoever holds it looks again
        return False, None
    except (OperationalError, InterfaceError, SoftTimeLimitExceeded):
        # The database is away, or the task ran out of time: not the execution's fault. A node
        # left claimed is failed at its deadline by a later pass.
        logger.warning("advancing %s was cut short", execution_id, exc_info=True)
        return False, timezone.now() + timedelta(seconds=settings.SWEEP_GRACE_SECONDS)
    except Exception as exc:
        logger.exception("advancing %s crashed", execution_id)
        _fail_after_crash(execution_id, heartbeat,
                          f"Internal error while running the execution ({exc.__class__.__name__})")
        return False, None


def _fail_after_crash(execution_id: str, heartbeat: Heartbeat, message: str) -> None:
    try:
        Runner(Execution.objects.get(pk=execution_id), heartbeat).stop(
            ExecutionStatus.FAILED, message)
    except LeaseLost:
        dispatch.advance_later(execution_id)
    except Exception:
        logger.exception("ending %s after a crash failed; forcing it", execution_id)
        state.execution_force_fail(execution_id, heartbeat.owner, message)


class Runner(Recorder):
    def __init__(self, execution: Execution, heartbeat: Heartbeat) -> None:
        super().__init__(execution, heartbeat)
        self._pass_ends = time.monotonic() + settings.ENGINE_PASS_SECONDS
        self._started = 0
        # Pure nodes run but not yet recorded: (run, its status and attempt before, fields).
        self._pure: list[tuple[NodeRun, str, int, dict[str, Any]]] = []
        self._pure_off = False
        self._webhooks_arrive: bool | None = None  # read once per pass, when a job needs it
        self._deliveries: _Deliveries | None = None  # of the submissions being recorded
        self._round_terminal = 0  # nodes terminal when the round began
        self._recording_last = False  # recording a round's only provider answer

    # --- the loop ---------------------------------------------------------------------------

    def run(self) -> datetime | None:
        self._pass_ends = time.monotonic() + settings.ENGINE_PASS_SECONDS
        self._started = 0
        for round_ in range(MAX_ROUNDS):
            if round_:  # the first starts right after the lease was taken and all was read
                self.heartbeat.check()
                self.refresh()
            if self._cancel_requested(fresh=not round_):
                self.stop(ExecutionStatus.CANCELLED, "Cancelled")
            elif timezone.now() >= self.ex.deadline_at:
                self.stop(ExecutionStatus.FAILED, "Execution exceeded its deadline")
            if self.finished:
                return None
            terminal_before = self._round_terminal = self._terminal_count()
            changed = self.inline_wave()
            if not self.finished:
                changed = self.remote_round() or changed
                if self.let_go:  # its last write let go of the lease: the pass is over
                    return self.let_go_wake
            if not self.finished and self._all_terminal():
                self.complete()
            if self.finished:
                return None
            if self._out_of_time():
                return timezone.now()  # the rest in a fresh task: none meets its time limit
            if not changed or not self._more_now(terminal_before):
                break
        return self._next_wake()

    def _out_of_time(self) -> bool:
        """Whether this pass has used its time (settings.ENGINE_PASS_SECONDS); it always
        starts at least one node, so every pass makes progress."""
        return self._started > 0 and time.monotonic() >= self._pass_ends

    def _cancel_requested(self, fresh: bool) -> bool:
        """Whether a cancel was asked for; `fresh`: the execution was just read."""
        if fresh:
            return self.ex.cancel_requested
        return bool(Execution.objects.filter(pk=self.ex.pk, cancel_requested=True).exists())

    def _terminal_count(self) -> int:
        return sum(run.status in dataflow.TERMINAL for run in self.runs.values())

    def _more_now(self, terminal_before: int) -> bool:
        """Whether another round could do more at once: a node ended (its dependents may be
        ready now), or a running one is due already (a retry without delay, a result that
        was delivered while it was being submitted). A round that only submitted jobs or
        recorded their progress makes nothing else ready: the pass ends there."""
        if self._terminal_count() != terminal_before:
            return True
        now = timezone.now()
        return any(run.status == NodeStatus.RUNNING and run.phase != NodePhase.SUBMITTING
                   and is_due(run, now) for run in self.runs.values())

    def _last_write_of_pass(self) -> tuple[str, datetime | None] | None:
        """While a round's only provider answer is recorded in one statement (its transition
        applied in memory): when nothing else is due with it, run() would end the pass next and
        advance() let go of the lease. Then the lease's owner and the next wake-up, for that
        statement to let go of the lease itself: one write fewer for each job submitted."""
        if (not self._recording_last or self.finished or self._stop_with is not None
                or self._to_charge or self._all_terminal() or self._out_of_time()
                or self._more_now(self._round_terminal)):
            return None
        return self.owner, self._next_wake()

    def _decide(self, node_id: str) -> dataflow.Decision:
        incoming = self.graph.incoming[node_id]
        sources = {link.source: self.runs[link.source] for link in incoming}
        spec = self.graph.specs[node_id]
        # Only a param that a port may replace can stand in for that port's missing input.
        params = self.graph.params(node_id) if spec.ports_override_params else {}
        return dataflow.decide(
            spec, params, incoming,
            {nid: run.status for nid, run in sources.items()},
            {nid: run.ports for nid, run in sources.items()
             if run.status in (NodeStatus.COMPLETED, NodeStatus.FAILED)},
        )

    def _is_remote(self, node_id: str) -> bool:
        return self.graph.executor(node_id).kind == "remote"

    def _next_wake(self) -> datetime:
        moments = [self.ex.deadline_at]
        for run in self.runs.values():
            if run.status == NodeStatus.RUNNING:
                moments.extend(m for m in (run.next_check_at, run.deadline_at) if m is not None)
        return min(moments)

    def _prepared(self, run: NodeRun, decision: dataflow.Run | None) -> NodeInput | None:
        """The node's input, or None once its failure is recorded (it cannot be built)."""
        try:
            prepared = (prepare(self.ex, run, self.graph, decision, self.keys)
                        if decision is not None
                        else NodeInput.from_stored(self.ex, run, self.graph, self.keys))
        except NodeFailure as exc:
            message = str(exc)
            self.guarded(run, "the failure", lambda: self.fail_unstarted(run, message))
            return None
        problem = input_problem(prepared.stored)
        if problem:
            self.guarded(run, "the failure", lambda: self.fail_unstarted(run, problem))
            return None
        return prepared

    # --- inline nodes -------------------------------------------------------------------------

    def inline_wave(self) -> bool:
        """Pass over the graph until nothing more can start; progress counts only transitions
        that won, so a runner that keeps losing them stops instead of looping."""
        changed = False
        while not self.finished:
            progressed = False
            for node_id in self.order:
                if self.finished:
                    break
                progressed = self._inline_step(node_id) or progressed
            self._commit_pure(may_finish=True)
            if not progressed:
                break
            changed = True
        return changed

    def _inline_step(self, node_id: str) -> bool:
        run = self.runs[node_id]
        if run.status == NodeStatus.PENDING:
            decision = self._decide(node_id)
            if isinstance(decision, dataflow.Skip):
                return self.guarded(run, "the skip", lambda: self.skip(run, decision.reason))
            if isinstance(decision, dataflow.Run) and not self._is_remote(node_id):
                prepared = self._prepared(run, decision)
                if prepared is None:
                    return True
                return self._pure_step(run, prepared) or self._attempt_inline(run, prepared)
            return False
        if run.status == NodeStatus.RUNNING and not self._is_remote(node_id):
            return self._resume_inline(run)
        return False

    # --- pure nodes: run at once, recorded together ------------------------------------------

    def _pure_step(self, run: NodeRun, prepared: NodeInput) -> bool:
        """A pure node (text, JSON, logic: no I/O, no price; runtime.Inline `pure`) is run
        right here and recorded PENDING -> COMPLETED in one write, batched with the next ones
        in one transaction (`_commit_pure`): a chain of 100 costs a few round trips, not
        hundreds. Anything else (a failure, an output over the limits) returns False, and the
        ordinary claim-run-record path takes the node, so the failure contract is the same."""
        executor = prepared.executor
        if self._pure_off or executor.kind != "inline" or not executor.pure \
                or prepared.spec.credits or self._out_of_time():
            return False
        attempt = run.attempt + 1
        try:
            result = executor.run(prepared.context(attempt=attempt, webhook=""))
        except Exception:
            return False
        if limits.result_problem(result):
            return False
        now = timezone.now()
        entry = {"attempt": attempt, "startedAt": iso(now), "finishedAt": iso(now),
                 "error": None, "httpStatus": None}
        fields = {"status": NodeStatus.COMPLETED, "phase": NodePhase.NONE, "attempt": attempt,
                  "started_at": now, "finished_at": now,
                  "deadline_at": now + timedelta(seconds=prepared.timeout_seconds),
                  "input": prepared.stored, "cache_key": prepared.cache_key,
                  "attempts_log": [*run.attempts_log, entry], "ports": result.ports,
                  "output": result.output, "credits": 0.0, "progress": 1.0,
                  "next_check_at": None, "request_id": "", "remote": {}, "polls": 0}
        self._pure.append((run, run.status, run.attempt, fields))
        for name, value in fields.items():
            setattr(run, name, value)
        self.events.add("node", node_state(run))
        self._started += 1
        if len(self._pure) >= PURE_BATCH:
            self._commit_pure()
        return True

    def _commit_pure(self, may_finish: bool = False) -> None:
        """Write the pure nodes run so far, and their events, in one transaction. With
        `may_finish`, when they were the execution's last open nodes, the end of the execution
        goes in the same transaction (`_settle`, as for any other recording transaction)."""
        if not self._pure:
            return
        batch, self._pure = self._pure, []
        self._record_pure(batch, settle=may_finish)

    def _record_pure(self, batch: list[tuple[NodeRun, str, int, dict[str, Any]]],
                     settle: bool = False) -> bool:
        """The batch and its events in one transaction; whether it was written. If that fails,
        nothing of it stays (in the database or in memory) and the ordinary path runs those
        nodes again and records what goes wrong, node by node."""
        try:
            with transaction.atomic():
                self._write_pure(batch)
                if settle:
                    self._settle()
                else:
                    self.events.flush()
            return True
        except (LeaseLost, OperationalError, InterfaceError):
            raise
        except EndFailed:
            # The nodes on their own, as if the end came after them (`complete` writes it).
            self._record_without_the_end([])
            for run, _, _, _ in batch:
                self.events.add("node", node_state(run))
            return self._record_pure(batch)
        except Exception:
            logger.warning("recording %d pure nodes of %s together failed; recording them "
                           "one by one", len(batch), self.ex.pk, exc_info=True)
            self._pure_off = True
            self._undo()
            for run, _, _, _ in batch:
                run.refresh_from_db()
            return False

    def _write_pure(self, batch: list[tuple[NodeRun, str, int, dict[str, Any]]]) -> None:
        if _update_each(batch) != len(batch):
            raise LeaseLost(str(self.ex.pk))  # another runner got there first

    def _undo(self) -> None:
        super()._undo()
        if self._deliveries is not None:
            self._deliveries.forget()  # read (and locked) in the transaction rolled back

    def guarded(self, run: NodeRun | None, what: str, step: Any) -> bool:
        self._commit_pure()  # what was run before this step is recorded before it
        return super().guarded(run, what, step)

    def guarded_batch(self, steps: Sequence[tuple[NodeRun, str, Callable[[], bool]]]) -> list[bool]:
        self._commit_pure()
        return super().guarded_batch(steps)

    def _resume_inline(self, run: NodeRun) -> bool:
        """A RUNNING inline node: waiting to retry, or claimed by a runner that is gone (or
        still working on it: its claim is honoured until the deadline)."""
        now = timezone.now()
        if run.deadline_at and now >= run.deadline_at:
            message = f"Timed out after {self.timeout_of(run)} s"
            if run.phase == NodePhase.RUNNING:
                message += " (the worker running it was lost)"
            return self.guarded(run, "the timeout", lambda: self.expire(run, message))
        if run.phase == NodePhase.RETRY_WAIT and is_due(run, now):
            prepared = self._prepared(run, None)
            return True if prepared is None else self._attempt_inline(run, prepared)
        if run.phase == NodePhase.RUNNING and self._may_repeat(run):
            # Its runner died or lost the database mid-call (a crash, a restart). A node
            # without side effects is simply run again, once: the new attempt makes a late
            # result of the old one lose, and a node that keeps killing its worker still ends
            # at its deadline.
            run.attempts_log = close_attempt(run.attempts_log, now, LOST_INLINE, None)
            prepared = self._prepared(run, None)
            return True if prepared is None else self._attempt_inline(run, prepared)
        return False

    def _may_repeat(self, run: NodeRun) -> bool:
        executor = self.graph.executor(run.node_id)
        return (executor.kind == "remote" or executor.repeatable) and not any(
            entry.get("error") == LOST_INLINE for entry in run.attempts_log)

    def _attempt_inline(self, run: NodeRun, prepared: NodeInput) -> bool:
        if self._out_of_time():
            return False
        self._started += 1
        if not self.guarded(run, "the start", lambda: self.claim(run, prepared, NodePhase.RUNNING)):
            return False
        result = self._call_inline(run, prepared)
        if isinstance(result, NodeResult):
            self.guarded(run, "the result", lambda: self.completed(run, result))
        else:
            self.guarded(run, "the failure", lambda: self.failed_attempt(run, result))
        return True

    def _call_inline(self, run: NodeRun, prepared: NodeInput) -> NodeResult | BaseException:
        ctx = prepared.context(attempt=run.attempt, webhook="")
        assert run.deadline_at is not None  # set by the claim
        left = min(run.deadline_at, self.ex.deadline_at) - timezone.now()
        try:
            return self.heartbeat.call(lambda: inline(prepared.executor).run(ctx),
                                       left.total_seconds())
        except CallTimedOut:
            return DeadlinePassed()
        except SoftTimeLimitExceeded:
            raise  # the task's time is up, not the node's: a later pass sees the claimed node
        except Exception as exc:  # the node's failure, recorded by the caller
            return exc

    # --- remote nodes -------------------------------------------------------------------------

    def remote_round(self) -> bool:
        now = timezone.now()
        to_submit: list[tuple[NodeRun, NodeInput]] = []
        to_check: list[tuple[NodeRun, NodeInput]] = []
        expired: list[tuple[NodeRun, str]] = []
        changed = False
        for node_id in self.order:
            run = self.runs[node_id]
            if self.finished:
                break
            if not self._is_remote(node_id) or run.status not in (NodeStatus.PENDING,
                                                                  NodeStatus.RUNNING):
                continue
            if run.status == NodeStatus.PENDING:
                decision = self._decide(node_id)
                if isinstance(decision, dataflow.Run):
                    prepared = self._prepared(run, decision)
                    if prepared is None or self._reuse_cached(run, prepared):
                        changed = True
                    else:
                        to_submit.append((run, prepared))
            elif run.deadline_at and now >= run.deadline_at:
                lost = run.phase == NodePhase.SUBMITTING and not run.request_id
                expired.append((run, LOST_WHILE_SUBMITTING if lost
                                else f"Timed out after {self.timeout_of(run)} s"))
            elif run.phase == NodePhase.SUBMITTING:
                # Not ours: its runner died mid-call. Never submitted again; a completion
                # webhook for that attempt still brings the result.
                if run.remote.get("delivered"):
                    to_check.append((run, NodeInput.from_stored(self.ex, run, self.graph,
                                                                self.keys)))
            elif is_due(run, now):
                prepared_again = NodeInput.from_stored(self.ex, run, self.graph, self.keys)
                (to_submit if run.phase == NodePhase.RETRY_WAIT else to_check).append((run,
                                                                               prepared_again))
        if self.finished:
            return True
        # A node on its team's own provider key costs no credits: nothing to reserve.
        bounds = self._cost_bounds([(run, prepared) for run, prepared in to_submit
                                    if run.status == NodeStatus.PENDING and prepared.spec.credits
                                    and not prepared.billed_by_team])
        starts = [(run, "the start", partial(self._start_remote, run, prepared,
                                             bounds.get(run.pk)))
                  for run, prepared in to_submit]
        claimed = [(run, prepared) for (run, prepared), won
                   in zip(to_submit, self.guarded_batch(starts), strict=False)
                   if won and run.phase == NodePhase.SUBMITTING]
        if self.finished or not (claimed or to_check or expired):
            return changed or bool(claimed)
        return self._do_remote_io(claimed, to_check, expired) or changed or bool(claimed)

    def _cost_bounds(self, priced: list[tuple[NodeRun, NodeInput]]) -> dict[int, float]:
        """Measure what each priced node about to start may cost (its media are read: I/O, so
        outside any transaction); a node that cannot be measured is priced at its worst."""
        bounds = {run.pk: round(prepared.spec.credits * prepared.params.bound_units(None), 4)
                  for run, prepared in priced if type(prepared.params).measured_media is None}
        to_measure = [(run, prepared) for run, prepared in priced if run.pk not in bounds]
        if to_measure:
            measured = self.heartbeat.run(gather(
                [outcome("bound", run, cost_bound(prepared)) for run, prepared in to_measure]),
                None)
            worst = {run.pk: prepared.spec.credits * type(prepared.params).max_billable_units()
                     for run, prepared in to_measure}
            bounds.update({done.run.pk: done.value if isinstance(done.value, float)
                           else worst[done.run.pk] for done in measured})
        return bounds

    def _start_remote(self, run: NodeRun, prepared: NodeInput, bound: float | None) -> bool:
        """Claim the node for submission (a recording step: inside `guarded_batch`); a priced
        one only once the execution's reservation covers its cost bound, else it fails with
        the insufficient-credits error unsubmitted."""
        if bound is None:
            return self.claim(run, prepared, NodePhase.SUBMITTING)
        try:
            credits_cover_node(self.ex.team_id, self.ex.pk,
                               line_item(self.graph, run.node_id), bound)
        except InsufficientCredits as exc:
            return self.fail_unstarted(run, str(exc))
        return self.claim(run, prepared, NodePhase.SUBMITTING, credits_limit=bound)

    def _reuse_cached(self, run: NodeRun, prepared: NodeInput) -> bool:
        # Only the upstream nodes of a targetNodeId run reuse results, and never with force.
        if self.ex.force or not self.ex.target_node_id or run.node_id == self.ex.target_node_id:
            return False
        hit = cached_result(self.ex.team_id, prepared.cache_key)
        if hit is None:
            return False

        def reuse() -> bool:
            now = timezone.now()
            won = state.node_transition(
                run, status=NodeStatus.COMPLETED, attempt=hit.attempt, started_at=now,
                finished_at=now, input=prepared.stored, cache_key=prepared.cache_key,
                ports=hit.ports, output=hit.output, credits=0, cached=True, progress=1.0,
                request_id=hit.request_id)
            if won:
                self.events.add("node", node_state(run))
            return won

        return self.guarded(run, "the cached result", reuse)

    def _do_remote_io(self, to_submit: list[tuple[NodeRun, NodeInput]],
                      to_check: list[tuple[NodeRun, NodeInput]],
                      expired: list[tuple[NodeRun, str]]) -> bool:
        keys = {run.pk: job_credentials(self.ex.team_id, self.graph.specs[run.node_id],
                                        self.keys, submitted_on_team_key(run))
                for run, _ in expired}

        def calls() -> list[Awaitable[Outcome]]:
            made: list[Awaitable[Outcome]] = []
            for run, prepared in to_submit:
                ctx = prepared.context(attempt=run.attempt, webhook=webhook_url(run))
                made.append(outcome("submitted", run, remote(prepared.executor).submit(ctx)))
            for run, prepared in to_check:
                made.append(outcome("checked", run, check_and_fetch(prepared, run)))
            for run, _ in expired:
                made.append(outcome("expired", run, cancel_job(self.graph, run, keys[run.pk])))
            return made

        results = self.heartbeat.run(gather(calls()), None)
        # Record successes first: a failure that stops the execution must find every job that
        # was submitted in this batch, so that it cancels them too.
        results.sort(key=lambda done: done.failed)
        messages = {run.pk: message for run, message in expired}
        deliveries = self._deliveries = _Deliveries(
            [done.run.pk for done in results if done.kind == "submitted" and not done.failed])
        self._recording_last = len(results) == 1
        try:
            return any(self.guarded_batch([
                (done.run, "the provider's answer",
                 partial(self._record, done, messages.get(done.run.pk, ""), deliveries))
                for done in results]))
        finally:
            self._recording_last = False

    def _record(self, done: Outcome, expiry: str, deliveries: "_Deliveries") -> bool:
        kind, run, value = done.kind, done.run, done.value
        if kind == "expired":
            return self.expire(run, expiry)
        if isinstance(value, BaseException):
            return self.failed_attempt(run, value)
        if kind == "submitted":
            return self._submitted(run, value, deliveries)
        if isinstance(value, NodeResult):
            delivered = run.remote.get("delivered")
            found = delivered.get("request_id") if isinstance(delivered, dict) else None
            extra = {"request_id": found} if not run.request_id and isinstance(found, str) \
                else {}
            return self.completed(run, value, **extra)
        return self._progress(run, value)

    def _submitted(self, run: NodeRun, job: Any, deliveries: "_Deliveries") -> bool:
        # A fast provider may have called back already; keep what it delivered (due at once).
        collector = fused.collecting()
        if collector is not None:  # kept by the UPDATE itself, from the row as it finds it
            collector.due_if_delivered = timezone.now()
            delivered: dict[str, Any] = {}
        else:
            delivered = deliveries.of(run.pk)
        delay = 0.0 if delivered else self._poll_delay(0, job.webhook)
        recorded = {TEAM_KEY: run.remote[TEAM_KEY]} if TEAM_KEY in run.remote else {}
        won = state.node_transition(run, phase=NodePhase.SUBMITTED, request_id=job.request_id,
                                    remote={**recorded, **job.urls, "webhook": job.webhook,
                                            **delivered},
                                    polls=0,
                                    next_check_at=timezone.now() + timedelta(seconds=delay))
        if won:
            self.events.add("node", node_state(run))
        return won

    def _poll_delay(self, polls: int, webhook: bool) -> float:
        if webhook and self._webhooks_arrive is None:
            self._webhooks_arrive = webhooks_arrive()
        return poll_delay(polls, webhook=webhook, webhooks_arrive=bool(self._webhooks_arrive))

    def _progress(self, run: NodeRun, status: Any) -> bool:
        moved = status.progress is not None and status.progress != run.progress
        won = state.node_transition(
            run, polls=run.polls + 1, progress=status.progress, logs=status.logs[-20:],
            next_check_at=timezone.now() + timedelta(
                seconds=self._poll_delay(run.polls + 1, bool(run.remote.get("webhook")))))
        if won and moved:
            self.events.add("node", node_state(run))
        return won


class _Deliveries:
    """The webhook bodies that arrived for a pass's new submissions, read once, inside the
    recording transaction, when the first submission is recorded (a read that fails then
    fails that recording, like any other step of it)."""

    def __init__(self, run_pks: list[int]) -> None:
        self.run_pks = run_pks
        self._found: dict[int, dict[str, Any]] | None = None

    def of(self, run_pk: int) -> dict[str, Any]:
        if self._found is None:
            self._found = deliveries_of(self.run_pks)
        return self._found.get(run_pk, {})

    def forget(self) -> None:
        """The transaction that read them was rolled back: read (and lock) them again."""
        self._found = None


def _update_each(batch: list[tuple[NodeRun, str, int, dict[str, Any]]]) -> int:
    """Each run's conditional UPDATE (WHERE its status and attempt are still the ones read),
    all in one statement; how many rows won."""
    return rows.update_each(NodeRun, ("id", "status", "attempt"), tuple(batch[0][3]),
                            [((run.pk, status, attempt), tuple(values.values()))
                             for run, status, attempt, values in batch])
