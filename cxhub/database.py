"""The database's two ways of failing a request that the hub answers with "retry later" rather than 500, and
a statement that finds out for itself whether its kept connection still works.

- unreachable: a restart, a network cut, a connection dropped (OperationalError, InterfaceError);
- read-only: a failover that left the hub on a standby, or a primary set read-only for maintenance. Reads
  still work (tracking pages, API reads), every write is refused (PostgreSQL's SQLSTATE 25006, which Django
  raises as InternalError).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, connection

READ_ONLY_SQLSTATE = "25006"  # read_only_sql_transaction


def unreachable(exc: BaseException | None) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)


def refused_write(exc: BaseException | None) -> bool:
    """A write the database refused because it is read-only (Django keeps the driver's error as the cause)."""
    return isinstance(exc, DatabaseError) and getattr(exc.__cause__, "sqlstate", None) == READ_ONLY_SQLSTATE


def accepts_writes() -> bool:
    """Does the database take writes now? One round trip; raises when it is unreachable."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":  # SQLite (the demo) has no read-only mode to ask about
            cursor.execute("SELECT 1")
            return True
        # 'on' in a standby and under default_transaction_read_only alike.
        cursor.execute("SELECT current_setting('transaction_read_only')")
        return cursor.fetchone()[0] == "off"


def fetchone_unchecked(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """Run one statement and fetch its row, without Django's health check of a kept connection.

    With CONN_HEALTH_CHECKS a request's first query is preceded by a `SELECT 1`. For the webhook, whose
    only query is its insert, that round trip cost nearly as much as the insert (0.17 ms of the web
    process's CPU and 0.1 ms of PostgreSQL's per webhook, 9% of its rate). Here the statement goes
    first: if the kept connection is found dead (the server restarted, a proxy dropped it), it is closed
    and the statement is sent once more on a new one, as the check would have done. Only for a statement
    that is harmless to send twice: the first may have been applied before its answer was lost.
    """
    checked = connection.connection is None or connection.health_check_done or connection.in_atomic_block
    connection.health_check_done = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    except (OperationalError, InterfaceError):
        # psycopg marks a connection the server dropped as closed; SQLite's, reopened per request, never is.
        if checked or not getattr(connection.connection, "closed", False):
            raise  # a fresh or checked connection, or a statement that failed on a live one
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()
