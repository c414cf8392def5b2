"""One statement for a recording step that changes one node (PostgreSQL).

A recording step in a transaction of its own (recorder.guarded) cost four round trips at the
least: BEGIN, the node's conditional UPDATE, its events (the execution's counter and the event
rows), COMMIT; a submission's record five, with the read of what the provider's webhook had
delivered. Most steps change one node and write its event: its claim, its submission, its
progress, an inline node's result. Such a step runs here with its writes collected instead of
sent, and they then go as one statement, the UPDATE, the counter and the events as
data-modifying WITHs, which PostgreSQL applies whole or not at all without a transaction around
it: one round trip. The events are stored only if the node's UPDATE won.

A step that does more (a second node's transition, a charge, the end of the execution, any
statement of its own) is stopped before that statement is sent (`Unfusable`); what it changed
in memory is put back and the caller records it the ordinary way.

When the step is the last write of its pass (a job's submission recorded, nothing else due), the
same statement can also let go of the execution's lease (`Collector.let_go`), as
state.release_lease would next: in the UPDATE of the execution's event counter, since one
statement may not update a row twice. It lets go only where release_lease would have (the lease
is the pass's and no wake-up is waiting), and not when the provider's webhook has already
delivered the job's result (then the node is due at once and the pass goes on).
"""

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import connection

from executions.events import EventBuffer, LeaseLost, numbered_events_sql, numbered_params
from executions.models import Execution, NodeRun
from wireflow_site.rows import column_field, converted

_active = threading.local()  # .collector: the Collector of the step under way on this thread


class Unfusable(Exception):
    """The step does more than one node's transition and its events."""


class Collector:
    """The one node transition of a step, applied to the run in memory (as a transition that
    won), to be written by `write`; `restore` undoes it in memory."""

    def __init__(self) -> None:
        self.run: NodeRun | None = None
        self.where: tuple[Any, str, int] = (None, "", 0)
        self.fields: dict[str, Any] = {}
        self.before: dict[str, Any] = {}
        self.due_if_delivered: datetime | None = None
        # Set by the caller before `write`: (the lease's owner, the execution's next wake-up)
        # to let go of the lease in the same statement. After it, whether it did.
        self.let_go: tuple[str, datetime | None] | None = None
        self.let_go_done = False

    def transition(self, run: NodeRun, fields: dict[str, Any]) -> bool:
        if self.run is not None:
            raise Unfusable("a second node transition")
        self.run, self.where = run, (run.pk, run.status, run.attempt)
        self.before = {name: getattr(run, name) for name in fields}
        self.fields = dict(fields)
        for name, value in fields.items():
            setattr(run, name, value)
        return True

    def restore(self) -> None:
        if self.run is not None:
            for name, value in self.before.items():
                setattr(self.run, name, value)

    def write(self, events: EventBuffer) -> bool:
        """Send the transition and `events`' pending events as one statement; whether the
        transition won (if not, nothing was written and the run is as it was). With `let_go`
        and events to store, the lease too; `let_go_done` then says whether it was let go (or
        is no longer this pass's: either way the pass ends, as after release_lease)."""
        assert self.run is not None
        rows = events.pending_rows()
        keeping = self.due_if_delivered is not None and "remote" in self.fields \
            and "next_check_at" in self.fields
        let_go = self.let_go if rows else None  # with the counter's UPDATE: events only
        letting_go = let_go is not None
        setting = tuple(self.fields)
        params: list[Any] = []
        for name, value in self.fields.items():
            field = column_field(NodeRun, name)
            if keeping and name == "next_check_at":
                params.append(field.get_db_prep_save(self.due_if_delivered, connection))
            params.append(field.get_db_prep_save(value, connection))
        pk, status, attempt = self.where
        params += [NodeRun._meta.pk.get_db_prep_value(pk, connection), status, attempt]
        if rows:
            numbered = numbered_params(events.execution.pk, rows)
            if let_go is not None:
                owner, wake_at = let_go
                wake = column_field(Execution, "wake_at").get_db_prep_value(wake_at, connection)
                numbered[1:1] = [owner, wake]  # after the count: the counter's FROM (p)
            params += numbered
        with connection.cursor() as cursor:
            cursor.execute(_statement(setting, keeping, bool(rows), letting_go), params)
            found = cursor.fetchone()
        if found is None:
            self.restore()
            events.pending = []
            return False
        top = found[0]
        if letting_go:
            # `kept`: the lease is still the pass's (NULL: the execution is gone).
            self.let_go_done = found[1] is False
            found = found[1:]
        if keeping:
            self.run.remote, self.run.next_check_at = converted(
                NodeRun, ("remote", "next_check_at"), found[1:])
        if rows:
            if top is None:
                raise LeaseLost(str(events.execution.pk))  # the execution is gone
            events.stored(rows, int(top))
        return True


def collecting() -> Collector | None:
    """The collector of the step under way on this thread, if any."""
    return getattr(_active, "collector", None)


@contextmanager
def collect(collector: Collector) -> Iterator[Collector]:
    """Run a step with its node transition collected by `collector` (state.node_transition)
    and any statement it would send refused (`Unfusable`, raised before it is sent)."""
    _active.collector = collector
    try:
        with connection.execute_wrapper(_refuse):
            yield collector
    finally:
        _active.collector = None


def _refuse(execute: Callable[..., Any], sql: str, params: Any, many: bool,
            context: Any) -> Any:
    raise Unfusable("a statement of the step's own")


@functools.cache
def _statement(setting: tuple[str, ...], keeping: bool, with_events: bool,
               letting_go: bool = False) -> str:
    """The UPDATE of one run WHERE it is still in the status and attempt read; `keeping`: its
    `remote` keeps a completion webhook body already delivered (merged in SQL, on the row as
    the UPDATE finds it), and its `next_check_at` is the first parameter when one was, the
    second when not. With events: they are numbered and stored if the UPDATE won; with
    `letting_go` too, the execution's lease is let go as state.release_lease would (its owner
    and the next wake-up: the parameters after the events' count). It returns one row when
    the UPDATE won (the events' top sequence number; with `letting_go`, whether the lease is
    still the pass's; then with `keeping` the run's remote and next_check_at), none when it
    lost."""
    meta = NodeRun._meta
    quote = connection.ops.quote_name

    def col(name: str) -> str:
        return quote(column_field(NodeRun, name).column)

    remote = col("remote")
    delivered = f"jsonb_typeof({remote} -> 'delivered') = 'object'"
    assign = []
    for name in setting:
        if keeping and name == "remote":
            assign.append(f"{remote} = %s::jsonb || CASE WHEN {delivered} THEN "
                          f"jsonb_build_object('delivered', {remote} -> 'delivered') "
                          "ELSE '{}'::jsonb END")
        elif keeping and name == "next_check_at":
            assign.append(f"{col(name)} = CASE WHEN {delivered} THEN %s ELSE %s END")
        else:
            assign.append(f"{col(name)} = %s")
    returning = f"{remote}, {col('next_check_at')}" if keeping else "1"
    # Only our own table and column names are interpolated; every value is a parameter.
    update = (f"UPDATE {quote(meta.db_table)} SET {', '.join(assign)} "  # noqa: S608
              f"WHERE {col('id')} = %s AND {col('status')} = %s AND {col('attempt')} = %s "
              f"RETURNING {returning}")
    if not with_events:
        return f"WITH node AS ({update}) SELECT NULL, node.* FROM node"  # noqa: S608
    if letting_go:
        counter, stored = _letting_go_sql(
            f"jsonb_typeof(node.{remote} -> 'delivered') = 'object'" if keeping else "")
        return (f"WITH node AS ({update}), counter AS ({counter}), "  # noqa: S608
                f"stored AS ({stored}) SELECT (SELECT max(seq) FROM stored), "
                "(SELECT kept FROM counter), node.* FROM node")
    counter, stored = numbered_events_sql("EXISTS (SELECT 1 FROM node)")
    return (f"WITH node AS ({update}), counter AS ({counter}), stored AS ({stored}) "  # noqa: S608
            "SELECT (SELECT max(seq) FROM stored), node.* FROM node")


def _letting_go_sql(delivered: str) -> tuple[str, str]:
    """numbered_events_sql's two parts, the counter's UPDATE also letting go of the lease
    where release_lease's conditions hold (and the run's webhook has not delivered, when
    `delivered` says how to see that on the CTE `node`), returning `kept` as well."""
    quote = connection.ops.quote_name

    def col(name: str) -> str:
        return quote(column_field(Execution, name).column)

    # Only our own column names (and the caller's own condition) are interpolated; every
    # value is a parameter. `kept` is read on the row as updated.
    owner = col("lease_owner")
    go = f"{owner} = p.owner AND NOT {col('wake_requested')}"
    if delivered:
        go += f" AND NOT EXISTS (SELECT 1 FROM node WHERE {delivered})"  # noqa: S608
    letting_go = (f"{owner} = CASE WHEN {go} THEN '' ELSE {owner} END, "
                  f"{col('lease_expires_at')} = CASE WHEN {go} THEN NULL "
                  f"ELSE {col('lease_expires_at')} END, "
                  f"{col('wake_at')} = CASE WHEN {go} THEN p.wake ELSE {col('wake_at')} END")
    return numbered_events_sql(
        "EXISTS (SELECT 1 FROM node)", also_set=letting_go,
        also_from="(SELECT %s::text AS owner, %s::timestamptz AS wake) AS p",
        also_return=f"{owner} = p.owner AS kept")
