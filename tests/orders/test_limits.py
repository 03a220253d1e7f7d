"""Facts are fitted to their columns at the door: NULs dropped, free text cut, identifiers refused."""

import datetime as dt
from decimal import Decimal

import pytest

from orders.connectors.base import PayloadError
from orders.limits import updates_fit
from orders.updates import CustomerData, LineItemData, OrderData, OrderRef, PaymentData, ShipmentData, TrackingEventData

SCANNED = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


def parcel(*, message: str = "Arrived at the facility", dedupe_key: str = "scan-1") -> ShipmentData:
    scan = TrackingEventData(status="in_transit", occurred_at=SCANNED, dedupe_key=dedupe_key, message=message)
    return ShipmentData(tracking_code="EZ1000000001", carrier="USPS", events=[scan])


def test_facts_that_fit_are_kept_as_they_are_not_copied():
    update = parcel()

    (fitted,) = updates_fit([update])

    assert fitted is update


def test_a_nul_is_dropped_and_free_text_too_long_is_cut_deep_inside_a_fact():
    (fitted,) = updates_fit([parcel(message="Delayed\x00 " + "x" * 600)])

    assert fitted.events[0].message == ("Delayed " + "x" * 600)[:500]
    assert fitted.tracking_code == "EZ1000000001"


def test_an_identifier_too_long_is_refused_naming_where_it_is():
    with pytest.raises(PayloadError) as refused:
        updates_fit([parcel(dedupe_key="k" * 201)])

    assert refused.value.field == "events[0].dedupe_key"


def order(**fields) -> OrderData:
    return OrderData(order_number="1001", **fields)


@pytest.mark.parametrize(
    ("fact", "field", "problem"),
    [
        (order(total=Decimal("10000000000")), "total", "must be at most 9999999999.99 (12 digits)"),
        (order(total=Decimal("1E+30")), "total", "must be at most 9999999999.99 (12 digits)"),
        (order(total=Decimal("9999999999.995")), "total", "must be at most 9999999999.99 (12 digits)"),
        (order(total=Decimal("-5.00")), "total", "must be at least 0 (is -5.00)"),
        (order(shipping_total=Decimal("NaN")), "shipping_total", "is not a number"),
        (order(tax_total=Decimal("-Infinity")), "tax_total", "is not a number"),
        (order(line_items=[LineItemData(title="a"), LineItemData(title="b", quantity=0)]), "line_items[1].quantity",
         "must be at least 1 (is 0)"),
        (order(line_items=[LineItemData(title="a", quantity=-1)]), "line_items[0].quantity",
         "must be at least 1 (is -1)"),
        (order(line_items=[LineItemData(title="a", quantity=10**20)]), "line_items[0].quantity",
         "must be at most 2147483647"),
        (order(customer=CustomerData(email="a@example.com", lifetime_value=Decimal(-1))), "customer.lifetime_value",
         "must be at least 0 (is -1)"),
        (PaymentData(order=OrderRef(order_number="1"), succeeded=True, amount=Decimal(-1)), "amount",
         "must be at least 0 (is -1)"),
        (order(placed_at=dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(-dt.timedelta(hours=5)))), "placed_at",
         "is out of range"),
    ],
)  # fmt: skip
def test_a_number_or_time_no_column_holds_is_refused_naming_it(fact, field, problem):
    with pytest.raises(PayloadError) as refused:
        updates_fit([fact])

    assert (refused.value.field, refused.value.problem) == (field, problem)


def test_numbers_that_fit_are_kept_and_cents_beyond_the_column_rounded():
    fits = order(total=Decimal("9999999999.99"), subtotal=Decimal(0), line_items=[LineItemData(title="a", quantity=1)])
    assert updates_fit([fits]) == [fits]

    (fitted,) = updates_fit([order(total=Decimal("10.005"), tax_total=Decimal("1.50"))])

    assert (fitted.total, fitted.tax_total) == (Decimal("10.01"), Decimal("1.50"))


def test_a_source_names_the_field_where_it_is_in_its_payload():
    paths = {"total": "total_price", "line_items[].unit_price": "line_items[].price"}
    items = [LineItemData(title="a"), LineItemData(title="b", unit_price=Decimal(-1))]

    with pytest.raises(PayloadError) as total:
        updates_fit([order(total=Decimal(-1))], paths)
    with pytest.raises(PayloadError) as price:
        updates_fit([order(line_items=items)], paths)
    with pytest.raises(PayloadError) as unmapped:
        updates_fit([order(line_items=[LineItemData(title="a", quantity=0)])], paths)

    assert (total.value.field, price.value.field, unmapped.value.field) == (
        "total_price",
        "line_items[1].price",
        "line_items[0].quantity",
    )
