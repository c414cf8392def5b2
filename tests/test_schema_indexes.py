"""No index of ours that another index makes redundant: every index is written on every insert
(and on every update that is not HOT), so one whose columns lead a longer index (or a unique
constraint) costs each write and serves no lookup the longer one does not. The usual way in is
a foreign key: Django indexes it unless told db_index=False (executions/models.py)."""

import pytest
from django.apps import apps
from django.db import connection

from wireflow_site import dbindexes

pytestmark = pytest.mark.django_db

OUR_APPS = ("accounts", "workflows", "executions")

# Each index of a table as PostgreSQL has it: its key columns with their operator classes, and
# whether it is unique, partial or on expressions (those serve lookups a plain one cannot).
INDEXES = """
    SELECT c.relname, i.indexrelid::regclass::text, i.indkey::text, i.indclass::text,
           i.indisunique, i.indpred IS NOT NULL OR i.indexprs IS NOT NULL
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
    WHERE c.relname = ANY(%s)
"""


def our_tables() -> list[str]:
    return sorted(model._meta.db_table for app in OUR_APPS
                  for model in apps.get_app_config(app).get_models(include_auto_created=False))


def redundant_indexes(tables: list[str]) -> list[str]:
    """Each plain index whose keys (columns and operator classes) are the first keys of another
    index on the same table that is not partial, as "index: covered by other"."""
    with connection.cursor() as cursor:
        cursor.execute(INDEXES, [tables])
        rows = cursor.fetchall()
    keys = [(table, name, list(zip(columns.split(), classes.split(), strict=True)), unique,
             special) for table, name, columns, classes, unique, special in rows]
    return sorted(
        f"{name}: covered by {other}"
        for table, name, key, unique, special in keys if not unique and not special
        for other_table, other, other_key, _, other_special in keys
        if other_table == table and other != name and not other_special
        and len(key) <= len(other_key) and other_key[:len(key)] == key)


def test_no_index_of_ours_is_the_leading_part_of_another() -> None:
    assert redundant_indexes(our_tables()) == []


def test_the_check_finds_an_index_that_leads_another() -> None:
    # The check itself: an index on executions' team_id alone, beside (team_id, created_at),
    # is reported; made partial, it serves other lookups and is not.
    with connection.cursor() as cursor:
        cursor.execute('CREATE INDEX "probe_team" ON "executions_execution" ("team_id")')
        cursor.execute('CREATE INDEX "probe_partial" ON "executions_execution" ("team_id") '
                       "WHERE status = 'RUNNING'")
    found = redundant_indexes(["executions_execution"])
    assert [line for line in found if line.startswith("probe_team:")], found
    assert not [line for line in found if line.startswith("probe_partial:")], found


def test_a_dropped_index_comes_back_when_its_migration_is_reversed() -> None:
    probe = [dbindexes.FieldIndex("probe", "executions_noderun", "execution_id"),
             dbindexes.FieldIndex("probe_like", "executions_noderun", "cache_key",
                                  "varchar_pattern_ops")]
    with connection.schema_editor() as editor:
        dbindexes.create(editor, probe)  # the migration reversed
    assert {"probe", "probe_like"} <= existing_indexes("executions_noderun")
    assert redundant_indexes(["executions_noderun"]) == ["probe: covered by one_run_per_node"]
    with connection.schema_editor() as editor:
        dbindexes.drop(editor, probe)  # and applied again
    assert not {"probe", "probe_like"} & existing_indexes("executions_noderun")


def existing_indexes(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
        return {name for name, in cursor.fetchall()}
