"""Model instances from rows read by hand-written SQL, as the ORM would make them; a hot path's
reads by equal columns, its conditional UPDATEs (one, or many in one statement) and its
INSERTs, their SQL built once; and the one row of a query by key.

Many rows are written on PostgreSQL as one JSON parameter (jsonb_to_recordset), not one bound
value per column: Django's psycopg cursor binds on the client, where escaping every value costs
more than the write."""

import functools
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, cast

from django.db import connection
from django.db.models import (
    AutoField,
    BigAutoField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    Field,
    FloatField,
    IntegerField,
    JSONField,
    Model,
    QuerySet,
    SmallAutoField,
    TextField,
    TimeField,
    UUIDField,
)

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
    left_out = {column_field(model, name).attname for name in deferred}  # TypeError: not a column
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


def converted(model: type[Model], names: tuple[str, ...], row: Sequence[Any]) -> list[Any]:
    """`row`, the columns of the model's fields `names` as a statement of our own read them,
    converted as the ORM would convert them."""
    return _converted(row, _converting(model, names))


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
                       [column_field(model, column).get_db_prep_value(value, connection)])
        return [model.from_db(connection.alias, names, _converted(row, converters))
                for row in cursor.fetchall()]


@functools.cache
def _where_sql(model: type[Model], column: str, deferred: tuple[str, ...] = ()) -> str:
    quote = connection.ops.quote_name
    order = ", ".join(quote(column_field(model, name.lstrip("-")).column)
                      + (" DESC" if name.startswith("-") else "")
                      for name in model._meta.ordering or () if isinstance(name, str))
    # Names from the model's metadata, quoted; the value is a parameter.
    return (f"SELECT {columns(model, deferred=deferred)} "  # noqa: S608
            f"FROM {quote(model._meta.db_table)} "
            f"WHERE {quote(column_field(model, column).column)} = %s"
            + (f" ORDER BY {order}" if order else ""))


def values_where(model: type[Model], names: tuple[str, ...], where: dict[str, Any], *,
                 lock: bool = False) -> list[tuple[Any, ...]]:
    """`model.objects.filter(**where).values_list(*names)` for plain equality filters, unordered,
    (`.select_for_update()` with `lock`, where the database locks rows), its SELECT built once
    per shape: a read every engine pass or execute makes (a team's provider keys, the lock of
    its credit account) cost the ORM ~0.3 ms to build against ~0.1 ms to run."""
    if any(value is None for value in where.values()):  # `= NULL` matches nothing; IS NULL
        raise ValueError("values_where() filters by equality: None is not a value to match")
    params = [column_field(model, name).get_db_prep_value(value, connection)
              for name, value in where.items()]
    return _values(model, names, _select_sql(model, names, tuple(where), _locking(lock)),
                   params)


@functools.cache
def _select_sql(model: type[Model], reading: tuple[str, ...], matching: tuple[str, ...],
                lock: bool = False) -> str:
    quote = connection.ops.quote_name
    picked = ", ".join(quote(column_field(model, name).column) for name in reading)
    match = " AND ".join(f"{quote(column_field(model, name).column)} = %s" for name in matching)
    # Names from the model's metadata, quoted; the values are parameters.
    return (f"SELECT {picked} FROM {quote(model._meta.db_table)}"  # noqa: S608
            + (f" WHERE {match}" if match else "") + (" FOR UPDATE" if lock else ""))


def values_in(model: type[Model], names: tuple[str, ...], column: str, values: Sequence[Any],
              *, lock: bool = False) -> list[tuple[Any, ...]]:
    """`model.objects.filter(**{f"{column}__in": values}).order_by(column)
    .values_list(*names)`, `.select_for_update()` with `lock` where the database locks rows:
    a read every engine pass that submits jobs makes (the deliveries of its submissions), which
    cost the ORM ~0.3 ms to build against ~0.08 ms to run. Rows in `column`'s order, so that
    locks are always taken in one order."""
    if not values:
        return []
    params = [column_field(model, column).get_db_prep_value(value, connection) for value in values]
    return _values(model, names,
                   _select_in_sql(model, names, column, len(params), _locking(lock)), params)


@functools.lru_cache(maxsize=256)  # one per shape and count of values: a fan-out's few sizes
def _select_in_sql(model: type[Model], reading: tuple[str, ...], column: str, count: int,
                   lock: bool) -> str:
    quote = connection.ops.quote_name
    picked = ", ".join(quote(column_field(model, name).column) for name in reading)
    key = quote(column_field(model, column).column)
    marks = ", ".join(["%s"] * count)
    # Names from the model's metadata, quoted; the values are parameters.
    return (f"SELECT {picked} FROM {quote(model._meta.db_table)} "  # noqa: S608
            f"WHERE {key} IN ({marks}) ORDER BY {key}" + (" FOR UPDATE" if lock else ""))


def _locking(lock: bool) -> bool:
    """Whether to write FOR UPDATE: asked for, and the database locks rows (SQLite does not)."""
    return lock and connection.features.has_select_for_update


def _values(model: type[Model], names: tuple[str, ...], sql: str,
            params: list[Any]) -> list[tuple[Any, ...]]:
    """The rows `sql` reads, each column converted as the ORM would convert `names`."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    converters = _converting(model, names)
    return [tuple(_converted(row, converters)) for row in found]


@functools.cache
def _converting(model: type[Model], names: tuple[str, ...]) -> list[tuple[int, Any, Any]]:
    return _converters(model, [column_field(model, name) for name in names])


def update_where(model: type[Model], where: dict[str, Any], values: dict[str, Any]) -> int:
    """`model.objects.filter(**where).update(**values)` for plain equality filters and plain
    values (no expressions), its UPDATE built once per shape: the engine's conditional writes
    (a node's or an execution's transition, several per pass) cost the ORM ~0.4 ms each to
    build. The number of rows changed."""
    if any(value is None for value in where.values()):  # `= NULL` matches nothing; IS NULL
        raise ValueError("update_where() filters by equality: None is not a value to match")
    names = (tuple(values), tuple(where))
    params = [column_field(model, name).get_db_prep_save(value, connection)
              for name, value in values.items()]
    params += [column_field(model, name).get_db_prep_value(value, connection)
               for name, value in where.items()]
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(model, *names), params)
        return int(cursor.rowcount)


@functools.cache
def _update_sql(model: type[Model], setting: tuple[str, ...], matching: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    assign = ", ".join(f"{quote(column_field(model, name).column)} = %s" for name in setting)
    match = " AND ".join(f"{quote(column_field(model, name).column)} = %s" for name in matching)
    # Names from the model's metadata, quoted; the values are parameters.
    return f"UPDATE {quote(model._meta.db_table)} SET {assign} WHERE {match}"  # noqa: S608


def update_each(model: type[Model], matching: tuple[str, ...], setting: tuple[str, ...],
                rows: Sequence[tuple[Sequence[Any], Sequence[Any]]]) -> int:
    """For each (its `matching` values, its `setting` values) of `rows`: UPDATE the model's
    row whose `matching` fields equal the first, setting `setting` to the second; how many
    rows were changed in all. Plain values only, no expressions. On PostgreSQL one statement
    takes them all as one JSON parameter (jsonb_to_recordset): the engine records fifty pure
    nodes at a time, and their values bound one by one (JSON texts escaped in Python) cost
    more than running the UPDATEs. Elsewhere, one UPDATE per row in one executemany."""
    if not rows:
        return 0
    if connection.vendor != "postgresql" or not _as_json_record(model, (*matching, *setting)):
        fields = [column_field(model, name) for name in (*setting, *matching)]
        params = [[field.get_db_prep_save(value, connection)
                   for field, value in zip(fields, (*new, *old), strict=True)]
                  for old, new in rows]
        with connection.cursor() as cursor:
            cursor.executemany(_update_sql(model, setting, matching), params)
            return int(cursor.rowcount)
    sql, encoders = _update_each_sql(model, matching, setting)
    records = [{f"v{i}": encode(value) for i, (encode, value)
                in enumerate(zip(encoders, (*old, *new), strict=True))} for old, new in rows]
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(records)])
        return int(cursor.rowcount)


@functools.cache
def _update_each_sql(model: type[Model], matching: tuple[str, ...],
                     setting: tuple[str, ...]) -> tuple[str, list[Any]]:
    """PostgreSQL's UPDATE of `update_each`, and how each value of a row goes into its JSON
    record (v0, v1, ...: the matching values, then the set ones), worked out once."""
    quote = connection.ops.quote_name
    fields = [column_field(model, name) for name in (*matching, *setting)]
    record = _record_type(fields)
    match = " AND ".join(f"t.{quote(field.column)} = r.v{i}"
                         for i, field in enumerate(fields[:len(matching)]))
    assign = ", ".join(f"{quote(field.column)} = r.v{i}"
                       for i, field in enumerate(fields) if i >= len(matching))
    # Names and types from the model's metadata, quoted; the values are the one parameter.
    sql = (f"UPDATE {quote(model._meta.db_table)} AS t SET {assign} "  # noqa: S608
           f"FROM jsonb_to_recordset(%s::jsonb) AS r({record}) WHERE {match}")
    return sql, [_json_encoder(field) for field in fields]


@functools.cache
def _as_json_record(model: type[Model], names: tuple[str, ...]) -> bool:
    """Whether every one of these fields' values can travel in a JSON record."""
    return all(_json_encoder(column_field(model, name)) is not None for name in names)


def _record_type(fields: Sequence[Field[Any, Any]]) -> str:
    """The column definitions of jsonb_to_recordset for these fields' values, v0, v1, ..."""
    return ", ".join(f"v{i} {field.db_type(connection)}" for i, field in enumerate(fields))


_PLAIN = (BooleanField, CharField, TextField, IntegerField, AutoField, BigAutoField,
          SmallAutoField)


def _json_encoder(field: Field[Any, Any]) -> Any:
    """How a field's value goes into a JSON record that PostgreSQL casts to its column type:
    a JSON field's value as it is (its nested JSON becomes the jsonb), a date or time in ISO
    8601, a key or a decimal as its text, a float that JSON cannot hold (NaN, infinities) as
    the text PostgreSQL reads it from; other numbers, text and booleans as they are. None for a
    field whose values JSON does not carry as its column reads them."""
    if field.is_relation:
        return _json_encoder(cast(Any, field).target_field)
    if isinstance(field, JSONField):
        if field.encoder is not None:
            return lambda value: value if value is None else json.loads(
                json.dumps(value, cls=field.encoder))
        return _as_is
    if isinstance(field, DateTimeField | DateField | TimeField):
        return lambda value: value if value is None else value.isoformat()
    if isinstance(field, UUIDField | DecimalField):
        return lambda value: value if value is None else str(value)
    if isinstance(field, FloatField):
        return lambda value: value if value is None or math.isfinite(value) else str(value)
    return _as_is if isinstance(field, _PLAIN) else None  # (a duration, bytes...: no)


def _as_is(value: Any) -> Any:
    return value


def insert(objs: Sequence[Model]) -> None:
    """INSERT new instances of one model in one statement, as `bulk_create` would (each
    field's pre_save, then its value prepared for the database; an auto-increment key read
    back into its instance), the statement built once per model and row count: an execute
    writes its execution and its node runs this way (the ORM's INSERT compiler spent ~0.5 ms
    of the execute's ~3.3 ms assembling them). Plain values only, no expressions. On
    PostgreSQL all the rows go as one JSON parameter (`_insert_records`)."""
    if not objs:
        return
    model = _one_model(objs, "insert")
    if _as_records(model):
        _insert_records(model, objs)
        return
    fields, returning = _writable(model)
    size = max(1, connection.ops.bulk_batch_size(fields, objs))  # the backend's parameter cap
    for start in range(0, len(objs), size):
        batch = objs[start:start + size]
        params = []
        for obj in batch:
            for field in fields:
                params.append(field.get_db_prep_save(_new_value(obj, field), connection))
        with connection.cursor() as cursor:
            cursor.execute(_insert_sql(model, len(batch)), params)
            keys = cursor.fetchall() if returning else []
        _inserted(batch, keys)


def insert_together(*groups: Sequence[Model], guard: tuple[str, Sequence[Any]] | None = None,
                    then: Sequence[tuple[str, Sequence[Any]]] = ()) -> bool:
    """`insert` of each group in order (each of one model; the rows of one may refer to those
    of an earlier one), as one statement on PostgreSQL: an execute writes its execution and its
    node runs, one round trip instead of two. Only the last group's model may have an
    auto-increment key (the one statement reads back one group's keys).

    PostgreSQL only, as parts of that same statement (all written, or nothing):
    - `guard`: WITH items of ours and their parameters, the last one named `guard` (a
      conditional UPDATE ... RETURNING, say): the rows are inserted, and `then` runs, only if
      it returns a row;
    - `then`: further data-modifying statements of ours (an UPDATE), each with its parameters;
      with a guard, each must read it (`UPDATE ... FROM guard WHERE ...`).
    Whether the rows were inserted (False only when the guard returned no row)."""
    groups = tuple(group for group in groups if group)
    models = [_one_model(group, "insert_together") for group in groups]
    if guard is not None or then:
        if not groups or not all(_as_records(model) for model in models):
            raise NotImplementedError("insert_together()'s guard and then need rows, and "
                                      "PostgreSQL (data-modifying WITH)")
    elif len(groups) < 2 or not all(_as_records(model) for model in models):
        for group in groups:
            insert(group)
        return True
    if any(_writable(model)[1] for model in models[:-1]):
        raise TypeError("insert_together() reads back the keys of its last group only")
    params: list[Any] = []
    parts: list[str] = []
    if guard is not None:
        parts.append(guard[0])
        params.extend(guard[1])
    inserts = [_insert_json_params(model, group, "guard" if guard else None)
               for model, group in zip(models, groups, strict=True)]
    for n, (sql, records) in enumerate(inserts[:-1]):
        parts.append(f"i{n} AS ({sql})")
        params.append(records)
    for n, (sql, values) in enumerate(then):
        parts.append(f"t{n} AS ({sql})")
        params.extend(values)
    last, last_records = inserts[-1]
    params.append(last_records)
    with connection.cursor() as cursor:
        # Only our own statements are put together; every value is a parameter.
        cursor.execute(f"WITH {', '.join(parts)} {last}", params)
        keys = cursor.fetchall() if _writable(models[-1])[1] else []
        if guard is not None and not (keys or cursor.rowcount > 0):
            return False
    for group in groups[:-1]:
        _inserted(group, [])
    _inserted(groups[-1], keys)
    return True


def insert_guarded(guard: str, params: Sequence[Any], objs: Sequence[Model]) -> bool:
    """PostgreSQL: `insert(objs)` only if the statement `guard` (one of ours, with its
    `params`: a conditional UPDATE ... RETURNING, say) returns a row, both in one statement;
    whether they were inserted."""
    if connection.vendor != "postgresql":
        raise NotImplementedError("insert_guarded() is PostgreSQL's (data-modifying WITH)")
    if not objs:
        raise ValueError("insert_guarded() needs rows to insert")
    model = _one_model(objs, "insert_guarded")
    if not _as_records(model):
        raise TypeError("insert_guarded() takes instances of a model with plain columns")
    sql, records = _insert_json_params(model, objs, "guard")
    with connection.cursor() as cursor:
        # Only our own statements are put together; every value is a parameter.
        cursor.execute(f"WITH guard AS ({guard}) {sql}", [*params, records])
        auto = _writable(model)[1]
        keys = cursor.fetchall() if auto else []
        if not (keys if auto else cursor.rowcount):
            return False
    _inserted(objs, keys)
    return True


def insert_statement(objs: Sequence[Model], source: str) -> tuple[str, str]:
    """PostgreSQL: the INSERT of `objs` (of one model with plain columns), a row of them for
    each row of the WITH item `source`, to go inside a statement of ours (a guard of
    insert_together: `debit AS (UPDATE ...), guard AS (<this> RETURNING 1)`), and its one
    parameter. It returns nothing itself: add a RETURNING; keys are not read back."""
    model = _one_model(objs, "insert_statement")
    if not _as_records(model):
        raise NotImplementedError("insert_statement() is PostgreSQL's, for plain columns")
    sql, records = _insert_json_params(model, objs, source)
    returning = f" RETURNING {connection.ops.quote_name(model._meta.pk.column)}"
    return sql.removesuffix(returning), records


def _one_model(objs: Sequence[Model], what: str) -> type[Model]:
    model = type(objs[0])
    if any(type(obj) is not model for obj in objs):
        raise TypeError(f"{what}() takes instances of one model")
    return model


def _as_records(model: type[Model]) -> bool:
    """Whether the model's rows go to PostgreSQL as one JSON parameter (`_insert_records`)."""
    return connection.vendor == "postgresql" and _as_json_record(model, _writable_names(model))


def _insert_json_params(model: type[Model], objs: Sequence[Model],
                        source: str | None = None) -> tuple[str, str]:
    """`_insert_json_sql`'s statement for `objs`, and its one parameter."""
    fields, _ = _writable(model)
    sql, encoders = _insert_json_sql(model, source)
    records = []
    for n, obj in enumerate(objs):
        record: dict[str, Any] = {"n": n}
        for i, (field, encode) in enumerate(zip(fields, encoders, strict=True)):
            record[f"v{i}"] = encode(_new_value(obj, field))
        records.append(record)
    return sql, json.dumps(records)


def _insert_records(model: type[Model], objs: Sequence[Model]) -> None:
    """PostgreSQL: all the rows in one statement, as one JSON parameter (jsonb_to_recordset),
    in their order: bound one by one, each value (an execution's graph, say) was prepared and
    escaped in Python."""
    sql, records = _insert_json_params(model, objs)
    with connection.cursor() as cursor:
        cursor.execute(sql, [records])
        keys = cursor.fetchall() if _writable(model)[1] else []
    _inserted(objs, keys)


def _new_value(obj: Model, field: Field[Any, Any]) -> Any:
    """The field's value for a new row (its pre_save: a default, auto_now); a value only."""
    value = field.pre_save(obj, add=True)
    if hasattr(value, "resolve_expression"):
        raise TypeError(f"{type(obj).__name__}.{field.name}: an expression, not a value")
    return value


def _inserted(objs: Sequence[Model], keys: Sequence[tuple[Any, ...]]) -> None:
    """The auto-increment keys read back, in order, and the instances saved."""
    for obj, key in itertools.zip_longest(objs, keys):
        if key is not None:
            setattr(obj, type(obj)._meta.pk.attname, key[0])
        obj._state.adding, obj._state.db = False, connection.alias


@functools.cache
def _writable_names(model: type[Model]) -> tuple[str, ...]:
    return tuple(field.name for field in _writable(model)[0])


@functools.cache
def _insert_json_sql(model: type[Model], source: str | None = None) -> tuple[str, list[Any]]:
    """`source`: rows only for each row of that WITH item (a guard: insert_guarded)."""
    quote = connection.ops.quote_name
    fields, returning = _writable(model)
    values = ", ".join(f"r.v{i}" for i in range(len(fields)))
    # Names and types from the model's metadata, quoted; the values are the one parameter.
    sql = (f"INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608
           f"({', '.join(quote(f.column) for f in fields)}) SELECT {values} "
           f"FROM {f'{source}, ' if source else ''}"
           f"jsonb_to_recordset(%s::jsonb) AS r(n integer, {_record_type(fields)}) "
           "ORDER BY r.n"
           + (f" RETURNING {quote(model._meta.pk.column)}" if returning else ""))
    return sql, [_json_encoder(field) for field in fields]


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


def column_field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field
