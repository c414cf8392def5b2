"""Dropping the index Django made for a field, in a migration, without touching the field.

An AlterField that only turns a foreign key's db_index off drops the key's constraint, drops
the index and adds the constraint back: PostgreSQL then checks every row of the table again,
holding a lock that stops its writes. `drop_field_indexes` drops only the indexes (by the
names Django gave them, the same on every database), and creates them again when the migration
is reversed. Pair it with the AlterFields in a SeparateDatabaseAndState, as their database
side."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from django.db import migrations


class FieldIndex(NamedTuple):
    name: str
    table: str
    column: str
    opclass: str = ""  # varchar_pattern_ops: the LIKE index PostgreSQL gets for a CharField


def drop_field_indexes(*indexes: FieldIndex) -> migrations.RunPython:
    return migrations.RunPython(lambda apps, editor: drop(editor, indexes),
                                lambda apps, editor: create(editor, indexes), elidable=False)


def drop(schema_editor: Any, indexes: Iterable[FieldIndex]) -> None:
    for index in indexes:
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(index.name)}")


def create(schema_editor: Any, indexes: Iterable[FieldIndex]) -> None:
    """Each index as Django made it; a LIKE index only on PostgreSQL, the one database that
    had it."""
    quote = schema_editor.quote_name
    postgres = schema_editor.connection.vendor == "postgresql"
    for index in indexes:
        if index.opclass and not postgres:
            continue
        column = quote(index.column) + (f" {index.opclass}" if index.opclass else "")
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {quote(index.name)} "
                              f"ON {quote(index.table)} ({column})")
