"""Facts are fitted to their columns at the door: NULs dropped, free text cut, identifiers refused."""

import datetime as dt

import pytest

from orders.connectors.base import PayloadError
from orders.limits import updates_fit
from orders.updates import ShipmentData, TrackingEventData

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

    assert refused.value.field == "events.0.dedupe_key"
