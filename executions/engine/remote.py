"""The remote side of an advance: the coroutines that submit, check, fetch and cancel provider
jobs (run together with asyncio.gather), and the small helpers over a run's job record."""

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from executions.models import NodeRun
from wireflow_site.isotime import iso
from wireflow_site.rows import values_in

from .contracts import RemoteJob, remote
from .graphview import GraphView
from .nodectx import NodeInput

logger = logging.getLogger("wireflow.engine")


def job_urls(run: NodeRun) -> dict[str, str]:
    return {key: value for key, value in run.remote.items() if isinstance(value, str)}


def deliveries_of(run_pks: list[int]) -> dict[int, dict[str, Any]]:
    """The providers' completion webhook bodies that arrived for jobs in flight, by run (one
    read for a pass's submissions): `{"delivered": body}` for each run that has one. Call it
    in the transaction that records the submissions: the rows stay locked until it commits,
    so a webhook arriving meanwhile (services.provider_hook_received locks its row too) is
    merged into what is recorded, never overwritten by it."""
    found: dict[int, dict[str, Any]] = {}
    for pk, job in values_in(NodeRun, ("id", "remote"), "id", run_pks, lock=True):
        delivered = (job or {}).get("delivered")
        if isinstance(delivered, dict):
            found[pk] = {"delivered": delivered}
    return found


def is_due(run: NodeRun, now: datetime) -> bool:
    return run.next_check_at is None or run.next_check_at <= now


def close_attempt(log: list[dict[str, Any]], now: datetime, error: str | None,
                   http_status: int | None) -> list[dict[str, Any]]:
    entries = [dict(entry) for entry in log] or [{"attempt": 1, "startedAt": iso(now)}]
    entries[-1].update(finishedAt=iso(now), error=error, httpStatus=http_status)
    return entries


OutcomeKind = Literal["submitted", "checked", "expired", "cancel", "bound"]


@dataclass(frozen=True)
class Outcome:
    """What one provider call of a pass came to: `value` is what the call returned (a RemoteJob,
    a RemoteStatus, a NodeResult, a price bound), or the exception it raised."""

    kind: OutcomeKind
    run: NodeRun
    value: Any

    @property
    def failed(self) -> bool:
        return isinstance(self.value, BaseException)


async def outcome(kind: OutcomeKind, run: NodeRun, call: Awaitable[Any]) -> Outcome:
    try:
        return Outcome(kind, run, await call)
    except Exception as exc:  # recorded as the attempt's error by the caller
        return Outcome(kind, run, exc)


async def gather(calls: list[Awaitable[Outcome]]) -> list[Outcome]:
    return list(await asyncio.gather(*calls))


async def check_and_fetch(prepared: NodeInput, run: NodeRun) -> Any:
    delivered = run.remote.get("delivered")
    job = RemoteJob(request_id=run.request_id, urls=job_urls(run),
                    delivered=delivered if isinstance(delivered, dict) else None)
    ctx = prepared.context(attempt=run.attempt, webhook="")
    executor = remote(prepared.executor)
    status = await executor.check(ctx, job)
    if not status.done:
        return status
    return await executor.fetch(ctx, job)


async def cancel_job(graph: GraphView, run: NodeRun, credentials: Any = None) -> None:
    """`credentials`: the node's team's key (nodectx.job_credentials, read beforehand)."""
    if not run.request_id:
        return
    executor = remote(graph.executor(run.node_id))
    try:
        await executor.cancel(RemoteJob(request_id=run.request_id, urls=job_urls(run),
                                        credentials=credentials))
    except Exception:  # cancelling is best effort; the node is cancelled on our side anyway
        logger.warning("could not cancel remote job %s", run.request_id, exc_info=True)
