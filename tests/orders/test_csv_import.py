"""CSV backfill: the sample file, idempotency, whole-order rejection with an exact report, every validation,
header (usage) errors and the import_orders command. The admin's imports (run by a worker) are in
test_imports.py."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command

from orders.choices import EventSource, FinancialStatus, FulfillmentStatus, ShipmentStatus
from orders.csv_import import (
    ImportFileError,
    ImportReport,
    RowError,
    csv_count_rows,
    orders_import_csv,
    undecodable_where,
)
from orders.models import Customer, LineItem, Order, Shipment, TrackingEvent
from tests.factories import OrderFactory, StoreFactory

pytestmark = pytest.mark.django_db

SAMPLE = Path(settings.BASE_DIR) / "orders" / "samples" / "orders.csv"
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def store():
    return StoreFactory(slug="acme", country="US", timezone="America/New_York", currency="USD")


def row(**values: str) -> dict[str, str]:
    """A valid one-item order row; keyword arguments override or add columns."""
    return {
        "order_number": "2001",
        "placed_at": "2026-11-01T10:00:00Z",
        "total": "20.00",
        "title": "Enamel mug",
        "quantity": "2",
        "unit_price": "10.00",
        **values,
    }


def csv_text(*rows: dict[str, str], columns: list[str] | None = None) -> str:
    if columns is None:
        columns = list(dict.fromkeys(name for r in rows for name in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def run(store, text: str) -> ImportReport:
    return orders_import_csv(store=store, file=io.StringIO(text))


def run_sample(store) -> ImportReport:
    with SAMPLE.open(encoding="utf-8-sig", newline="") as file:
        return orders_import_csv(store=store, file=file)


def counts(report: ImportReport) -> tuple[int, int, int, int, int]:
    return (
        report.rows_read,
        report.orders_created,
        report.orders_updated,
        report.rows_rejected,
        report.orders_rejected,
    )


def snapshot() -> dict[str, list[dict]]:
    """Every row the import may write, with ids and timestamps: equal snapshots mean nothing was written."""
    return {
        "orders": list(Order.objects.order_by("pk").values()),
        "customers": list(Customer.objects.order_by("pk").values()),
        "items": list(LineItem.objects.order_by("pk").values()),
        "shipments": list(Shipment.objects.order_by("pk").values()),
        "events": list(TrackingEvent.objects.order_by("pk").values()),
    }


# --- The sample file ---------------------------------------------------------------------------------------------


def test_the_sample_file_imports_its_orders_items_and_shipments(store):
    report = run_sample(store)

    assert counts(report) == (9, 6, 0, 0, 0)
    assert report.errors == []
    assert report.ok
    orders = {o.order_number: o for o in Order.objects.filter(store=store)}
    assert sorted(orders) == ["1001", "1002", "1003", "1004", "1005", "1006"]
    assert LineItem.objects.count() == 9
    assert Shipment.objects.count() == 3

    # Two rows, two line items, one parcel that was delivered.
    first = orders["1001"]
    assert first.external_id == "shop-1001"
    assert first.placed_at == datetime(2026, 11, 2, 14, 14, tzinfo=UTC)
    assert (first.subtotal, first.tax_total, first.total) == (Decimal("128.00"), Decimal("10.56"), Decimal("138.56"))
    assert first.financial_status == FinancialStatus.PAID
    assert first.fulfillment_status == FulfillmentStatus.FULFILLED
    assert first.promised_ship_by == datetime(2026, 11, 4, tzinfo=NEW_YORK)
    assert list(first.line_items.values_list("external_id", "sku", "quantity", "unit_price", "returnable")) == [
        ("csv:1001:TR-42-BLU", "TR-42-BLU", 1, Decimal("98.00"), True),
        ("csv:1001:SK-MER-M", "SK-MER-M", 2, Decimal("15.00"), False),
    ]
    parcel = first.shipments.get()
    assert (parcel.carrier, parcel.tracking_code, parcel.status) == ("ups", "1Z999AA10123456784", "delivered")
    assert parcel.delivered_at == datetime(2026, 11, 5, 18, 22, tzinfo=UTC)
    assert list(parcel.events.order_by("occurred_at").values_list("status", "dedupe_key", "source")) == [
        (ShipmentStatus.LABEL_CREATED, "label_created", EventSource.CSV),
        (ShipmentStatus.DELIVERED, "csv:delivered", EventSource.CSV),
    ]
    assert first.customer.email == "maya.lopez@example.com"
    assert first.customer.phone == "+12125550147"

    # Shipped, not delivered yet; a national phone number is stored in E.164.
    assert orders["1002"].shipments.get().status == ShipmentStatus.LABEL_CREATED
    assert orders["1002"].customer.phone == "+15125550163"

    # International: two items in one DHL parcel, delivered.
    abroad = orders["1003"]
    assert (abroad.ship_country, abroad.is_international) == ("GB", True)
    assert abroad.line_items.count() == 2
    assert abroad.shipments.get().carrier == "dhl"
    assert abroad.shipments.get().status == ShipmentStatus.DELIVERED

    # Not shipped yet; the second row left the order columns blank; same customer as 1001.
    waiting = orders["1004"]
    assert waiting.shipments.count() == 0
    assert waiting.fulfillment_status == FulfillmentStatus.UNFULFILLED
    assert waiting.total == Decimal("90.93")
    assert waiting.line_items.count() == 2
    assert waiting.customer == first.customer

    # A bare date is midnight in the store's time zone; no currency means the store's.
    pending = orders["1005"]
    assert pending.placed_at == datetime(2026, 11, 22, tzinfo=NEW_YORK)
    assert (pending.currency, pending.financial_status) == ("USD", FinancialStatus.PENDING)
    assert pending.line_items.get().external_id == "csv:1005:Gift card"

    # "#1006" is order 1006; a date-time without an offset is store time.
    refunded = orders["1006"]
    assert refunded.financial_status == FinancialStatus.REFUNDED
    assert refunded.placed_at == datetime(2026, 10, 28, 11, 2, tzinfo=NEW_YORK)
    assert Customer.objects.filter(store=store).count() == 5


def test_importing_the_sample_again_changes_nothing(store):
    first = run_sample(store)
    before = snapshot()

    second = run_sample(store)

    assert counts(first) == (9, 6, 0, 0, 0)
    assert counts(second) == (9, 0, 6, 0, 0)
    assert snapshot() == before


def test_an_existing_order_is_updated_not_duplicated(store):
    OrderFactory(store=store, order_number="2001", external_id="", total=Decimal("1.00"))

    report = run(store, csv_text(row()))

    assert counts(report) == (1, 0, 1, 0, 0)
    order = Order.objects.get(store=store)
    assert order.total == Decimal("20.00")
    assert order.line_items.get().title == "Enamel mug"


# --- Rejection: a bad row costs its own order, nothing else --------------------------------------------------------


def test_a_bad_row_rejects_its_whole_order_and_the_rest_is_imported(store):
    text = csv_text(
        row(order_number="3001", sku="MUG"),
        row(order_number="3001", sku="CUP", quantity="0"),
        row(order_number="3002"),
        row(order_number="3003", sku="A"),
        row(order_number="3003", sku="B"),
    )

    report = run(store, text)

    assert counts(report) == (5, 2, 0, 2, 1)
    assert report.errors == [
        RowError(2, "3001", "", "not imported: order 3001 has errors on row 3"),
        RowError(3, "3001", "quantity", "must be at least 1 (is 0)"),
    ]
    assert not report.ok
    assert sorted(Order.objects.values_list("order_number", flat=True)) == ["3002", "3003"]
    assert LineItem.objects.count() == 3


def test_an_order_that_fails_to_save_is_rolled_back_alone(store, monkeypatch):
    from orders import csv_import

    real = csv_import.shipment_upsert

    def failing(*, store, data, source):
        if data.tracking_code == "BAD":
            raise RuntimeError("carrier exploded")
        return real(store=store, data=data, source=source)

    monkeypatch.setattr(csv_import, "shipment_upsert", failing)
    shipment = {"carrier": "usps", "label_created_at": "2026-11-02"}
    text = csv_text(
        row(order_number="5001", tracking_code="BAD", **shipment),
        row(order_number="5002", tracking_code="GOOD", **shipment),
    )

    report = run(store, text)

    assert counts(report) == (2, 1, 0, 1, 1)
    assert report.errors == [RowError(2, "5001", "", "could not be saved: carrier exploded")]
    # The order itself was written before the shipment failed: the transaction took it back.
    assert list(Order.objects.values_list("order_number", flat=True)) == ["5002"]
    assert list(Shipment.objects.values_list("tracking_code", flat=True)) == ["GOOD"]


NOT_ISO = "is not an ISO-8601 date or date-time (e.g. 2026-03-01 or 2026-03-01T14:30:00Z)"
INVALID_CELLS = [
    ("placed_at", "2026-13-01", f'"2026-13-01" {NOT_ISO}'),
    ("placed_at", "01/11/2026", f'"01/11/2026" {NOT_ISO}'),
    ("delivered_at", "soon", f'"soon" {NOT_ISO}'),
    ("total", "12,50", '"12,50" is not a decimal amount (e.g. 59.90)'),
    ("total", "$20", '"$20" is not a decimal amount (e.g. 59.90)'),
    ("unit_price", "9.999", '"9.999" has more than 2 decimal places'),
    ("unit_price", "-5.00", '"-5.00" is negative'),
    ("quantity", "0", "must be at least 1 (is 0)"),
    ("quantity", "-2", "must be at least 1 (is -2)"),
    ("quantity", "1.5", '"1.5" is not a whole number'),
    ("financial_status", "settled", '"settled" is not one of pending, paid, failed, refunded, partially_refunded'),
    ("currency", "US$", '"US$" is not a 3-letter ISO 4217 currency code (e.g. USD)'),
    ("ship_country", "USA", '"USA" is not an ISO 3166 two-letter country code (e.g. US, GB)'),
    ("ship_country", "ZZ", '"ZZ" is not an ISO 3166 two-letter country code (e.g. US, GB)'),
    ("customer_email", "maya at example", '"maya at example" is not an email address'),
    ("customer_phone", "12345", '"12345" is not a valid phone number (use E.164, e.g. +14155550123)'),
    ("returnable", "maybe", '"maybe" is not yes or no'),
    ("sku", "X" * 65, "is longer than 64 characters"),
    ("title", "", "is required (each row is one line item)"),
    ("placed_at", "", "is required (on at least one row)"),
    ("placed_at", "99999-01-01", '"99999-01-01" is out of range (years 1900 to 2999)'),
    ("placed_at", "0000-01-01", '"0000-01-01" is out of range (years 1900 to 2999)'),
    ("delivered_at", "0001-01-01T00:00:00+05:00", '"0001-01-01T00:00:00+05:00" is out of range (years 1900 to 2999)'),
    ("promised_deliver_by", "9999-12-31T23:00:00", '"9999-12-31T23:00:00" is out of range (years 1900 to 2999)'),
]  # fmt: skip


@pytest.mark.parametrize(("column", "value", "message"), INVALID_CELLS, ids=lambda v: str(v)[:20])
def test_each_invalid_cell_rejects_the_order_with_a_precise_error(store, column, value, message):
    report = run(store, csv_text(row(**{column: value})))

    assert report.errors == [RowError(2, "2001", column, message)]
    assert counts(report) == (1, 0, 0, 1, 1)
    assert Order.objects.count() == 0


def test_a_row_without_an_order_number_is_rejected_alone(store):
    report = run(store, csv_text(row(order_number=""), row(order_number="2002")))

    assert report.errors == [RowError(2, "", "order_number", "is required")]
    assert counts(report) == (2, 1, 0, 1, 0)
    assert list(Order.objects.values_list("order_number", flat=True)) == ["2002"]


def test_conflicting_order_values_across_rows_reject_the_order(store):
    report = run(store, csv_text(row(sku="A", total="10.00"), row(sku="B", total="12.00")))

    assert report.errors == [
        RowError(2, "2001", "", "not imported: order 2001 has errors on row 3"),
        RowError(3, "2001", "total", "is 12.00 but row 2 of this order says 10.00"),
    ]
    assert counts(report) == (2, 0, 0, 2, 1)
    assert Order.objects.count() == 0


def test_later_rows_may_repeat_order_values_in_another_spelling_or_leave_them_blank(store):
    text = csv_text(
        row(sku="A", total="20", placed_at="2026-11-01T05:00:00-05:00", financial_status="paid"),
        row(sku="B", total="20.00", placed_at="2026-11-01T10:00:00Z", financial_status="PAID"),
        row(sku="C", total="", placed_at="", financial_status=""),
    )

    report = run(store, text)

    assert counts(report) == (3, 1, 0, 0, 0)
    order = Order.objects.get()
    assert (order.total, order.financial_status) == (Decimal("20.00"), "paid")
    assert order.line_items.count() == 3


def test_shipment_rules(store):
    label = "2026-11-02T09:00:00Z"
    text = csv_text(
        row(order_number="6001", carrier="usps"),
        row(order_number="6002", tracking_code="T2", label_created_at=label),
        row(order_number="6003", carrier="usps", tracking_code="T3"),
        row(order_number="6004", carrier="usps", tracking_code="T4", label_created_at=label, delivered_at="2026-11-01"),
        row(order_number="6005", sku="A", carrier="usps", tracking_code="T5", label_created_at=label),
        row(order_number="6005", sku="B", carrier="fedex", tracking_code="T5"),
        row(order_number="6006", carrier="usps", tracking_code="T5", label_created_at=label),
    )

    report = run(store, text)

    assert report.errors == [
        RowError(2, "6001", "carrier", "is given without a tracking_code"),
        RowError(3, "6002", "carrier", "is required with tracking code T2"),
        RowError(4, "6003", "label_created_at", "is required with tracking code T3"),
        RowError(5, "6004", "delivered_at", "is before label_created_at"),
        RowError(6, "6005", "", "not imported: order 6005 has errors on row 7"),
        RowError(7, "6005", "carrier", "is fedex but row 6 of this order says usps"),
        RowError(8, "6006", "tracking_code", "is already the tracking_code of order 6005 (row 6)"),
    ]
    assert counts(report) == (7, 0, 0, 7, 6)


def test_a_tracking_code_of_another_orders_parcel_rejects_the_order_and_leaves_that_parcel_alone(store):
    owner = OrderFactory(store=store, order_number="1001")
    parcel = Shipment.objects.create(
        store=store, order=owner, carrier="ups", tracking_code="1Z999AA10123456784",
        label_created_at=datetime(2026, 11, 2, tzinfo=UTC),
    )  # fmt: skip
    shipment = {"carrier": "ups", "tracking_code": parcel.tracking_code, "label_created_at": "2026-11-02"}
    text = csv_text(
        row(order_number="Q1", external_id="q-ext-1", sku="A", delivered_at="2026-11-05", **shipment),
        row(order_number="Q1", sku="B"),
        row(order_number="Q2"),
    )

    report = run(store, text)

    assert report.errors == [
        RowError(2, "Q1", "tracking_code", "1Z999AA10123456784 belongs to a shipment of order 1001"),
        RowError(3, "Q1", "", "not imported: order Q1 has errors on row 2"),
    ]
    assert counts(report) == (3, 1, 0, 2, 1)
    assert sorted(Order.objects.values_list("order_number", flat=True)) == ["1001", "Q2"]
    parcel.refresh_from_db()
    assert (parcel.order, parcel.delivered_at, parcel.events.count()) == (owner, None, 0)


def test_a_line_item_may_appear_only_once_per_order(store):
    report = run(store, csv_text(row(sku="MUG"), row(sku="MUG", variant="Blue")))

    assert report.errors == [
        RowError(2, "2001", "", "not imported: order 2001 has errors on row 3"),
        RowError(3, "2001", "sku", "repeats the line item of row 2 (same sku MUG)"),
    ]


def test_a_long_item_key_is_shortened_stably(store):
    title = "Hand-thrown stoneware serving bowl with speckled glaze, large"

    run(store, csv_text(row(title=title)))
    report = run(store, csv_text(row(title=title)))

    item = LineItem.objects.get()
    assert item.title == title
    assert item.external_id.startswith("csv:")
    assert len(item.external_id) == 64
    assert counts(report) == (1, 0, 1, 0, 0)


def test_headers_are_case_insensitive_trimmed_and_may_start_with_a_bom(store):
    text = "\ufeff Order_Number ,PLACED_AT, Title \n2001,2026-11-01,Mug\n,,\n\n"

    report = run(store, text)

    assert counts(report) == (1, 1, 0, 0, 0)
    assert Order.objects.get().line_items.get().title == "Mug"


def test_row_numbers_are_file_lines(store):
    text = "order_number,placed_at,title,quantity\n2001,2026-11-01,Mug,1\n\n2001,2026-11-01,Cup,0\n"

    report = run(store, text)

    assert [(e.row, e.column) for e in report.errors] == [(2, ""), (4, "quantity")]


def test_extra_cells_beyond_the_header_are_an_error(store):
    report = run(store, "order_number,placed_at,title\n2001,2026-11-01,Mug,surprise\n")

    assert report.errors == [RowError(2, "2001", "", "has 1 more cells than the header has columns")]


def test_progress_counts_every_row_once(store):
    ticks: list[int] = []
    text = csv_text(row(sku="A"), row(sku="B"), row(order_number=""), row(order_number="2002", quantity="0"))

    report = orders_import_csv(store=store, file=io.StringIO(text), progress=ticks.append)

    assert sum(ticks) == report.rows_read == 4


@pytest.mark.parametrize("rows_before", [0, 2000], ids=["first-block", "far-into-the-file"])
def test_a_file_that_is_not_utf8_is_refused_naming_the_line_and_column(store, rows_before):
    """The decoder reads ahead in blocks: the error must name the file's line, not an offset in a block."""
    good = "".join(f'{n},2026-11-01,Mug,"Shelf\nA"\n' for n in range(rows_before))  # two lines per row
    text = f'\ufefforder_number,placed_at,title,variant\n{good}9,2026-11-01,"Caf\xe9\nau lait",Blue\n'
    data = text.encode("utf-8")[:3] + text[1:].encode("latin-1")

    for read in (orders_import_csv, csv_count_rows):
        with pytest.raises(ImportFileError) as error:
            read(**({"store": store} if read is orders_import_csv else {}),
                 file=io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=""))  # fmt: skip
        line = 2 + 2 * rows_before
        assert str(error.value) == (
            f"the file is not readable as UTF-8 CSV (line {line}, column title: byte 0xe9 is not UTF-8 "
            "(save the file as UTF-8))"
        )

    assert Order.objects.count() == 0


def test_an_undecodable_header_or_extra_cell_is_named_as_such():
    assert undecodable_where(b"order_number,plac\xe9d_at\n").startswith("line 1 (the header): byte 0xe9")
    assert undecodable_where(b"order_number,title\n1,Mug,\xe9\n").startswith("line 2, column 3: byte 0xe9")
    assert undecodable_where(b"order_number,title\n1,Mug\n") == ""


# --- Usage errors: the file as a whole is refused and nothing is written ---------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (csv_text(row(colour="red")), "unknown columns: colour"),
        (
            csv_text(row(), columns=["order_number", "placed_at", "total", "quantity"]),
            "missing required columns: title",
        ),
        ("Order_Number,placed_at,title,sku,SKU\n", "repeated columns: sku"),
        ("", "the file is empty: the first line must be the header row"),
    ],
    ids=["unknown", "missing", "repeated", "empty"],
)
def test_a_bad_header_is_a_usage_error_and_nothing_is_imported(store, text, message):
    with pytest.raises(ImportFileError) as error:
        run(store, text)

    assert str(error.value) == message
    assert Order.objects.count() == 0


def test_unknown_columns_are_listed_once_with_the_missing_ones(store):
    text = "order_id,placed_at,colour,colour2\n1,2026-11-01,red,blue\n2,2026-11-01,red,blue\n"

    with pytest.raises(ImportFileError) as error:
        run(store, text)

    assert str(error.value) == (
        "unknown columns: order_id, colour, colour2; missing required columns: order_number, title"
    )


# --- The command --------------------------------------------------------------------------------------------------


def command(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_orders", *args, stdout=out, stderr=err)
    except SystemExit as exit:
        return exit.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_command_imports_the_sample_with_a_progress_bar(store):
    code, out, err = command(str(SAMPLE), "--store", "acme")

    assert code == 0
    assert "9/9" in err
    assert "Rows read:       9\n" in out
    assert "Orders created:  6\n" in out
    assert "Orders updated:  0\n" in out
    assert "Rows rejected:   0\n" in out
    assert "Orders rejected: 0\n" in out
    assert "Rejected rows" not in out
    assert Order.objects.count() == 6

    code, out, _ = command(str(SAMPLE))  # the only store is the default

    assert code == 0
    assert "Orders created:  0\n" in out
    assert "Orders updated:  6\n" in out


def test_command_exits_1_and_lists_rejected_rows(store, tmp_path):
    file = tmp_path / "orders.csv"
    file.write_text(csv_text(row(order_number="3001"), row(order_number="3002", placed_at="yesterday")))

    code, out, err = command(str(file), "--store", "acme")

    assert code == 1
    assert "2/2" in err
    assert "      3  3002             placed_at" in out
    assert '"yesterday" is not an ISO-8601 date' in out
    assert "Rows rejected:   1\n" in out
    assert "Orders rejected: 1\n" in out
    assert list(Order.objects.values_list("order_number", flat=True)) == ["3001"]


def test_command_usage_errors_exit_2_and_import_nothing(store, tmp_path):
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("order_number,placed_at,title,colour\n1,2026-11-01,Mug,red\n")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("order_number,placed_at,title\n1,2026-11-01,Caf\xe9\n".encode("latin-1"))

    code, _, err = command(str(SAMPLE), "--store", "nope")
    assert (code, "no store with slug 'nope'" in err) == (2, True)

    code, _, err = command(str(tmp_path / "missing.csv"), "--store", "acme")
    assert (code, "cannot read" in err) == (2, True)

    code, _, err = command(str(bad_header), "--store", "acme")
    assert (code, "unknown columns: colour. Nothing was imported." in err) == (2, True)

    code, _, err = command(str(latin1), "--store", "acme")
    assert code == 2
    assert "not readable as UTF-8 CSV (line 2, column title: byte 0xe9 is not UTF-8" in err
    assert "Nothing was imported." in err

    StoreFactory(slug="other")
    code, _, err = command(str(SAMPLE))
    assert (code, "--store SLUG is required" in err) == (2, True)

    assert Order.objects.count() == 0
