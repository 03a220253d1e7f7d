"""CSV imports started in the admin: checked and stored at upload, run by a worker, watched on their page.

A backfill of tens of thousands of orders takes minutes (README, *CSV backfill*), longer than a web request
may last behind a proxy. So the upload is only checked (UTF-8, CSV, header) and stored with its row count;
a worker imports it through `orders_import_csv`, writing its progress every few seconds, and the import's
admin page shows the rows done, then the report (cxhub/runs.py: queueing, attempts, recovery).

A worker that dies mid-import is replaced and the rerun finishes the import, since importing a file twice
creates nothing twice (orders the first attempt imported then count as updated).

The file is kept until the import is done (a failed import can be run again), then emptied: the orders
now hold what it said about customers.
"""

from __future__ import annotations

import io
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from cxhub.runs import Progress, Runner

from .csv_import import ImportFileError, ImportReport, csv_check, orders_import_csv, undecodable_where
from .models import OrderImport, Store

IMPORTS = Runner(
    OrderImport,
    job="orders.jobs.order_import_job",
    # Generous: before the first order is written, every row of the file is validated, and a million-row
    # file takes minutes to check.
    lease=timedelta(minutes=15),
    job_timeout=timedelta(hours=12),
)
# The report keeps the first rejected rows: they show the pattern, the counts say the rest.
ERRORS_KEPT = 500


def order_import_start(*, store: Store, file_name: str, data: bytes, user: AbstractBaseUser | None) -> OrderImport:
    """Check an uploaded file and queue its import. Raises ImportFileError (nothing stored) for a file the
    importer would refuse as a whole."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"the file is not readable as UTF-8 CSV ({undecodable_where(data)})") from exc
    if "\x00" in text:
        raise ImportFileError("the file holds NUL characters: it is not a CSV export")
    rows = csv_check(io.StringIO(text, newline=""))
    return IMPORTS.start(store=store, file_name=file_name[:255], content=text, uploaded_by=user, total=rows)


def order_import_run(import_id: int) -> str:
    """Run a queued import (or one whose worker died) to the end. Returns the state it ends in."""
    return IMPORTS.execute(import_id, _import)


def order_imports_recover(*, now: datetime | None = None) -> int:
    """Queue again the imports whose job was lost or whose worker died. Returns how many."""
    return IMPORTS.recover(now=now)


def _import(upload: OrderImport, progress: Progress) -> dict[str, Any]:
    report = orders_import_csv(store=upload.store, file=io.StringIO(upload.content, newline=""), progress=progress.add)
    return {"content": "", **_report_fields(report)}


def _report_fields(report: ImportReport) -> dict[str, Any]:
    return {
        "done": report.rows_read,
        "rows_read": report.rows_read,
        "orders_created": report.orders_created,
        "orders_updated": report.orders_updated,
        "rows_rejected": report.rows_rejected,
        "orders_rejected": report.orders_rejected,
        "errors": [asdict(error) for error in report.errors[:ERRORS_KEPT]],
        "errors_total": len(report.errors),
    }
