"""advance(execution_id): take the lease, run every node that is ready, record, and return.

Inline nodes (input, utility, logic, output, local media ops) run here, in topological order,
many per transaction. Remote nodes are submitted, checked and fetched as coroutines, all due ones
at once; between those calls the task returns and the execution is woken again by the provider's
webhook or a scheduled poll, so no worker slot is held while a model generates.
"""

import asyncio
import logging
import uuid
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.credits import credits_charge_node, credits_release_execution
from executions import dispatch
from executions.events import EventBuffer, LeaseLost
from executions.models import Execution, ExecutionStatus, NodeRun, NodeStatus
from executions.presenters import execution_status, node_state
from executions.providers.errors import ProviderError
from workflows import dataflow
from workflows.graph import topological_order

from . import state
from .contracts import NodeFailure, NodeResult, RemoteJob
from .graphview import GraphView
from .nodectx import NodeInput, cached_result, common_flags, prepare, webhook_url
from .remote import (
    cancel_job,
    check_and_fetch,
    close_attempt,
    delivery_of,
    gather,
    is_due,
    iso,
    outcome,
)
from .retry import backoff_seconds, poll_delay

logger = logging.getLogger("wireflow.engine")
MAX_ROUNDS = 1000


def advance(execution_id: str, contention: int = 0) -> None:
    owner = uuid.uuid4().hex
    if not state.acquire_lease(execution_id, owner):
        _retry_when_free(execution_id, contention)
        return
    wake_at: datetime | None = None
    try:
        execution = Execution.objects.get(pk=execution_id)
        wake_at = Runner(execution, owner).run()
    except LeaseLost:
        logger.warning("lost the lease on %s; another worker continues", execution_id)
    finally:
        state.release_lease(execution_id, owner, wake_at)
    if wake_at is not None:
        delay = max(0.0, (wake_at - timezone.now()).total_seconds())
        dispatch.advance_later(execution_id, delay)


def _retry_when_free(execution_id: str, contention: int) -> None:
    """Someone else holds the lease. Come back: the holder may finish before it sees what woke
    us (a webhook, a cancel), and a dead holder's lease expires. Never drop the wake-up while
    the execution runs; back off while the lease stays taken."""
    holder = state.lease_holder(execution_id)
    if holder is None:
        return  # ended meanwhile
    delay = min(0.05 * 2 ** contention, 2.0) if holder else 0.0
    dispatch.advance_later(execution_id, delay, min(contention + 1, 10))


class Runner:
    def __init__(self, execution: Execution, owner: str) -> None:
        self.ex = execution
        self.owner = owner
        self.graph = GraphView.build(execution.nodes, execution.edges)
        self.runs = {run.node_id: run for run in execution.node_runs.all()}
        pairs = [(link.source, link.target) for link in self.graph.links]
        self.order = [n for n in topological_order(list(self.graph.nodes), pairs)
                      if n in self.runs]
        self.events = EventBuffer(execution)
        self.finished = False

    # --- the loop ---------------------------------------------------------------------------

    def run(self) -> datetime | None:
        for _ in range(MAX_ROUNDS):
            self._sync_wakeups()
            if self._cancel_requested():
                self.stop(ExecutionStatus.CANCELLED, "Cancelled")
            elif timezone.now() >= self.ex.deadline_at:
                self.stop(ExecutionStatus.FAILED, "Execution exceeded its deadline")
            if self.finished:
                return None
            changed = self.inline_wave()
            if not self.finished:
                changed = self.remote_round() or changed
            if not self.finished and self._all_terminal():
                self.complete()
            if self.finished:
                return None
            if not changed:
                break
            if not state.renew_lease(str(self.ex.pk), self.owner):
                raise LeaseLost(str(self.ex.pk))
        self._sync_wakeups()
        return self._next_wake()

    def _sync_wakeups(self) -> None:
        """A provider webhook marks its node due in the database while we may hold the lease;
        read those marks so that the wake-up is not lost."""
        due = NodeRun.objects.filter(execution_id=self.ex.pk, status=NodeStatus.RUNNING,
                                     next_check_at__isnull=False)
        for node_id, moment in due.values_list("node_id", "next_check_at"):
            run = self.runs[node_id]
            if moment is not None and (run.next_check_at is None or moment < run.next_check_at):
                run.next_check_at = moment
                run.remote = {**run.remote, **delivery_of(run.pk)}

    def _cancel_requested(self) -> bool:
        return bool(Execution.objects.filter(pk=self.ex.pk, cancel_requested=True).exists())

    def _all_terminal(self) -> bool:
        return all(run.status in dataflow.TERMINAL for run in self.runs.values())

    def _decide(self, node_id: str) -> dataflow.Decision:
        incoming = self.graph.incoming[node_id]
        sources = {link.source: self.runs[link.source] for link in incoming}
        spec = self.graph.specs[node_id]
        # Only a param that a port may replace can stand in for that port's missing input.
        params = self.graph.params(node_id) if spec.ports_override_params else {}  # type: ignore[attr-defined]
        return dataflow.decide(
            spec, params, incoming,
            {nid: run.status for nid, run in sources.items()},
            {nid: run.ports for nid, run in sources.items()
             if run.status in (NodeStatus.COMPLETED, NodeStatus.FAILED)},
        )

    def _is_remote(self, node_id: str) -> bool:
        return getattr(self.graph.specs[node_id].executor, "kind", "inline") == "remote"  # type: ignore[attr-defined]

    # --- inline nodes -------------------------------------------------------------------------

    def inline_wave(self) -> bool:
        changed = False
        while not self.finished:
            with transaction.atomic():
                progressed = self._inline_pass()
                self.events.flush()
            if not progressed:
                break
            changed = True
        return changed

    def _inline_pass(self) -> bool:
        progressed = False
        for node_id in self.order:
            run = self.runs[node_id]
            if run.status != NodeStatus.PENDING:
                continue
            decision = self._decide(node_id)
            if isinstance(decision, dataflow.Skip):
                self._skip(run, decision.reason)
            elif isinstance(decision, dataflow.Run) and not self._is_remote(node_id):
                self._run_inline(run, decision)
            else:
                continue
            progressed = True
            if self.finished:
                break
        return progressed

    def _skip(self, run: NodeRun, reason: str) -> None:
        if state.node_transition(run, status=NodeStatus.SKIPPED, error="",
                                 finished_at=timezone.now()):
            logger.debug("skipped %s: %s", run.node_id, reason)
            self.events.add("node", node_state(run))

    def _run_inline(self, run: NodeRun, decision: dataflow.Run) -> None:
        started = timezone.now()
        try:
            prepared = prepare(self.ex, run, self.graph, decision)
            result = prepared.executor.run(prepared.context(attempt=1, webhook=""))
        except NodeFailure as exc:
            self._claim_inline(run, started, None)
            self.fail_node(run, str(exc))
            return
        except Exception as exc:  # a bug in an executor fails its node, not the worker
            logger.exception("executor of %s crashed", run.node_type)
            self._claim_inline(run, started, None)
            self.fail_node(run, f"Internal error in {run.node_type}: {exc.__class__.__name__}")
            return
        finished = timezone.now()
        entry = {"attempt": 1, "startedAt": iso(started), "finishedAt": iso(finished),
                 "error": None, "httpStatus": None}
        if state.node_transition(run, status=NodeStatus.COMPLETED, attempt=1,
                                 started_at=started, finished_at=finished,
                                 input=prepared.stored, cache_key=prepared.cache_key,
                                 ports=result.ports, output=result.output,
                                 credits=result.credits, progress=1.0, attempts_log=[entry]):
            self._charge(run)
            self.events.add("node", node_state(run))

    def _claim_inline(self, run: NodeRun, started: datetime, stored: Any) -> None:
        state.node_transition(run, status=NodeStatus.RUNNING, attempt=1, started_at=started,
                              input=stored, attempts_log=[{"attempt": 1,
                                                           "startedAt": iso(started)}])

    # --- remote nodes -------------------------------------------------------------------------

    def remote_round(self) -> bool:
        now = timezone.now()
        to_submit: list[tuple[NodeRun, NodeInput]] = []
        to_check: list[tuple[NodeRun, NodeInput]] = []
        expired: list[NodeRun] = []
        changed = False
        with transaction.atomic():
            for node_id in self.order:
                run = self.runs[node_id]
                if run.status == NodeStatus.PENDING and self._is_remote(node_id):
                    decision = self._decide(node_id)
                    if isinstance(decision, dataflow.Run):
                        prepared = self._prepare_or_fail(run, decision)
                        if prepared is None or self._reuse_cached(run, prepared):
                            changed = True
                        else:
                            to_submit.append((run, prepared))
                elif run.status != NodeStatus.RUNNING:
                    continue
                elif run.deadline_at and now >= run.deadline_at:
                    expired.append(run)
                elif run.phase == "submitting":
                    # Only the lease holder submits; finding this means a worker died mid-call.
                    self._log_attempt(run, "worker lost while submitting", None)
                    to_submit.append((run, NodeInput.from_stored(self.ex, run, self.graph)))
                elif is_due(run, now):
                    prepared = NodeInput.from_stored(self.ex, run, self.graph)
                    (to_submit if run.phase == "retry_wait" else to_check).append((run, prepared))
                if self.finished:
                    break
            claimed = [(run, p) for run, p in to_submit if self._claim_submit(run, p, now)]
            self.events.flush()
        if self.finished:
            return True
        if not (claimed or to_check or expired):
            return changed
        self._do_remote_io(claimed, to_check, expired)
        return True

    def _prepare_or_fail(self, run: NodeRun, decision: dataflow.Run) -> NodeInput | None:
        try:
            return prepare(self.ex, run, self.graph, decision)
        except NodeFailure as exc:
            self._claim_inline(run, timezone.now(), None)
            self.fail_node(run, str(exc))
            return None

    def _reuse_cached(self, run: NodeRun, prepared: NodeInput) -> bool:
        if not self.ex.target_node_id or run.node_id == self.ex.target_node_id:
            return False
        hit = cached_result(self.ex.team_id, prepared.cache_key)
        if hit is None:
            return False
        now = timezone.now()
        if state.node_transition(run, status=NodeStatus.COMPLETED, attempt=hit.attempt,
                                 started_at=now, finished_at=now, input=prepared.stored,
                                 cache_key=prepared.cache_key, ports=hit.ports,
                                 output=hit.output, credits=0, cached=True, progress=1.0,
                                 request_id=hit.request_id):
            self.events.add("node", node_state(run))
        return True

    def _claim_submit(self, run: NodeRun, prepared: NodeInput, now: datetime) -> bool:
        timeout = prepared.timeout_seconds
        attempt = run.attempt + 1
        log = [*run.attempts_log, {"attempt": attempt, "startedAt": iso(now)}]
        won = state.node_transition(
            run, status=NodeStatus.RUNNING, phase="submitting", attempt=attempt,
            started_at=run.started_at or now,
            deadline_at=run.deadline_at or now + timedelta(seconds=timeout),
            input=prepared.stored, cache_key=prepared.cache_key, attempts_log=log,
            next_check_at=None, request_id="", remote={}, polls=0,
        )
        if won:
            self.events.add("node", node_state(run))
        return won

    def _do_remote_io(self, to_submit: list[tuple[NodeRun, NodeInput]],
                      to_check: list[tuple[NodeRun, NodeInput]], expired: list[NodeRun]) -> None:
        calls: list[Awaitable[tuple[str, NodeRun, Any]]] = []
        for run, prepared in to_submit:
            ctx = prepared.context(attempt=run.attempt, webhook=webhook_url(run))
            calls.append(outcome("submitted", run, prepared.executor.submit(ctx)))
        for run, prepared in to_check:
            calls.append(outcome("checked", run, check_and_fetch(prepared, run)))
        for run in expired:
            calls.append(outcome("expired", run, cancel_job(self.graph, run)))
        # Record successes first: a failure that stops the execution must find every job that
        # was submitted in this batch, so that it cancels them too.
        outcomes = sorted(asyncio.run(gather(calls)),
                          key=lambda outcome: isinstance(outcome[2], BaseException))
        with transaction.atomic():
            for kind, run, value in outcomes:
                if not self.finished:
                    self._record(kind, run, value)
            self.events.flush()

    def _record(self, kind: str, run: NodeRun, value: Any) -> None:
        if kind == "expired":
            self.fail_node(run, f"Timed out after {self._timeout_of(run)} s")
        elif isinstance(value, BaseException):
            self._attempt_failed(run, value)
        elif kind == "submitted":
            self._submitted(run, value)
        elif isinstance(value, NodeResult):
            self._completed(run, value)
        else:
            self._progress(run, value)

    def _submitted(self, run: NodeRun, job: RemoteJob) -> None:
        # A fast provider may have called back already; keep what it delivered.
        delivered = delivery_of(run.pk)
        delay = 0.0 if delivered else poll_delay(0, webhook=job.webhook)
        if state.node_transition(run, phase="submitted", request_id=job.request_id,
                                 remote={**job.urls, "webhook": job.webhook, **delivered},
                                 polls=0,
                                 next_check_at=timezone.now() + timedelta(seconds=delay)):
            self.events.add("node", node_state(run))

    def _progress(self, run: NodeRun, status: Any) -> None:
        changed = status.progress is not None and status.progress != run.progress
        state.node_transition(run, polls=run.polls + 1, progress=status.progress,
                              logs=status.logs[-20:],
                              next_check_at=timezone.now() + timedelta(
                                  seconds=poll_delay(run.polls + 1,
                                                     webhook=bool(run.remote.get("webhook")))))
        if changed:
            self.events.add("node", node_state(run))

    def _completed(self, run: NodeRun, result: NodeResult) -> None:
        now = timezone.now()
        log = close_attempt(run.attempts_log, now, None, None)
        if state.node_transition(run, status=NodeStatus.COMPLETED, phase="", finished_at=now,
                                 ports=result.ports, output=result.output,
                                 credits=result.credits, progress=1.0, attempts_log=log,
                                 next_check_at=None):
            self._charge(run)
            self.events.add("node", node_state(run))

    def _charge(self, run: NodeRun) -> None:
        """Credits: charge a node that just completed (its transition won, so this runs once
        per node; the ledger's unique constraint backs that up). If the team could not cover
        the whole cost, the node records what was charged."""
        charged = credits_charge_node(self.ex.team_id, self.ex.pk, run.node_id, run.credits)
        if float(charged) != run.credits:
            state.node_transition(run, credits=float(charged))

    def _attempt_failed(self, run: NodeRun, exc: BaseException) -> None:
        http_status = exc.http_status if isinstance(exc, ProviderError) else None
        message = str(exc) or exc.__class__.__name__
        retryable = isinstance(exc, ProviderError) and exc.retryable
        if not isinstance(exc, ProviderError | NodeFailure):
            logger.error("remote call for %s crashed", run.node_id, exc_info=exc)
            message = f"Internal error: {exc.__class__.__name__}"
        now = timezone.now()
        log = close_attempt(run.attempts_log, now, message, http_status)
        if retryable and run.attempt <= self._retries_of(run):
            retry_after = exc.retry_after if isinstance(exc, ProviderError) else None
            delay = backoff_seconds(run.attempt, retry_after)
            if state.node_transition(run, phase="retry_wait", attempts_log=log,
                                     next_check_at=now + timedelta(seconds=delay)):
                self.events.add("node", node_state(run))
            return
        state.node_transition(run, attempts_log=log)
        self.fail_node(run, message)

    def _log_attempt(self, run: NodeRun, error: str, http_status: int | None) -> None:
        log = close_attempt(run.attempts_log, timezone.now(), error, http_status)
        state.node_transition(run, attempts_log=log)

    def _retries_of(self, run: NodeRun) -> int:
        return common_flags(self.graph, run.node_id).retries

    def _timeout_of(self, run: NodeRun) -> int:
        return common_flags(self.graph, run.node_id).timeout_seconds

    # --- failure, cancellation, completion -------------------------------------------------

    def fail_node(self, run: NodeRun, message: str) -> None:
        now = timezone.now()
        flags = common_flags(self.graph, run.node_id)
        if flags.continue_on_error:
            outputs = self.graph.specs[run.node_id].outputs
            ports = {port.id: {"error": message} for port in outputs}
            if state.node_transition(run, status=NodeStatus.FAILED, phase="", error=message,
                                     finished_at=now, ports=ports, output={"error": message}):
                self.events.add("node", node_state(run))
            return
        if state.node_transition(run, status=NodeStatus.FAILED, phase="", error=message,
                                 finished_at=now):
            self.events.add("node", node_state(run))
        label = self.graph.label(run.node_id)
        self.stop(ExecutionStatus.FAILED, f"Node '{label}' ({run.node_id}) failed: {message}")

    def stop(self, status: str, error: str) -> None:
        """End the execution: cancel remote jobs in flight and every unfinished node."""
        in_flight = [run for run in self.runs.values()
                     if run.status == NodeStatus.RUNNING and run.phase == "submitted"]
        if in_flight:
            asyncio.run(gather([outcome("cancel", run, cancel_job(self.graph, run))
                                 for run in in_flight]))
        now = timezone.now()
        with transaction.atomic():
            for run in self.runs.values():
                unfinished = run.status in (NodeStatus.PENDING, NodeStatus.RUNNING)
                if unfinished and state.node_transition(run, status=NodeStatus.CANCELLED,
                                                        phase="", finished_at=now,
                                                        next_check_at=None):
                    self.events.add("node", node_state(run))
            self._finish(status, error, now, {})

    def complete(self) -> None:
        now = timezone.now()
        with transaction.atomic():
            self._finish(ExecutionStatus.COMPLETED, "", now, self._final_output())

    def _finish(self, status: str, error: str, now: datetime, final: dict[str, Any]) -> None:
        # Credits: give back the unused reservation. Before the transition, so the team's lock
        # is always taken before the execution row's; rolled back with it if the lease is lost.
        credits_release_execution(self.ex.team_id, self.ex.pk)
        credits = sum(run.credits for run in self.runs.values())
        if not state.execution_transition(self.ex, self.owner, status=status, error=error,
                                          finished_at=now, final_output=final,
                                          credits_used=credits, wake_at=None):
            raise LeaseLost(str(self.ex.pk))
        self.events.add("execution", {**execution_status(self.ex), "finalOutput": final})
        self.events.flush()
        self.finished = True

    def _final_output(self) -> dict[str, Any]:
        outputs = [n for n in self.order if self.graph.specs[n].node_type.startswith("output:")]
        chosen = outputs or dataflow.sinks(self.order, self.graph.links)
        return {node_id: self.runs[node_id].output for node_id in chosen
                if self.runs[node_id].status == NodeStatus.COMPLETED}

    def _next_wake(self) -> datetime:
        moments = [self.ex.deadline_at]
        for run in self.runs.values():
            if run.status == NodeStatus.RUNNING:
                moments.extend(m for m in (run.next_check_at, run.deadline_at) if m is not None)
        return min(moments)
