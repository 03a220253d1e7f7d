"""Which items a customer may return, read from the store's policy."""

import datetime as dt

import pytest

from orders.choices import ShipmentStatus
from returns.eligibility import order_eligibility
from tests.factories import OrderFactory, ReturnItemFactory, ReturnReasonRuleFactory, ShipmentFactory

from .conftest import item

pytestmark = pytest.mark.django_db


def eligibility_of(order, now):
    return {i.line_item.sku: i for i in order_eligibility(order, now=now).items}


def test_items_are_returnable_for_the_policys_window_from_delivery(order, now):
    shirt = eligibility_of(order, now)["SHIRT-M"]

    assert shirt.eligible and shirt.returnable_quantity == 1
    assert shirt.deadline == now - dt.timedelta(days=3) + dt.timedelta(days=30)
    assert ("damaged", "Arrived damaged") in shirt.reasons


def test_final_sale_items_and_skus_the_policy_excludes_are_not_returnable(order, policy, now):
    policy.non_returnable_skus = "SOCK*\nOTHER"
    policy.save()

    items = eligibility_of(order, now)

    assert items["GIFT-25"].why_not == "Final sale: this item can't be returned."
    assert items["SOCK"].why_not == "This item can't be returned."


def test_nothing_is_returnable_before_delivery(store, policy, now):
    order = OrderFactory(store=store)
    ShipmentFactory(order=order, status=ShipmentStatus.IN_TRANSIT)
    from tests.factories import LineItemFactory

    LineItemFactory(order=order, sku="X")

    assert eligibility_of(order, now)["X"].why_not == "You can return this once it has been delivered."


def test_the_window_closes_but_a_longer_window_for_damaged_items_stays_open(order, policy, now):
    ReturnReasonRuleFactory(policy=policy, reason="damaged", window_days=90)
    later = now + dt.timedelta(days=40)

    shirt = eligibility_of(order, later)["SHIRT-M"]

    assert shirt.eligible and [r for r, _ in shirt.reasons] == ["damaged"]


def test_after_every_window_it_says_when_the_window_closed(order, now):
    shirt = eligibility_of(order, now + dt.timedelta(days=40))["SHIRT-M"]

    assert shirt.why_not == "The return window closed on 20 December 2026."


def test_a_reason_the_store_does_not_accept_is_not_offered(order, policy, now):
    ReturnReasonRuleFactory(policy=policy, reason="changed_mind", accepted=False, photo_required=False)

    assert "changed_mind" not in dict(eligibility_of(order, now)["SHIRT-M"].reasons)


def test_items_already_in_a_return_are_not_offered_twice_unless_it_was_rejected(order, now):
    socks = item(order, "SOCK")
    ReturnItemFactory(return_request__order=order, line_item=socks, quantity=1)

    assert eligibility_of(order, now)["SOCK"].returnable_quantity == 1

    ReturnItemFactory(return_request__order=order, return_request__state="rejected", line_item=socks, quantity=1)
    assert eligibility_of(order, now)["SOCK"].returnable_quantity == 1


def test_exchange_options_are_other_variants_of_the_same_product_in_stock(order, size_large, store, now):
    from tests.factories import ExchangeVariantFactory

    ExchangeVariantFactory(store=store, product="Linen shirt", title="M", sku="SHIRT-M", available=3)  # the same
    ExchangeVariantFactory(store=store, product="Linen shirt", title="XL", sku="SHIRT-XL", available=0)  # sold out

    assert eligibility_of(order, now)["SHIRT-M"].exchange_options == [size_large]


def test_the_policy_decides_which_resolutions_are_offered(order, policy, size_large, now):
    assert [v for v, _ in order_eligibility(order, now=now).resolutions] == ["refund", "store_credit", "exchange"]

    policy.allow_refund = False
    policy.allow_exchange = False
    policy.save()

    assert [v for v, _ in order_eligibility(order, now=now).resolutions] == ["store_credit"]


def test_a_store_without_a_policy_gets_the_defaults(order, policy, now):
    policy.delete()

    shirt = eligibility_of(order, now)["SHIRT-M"]

    assert shirt.eligible and shirt.deadline == now - dt.timedelta(days=3) + dt.timedelta(days=30)


def test_it_reads_eligibility_in_a_constant_number_of_queries(order, now, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        order_eligibility(order, now=now)
