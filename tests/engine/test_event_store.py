"""How a batch of events is stored: numbered by the execution's counter and inserted together
(on PostgreSQL in one statement, a data-modifying WITH), gap-free across flushes, in the
order they were added; an execution that has gone stores nothing and stops its runner."""

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from executions.events import EventBuffer, LeaseLost
from executions.models import Execution, ExecutionEvent
from tests.conftest import ApiClient

from .helpers import create_workflow, edge, execute, node

pytestmark = pytest.mark.django_db


def _execution(sent: list[str], api: ApiClient) -> Execution:
    nodes = [node("p", "input:text", text="x"), node("out", "output:result")]
    execution_id = execute(api, create_workflow(api, nodes, [edge("p", "text", "out", "value")]))
    return Execution.objects.get(pk=execution_id)


def _flush(execution: Execution, payloads: list[dict[str, Any]]) -> list[Any]:
    buffer = EventBuffer(execution)
    for payload in payloads:
        buffer.add("node", payload)
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        buffer.flush()
    return [query["sql"] for query in queries.captured_queries
            if not query["sql"].startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))]


def test_a_flush_numbers_its_events_on_from_the_counter_in_the_order_added(
        sent: list[str], api: ApiClient) -> None:
    execution = _execution(sent, api)
    before = execution.last_seq
    payloads = [{"n": i, "text": "ünïcode ✓ \"quoted\" \\ back", "nested": {"list": [1, None]}}
                for i in range(4)]
    statements = _flush(execution, payloads)
    statements += _flush(execution, [{"n": 4}])
    stored = list(ExecutionEvent.objects.filter(execution=execution, seq__gt=before)
                  .order_by("seq"))
    assert [event.seq for event in stored] == list(range(before + 1, before + 6))
    assert [event.payload for event in stored] == [*payloads, {"n": 4}]
    assert {event.type for event in stored} == {"node"}
    execution.refresh_from_db()
    assert execution.last_seq == before + 5
    if connection.vendor == "postgresql":  # the counter and the rows: one round trip a flush
        assert len(statements) == 2, statements


def test_a_flush_for_an_execution_that_has_gone_stores_nothing_and_raises_lease_lost(
        sent: list[str], api: ApiClient) -> None:
    execution = _execution(sent, api)
    Execution.objects.filter(pk=execution.pk).delete()
    buffer = EventBuffer(execution)
    buffer.add("node", {"n": 1})
    with pytest.raises(LeaseLost), transaction.atomic():
        buffer.flush()
    assert not ExecutionEvent.objects.filter(execution_id=execution.pk).exists()
