"""What the tracking page tells the customer about where the order stands: only real problems raise a
notice, each in its own words (payment, cancellation, a parcel going back), with what the store did in
customer words and money in the order's currency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders.choices import ShipmentStatus
from playbooks.choices import CaseState, RemedyState
from portal.defaults import faq_seed
from portal.links import tracking_token
from tests.factories import ExceptionCaseFactory, OrderFactory, RemedyFactory, ShipmentFactory, StoreFactory

pytestmark = pytest.mark.django_db

PROBLEM = "There&#x27;s a problem with your delivery"
GETTING_READY = "Getting your order ready"


def page(order) -> str:
    response = Client().get(reverse("portal:tracking", args=[tracking_token(order)]))
    assert response.status_code == 200
    return response.text


@pytest.fixture
def order():
    return OrderFactory(store=StoreFactory(name="Acme Linen"), order_number="1042", currency="EUR",
                        ship_line1="500 Howard St", ship_city="London", ship_region="", ship_country="GB")  # fmt: skip


def case_on(order, kind, *, status=ShipmentStatus.IN_TRANSIT, state=CaseState.OPEN, **shipment_fields):
    shipment = ShipmentFactory(order=order, status=status, **shipment_fields)
    return ExceptionCaseFactory(shipment=shipment, order=order, kind=kind, state=state)


@pytest.mark.parametrize(
    "kind",
    ["milestone_confirmed", "milestone_shipped", "milestone_out_for_delivery", "milestone_delivered",
     "post_delivery", "return_exchange"],
)  # fmt: skip
def test_a_milestone_or_informational_case_raises_no_notice(order, kind):
    case_on(order, kind, state=CaseState.ACTING)

    html = page(order)

    assert PROBLEM not in html and 'class="card notice"' not in html


def test_the_customer_reads_what_was_done_in_words_and_money_in_the_orders_currency(order):
    case = case_on(order, "transit_stall", state=CaseState.ACTING)
    RemedyFactory(case=case, position=1, state=RemedyState.DONE, action="refund", amount=Decimal("12.00"))
    RemedyFactory(case=case, position=2, state=RemedyState.DONE, action="coupon", amount=Decimal("10.00"))
    RemedyFactory(case=case, position=3, state=RemedyState.DONE, action="notify", params={"template": "delay_remedy"})
    RemedyFactory(case=case, position=4, state=RemedyState.DONE, action="notify", params={"template": "lost_maybe"})

    html = page(order)

    assert "<li>Refunded €12.00</li>" in html
    assert "<li>A €10.00 coupon for your next order</li>" in html
    assert "<li>Sent you a message about the delay and what we&#x27;re doing about it</li>" in html
    assert "<li>Let you know your parcel may be lost and what we&#x27;re doing about it</li>" in html
    assert "delay_remedy" not in html and "lost_maybe" not in html


def test_money_reads_as_in_the_stores_country_at_no_query_more(django_assert_num_queries):
    order = OrderFactory(store=StoreFactory(country="GB", timezone="Europe/London"), currency="USD")
    # The carrier's estimate: no transit-time history to read (and cache) on the first page only.
    case = case_on(order, "transit_stall", state=CaseState.ACTING, carrier_estimated_delivery=timezone.now())
    RemedyFactory(case=case, position=1, state=RemedyState.DONE, action="expedite", params={"service_level": "Express"})
    with CaptureQueriesContext(connection) as without_money:
        page(order)
    RemedyFactory(case=case, position=2, state=RemedyState.DONE, action="refund", amount=Decimal("1189.50"))
    RemedyFactory(case=case, position=3, state=RemedyState.DONE, action="store_credit", amount=Decimal("10.00"))

    with django_assert_num_queries(len(without_money)):
        html = page(order)

    # Dollars in a British store say whose they are.
    assert "<li>Refunded US$1,189.50</li>" in html
    assert "<li>Added US$10.00 of store credit to your account</li>" in html
    assert "<li>Upgraded the shipping to Express</li>" in html


def test_a_failed_payment_says_so_and_what_to_do(order):
    ExceptionCaseFactory(shipment=None, order=order, store=order.store, kind="failed_payment")

    html = page(order)

    assert "Your payment didn&#x27;t go through." in html
    assert "We&#x27;re holding your order until the payment is sorted." in html
    assert "contact us" in html
    assert PROBLEM not in html and GETTING_READY not in html
    assert "Your order is on hold" in html


def test_a_cancelled_order_says_so_and_promises_no_shipping(order):
    order.cancelled_at = timezone.now()
    order.save(update_fields=["cancelled_at"])

    html = page(order)

    assert "This order was cancelled" in html
    assert GETTING_READY not in html and "as soon as your order ships" not in html
    assert "Delivery address" in html and "Delivering to" not in html


def test_a_parcel_returned_to_sender_is_said_to_be_coming_back_with_the_right_questions(order):
    faq_seed()
    case_on(order, "carrier_disruption", status=ShipmentStatus.RETURNED_TO_SENDER)

    html = page(order)

    assert "Your parcel is being returned to us." in html
    assert "we&#x27;ll be in touch about what happens next" in html
    assert "The carrier reported a delay." not in html
    assert "My order is delayed" not in html
    assert "The carrier reported a problem with my delivery. What happens now?" in html
    assert "Delivery address" in html and "Delivering to" not in html


def test_a_carrier_exception_is_still_a_delay(order):
    case_on(order, "carrier_disruption", status=ShipmentStatus.EXCEPTION)

    assert "The carrier reported a delay." in page(order)


def test_the_address_shows_no_street_and_says_delivered_once_delivered(order):
    ShipmentFactory(order=order, status=ShipmentStatus.IN_TRANSIT)
    html = page(order)
    assert "Delivering to" in html and "<p>London, GB</p>" in html and "5…" not in html

    order.shipments.update(status=ShipmentStatus.DELIVERED, delivered_at=timezone.now())
    html = page(order)
    assert "Delivered to" in html and "Delivering to" not in html
