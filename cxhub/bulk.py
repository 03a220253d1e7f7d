"""Many rows' own values written in one statement, for less than Django's `bulk_update` costs.

`bulk_update` writes a `CASE WHEN pk = … THEN …` per row and field, and composing those costs the
worker more than the statement costs the database (a batch's step outcomes were 7% of the workers' time,
bench/README.md). On PostgreSQL, `UPDATE … FROM (VALUES …)` takes the same values as parameters of one
statement; elsewhere (the SQLite demo) this is `bulk_update`.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def rows_update(rows: Sequence[Model], fields: Sequence[str]) -> None:
    """Save `fields` of each of `rows` (instances of one model, already in the database), in one statement.
    Like `bulk_update`: no `save()`, no signals, `auto_now` fields are left as they are."""
    if not rows:
        return
    model = type(rows[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(rows, fields)
        return
    meta, quote = model._meta, connection.ops.quote_name
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    # Each value cast to its column's type: a parameter in VALUES would otherwise be text.
    row = "(" + ", ".join(f"CAST(%s AS {column.db_type(connection)})" for column in columns) + ")"
    names = [quote(column.column) for column in columns]
    table, pk = quote(meta.db_table), names[0]
    sql = (
        f"UPDATE {table} SET {', '.join(f'{name} = v.{name}' for name in names[1:])} "
        f"FROM (VALUES {', '.join([row] * len(rows))}) AS v({', '.join(names)}) WHERE {table}.{pk} = v.{pk}"
    )
    params = [column.get_db_prep_save(getattr(obj, column.attname), connection) for obj in rows for column in columns]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
