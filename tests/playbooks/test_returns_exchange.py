"""Returns in transit: an exchange ships before the return arrives, within the caps, once."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from notifications.models import Message
from orders.returns import ReturnLine, return_start
from playbooks.choices import CaseState
from playbooks.defaults import caps_seed, playbooks_seed
from playbooks.detectors import DETECTORS
from playbooks.models import ActionRecord, Approval, ExceptionCase
from tests.factories import LineItemFactory, OrderFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    store = StoreFactory()
    caps_seed(store)  # ship_exchange: automatic up to 150.00
    playbooks_seed()
    order = OrderFactory(store=store, order_number="2001")
    LineItemFactory(order=order, sku="TEE-M", title="Tee", variant="M / Blue", unit_price=Decimal("30.00"))
    return order


def exchange(order, quantity: int = 1, variant: str = "L / Blue"):
    item = order.line_items.get()
    return return_start(
        order=order,
        resolution="exchange",
        lines=[ReturnLine(line_item_id=item.pk, quantity=quantity, reason="does_not_fit", exchange_variant=variant)],
    )


def test_starting_an_exchange_ships_the_new_variant_at_once_and_tells_the_customer(order, run_jobs):
    request = exchange(order)
    run_jobs()

    case = ExceptionCase.objects.get(kind="return_exchange")
    assert case.state == CaseState.RESOLVED  # done once the exchange shipped
    assert request.number == "R2001-1" and case.facts["items"][0]["to"] == "L / Blue"
    shipped = ActionRecord.objects.get(operation="replacement")
    assert shipped.payload["line_items"] == [{"sku": "TEE-M", "title": "Tee", "variant": "L / Blue", "quantity": 1}]
    assert Message.objects.filter(kind="exchange_on_the_way", order=order).count() == 1


def test_the_exchange_ships_once_even_when_detection_runs_again(order, run_jobs):
    exchange(order)
    run_jobs()

    from playbooks.engine import detector_sweep

    detector_sweep("return_exchange")
    run_jobs()

    assert ExceptionCase.objects.filter(kind="return_exchange").count() == 1
    assert ActionRecord.objects.filter(operation="replacement").count() == 1


def test_an_exchange_worth_more_than_the_cap_waits_for_an_agent(order, run_jobs):
    LineItemFactory(order=order, sku="COAT", title="Coat", variant="M", unit_price=Decimal("240.00"))
    coat = order.line_items.get(sku="COAT")
    line = ReturnLine(line_item_id=coat.pk, quantity=1, reason="does_not_fit", exchange_variant="L")
    return_start(order=order, resolution="exchange", lines=[line])
    run_jobs()

    assert Approval.objects.get().exceeded == ["max_auto_amount"]
    assert not ActionRecord.objects.filter(operation="replacement").exists()


def test_a_refund_return_is_not_an_exchange(order, run_jobs):
    item = order.line_items.get()
    return_start(
        order=order, resolution="refund", lines=[ReturnLine(line_item_id=item.pk, quantity=1, reason="damaged")]
    )
    run_jobs()

    assert not DETECTORS["return_exchange"].matching(order.placed_at, {}).exists()
    assert not ExceptionCase.objects.filter(kind="return_exchange").exists()


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([], "items"),
        ([ReturnLine(line_item_id=0, quantity=1, reason="other")], "items"),
        ("too_many", "quantity"),
        ("no_variant", "exchange_variant"),
    ],
)
def test_a_return_that_makes_no_sense_is_refused_naming_the_field(order, lines, field):
    item = order.line_items.get()
    if lines == "too_many":
        lines = [ReturnLine(line_item_id=item.pk, quantity=5, reason="other", exchange_variant="L")]
    if lines == "no_variant":
        lines = [ReturnLine(line_item_id=item.pk, quantity=1, reason="other")]

    with pytest.raises(ValidationError) as error:
        return_start(order=order, resolution="exchange", lines=lines)

    assert field in error.value.message_dict
    assert not order.returns.exists()
