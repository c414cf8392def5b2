"""`one_row`: the row of a query by key, or None, read without the ORDER BY that `.first()`
adds (every API lookup by id goes through it, in accounts/permissions.readable_one).
`instances_where`: a hot path's read by one column, as the ORM's filter would give it;
`values_where`: its read of a few columns, as the ORM's values_list would (`values_in`: of
the rows whose column is one of some values, locked if asked); `update_each`: many
conditional UPDATEs in one statement, each as the ORM's filter().update() would write it."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ApiKey, Team, User
from accounts.services import api_key_create
from executions.models import NodeRun, NodeStatus
from tests.api.run_helpers import create_workflow
from wireflow_site.rows import (
    instances_where,
    one_row,
    update_each,
    update_where,
    values_in,
    values_where,
)

pytestmark = pytest.mark.django_db


def test_one_row_is_the_row_or_none_read_with_a_limit_and_no_sort(team: Team,
                                                                  stranger: User) -> None:
    with CaptureQueriesContext(connection) as queries:
        found = one_row(Team.objects.filter(pk=team.pk))
        missing = one_row(Team.objects.filter(pk=-1))
        name = one_row(Team.objects.filter(pk=team.pk).values_list("name", flat=True))
    assert found == team and missing is None and name == team.name
    statements = [query["sql"] for query in queries.captured_queries]
    assert len(statements) == 3
    assert all("LIMIT 1" in sql and "ORDER BY" not in sql for sql in statements), statements


def _values(rows: list[Any]) -> list[dict[str, Any]]:
    return [{f.attname: getattr(row, f.attname) for f in type(row)._meta.concrete_fields}
            for row in rows]


def _same_as_the_orm(model: type[Model], column: str, value: Any) -> list[Any]:
    by_orm = list(model._default_manager.filter(**{column: value}))
    read = instances_where(model, column, value)
    assert [type(row) for row in read] == [model] * len(by_orm)
    assert _values(read) == _values(by_orm)  # every column, in the model's ordering
    return read


def test_instances_where_reads_as_the_orms_filter(owner: User, team: Team, api: Any,
                                                  sent: list[str]) -> None:
    workflow_id = create_workflow(api)["id"]
    execution_id = api.post(f"/workflows/{workflow_id}/execute", {}).json()["executionId"]
    runs = list(NodeRun.objects.filter(execution_id=execution_id))
    assert len(runs) >= 2
    # JSON of every shape, dates, and positions against the insertion order (ORDER BY position)
    for position, run in enumerate(reversed(runs)):
        run.position, run.output = position, {"text": "é\u2028", "n": [1, 2.5, None, True]}
        run.logs, run.started_at = [{"at": position}], timezone.now()
        run.save()
    read = _same_as_the_orm(NodeRun, "execution", execution_id)
    assert [run.pk for run in read] == [run.pk for run in reversed(runs)]
    # Deferred fields, as the ORM's .defer(): not read, then loaded when first used.
    deferred = ("input", "logs", "remote")
    lazy = instances_where(NodeRun, "execution", execution_id, deferred=deferred)
    by_orm = list(NodeRun.objects.filter(execution_id=execution_id).defer(*deferred))
    assert [run.get_deferred_fields() for run in lazy] == [
        run.get_deferred_fields() for run in by_orm] == [set(deferred)] * len(runs)
    with CaptureQueriesContext(connection) as queries:
        assert _values(lazy) == _values(read)  # each deferred field read when first used
    assert len(queries.captured_queries) == len(deferred) * len(runs)
    with pytest.raises(ValueError):  # the key is always read
        instances_where(NodeRun, "execution", execution_id, deferred=("id",))
    assert _same_as_the_orm(NodeRun, "execution", "0" * 32) == []
    # A descending ordering (-created_at), on another model
    for days in (3, 1, 2):
        created = api_key_create(user=owner, team=team, name=f"k{days}", scopes=None)
        ApiKey.objects.filter(pk=created.api_key.pk).update(
            created_at=timezone.now() - timedelta(days=days))
    keys = _same_as_the_orm(ApiKey, "team", team.pk)
    assert [key.name for key in keys][-3:] == ["k1", "k2", "k3"]
    with pytest.raises(TypeError):  # a reverse relation is not a column to read by
        instances_where(Team, "memberships", owner.pk)


def test_update_where_writes_as_the_orms_update(api: Any, sent: list[str]) -> None:
    from executions.models import Execution, ExecutionStatus

    workflow_id = create_workflow(api)["id"]
    ids = [api.post(f"/workflows/{workflow_id}/execute", {}).json()["executionId"]
           for _ in range(2)]
    now = timezone.now()
    values = {"status": ExecutionStatus.COMPLETED, "error": "", "finished_at": now,
              "final_output": {"o": {"value": ["é", 1.5, None, {"k": True}]}},
              "credits_used": 2.25, "wake_at": None, "lease_owner": "", "lease_expires_at": None}
    # The same write by each, one execution each: the rows must come out the same.
    assert Execution.objects.filter(pk=ids[0], status=ExecutionStatus.RUNNING).update(
        **values) == 1
    assert update_where(Execution, {"id": ids[1], "status": ExecutionStatus.RUNNING},
                        values) == 1
    first, second = (_values([Execution.objects.get(pk=pk)])[0] for pk in ids)
    different = {name for name in first if first[name] != second[name]}
    assert different <= {"id", "created_at", "started_at", "deadline_at"}, different
    # A condition that no longer holds changes nothing, and says so.
    assert update_where(Execution, {"id": ids[1], "status": ExecutionStatus.RUNNING},
                        {"error": "late"}) == 0
    assert Execution.objects.get(pk=ids[1]).error == ""
    with pytest.raises(ValueError):  # the ORM would mean IS NULL; `= NULL` would match nothing
        update_where(Execution, {"id": ids[1], "wake_at": None}, {"error": "late"})
    runs = list(NodeRun.objects.filter(execution_id=ids[1]))
    assert update_where(NodeRun, {"id": runs[0].pk, "attempt": runs[0].attempt},
                        {"logs": [{"line": "x"}], "started_at": now}) == 1
    assert NodeRun.objects.get(pk=runs[0].pk).logs == [{"line": "x"}]


def _execution_fields(api: Any) -> dict[str, Any]:
    """The fields of a real execution (one started over the API), less its id: new ones to
    insert by hand."""
    from executions.models import Execution

    workflow_id = create_workflow(api)["id"]
    template = Execution.objects.get(
        pk=api.post(f"/workflows/{workflow_id}/execute", {}).json()["executionId"])
    return {f.attname: getattr(template, f.attname) for f in Execution._meta.concrete_fields
            if f.attname != "id"}


def test_insert_writes_as_the_orm_and_reads_back_the_keys(
        api: Any, sent: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db.models import F

    from executions.models import Execution
    from wireflow_site.rows import insert

    fields = _execution_fields(api)
    fields.update(inputs={"a": ["é", 1.5, None, {"k": True}]}, error="x'; --", credits_used=0.5)
    by_orm, by_insert = Execution.objects.create(**fields), Execution(**fields)
    insert([by_insert])
    assert not by_insert._state.adding
    first, second = (_values([Execution.objects.get(pk=pk)])[0]
                     for pk in (by_orm.pk, by_insert.pk))
    assert {name for name in first if first[name] != second[name]} == {"id"}
    # An auto-increment key is read back into each instance, in order, across batches.
    monkeypatch.setattr(connection.ops, "bulk_batch_size", lambda fields, objs: 2)
    runs = [NodeRun(execution=by_insert, node_id=f"n{i}", node_type="utility:prompt_concat",
                    position=i, output={"text": str(i)}) for i in range(5)]
    insert(runs)
    assert [NodeRun.objects.get(pk=run.pk).node_id for run in runs] == [
        f"n{i}" for i in range(5)]
    assert _values(runs) == _values(list(NodeRun.objects.filter(execution=by_insert)))
    # Values of every kind, each inserted by the ORM and by insert: the same rows.
    kinds = [{"output": AWKWARD_JSON[i], "input": AWKWARD_JSON[-1 - i],
              "error": AWKWARD_TEXT[i % len(AWKWARD_TEXT)],
              "progress": [None, 0.1, float("inf"), float("-inf"), 1e-300][i % 5],
              "started_at": timezone.now().replace(microsecond=i), "cached": bool(i % 2)}
             for i in range(len(AWKWARD_JSON))]
    made = [NodeRun.objects.create(execution=by_orm, node_id=f"k{i}", **values)
            for i, values in enumerate(kinds)]
    inserted = [NodeRun(execution=by_insert, node_id=f"k{i}", **values)
                for i, values in enumerate(kinds)]
    insert(inserted)
    for orm_run, run in zip(made, inserted, strict=True):
        orm, ours = (_values([NodeRun.objects.get(pk=one.pk)])[0] for one in (orm_run, run))
        assert {k: v for k, v in ours.items() if k not in ("id", "execution_id")} == {
            k: v for k, v in orm.items() if k not in ("id", "execution_id")}
    assert NodeRun.objects.filter(pk=inserted[0].pk, output__isnull=True).exists()
    with pytest.raises(TypeError):
        insert([runs[0], by_insert])
    with pytest.raises(TypeError):
        insert([NodeRun(execution=by_insert, node_id="x", position=F("attempt"))])


def test_values_where_reads_as_the_orms_values_list(api: Any, sent: list[str]) -> None:
    from executions.models import Execution

    workflow_id = create_workflow(api)["id"]
    ids = [api.post(f"/workflows/{workflow_id}/execute", {}).json()["executionId"]
           for _ in range(3)]
    Execution.objects.filter(pk=ids[0]).update(
        inputs={"a": ["é", 1.5, None, {"k": True}]}, error="x'; --", credits_used=0.5)
    names = ("id", "inputs", "error", "credits_used", "started_at", "force", "wake_at")
    # JSON, decimals, dates, booleans and NULLs come out as the ORM gives them; by a foreign
    # key's column and by two columns at once.
    for where, count in (({"workflow_id": workflow_id}, 3), ({"id": ids[0], "error": "x'; --"}, 1),
                         ({"id": ids[1], "error": "none such"}, 0)):
        by_orm = list(Execution.objects.filter(**where).values_list(*names))
        read = values_where(Execution, names, where)
        assert len(read) == count
        assert sorted(read, key=str) == sorted(by_orm, key=str)
    assert values_where(Execution, ("error",), {"id": ids[1], "error": "none such"}) == []
    with pytest.raises(ValueError):  # the ORM would mean IS NULL; `= NULL` would match nothing
        values_where(Execution, ("id",), {"wake_at": None})
    with pytest.raises(TypeError):  # a reverse relation is not a column to read
        values_where(Execution, ("reruns",), {"id": ids[0]})


# Values of every kind a column holds, each written by the ORM and by update_each: text that
# SQL or JSON would have to escape, JSON of every shape (nested, a bare string, null against SQL
# NULL), times to the microsecond and NULL, floats JSON cannot hold, booleans, keys.
AWKWARD_TEXT = ["", "x'; --", 'quote " and back\\slash \\"', "é ∑ 🙂 \t\n", "%s %(x)s {0}"]
AWKWARD_JSON = [None, "a bare string", 0, -1.5, [], {}, ["é", 1.5, None, {"k": True}],
                {"nested": {"deep": ['"', "\\", "\u2028"]}, "n": 10**15}]


def test_update_each_writes_each_row_as_the_orms_update(api: Any, sent: list[str]) -> None:
    from executions.models import Execution, ExecutionStatus

    workflow_id = create_workflow(api)["id"]
    execution_ids = [api.post(f"/workflows/{workflow_id}/execute", {}).json()["executionId"]
                     for _ in range(2)]
    now = timezone.now().replace(microsecond=123456)
    by_orm, by_each = (list(NodeRun.objects.filter(execution_id=pk).order_by("node_id"))
                       for pk in execution_ids)
    count = len(AWKWARD_JSON)
    while len(by_orm) < count:  # one run per kind of value
        for runs, pk in ((by_orm, execution_ids[0]), (by_each, execution_ids[1])):
            runs.append(NodeRun.objects.create(execution_id=pk, node_id=f"extra{len(runs)}",
                                               node_type="utility:prompt_concat"))
    writes = []
    for i in range(count):
        writes.append({
            "status": NodeStatus.COMPLETED, "attempt": i + 1,
            "error": AWKWARD_TEXT[i % len(AWKWARD_TEXT)],
            "output": AWKWARD_JSON[i], "input": AWKWARD_JSON[-1 - i],
            "attempts_log": [{"attempt": i, "error": AWKWARD_TEXT[i % len(AWKWARD_TEXT)]}],
            "progress": [None, 0.1, float("inf"), float("-inf"), 1e-300][i % 5],
            "started_at": now + timedelta(microseconds=i), "finished_at": None if i % 2 else now,
            "cached": bool(i % 2), "credits": 2.25 * i, "request_id": f"req-{i}"})
    for run, values in zip(by_orm, writes, strict=False):
        assert NodeRun.objects.filter(pk=run.pk, status=run.status,
                                      attempt=run.attempt).update(**values) == 1
    names = tuple(writes[0])
    changed = update_each(NodeRun, ("id", "status", "attempt"), names,
                          [((run.pk, run.status, run.attempt), tuple(values.values()))
                           for run, values in zip(by_each, writes, strict=False)])
    assert changed == count
    for first, second in zip(by_orm, by_each, strict=False):
        orm, each = (_values([NodeRun.objects.get(pk=run.pk)])[0] for run in (first, second))
        assert {name: each[name] for name in names} == {name: orm[name] for name in names}
    # JSON null and SQL NULL stay apart, as the ORM keeps them.
    assert NodeRun.objects.filter(pk=by_each[0].pk, output__isnull=True).exists()
    # A row whose condition no longer holds is left as it is and not counted; a NaN is kept.
    stale, fresh = NodeRun.objects.get(pk=by_each[0].pk), NodeRun.objects.get(pk=by_each[1].pk)
    assert update_each(NodeRun, ("id", "attempt"), ("error", "progress"), [
        ((stale.pk, stale.attempt + 7), ("late", 0.5)),
        ((fresh.pk, fresh.attempt), ("fresh", float("nan")))]) == 1
    assert NodeRun.objects.get(pk=stale.pk).error == stale.error
    progress = NodeRun.objects.get(pk=fresh.pk).progress
    assert progress is not None and progress != progress  # NaN
    assert update_each(NodeRun, ("id",), ("error",), []) == 0
    # By a UUID key and a foreign key; a foreign key set to another row, and to NULL.
    executions = [Execution.objects.get(pk=pk) for pk in execution_ids]
    assert update_each(Execution, ("id", "workflow"), ("rerun_of", "final_output", "status"), [
        ((executions[0].pk, workflow_id), (executions[1].pk, {"o": AWKWARD_JSON[-1]},
                                           ExecutionStatus.FAILED)),
        ((executions[1].pk, workflow_id), (None, {}, ExecutionStatus.COMPLETED))]) == 2
    rerun, plain = (Execution.objects.get(pk=pk) for pk in execution_ids)
    assert (rerun.rerun_of_id, rerun.final_output, rerun.status) == (
        executions[1].pk, {"o": AWKWARD_JSON[-1]}, ExecutionStatus.FAILED)
    assert (plain.rerun_of_id, plain.status) == (None, ExecutionStatus.COMPLETED)


def test_values_in_reads_as_the_orms_filter_in_locked_in_key_order(api: Any,
                                                                 sent: list[str]) -> None:
    workflow_id = create_workflow(api)["id"]
    execution_id = api.post(f"/workflows/{workflow_id}/execute", {}).json()["executionId"]
    runs = list(NodeRun.objects.filter(execution_id=execution_id))
    assert len(runs) >= 2
    runs[0].remote = {"delivered": {"é": [1, 2.5, None, True]}, "teamKey": False}
    runs[0].save()
    pks = [run.pk for run in reversed(runs)]  # asked in any order, read in the key's
    names = ("id", "remote", "status", "started_at")
    by_orm = list(NodeRun.objects.filter(pk__in=pks).order_by("pk").values_list(*names))
    with CaptureQueriesContext(connection) as queries:
        read = values_in(NodeRun, names, "id", pks, lock=True)
        one = values_in(NodeRun, ("id",), "id", pks[:1])
    assert read == by_orm and [row[0] for row in read] == sorted(pks)
    assert one == [(pks[0],)]
    locked, unlocked = (query["sql"] for query in queries.captured_queries)
    assert locked.endswith(" FOR UPDATE") is connection.features.has_select_for_update
    assert "FOR UPDATE" not in unlocked
    assert values_in(NodeRun, names, "id", []) == []
    assert values_in(NodeRun, names, "id", [-1]) == []
    # values_where locks the same way when asked.
    with CaptureQueriesContext(connection) as queries:
        assert values_where(NodeRun, ("id",), {"id": pks[0]}, lock=True) == [(pks[0],)]
    sql = queries.captured_queries[0]["sql"]
    assert sql.endswith(" FOR UPDATE") is connection.features.has_select_for_update


def test_insert_together_writes_each_group_as_insert_does_in_one_statement(
        api: Any, sent: list[str]) -> None:
    from executions.models import Execution
    from wireflow_site.rows import insert, insert_together

    fields = _execution_fields(api)
    one, other = Execution(**fields), Execution(**fields)

    def runs_of(execution: Execution) -> list[NodeRun]:
        return [NodeRun(execution=execution, node_id=f"k{i}", output=AWKWARD_JSON[i],
                        error=AWKWARD_TEXT[i % len(AWKWARD_TEXT)], position=i)
                for i in range(len(AWKWARD_JSON))]

    separately, together = runs_of(one), runs_of(other)
    insert([one])
    insert(separately)
    with CaptureQueriesContext(connection) as queries:
        insert_together([other], together)  # the runs refer to the execution inserted with them
    assert len(queries.captured_queries) == (1 if connection.vendor == "postgresql" else 2)
    assert not other._state.adding and all(not run._state.adding for run in together)
    # The keys read back, in order; the rows as insert writes them.
    assert [NodeRun.objects.get(pk=run.pk).node_id for run in together] == [
        run.node_id for run in separately]
    assert [{k: v for k, v in row.items() if k not in ("id", "execution_id")}
            for row in _values(list(NodeRun.objects.filter(execution=other).order_by("pk")))] \
        == [{k: v for k, v in row.items() if k not in ("id", "execution_id")}
            for row in _values(list(NodeRun.objects.filter(execution=one).order_by("pk")))]
    first, second = (_values([Execution.objects.get(pk=pk)])[0] for pk in (one.pk, other.pk))
    assert {name for name in first if first[name] != second[name]} == {"id"}
    with pytest.raises(TypeError):  # keys are read back for the last group only
        insert_together([NodeRun(execution=one, node_id="x", position=0)], [Execution(**fields)])


def test_insert_together_with_a_guard_writes_everything_or_nothing_in_one_statement(
        api: Any, sent: list[str]) -> None:
    from accounts.credits import credits_grant
    from accounts.models import CreditAccount, CreditEntry
    from executions.models import Execution
    from wireflow_site.rows import insert_statement, insert_together

    fields = _execution_fields(api)
    team = ApiKey.objects.get().team
    guard = ('debit AS (UPDATE "accounts_creditaccount" SET "balance" = "balance" - %s '
             'WHERE "team_id" = %s AND "balance" >= %s RETURNING 1), '
             'guard AS ({} RETURNING 1)')
    then = ('UPDATE "accounts_team" SET "name" = %s FROM guard WHERE "id" = %s', )

    def attempt(cost: int, name: str) -> tuple[bool, Execution, list[NodeRun]]:
        execution = Execution(**fields)
        runs = [NodeRun(execution=execution, node_id=f"n{i}", position=i) for i in range(3)]
        entry = CreditEntry(team_id=team.pk, kind="reserve", amount=-cost, note=name,
                            execution_id=execution.pk, created_at=timezone.now())
        if connection.vendor != "postgresql":
            with pytest.raises(NotImplementedError):
                insert_statement([entry], "debit")
            return False, execution, runs
        insert, records = insert_statement([entry], "debit")
        with CaptureQueriesContext(connection) as queries:
            done = insert_together([execution], runs,
                                   guard=(guard.format(insert), [cost, team.pk, cost, records]),
                                   then=[(then[0], [name, team.pk])])
        assert len(queries.captured_queries) == 1
        return done, execution, runs

    if connection.vendor != "postgresql":
        attempt(1, "x")
        with pytest.raises(NotImplementedError):
            insert_together([Execution(**fields)], then=[("SELECT 1", [])])
        return
    credits_grant(team, 10)
    balance = CreditAccount.objects.get(team=team).balance
    refused, execution, runs = attempt(int(balance) + 1, "refused")
    assert refused is False
    assert not Execution.objects.filter(pk=execution.pk).exists()
    assert all(run.pk is None for run in runs) and execution._state.adding
    assert not CreditEntry.objects.filter(note="refused").exists()
    assert CreditAccount.objects.get(team=team).balance == balance
    assert Team.objects.get(pk=team.pk).name != "refused"
    kept, execution, runs = attempt(4, "kept")
    assert kept is True and not execution._state.adding
    assert [NodeRun.objects.get(pk=run.pk).node_id for run in runs] == ["n0", "n1", "n2"]
    assert NodeRun.objects.filter(execution=execution).count() == 3
    assert CreditEntry.objects.get(note="kept").execution_id == execution.pk
    assert CreditAccount.objects.get(team=team).balance == balance - 4
    assert Team.objects.get(pk=team.pk).name == "kept"


def test_insert_guarded_inserts_only_when_its_guard_returns_a_row(
        api: Any, sent: list[str]) -> None:
    from accounts.credits import credits_grant
    from accounts.models import CreditAccount, CreditEntry
    from wireflow_site.rows import insert_guarded

    if connection.vendor != "postgresql":
        with pytest.raises(NotImplementedError):
            insert_guarded("SELECT 1", [], [CreditEntry()])
        return
    team = ApiKey.objects.get().team
    credits_grant(team, 10)
    team_id = team.pk
    guard = ('UPDATE "accounts_creditaccount" SET "balance" = "balance" - %s '
             'WHERE "team_id" = %s AND "balance" >= %s RETURNING 1')
    balance = CreditAccount.objects.get(team_id=team_id).balance

    def entry(note: str) -> CreditEntry:
        return CreditEntry(team_id=team_id, kind="grant", amount=1, note=note,
                           created_at=timezone.now())

    kept, refused = entry("kept"), entry("refused")
    assert insert_guarded(guard, [1, team_id, 1], [kept]) is True
    assert kept.pk is not None and CreditEntry.objects.filter(pk=kept.pk, note="kept").exists()
    assert CreditAccount.objects.get(team_id=team_id).balance == balance - 1
    assert insert_guarded(guard, [1, team_id, balance + 1], [refused]) is False
    assert refused.pk is None and not CreditEntry.objects.filter(note="refused").exists()
    assert CreditAccount.objects.get(team_id=team_id).balance == balance - 1
