"""Model instances from rows read by hand-written SQL, as the ORM would make them; a hot path's
reads by equal columns, its conditional UPDATEs and its INSERTs, their SQL built once; and the
one row of a query by key."""

import functools
import itertools
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Field, Model, QuerySet

R = TypeVar("R")
M = TypeVar("M", bound=Model)


def instances(row: Sequence[Any], models: Sequence[type[Model]],
              deferred: Mapping[type[Model], tuple[str, ...]] | None = None) -> list[Any]:
    """Model instances from one row holding each model's concrete columns in turn (in
    `columns(model)`'s order; without those of its `deferred` fields, which load when first
    used), each value passed through its field's database converters (JSON, booleans and
    dates on SQLite...)."""
    made, start = [], 0
    for model in models:
        names, converters = _reading(model, (deferred or {}).get(model, ()))
        values = _converted(row[start:start + len(names)], converters)
        made.append(model.from_db(connection.alias, names, values))
        start += len(names)
    return made


def columns(model: type[Model], alias: str = "", deferred: tuple[str, ...] = ()) -> str:
    """The model's concrete columns, quoted, in the order `instances` reads them (those of the
    `deferred` fields left out)."""
    quote = connection.ops.quote_name
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{quote(f.column)}" for f in _read_fields(model, deferred))


@functools.cache
def _reading(model: type[Model], deferred: tuple[str, ...] = ()) -> tuple[
        list[str], list[tuple[int, Any, Any]]]:
    """A model's attribute names, and the converters its columns need, worked out once."""
    fields = _read_fields(model, deferred)
    return [f.attname for f in fields], _converters(model, fields)


def _read_fields(model: type[Model], deferred: tuple[str, ...]) -> list[Any]:
    if model._meta.pk.name in deferred or model._meta.pk.attname in deferred:
        raise ValueError("the primary key is always read")
    left_out = {_field(model, name).attname for name in deferred}  # TypeError: not a column
    return [f for f in model._meta.concrete_fields if f.attname not in left_out]


def _converters(model: type[Model], fields: Sequence[Any]) -> list[tuple[int, Any, Any]]:
    """(place in the row, converter, column expression) for each converter the columns of
    `fields`, read in that order, need."""
    converters = []
    for index, field in enumerate(fields):
        expression = field.get_col(model._meta.db_table)
        for convert in (connection.ops.get_db_converters(expression)
                        + field.get_db_converters(connection)):
            converters.append((index, convert, expression))
    return converters


def _converted(row: Sequence[Any], converters: list[tuple[int, Any, Any]]) -> list[Any]:
    values = list(row)
    for index, convert, expression in converters:
        values[index] = convert(values[index], expression, connection)
    return values


def one_row(rows: "QuerySet[Any, R]") -> R | None:
    """The row of a query that matches one at most (by a key, a unique pair), else None, read
    unordered: `.first()` orders by the model's ordering or its key, SQL to compile and a sort
    for nothing (any order the query had is dropped too)."""
    return next(iter(rows.order_by()[:1]), None)



def instances_where(model: type[M], column: str, value: Any, *,
                    deferred: tuple[str, ...] = ()) -> list[M]:
    """The model's rows whose `column` equals `value`, in the model's ordering, as
    `model.objects.filter(column=value)` would give them (`.defer(*deferred)`: those fields
    are read from the database when first used): for the reads a hot path makes on every call
    (the engine's node runs, once per pass; a poll's), whose SQL the ORM would build anew
    each time (~0.45 ms for a pass's node runs, against 0.13 ms to read them)."""
    names, converters = _reading(model, deferred)
    with connection.cursor() as cursor:
        cursor.execute(_where_sql(model, column, deferred),
                       [_field(model, column).get_db_prep_value(value, connection)])
        return [model.from_db(connection.alias, names, _converted(row, converters))
                for row in cursor.fetchall()]


@functools.cache
def _where_sql(model: type[Model], column: str, deferred: tuple[str, ...] = ()) -> str:
    quote = connection.ops.quote_name
    order = ", ".join(quote(_field(model, name.lstrip("-")).column)
                      + (" DESC" if name.startswith("-") else "")
                      for name in model._meta.ordering or () if isinstance(name, str))
    # Names from the model's metadata, quoted; the value is a parameter.
    return (f"SELECT {columns(model, deferred=deferred)} "  # noqa: S608
            f"FROM {quote(model._meta.db_table)} "
            f"WHERE {quote(_field(model, column).column)} = %s"
            + (f" ORDER BY {order}" if order else ""))


def values_where(model: type[Model], names: tuple[str, ...],
                 where: dict[str, Any]) -> list[tuple[Any, ...]]:
    """`model.objects.filter(**where).values_list(*names)` for plain equality filters, unordered,
    its SELECT built once per shape: a read every engine pass or execute makes (a team's
    provider keys) cost the ORM ~0.35 ms to build against ~0.1 ms to run."""
    if any(value is None for value in where.values()):  # `= NULL` matches nothing; IS NULL
        raise ValueError("values_where() filters by equality: None is not a value to match")
    params = [_field(model, name).get_db_prep_value(value, connection)
              for name, value in where.items()]
    with connection.cursor() as cursor:
        cursor.execute(_select_sql(model, names, tuple(where)), params)
        found = cursor.fetchall()
    converters = _converting(model, names)
    return [tuple(_converted(row, converters)) for row in found]


@functools.cache
def _select_sql(model: type[Model], reading: tuple[str, ...], matching: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    picked = ", ".join(quote(_field(model, name).column) for name in reading)
    match = " AND ".join(f"{quote(_field(model, name).column)} = %s" for name in matching)
    # Names from the model's metadata, quoted; the values are parameters.
    return (f"SELECT {picked} FROM {quote(model._meta.db_table)}"  # noqa: S608
            + (f" WHERE {match}" if match else ""))


@functools.cache
def _converting(model: type[Model], names: tuple[str, ...]) -> list[tuple[int, Any, Any]]:
    return _converters(model, [_field(model, name) for name in names])


def update_where(model: type[Model], where: dict[str, Any], values: dict[str, Any]) -> int:
    """`model.objects.filter(**where).update(**values)` for plain equality filters and plain
    values (no expressions), its UPDATE built once per shape: the engine's conditional writes
    (a node's or an execution's transition, several per pass) cost the ORM ~0.4 ms each to
    build. The number of rows changed."""
    if any(value is None for value in where.values()):  # `= NULL` matches nothing; IS NULL
        raise ValueError("update_where() filters by equality: None is not a value to match")
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


def insert(objs: Sequence[Model]) -> None:
    """INSERT new instances of one model in one statement, as `bulk_create` would (each
    field's pre_save, then its value prepared for the database; an auto-increment key read
    back into its instance), the statement built once per model and row count: an execute
    writes its execution and its node runs this way (the ORM's INSERT compiler spent ~0.5 ms
    of the execute's ~3.3 ms assembling them). Plain values only, no expressions."""
    if not objs:
        return
    model = type(objs[0])
    if any(type(obj) is not model for obj in objs):
        raise TypeError("insert() takes instances of one model")
    fields, returning = _writable(model)
    size = max(1, connection.ops.bulk_batch_size(fields, objs))  # the backend's parameter cap
    for start in range(0, len(objs), size):
        batch = objs[start:start + size]
        params = []
        for obj in batch:
            for field in fields:
                value = field.pre_save(obj, add=True)
                if hasattr(value, "resolve_expression"):
                    raise TypeError(f"{model.__name__}.{field.name}: an expression, not a value")
                params.append(field.get_db_prep_save(value, connection))
        with connection.cursor() as cursor:
            cursor.execute(_insert_sql(model, len(batch)), params)
            keys = cursor.fetchall() if returning else []
        for obj, key in itertools.zip_longest(batch, keys):
            if key is not None:
                setattr(obj, model._meta.pk.attname, key[0])
            obj._state.adding, obj._state.db = False, connection.alias


@functools.cache
def _writable(model: type[Model]) -> tuple[list[Field[Any, Any]], bool]:
    """The columns an INSERT writes (not an auto-increment key), and whether there is one."""
    pk = model._meta.pk
    auto = pk is not None and pk.get_internal_type() in ("AutoField", "BigAutoField",
                                                          "SmallAutoField")
    return [f for f in model._meta.concrete_fields if not (auto and f is pk)], auto


@functools.cache
def _insert_sql(model: type[Model], rows: int) -> str:
    quote = connection.ops.quote_name
    fields, returning = _writable(model)
    one = f"({', '.join(['%s'] * len(fields))})"
    # Names from the model's metadata, quoted; the values are parameters.
    return (f"INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608
            f"({', '.join(quote(f.column) for f in fields)}) VALUES {', '.join([one] * rows)}"
            + (f" RETURNING {quote(model._meta.pk.column)}" if returning else ""))


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field
