"""CSV backfill: orders, line items and shipments from a spreadsheet export, applied through `orders.services`.

One row per line item; rows sharing `order_number` form one order, and their order-level columns must agree
(a blank cell on a later row is fine). The file is read once, streamed, and validated whole before anything
is written; then each order whose rows are all valid is applied in its own transaction. A bad row costs its
own order and nothing else, and the report says which rows were not imported and why.

Importing the same file again changes nothing: orders are upserted by number (or external id), line items
by `csv:{order_number}:{sku or title}`, shipments by tracking code and the delivered event by a fixed
dedupe key.

Memory grows with the number of orders in the file (each keeps its fields once and one line item per row),
not with the number of database rows touched.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import hashlib
import io
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q

from .carriers import carrier_slug
from .choices import EventSource, FinancialStatus, ShipmentStatus
from .models import Customer, LineItem, Order, Shipment, Store
from .services import ShipmentConflict, order_upsert, shipment_upsert
from .updates import (
    AddressData,
    CustomerData,
    LineItemData,
    OrderData,
    OrderRef,
    ShipmentData,
    TrackingEventData,
)
from .validators import normalize_phone

logger = logging.getLogger(__name__)

# Every column the format knows, in the order the documentation and the sample file list them.
ORDER_COLUMNS = (
    "order_number",
    "external_id",
    "placed_at",
    "currency",
    "total",
    "subtotal",
    "shipping_total",
    "tax_total",
    "financial_status",
    "customer_email",
    "customer_phone",
    "customer_first_name",
    "customer_last_name",
    "ship_name",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_region",
    "ship_postal_code",
    "ship_country",
    "promised_ship_by",
    "promised_deliver_by",
)
ITEM_COLUMNS = ("sku", "title", "variant", "quantity", "unit_price", "returnable")
SHIPMENT_COLUMNS = ("carrier", "tracking_code", "label_created_at", "delivered_at")
COLUMNS = (*ORDER_COLUMNS, *ITEM_COLUMNS, *SHIPMENT_COLUMNS)
# A file without one of these cannot import a single order: it is refused before any row is read.
REQUIRED_COLUMNS = ("order_number", "placed_at", "title")

DELIVERED_DEDUPE_KEY = "csv:delivered"
# The dates a history can hold: wider would only let typos in (a year 20266, or 0202 for 2026).
MIN_YEAR, MAX_YEAR = 1900, 2999
MAX_AMOUNT = Decimal("9999999999.99")  # the model's 12 digits, 2 of them after the point
MAX_QUANTITY = 2_147_483_647  # PostgreSQL integer

# ISO 3166-1 alpha-2, plus XK (Kosovo), which carriers and store platforms use although ISO has not assigned it.
_COUNTRY_CODES = """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK
FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS
IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM
MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS
PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK
TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW"""
COUNTRIES = frozenset(_COUNTRY_CODES.split())
FINANCIAL_STATUSES = frozenset(FinancialStatus.values)
YES = frozenset({"yes", "y", "true", "1"})
NO = frozenset({"no", "n", "false", "0"})


def _max_length(model: type, name: str) -> int:
    return model._meta.get_field(name).max_length


# Text columns and the model field that bounds their length: a longer value would fail at save time.
TEXT_LIMITS: dict[str, int] = {
    "order_number": _max_length(Order, "order_number"),
    "external_id": _max_length(Order, "external_id"),
    "customer_email": _max_length(Customer, "email"),
    "customer_first_name": _max_length(Customer, "first_name"),
    "customer_last_name": _max_length(Customer, "last_name"),
    **{
        name: _max_length(Order, name)
        for name in ("ship_name", "ship_line1", "ship_line2", "ship_city", "ship_region", "ship_postal_code")
    },
    "sku": _max_length(LineItem, "sku"),
    "title": _max_length(LineItem, "title"),
    "variant": _max_length(LineItem, "variant"),
    "carrier": _max_length(Shipment, "carrier"),
    "tracking_code": _max_length(Shipment, "tracking_code"),
}
ITEM_KEY_LENGTH = _max_length(LineItem, "external_id")


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (bad header, not UTF-8, not CSV). Nothing was written."""


@dataclass(frozen=True)
class RowError:
    """Why one row was not imported. `row` is its line in the file (the header is row 1; a row whose cells
    hold line breaks is numbered by its last line). `column` is "" when the problem is the row as a whole."""

    row: int
    order_number: str
    column: str
    message: str


@dataclass
class ImportReport:
    """What an import did. `errors` lists every row not imported (a row may have several), by row number."""

    rows_read: int = 0
    orders_created: int = 0
    orders_updated: int = 0
    rows_rejected: int = 0
    orders_rejected: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rows_rejected == 0


class _Invalid(Exception):
    """A cell's value is wrong; the message completes "<column>: ..."."""


class _Refused(Exception):
    """Writing an order met a fact the file contradicts (a parcel of another order): its row error."""

    def __init__(self, error: RowError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(slots=True)
class _Shipment:
    first_row: int
    values: dict[str, tuple[object, int]] = field(default_factory=dict)


@dataclass(slots=True)
class _Order:
    """An order's rows as read so far: values once (with the row that gave them), one item per row."""

    number: str
    rows: list[int] = field(default_factory=list)
    values: dict[str, tuple[object, int]] = field(default_factory=dict)
    items: list[LineItemData] = field(default_factory=list)
    item_rows: dict[str, int] = field(default_factory=dict)
    shipments: dict[str, _Shipment] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)


def normalize_header(name: str | None) -> str:
    return (name or "").lstrip("\ufeff").strip().lower()


def csv_count_rows(file: TextIO) -> int:
    """How many data rows `orders_import_csv` will read from `file` (for a progress bar's total). Raises
    ImportFileError, as `orders_import_csv` would, for a file that is not UTF-8 CSV."""
    rows = csv.reader(file)
    with _unreadable_is_a_file_error(rows, file):
        for header in rows:
            if header:
                break
        return _data_rows(rows)


def _data_rows(rows: Iterable[list[str]]) -> int:
    return sum(1 for row in rows if not _blank(row))


def _blank(cells: Iterable[str | None]) -> bool:
    """Spreadsheets often end with rows of empty cells: such a row is no data row."""
    return not any((cell or "").strip() for cell in cells)


def orders_import_csv(*, store: Store, file: TextIO, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Validate every row of `file`, then apply each valid order. `progress(n)` is told as n more rows are done.

    Raises ImportFileError, before writing anything, when the header is wrong or the file is not UTF-8 CSV.
    """
    reader = csv.DictReader(file)
    with _unreadable_is_a_file_error(reader, file):
        reader.fieldnames = _check_header(reader.fieldnames)
        report, orders = _read(store, reader)
    if progress and report.errors:
        progress(len({e.row for e in report.errors}))  # rows without an order number: done already

    numbers, external_ids = _known_identities(store, [order for order in orders.values() if not order.errors])
    for order in orders.values():
        if not order.errors:
            try:
                with transaction.atomic():
                    _apply(store, order)
                created = order.number not in numbers and _external_id(order) not in external_ids
            except _Refused as exc:
                order.errors.append(exc.error)
            except Exception as exc:
                # Anything the checks above did not foresee (a constraint, a clash with an existing row)
                # rolls back this order alone and is reported with it.
                logger.exception("CSV import of order %s into store %s failed", order.number, store.slug)
                order.errors.append(RowError(order.rows[0], order.number, "", f"could not be saved: {exc}"))
            else:
                if created:
                    report.orders_created += 1
                else:
                    report.orders_updated += 1
        if order.errors:
            _reject(report, order)
        if progress:
            progress(len(order.rows))
    report.errors.sort(key=lambda e: e.row)
    report.rows_rejected = len({e.row for e in report.errors})
    return report


def csv_check(file: TextIO) -> int:
    """How many data rows `file` has, once its header and its CSV are checked as `orders_import_csv` checks
    them: raises ImportFileError for a file it would refuse. Validates no cell and writes nothing."""
    reader = csv.reader(file)
    with _unreadable_is_a_file_error(reader):
        _check_header(next(reader, None))
        return _data_rows(reader)


@contextlib.contextmanager
def _unreadable_is_a_file_error(reader: Any, file: TextIO | None = None) -> Iterator[None]:
    """A csv reader's decoding and parsing errors, as the ImportFileError they are for the importer."""
    try:
        yield
    except UnicodeDecodeError as exc:
        # The decoder reads ahead in blocks: its error knows a block's offset, not the line. The file's bytes do.
        buffer = getattr(file, "buffer", None)
        if buffer is not None and buffer.seekable():
            buffer.seek(0)
            where = undecodable_where(buffer.read())
        else:
            where = f"after line {reader.line_num}: {exc.reason}" if reader.line_num else f"in the header: {exc.reason}"
        raise ImportFileError(f"the file is not readable as UTF-8 CSV ({where})") from exc
    except csv.Error as exc:
        where = f"after line {reader.line_num}" if reader.line_num else "in the header"
        raise ImportFileError(f"the file is not readable as UTF-8 CSV ({where}: {exc})") from exc


# Marks where decoding stopped, to find the cell it stopped in: a noncharacter, never in a real file's text.
_STOP = "\uffff"


def undecodable_where(data: bytes) -> str:
    """Where a file's bytes stop being UTF-8, for the person who must fix it: its line (the header is line 1,
    as in the report) and column, e.g. "line 3, column title: byte 0xe9 is not UTF-8". "" when they are UTF-8."""
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8")  # valid: decoding stops at the first bad byte
        byte = f"byte 0x{data[exc.start]:02x} is not UTF-8 (save the file as UTF-8)"
        line = before.count("\n") + 1
        return f"line {line}, {_column_at_end(before)}: {byte}" if line > 1 else f"line 1 (the header): {byte}"
    return ""


def _column_at_end(text: str) -> str:
    """The column of the cell `text` (a CSV file's beginning) ends in, by the header's names."""
    try:
        rows = list(csv.reader(io.StringIO(text + _STOP, newline="")))
    except csv.Error:
        return "column unknown"
    header = [normalize_header(name) for name in rows[0]] if rows else []
    index = next((i for i, cell in enumerate(rows[-1]) if _STOP in cell), None) if rows else None
    if index is None or index >= len(header) or not header[index]:
        return f"column {index + 1}" if index is not None else "column unknown"
    return f"column {header[index]}"


def _check_header(fieldnames: Iterable[str | None] | None) -> list[str]:
    if not fieldnames:
        raise ImportFileError("the file is empty: the first line must be the header row")
    names = [normalize_header(name) for name in fieldnames]
    problems = []
    unknown = [name or f"(blank, column {i})" for i, name in enumerate(names, 1) if name not in COLUMNS]
    if unknown:
        problems.append(f"unknown columns: {', '.join(unknown)}")
    duplicates = sorted({name for name in names if name and names.count(name) > 1})
    if duplicates:
        problems.append(f"repeated columns: {', '.join(duplicates)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        problems.append(f"missing required columns: {', '.join(missing)}")
    if problems:
        raise ImportFileError("; ".join(problems))
    return names


def _read(store: Store, reader: csv.DictReader) -> tuple[ImportReport, dict[str, _Order]]:
    """Read and validate every row, grouping them into orders. Rows without an order number are reported at once."""
    report = ImportReport()
    orders: dict[str, _Order] = {}
    # External ids and tracking codes name one order each, file-wide: value -> (order number, row).
    owners: dict[str, dict[str, tuple[str, int]]] = {"external_id": {}, "tracking_code": {}}
    cells = _CellParser(store)
    for row in reader:
        extra = row.pop(None, None) or []
        if _blank([*row.values(), *extra]):
            continue
        line = reader.line_num
        report.rows_read += 1
        raw = {name: (value or "").strip() for name, value in row.items()}
        number = raw.get("order_number", "").lstrip("#").strip()
        errors: list[RowError] = []
        if extra:
            errors.append(RowError(line, number, "", f"has {len(extra)} more cells than the header has columns"))
        values: dict[str, object] = {}
        for name, value in raw.items():
            if not value:
                continue
            try:
                values[name] = cells.parse(name, value, raw)
            except _Invalid as exc:
                errors.append(RowError(line, number, name, str(exc)))
        if not number:
            if "order_number" not in {e.column for e in errors}:
                errors.append(RowError(line, "", "order_number", "is required"))
            report.errors.extend(errors)
            continue
        order = orders.get(number)
        if order is None:
            order = orders[number] = _Order(number=number)
        order.rows.append(line)
        order.errors.extend(errors)
        _merge_row(order, line, values, owners)
    for order in orders.values():
        _finish(order)
    return report, orders


def _merge_row(
    order: _Order, line: int, values: dict[str, object], owners: dict[str, dict[str, tuple[str, int]]]
) -> None:
    for name, owned in owners.items():
        if name in values:
            owner = owned.setdefault(str(values[name]), (order.number, line))
            if owner[0] != order.number:
                message = f"is already the {name} of order {owner[0]} (row {owner[1]})"
                order.errors.append(RowError(line, order.number, name, message))
                del values[name]
    for name in ORDER_COLUMNS[1:]:
        if name in values:
            _agree(order, order.values, name, values[name], line)

    if "title" in values:
        sku = str(values.get("sku", ""))
        title = str(values["title"])
        key = _item_key(order.number, sku or title)
        if key in order.item_rows:
            what = f"sku {sku}" if sku else f"title {title!r} and no sku"
            message = f"repeats the line item of row {order.item_rows[key]} (same {what})"
            order.errors.append(RowError(line, order.number, "sku" if sku else "title", message))
        else:
            order.item_rows[key] = line
            order.items.append(
                LineItemData(
                    title=title,
                    sku=sku,
                    variant=str(values.get("variant", "")),
                    quantity=int(values.get("quantity", 1)),
                    unit_price=values.get("unit_price", Decimal("0.00")),
                    external_id=key,
                    returnable=bool(values.get("returnable", True)),
                )
            )
    elif "title" not in {e.column for e in order.errors if e.row == line}:
        order.errors.append(RowError(line, order.number, "title", "is required (each row is one line item)"))

    code = values.get("tracking_code")
    if code is None:
        # (Unless the tracking code itself was refused: that error already covers the row.)
        if not any(e.row == line and e.column == "tracking_code" for e in order.errors):
            for name in ("carrier", "label_created_at", "delivered_at"):
                if name in values:
                    order.errors.append(RowError(line, order.number, name, "is given without a tracking_code"))
        return
    shipment = order.shipments.setdefault(str(code), _Shipment(first_row=line))
    for name in ("carrier", "label_created_at", "delivered_at"):
        if name in values:
            _agree(order, shipment.values, name, values[name], line)


def _agree(order: _Order, known: dict[str, tuple[object, int]], name: str, value: object, line: int) -> None:
    """Keep the first value given for an order- or shipment-level column; a different later one is an error."""
    if name not in known:
        known[name] = (value, line)
        return
    first, first_line = known[name]
    if first != value:
        message = f"is {_show(value)} but row {first_line} of this order says {_show(first)}"
        order.errors.append(RowError(line, order.number, name, message))


def _finish(order: _Order) -> None:
    """Checks that need every row of the order. A column already reported as invalid is not also "missing"."""
    refused = {e.column for e in order.errors}
    if "placed_at" not in order.values and "placed_at" not in refused:
        order.errors.append(RowError(order.rows[0], order.number, "placed_at", "is required (on at least one row)"))
    for code, shipment in order.shipments.items():
        values = {name: value for name, (value, _) in shipment.values.items()}
        for name in ("carrier", "label_created_at"):
            if name not in values and name not in refused:
                message = f"is required with tracking code {code}"
                order.errors.append(RowError(shipment.first_row, order.number, name, message))
        delivered, label = values.get("delivered_at"), values.get("label_created_at")
        if delivered and label and delivered < label:
            line = shipment.values["delivered_at"][1]
            order.errors.append(RowError(line, order.number, "delivered_at", "is before label_created_at"))


def _reject(report: ImportReport, order: _Order) -> None:
    report.orders_rejected += 1
    report.errors.extend(order.errors)
    bad_rows = sorted({e.row for e in order.errors})
    listed = ", ".join(str(r) for r in bad_rows[:5]) + (", …" if len(bad_rows) > 5 else "")
    word = "row" if len(bad_rows) == 1 else "rows"
    for line in order.rows:
        if line not in bad_rows:
            message = f"not imported: order {order.number} has errors on {word} {listed}"
            report.errors.append(RowError(line, order.number, "", message))


# Orders asked about in one query when telling created orders from updated ones.
KNOWN_CHUNK = 1000


def _known_identities(store: Store, orders: list[_Order]) -> tuple[set[str], set[str]]:
    """The order numbers and the external ids among `orders` that the store has an order with already:
    a few queries for the file instead of one per order."""
    numbers: set[str] = set()
    external_ids: set[str] = set()
    for start in range(0, len(orders), KNOWN_CHUNK):
        chunk = orders[start : start + KNOWN_CHUNK]
        asked = Q(order_number__in=[order.number for order in chunk])
        asked |= Q(external_id__in=[external_id for order in chunk if (external_id := _external_id(order))])
        for number, external_id in Order.objects.filter(asked, store=store).values_list("order_number", "external_id"):
            numbers.add(number)
            if external_id:
                external_ids.add(external_id)
    return numbers, external_ids


def _external_id(order: _Order) -> str:
    return str(order.values["external_id"][0]) if "external_id" in order.values else ""


def _apply(store: Store, order: _Order) -> None:
    """Upsert one valid order and its shipments."""
    v = {name: value for name, (value, _) in order.values.items()}
    external_id = _external_id(order)

    customer = None
    if "customer_email" in v or "customer_phone" in v:
        customer = CustomerData(
            email=str(v.get("customer_email", "")),
            phone=str(v.get("customer_phone", "")),
            first_name=v.get("customer_first_name"),
            last_name=v.get("customer_last_name"),
        )
    address = None
    if any(name.startswith("ship_") and name in v for name in ORDER_COLUMNS):
        address = AddressData(
            name=str(v.get("ship_name", "")),
            line1=str(v.get("ship_line1", "")),
            line2=str(v.get("ship_line2", "")),
            city=str(v.get("ship_city", "")),
            region=str(v.get("ship_region", "")),
            postal_code=str(v.get("ship_postal_code", "")),
            country=str(v.get("ship_country", "")),
        )
    saved = order_upsert(
        store=store,
        data=OrderData(
            external_id=external_id,
            order_number=order.number,
            placed_at=v["placed_at"],
            currency=v.get("currency"),
            subtotal=v.get("subtotal"),
            shipping_total=v.get("shipping_total"),
            tax_total=v.get("tax_total"),
            total=v.get("total"),
            financial_status=v.get("financial_status"),
            customer=customer,
            shipping_address=address,
            line_items=order.items,
            promised_ship_by=v.get("promised_ship_by"),
            promised_deliver_by=v.get("promised_deliver_by"),
        ),
    )
    for code, shipment in order.shipments.items():
        s = {name: value for name, (value, _) in shipment.values.items()}
        events = []
        if "delivered_at" in s:
            events.append(
                TrackingEventData(
                    status=ShipmentStatus.DELIVERED,
                    occurred_at=s["delivered_at"],
                    dedupe_key=DELIVERED_DEDUPE_KEY,
                    message="Delivered",
                )
            )
        data = ShipmentData(
            tracking_code=code,
            carrier=str(s["carrier"]),
            order=OrderRef(external_id=saved.external_id or "", order_number=saved.order_number),
            label_created_at=s["label_created_at"],
            events=events,
        )
        try:
            shipment_upsert(store=store, data=data, source=EventSource.CSV)
        except ShipmentConflict as exc:
            # The API's answer to the same request; the whole order is rolled back with it.
            message = f"{code} belongs to a shipment of order {exc.owner.order_number}"
            raise _Refused(RowError(shipment.first_row, order.number, "tracking_code", message)) from exc


def _item_key(number: str, name: str) -> str:
    key = f"csv:{number}:{name}"
    if len(key) <= ITEM_KEY_LENGTH:
        return key
    # Too long for the column: a digest of the same text is just as stable from one import to the next.
    return "csv:" + hashlib.sha256(key.encode()).hexdigest()[: ITEM_KEY_LENGTH - 4]


def _show(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


class _CellParser:
    """Turns one cell into its typed value, or raises _Invalid with a message for the report.

    Results are memoised: order-level cells repeat on every row of an order, and phone and email checks
    are slow enough to dominate a large file otherwise.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.zone = ZoneInfo(store.timezone)
        self.parsers: dict[str, Callable[[str, str], object]] = {
            "placed_at": self.moment,
            "promised_ship_by": self.moment,
            "promised_deliver_by": self.moment,
            "label_created_at": self.moment,
            "delivered_at": self.moment,
            "total": self.amount,
            "subtotal": self.amount,
            "shipping_total": self.amount,
            "tax_total": self.amount,
            "unit_price": self.amount,
            "currency": self.currency,
            "financial_status": self.financial_status,
            "customer_email": self.email,
            "customer_phone": self.phone,
            "ship_country": self.country,
            "quantity": self.quantity,
            "returnable": self.yes_no,
            "carrier": self.carrier,
        }
        self._cached = functools.lru_cache(maxsize=50_000)(self._parse)

    def parse(self, name: str, value: str, row: dict[str, str]) -> object:
        # Only a phone number's meaning depends on another cell (its country); the rest share cache entries.
        country = row.get("ship_country", "").upper() if name == "customer_phone" else ""
        return self._cached(name, value, country)

    def _parse(self, name: str, value: str, country: str) -> object:
        limit = TEXT_LIMITS.get(name)
        if limit and len(value) > limit:
            raise _Invalid(f"is longer than {limit} characters")
        parser = self.parsers.get(name)
        return parser(value, country) if parser else value

    def moment(self, value: str, country: str) -> datetime:
        out_of_range = _Invalid(f"{_quote(value)} is out of range (years {MIN_YEAR} to {MAX_YEAR})")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            year = re.match(r"[+-]?(\d{4,})-", value)
            if year and not MIN_YEAR <= int(year[1]) <= MAX_YEAR:
                raise out_of_range from None  # year 0000 or 20266: a date, but not one Python (or an order) has
            raise _Invalid(
                f"{_quote(value)} is not an ISO-8601 date or date-time (e.g. 2026-03-01 or 2026-03-01T14:30:00Z)"
            ) from None
        if not MIN_YEAR <= parsed.year <= MAX_YEAR:
            # Near year 1 or 9999 the time in UTC (as stored) or a date computed from it (a deadline, a
            # sweep's window) falls outside what a datetime holds: the save would fail with no column named.
            raise out_of_range
        # No offset (or a bare date, read as midnight) means the store's own clock.
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=self.zone)

    def amount(self, value: str, country: str) -> Decimal:
        try:
            amount = Decimal(value)
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite():
            raise _Invalid(f"{_quote(value)} is not a decimal amount (e.g. 59.90)")
        if amount < 0:
            raise _Invalid(f"{_quote(value)} is negative")
        if amount.as_tuple().exponent < -2:
            raise _Invalid(f"{_quote(value)} has more than 2 decimal places")
        if amount > MAX_AMOUNT:
            raise _Invalid(f"{_quote(value)} is too large")
        return amount.quantize(Decimal("0.01"))

    def currency(self, value: str, country: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{3}", value):
            raise _Invalid(f"{_quote(value)} is not a 3-letter ISO 4217 currency code (e.g. USD)")
        return value.upper()

    def financial_status(self, value: str, country: str) -> str:
        status = value.lower()
        if status not in FINANCIAL_STATUSES:
            raise _Invalid(f"{_quote(value)} is not one of {', '.join(FinancialStatus.values)}")
        return status

    def email(self, value: str, country: str) -> str:
        try:
            validate_email(value)
        except ValidationError:
            raise _Invalid(f"{_quote(value)} is not an email address") from None
        return value.lower()

    def phone(self, value: str, country: str) -> str:
        # A national number is read as from the shipping country, then the store's: as customer_upsert does.
        phone = normalize_phone(value, country if country in COUNTRIES else None)
        phone = phone or normalize_phone(value, self.store.country)
        if not phone:
            raise _Invalid(f"{_quote(value)} is not a valid phone number (use E.164, e.g. +14155550123)")
        return phone

    def country(self, value: str, country: str) -> str:
        if value.upper() not in COUNTRIES:
            raise _Invalid(f"{_quote(value)} is not an ISO 3166 two-letter country code (e.g. US, GB)")
        return value.upper()

    def quantity(self, value: str, country: str) -> int:
        if not re.fullmatch(r"[+-]?\d+", value):
            raise _Invalid(f"{_quote(value)} is not a whole number")
        quantity = int(value)
        if quantity < 1:
            raise _Invalid(f"must be at least 1 (is {quantity})")
        if quantity > MAX_QUANTITY:
            raise _Invalid(f"{_quote(value)} is too large")
        return quantity

    def yes_no(self, value: str, country: str) -> bool:
        if value.lower() in YES:
            return True
        if value.lower() in NO:
            return False
        raise _Invalid(f"{_quote(value)} is not yes or no")

    def carrier(self, value: str, country: str) -> str:
        slug = carrier_slug(value)
        if not slug:
            raise _Invalid(f"{_quote(value)} is not a carrier name")
        return slug


def _quote(value: str) -> str:
    return f'"{value[:40]}…"' if len(value) > 40 else f'"{value}"'
