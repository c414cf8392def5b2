"""Model instances from rows read by hand-written SQL, as the ORM would make them; a hot path's
read by one column and its conditional UPDATEs, their SQL built once; and the one row of a
query by key."""

import functools
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Field, Model, QuerySet

R = TypeVar("R")
M = TypeVar("M", bound=Model)


def instances(row: Sequence[Any], models: Sequence[type[Model]]) -> list[Any]:
    """Model instances from one row holding each model's concrete columns in turn (in
    `columns(model)`'s order), each value passed through its field's database converters
    (JSON, booleans and dates on SQLite...)."""
    made, start = [], 0
    for model in models:
        names, converters = _reading(model)
        values = list(row[start:start + len(names)])
        for index, convert, expression in converters:
            values[index] = convert(values[index], expression, connection)
        made.append(model.from_db(connection.alias, names, values))
        start += len(names)
    return made


def columns(model: type[Model], alias: str = "") -> str:
    """The model's concrete columns, quoted, in the order `instances` reads them."""
    quote = connection.ops.quote_name
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{quote(f.column)}" for f in model._meta.concrete_fields)


@functools.cache
def _reading(model: type[Model]) -> tuple[list[str], list[tuple[int, Any, Any]]]:
    """A model's attribute names, and the converters its columns need, worked out once."""
    fields = model._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        expression = field.get_col(model._meta.db_table)
        for convert in (connection.ops.get_db_converters(expression)
                        + field.get_db_converters(connection)):  # type: ignore[attr-defined]
            converters.append((index, convert, expression))
    return [f.attname for f in fields], converters


def one_row(rows: "QuerySet[Any, R]") -> R | None:
    """The row of a query that matches one at most (by a key, a unique pair), else None, read
    unordered: `.first()` orders by the model's ordering or its key, SQL to compile and a sort
    for nothing (any order the query had is dropped too)."""
    return next(iter(rows.order_by()[:1]), None)



def instances_where(model: type[M], column: str, value: Any) -> list[M]:
    """The model's rows whose `column` equals `value`, in the model's ordering, as
    `model.objects.filter(column=value)` would give them: for the reads a hot path makes on
    every call (the engine's node runs, once per pass), whose SQL the ORM would build anew
    each time (~0.45 ms for a pass's node runs, against 0.13 ms to read them)."""
    with connection.cursor() as cursor:
        cursor.execute(_where_sql(model, column),
                       [_field(model, column).get_db_prep_value(value, connection)])
        return [instances(row, (model,))[0] for row in cursor.fetchall()]


@functools.cache
def _where_sql(model: type[Model], column: str) -> str:
    quote = connection.ops.quote_name
    order = ", ".join(quote(_field(model, name.lstrip("-")).column)
                      + (" DESC" if name.startswith("-") else "")
                      for name in model._meta.ordering or () if isinstance(name, str))
    # Names from the model's metadata, quoted; the value is a parameter.
    return (f"SELECT {columns(model)} FROM {quote(model._meta.db_table)} "  # noqa: S608
            f"WHERE {quote(_field(model, column).column)} = %s"
            + (f" ORDER BY {order}" if order else ""))


def update_where(model: type[Model], where: dict[str, Any], values: dict[str, Any]) -> int:
    """`model.objects.filter(**where).update(**values)` for plain equality filters and plain
    values (no expressions), its UPDATE built once per shape: the engine's conditional writes
    (a node's or an execution's transition, several per pass) cost the ORM ~0.4 ms each to
    build. The number of rows changed."""
    names = (tuple(values), tuple(where))
    params = [_field(model, name).get_db_prep_save(value, connection)
              for name, value in values.items()]
    params += [_field(model, name).get_db_prep_value(value, connection)
               for name, value in where.items()]
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(model, *names), params)
        return int(cursor.rowcount)


@functools.cache
def _update_sql(model: type[Model], setting: tuple[str, ...], matching: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    assign = ", ".join(f"{quote(_field(model, name).column)} = %s" for name in setting)
    match = " AND ".join(f"{quote(_field(model, name).column)} = %s" for name in matching)
    # Names from the model's metadata, quoted; the values are parameters.
    return f"UPDATE {quote(model._meta.db_table)} SET {assign} WHERE {match}"  # noqa: S608


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field
