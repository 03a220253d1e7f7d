"""The database's two ways of failing a request that the hub answers with "retry later" rather than 500.

- unreachable: a restart, a network cut, a connection dropped (OperationalError, InterfaceError);
- read-only: a failover that left the hub on a standby, or a primary set read-only for maintenance. Reads
  still work (tracking pages, API reads), every write is refused (PostgreSQL's SQLSTATE 25006, which Django
  raises as InternalError).
"""

from __future__ import annotations

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
