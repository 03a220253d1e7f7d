"""CSV imports started in the admin: checked and stored at upload, run by a worker, watched on their page.

A backfill of tens of thousands of orders takes minutes (README, *CSV backfill*), longer than a web request
may last behind a proxy. So the upload is only checked (UTF-8, CSV, header) and stored with its row count;
a worker imports it on the `low` queue through `orders_import_csv`, writing its progress every few seconds,
and the import's admin page shows the rows done, then the report.

A worker that dies mid-import leaves an import whose heartbeat stops; `order_imports_recover` hands it out
again, and the rerun finishes it, since importing a file twice creates nothing twice (orders the first
attempt imported then count as updated). Each attempt carries its number: a worker that was presumed dead
and wakes up finds its attempt superseded and stops, so two attempts never race on one import.

The file is kept until the import is done (a failed import can be run again), then emptied: the orders
now hold what it said about customers.
"""

from __future__ import annotations

import io
import logging
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, Q
from django.utils import timezone

from cxhub.jobs import enqueue

from .choices import ImportState
from .csv_import import ImportFileError, ImportReport, csv_check, orders_import_csv
from .models import OrderImport, Store

logger = logging.getLogger(__name__)

IMPORT_QUEUE = "low"
# A worker writes its progress (and shows it is alive) at most this often: once per order would cost as
# much as the order.
HEARTBEAT_EVERY = timedelta(seconds=2)
# An import whose worker said nothing for this long has lost its worker. Generous: before the first order
# is written, every row of the file is validated, and a million-row file takes minutes to check.
IMPORT_LEASE = timedelta(minutes=15)
# An import still queued after this long may have lost its job (Redis restarted empty); queueing it again
# is harmless, since only one attempt at a time can claim it.
QUEUED_GRACE = timedelta(minutes=2)
# A large import is long, not stuck: RQ would otherwise stop it after the queue's default timeout.
IMPORT_JOB_TIMEOUT = int(timedelta(hours=12).total_seconds())
# The report keeps the first rejected rows: they show the pattern, the counts say the rest.
ERRORS_KEPT = 500


class ImportSuperseded(Exception):
    """This attempt was presumed dead and the import handed to another one: stop without writing."""


def order_import_start(*, store: Store, file_name: str, data: bytes, user: AbstractBaseUser | None) -> OrderImport:
    """Check an uploaded file and queue its import. Raises ImportFileError (nothing stored) for a file the
    importer would refuse as a whole."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"the file is not readable as UTF-8 CSV (byte {exc.start}: {exc.reason})") from exc
    if "\x00" in text:
        raise ImportFileError("the file holds NUL characters: it is not a CSV export")
    rows = csv_check(io.StringIO(text, newline=""))
    upload = OrderImport.objects.create(
        store=store, file_name=file_name[:255], content=text, uploaded_by=user, rows_total=rows
    )
    _queue(upload.pk)
    return upload


def order_import_run(import_id: int) -> str:
    """Run a queued import (or one whose worker died) to the end. Returns the state it ends in; an import
    another attempt holds, or one finished already, is left alone."""
    attempt = _claim(import_id)
    if attempt is None:
        return OrderImport.objects.filter(pk=import_id).values_list("state", flat=True).first() or "missing"
    upload = OrderImport.objects.select_related("store").get(pk=import_id)
    progress = _Progress(import_id, attempt)
    try:
        report = orders_import_csv(store=upload.store, file=io.StringIO(upload.content, newline=""),
                                   progress=progress.add)  # fmt: skip
    except ImportSuperseded:
        logger.warning("CSV import %s: attempt %s was superseded by a newer one; stopped", import_id, attempt)
        return ImportState.RUNNING
    except Exception as exc:
        # A bug or an outage the importer did not foresee: recorded on the import, which can be run again.
        logger.exception("CSV import %s failed", import_id)
        _finish(import_id, attempt, state=ImportState.FAILED, failure=f"{type(exc).__name__}: {exc}")
        return ImportState.FAILED
    _finish(import_id, attempt, state=ImportState.DONE, content="", **_report_fields(report))
    return ImportState.DONE


def order_import_retry(import_id: int) -> bool:
    """Queue a failed import again (after the fix). Returns whether it was failed."""
    again = OrderImport.objects.filter(pk=import_id, state=ImportState.FAILED).update(
        state=ImportState.QUEUED, failure="", rows_done=0, heartbeat_at=None, finished_at=None
    )
    if again:
        _queue(import_id)
    return bool(again)


def order_imports_recover(*, now: datetime | None = None) -> int:
    """Queue again the imports whose job was lost or whose worker died. Returns how many."""
    now = now or timezone.now()
    stalled = list(
        OrderImport.objects.filter(
            Q(state=ImportState.QUEUED, created_at__lt=now - QUEUED_GRACE)
            | Q(state=ImportState.RUNNING, heartbeat_at__lt=now - IMPORT_LEASE)
        ).values_list("pk", flat=True)
    )
    for pk in stalled:
        _queue(pk)
    return len(stalled)


def _queue(import_id: int) -> None:
    from .jobs import order_import_job  # the jobs module imports this one

    enqueue(IMPORT_QUEUE, order_import_job, import_id, job_timeout=IMPORT_JOB_TIMEOUT)


def _claim(import_id: int) -> int | None:
    """Take the import for a new attempt (queued, or running with a silent worker). Returns the attempt's number."""
    now = timezone.now()
    claimed = OrderImport.objects.filter(
        Q(state=ImportState.QUEUED) | Q(state=ImportState.RUNNING, heartbeat_at__lt=now - IMPORT_LEASE), pk=import_id
    ).update(state=ImportState.RUNNING, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now, rows_done=0)
    if not claimed:
        return None
    return OrderImport.objects.values_list("attempts", flat=True).get(pk=import_id)


class _Progress:
    """Counts the rows done and writes them with a heartbeat every HEARTBEAT_EVERY."""

    def __init__(self, import_id: int, attempt: int) -> None:
        self.import_id, self.attempt = import_id, attempt
        self.rows = 0
        self.written_at = timezone.now()

    def add(self, rows: int) -> None:
        self.rows += rows
        now = timezone.now()
        if now - self.written_at < HEARTBEAT_EVERY:
            return
        self.written_at = now
        if not _mine(self.import_id, self.attempt).update(rows_done=self.rows, heartbeat_at=now):
            raise ImportSuperseded


def _mine(import_id: int, attempt: int):
    return OrderImport.objects.filter(pk=import_id, attempts=attempt, state=ImportState.RUNNING)


def _finish(import_id: int, attempt: int, *, state: str, **fields: Any) -> None:
    now = timezone.now()
    _mine(import_id, attempt).update(state=state, finished_at=now, heartbeat_at=now, **fields)


def _report_fields(report: ImportReport) -> dict[str, Any]:
    return {
        "rows_done": report.rows_read,
        "rows_read": report.rows_read,
        "orders_created": report.orders_created,
        "orders_updated": report.orders_updated,
        "rows_rejected": report.rows_rejected,
        "orders_rejected": report.orders_rejected,
        "errors": [asdict(error) for error in report.errors[:ERRORS_KEPT]],
        "errors_total": len(report.errors),
    }
