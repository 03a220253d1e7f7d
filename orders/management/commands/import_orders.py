"""`manage.py import_orders FILE.csv --store SLUG`: backfill orders from a CSV file (see orders.csv_import).

Exit status: 0 when every row was imported, 1 when some rows were rejected (the others are imported),
2 for usage errors (unknown store, unreadable file, bad header), in which case nothing is imported.
"""

import csv
from typing import NoReturn

from django.core.management.base import BaseCommand, CommandParser, OutputWrapper
from tqdm import tqdm

from orders.csv_import import ImportFileError, ImportReport, csv_count_rows, orders_import_csv
from orders.models import Store
from orders.services import store_get_default


class _BarStream:
    """Lets tqdm redraw its line in place: OutputWrapper would end every write with a newline."""

    def __init__(self, out: OutputWrapper) -> None:
        self.out = out
        # tqdm draws with Unicode blocks only when the stream says it can take them.
        self.encoding = getattr(out, "encoding", None)

    def write(self, text: str) -> None:
        self.out.write(text, ending="")

    def flush(self) -> None:
        self.out.flush()


class Command(BaseCommand):
    help = (
        "Import orders, line items and shipments from a CSV file (one row per line item). "
        "Idempotent: importing the same file again creates nothing new."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The CSV file (UTF-8, header row first).")
        parser.add_argument(
            "--store", metavar="SLUG", help="The store's slug; may be left out when there is only one store."
        )

    def handle(self, *args: object, file: str, store: str | None, **options: object) -> None:
        target = self._store(store)
        try:
            with open(file, encoding="utf-8-sig", newline="") as rows:
                total = csv_count_rows(rows)
            with (
                open(file, encoding="utf-8-sig", newline="") as rows,
                tqdm(total=total, desc="Importing rows", unit="row", file=_BarStream(self.stderr)) as bar,
            ):
                report = orders_import_csv(store=target, file=rows, progress=bar.update)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            self._usage_error(f"cannot read {file}: {exc}")
        except ImportFileError as exc:
            self._usage_error(f"{file}: {exc}. Nothing was imported.")
        self._write_report(report, target)
        if not report.ok:
            raise SystemExit(1)

    def _store(self, slug: str | None) -> Store:
        if slug:
            store = Store.objects.filter(slug=slug).first()
            if store is None:
                known = ", ".join(Store.objects.values_list("slug", flat=True)) or "none yet"
                self._usage_error(f"no store with slug {slug!r} (stores: {known})")
            return store
        store = store_get_default()
        if store is None:
            self._usage_error("--store SLUG is required when there is not exactly one store")
        return store

    def _usage_error(self, message: str) -> NoReturn:
        self.stderr.write(self.style.ERROR(message))
        raise SystemExit(2)

    def _write_report(self, report: ImportReport, store: Store) -> None:
        if report.errors:
            self.stdout.write("Rejected rows:")
            self.stdout.write(f"{'row':>7}  {'order':<16} {'column':<20} message")
            for error in report.errors:
                column = error.column or "-"
                self.stdout.write(f"{error.row:>7}  {error.order_number or '-':<16} {column:<20} {error.message}")
            self.stdout.write("")
        self.stdout.write(f"Store:           {store.slug}")
        self.stdout.write(f"Rows read:       {report.rows_read}")
        self.stdout.write(f"Orders created:  {report.orders_created}")
        self.stdout.write(f"Orders updated:  {report.orders_updated}")
        self.stdout.write(f"Rows rejected:   {report.rows_rejected}")
        self.stdout.write(f"Orders rejected: {report.orders_rejected}")
        if report.ok:
            self.stdout.write(self.style.SUCCESS("Every row was imported."))
        else:
            self.stdout.write(self.style.WARNING("Some rows were rejected: fix them and import the file again."))
