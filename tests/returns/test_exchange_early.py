"""When the store's policy allows it, an approved exchange ships before the return arrives: within the
caps, once, and the return's page says so."""

from decimal import Decimal

import pytest

from notifications.models import Message
from orders.choices import ReservationState, ReturnState
from playbooks.choices import CaseState
from playbooks.defaults import caps_seed, playbooks_seed
from playbooks.engine import detector_sweep
from playbooks.models import ActionRecord, Approval, ExceptionCase
from returns.services import ReturnLine, return_mark_received, return_request_create
from tests.factories import ExchangeVariantFactory, LineItemFactory

from .conftest import item

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def early(policy, store):
    policy.ship_exchange_early = True
    policy.save()
    caps_seed(store)  # ship_exchange: automatic up to 150.00
    playbooks_seed()


def exchange(order, variant, sku="SHIRT-M"):
    line = ReturnLine(line_item_id=item(order, sku).pk, quantity=1, reason="does_not_fit", exchange_for_id=variant.pk)
    return return_request_create(order=order, resolution="exchange", lines=[line])


def test_the_exchange_ships_as_soon_as_the_label_is_issued_and_the_customer_is_told(order, size_large, run_jobs):
    ret = exchange(order, size_large)
    run_jobs()

    case = ExceptionCase.objects.get(kind="return_exchange")
    assert case.state == CaseState.RESOLVED and case.facts["items"][0]["to"] == "L"
    shipped = ActionRecord.objects.get(operation="replacement")
    assert shipped.payload["line_items"] == [{"sku": "SHIRT-L", "title": "Linen shirt", "variant": "L", "quantity": 1}]
    assert Message.objects.filter(kind="exchange_on_the_way", order=order).count() == 1
    ret.refresh_from_db()
    assert ret.exchange_shipped_at and ret.items.get().reservation == ReservationState.SHIPPED


def test_when_the_return_arrives_nothing_ships_twice(order, size_large, run_jobs):
    ret = exchange(order, size_large)
    run_jobs()
    detector_sweep("return_exchange")
    return_mark_received(request=ret)
    run_jobs()

    ret.refresh_from_db()
    assert ret.state == ReturnState.EXCHANGED
    assert ActionRecord.objects.filter(operation="replacement").count() == 1
    assert ExceptionCase.objects.filter(kind="return_exchange").count() == 1


def test_an_exchange_worth_more_than_the_cap_waits_for_an_agent(order, store, run_jobs):
    LineItemFactory(order=order, sku="COAT-M", title="Coat", variant="M", unit_price=Decimal("240.00"))
    coat_large = ExchangeVariantFactory(store=store, product="Coat", title="L", sku="COAT-L")
    exchange(order, coat_large, sku="COAT-M")
    run_jobs()

    assert Approval.objects.get().exceeded == ["max_auto_amount"]
    assert not ActionRecord.objects.filter(operation="replacement").exists()


@pytest.mark.parametrize(
    "policy_change",
    [{"auto_approve": False}, {"ship_exchange_early": False}],
    ids=["waiting-for-approval", "policy-says-wait-for-the-return"],
)
def test_the_exchange_does_not_ship_early_unless_approved_and_allowed(order, policy, size_large, run_jobs,
                                                                      policy_change):  # fmt: skip
    for field, value in policy_change.items():
        setattr(policy, field, value)
    policy.save()
    exchange(order, size_large)
    run_jobs()

    assert not ExceptionCase.objects.filter(kind="return_exchange").exists()
    assert not ActionRecord.objects.exists()
