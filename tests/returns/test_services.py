"""A return's life, from request to refund, credit or exchange: once each, with a message at each step."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from notifications.models import Message
from orders.choices import ReservationState, ReturnState
from orders.models import ExchangeVariant, ReturnRequest
from playbooks.models import ActionRecord, AuditEvent
from returns.services import (
    ReturnLine,
    ReturnStateError,
    return_approve,
    return_mark_in_transit,
    return_mark_received,
    return_reject,
    return_request_create,
    return_resolve,
)
from tests.factories import ReturnReasonRuleFactory

from .conftest import item

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def start(order, resolution="refund", **line):
    fields = {"line_item_id": item(order, line.pop("sku", "SHIRT-M")).pk, "quantity": 1, "reason": "does_not_fit"}
    return return_request_create(order=order, resolution=resolution, lines=[ReturnLine(**{**fields, **line})])


def updates(order) -> list[str]:
    return [m.body_text for m in Message.objects.filter(order=order, kind="return_update").order_by("id")]


def test_an_eligible_return_gets_its_label_at_once_and_one_message_with_the_link(order):
    ret = start(order)

    assert ret.number == "R1042-1" and ret.state == ReturnState.LABEL_ISSUED
    assert ret.return_tracking_code.startswith("RT") and ret.drop_off_code == f"R1042-1:{ret.return_tracking_code}"
    assert ret.return_shipping_fee == Decimal("5.00")
    [message] = updates(order)
    assert "approved" in message and "/returns/r/" in message


def test_the_label_code_is_stable_and_unguessable(order):
    from returns.labels.local import LocalLabelProvider

    ret = start(order)

    assert LocalLabelProvider().issue(ret).tracking_code == ret.return_tracking_code
    assert len(ret.return_tracking_code) == 16


def test_a_return_waits_for_an_agent_when_the_policy_says_so(order, policy):
    policy.auto_approve = False
    policy.save()

    ret = start(order)

    assert ret.state == ReturnState.REQUESTED and not ret.return_tracking_code
    assert ret.awaiting_approval_because == "The store reviews every return."
    assert "review" in updates(order)[0]

    return_approve(request=ret)
    ret.refresh_from_db()
    assert ret.state == ReturnState.LABEL_ISSUED and ret.label_issued_at and len(updates(order)) == 2


def test_a_reason_can_need_approval_and_a_photo(order, policy):
    ReturnReasonRuleFactory(policy=policy, reason="damaged", needs_approval=True, photo_required=True)

    with pytest.raises(ValidationError) as error:
        start(order, reason="damaged")
    assert "Add a photo" in error.value.message_dict[f"item-{item(order, 'SHIRT-M').pk}"][0]

    ret = start(order, reason="damaged", photo=SimpleUploadedFile("crushed.jpg", JPEG, "image/jpeg"))
    assert ret.state == ReturnState.REQUESTED
    assert ret.awaiting_approval_because == "Arrived damaged returns are reviewed first."
    assert ret.items.get().photo.name.startswith("returns/photos/")
    assert ret.return_shipping_fee == Decimal("0.00")  # damaged ships free


def test_a_file_that_is_not_a_photo_is_refused(order):
    html = SimpleUploadedFile("photo.jpg", b"<html><script>alert(1)</script>", "image/jpeg")

    with pytest.raises(ValidationError) as error:
        start(order, photo=html)

    assert "not a photo" in str(error.value)
    assert not ReturnRequest.objects.exists()


@pytest.mark.parametrize(
    ("line", "resolution", "message"),
    [
        ({"sku": "GIFT-25"}, "refund", "Final sale"),
        ({"quantity": 2}, "refund", "Return between 1 and 1"),
        ({"reason": "bored"}, "refund", "Choose a reason"),
        ({}, "exchange", "Choose the variant"),
        ({}, "teleport", "Choose how you would like"),
    ],
)
def test_a_return_the_policy_does_not_allow_is_refused_and_nothing_changes(order, size_large, line, resolution,
                                                                          message):  # fmt: skip
    with pytest.raises(ValidationError) as error:
        start(order, resolution=resolution, **line)

    assert message in str(error.value)
    assert not ReturnRequest.objects.exists() and not Message.objects.exists()


def test_an_exchange_reserves_the_variant_and_the_last_one_goes_to_one_customer(order, size_large):
    ret = start(order, resolution="exchange", exchange_for_id=size_large.pk)

    size_large.refresh_from_db()
    assert size_large.available == 1
    assert ret.items.get().reservation == ReservationState.HELD and ret.items.get().exchange_variant == "L"

    ExchangeVariant.objects.filter(pk=size_large.pk).update(available=0)  # another customer took the last one
    with pytest.raises(ValidationError, match="nothing is left in stock"):
        start(order, resolution="exchange", sku="SOCK", exchange_for_id=size_large.pk)


def test_rejecting_puts_held_stock_back_and_tells_the_customer_why(order, size_large):
    ret = start(order, resolution="exchange", exchange_for_id=size_large.pk)

    return_reject(request=ret, reason="The item was worn.")

    size_large.refresh_from_db()
    ret.refresh_from_db()
    assert size_large.available == 2 and ret.items.get().reservation == ReservationState.RELEASED
    assert ret.state == ReturnState.REJECTED and "The item was worn." in updates(order)[-1]
    with pytest.raises(ValidationError):
        return_reject(request=ret, reason=" ")


def test_a_refund_is_paid_once_when_the_return_arrives_less_the_fee(order, run_jobs):
    ret = start(order)
    return_mark_in_transit(request=ret)
    return_mark_received(request=ret)
    run_jobs()

    ret.refresh_from_db()
    assert ret.state == ReturnState.REFUNDED and ret.refund_amount == Decimal("35.00")
    record = ActionRecord.objects.get(return_request=ret)
    assert (record.operation, record.payload["amount"]) == ("refund", "35.00")
    assert ret.resolution_reference == record.reference

    return_resolve(return_id=ret.pk)  # a replayed job
    assert ActionRecord.objects.filter(return_request=ret).count() == 1
    assert [m.split(": ", 1)[0] for m in updates(order)] == ["Acme Linen"] * 4 or len(updates(order)) == 4
    assert "refunded $35.00 to your original payment" in updates(order)[-1]


def test_store_credit_adds_the_policys_bonus_and_has_no_fee(order, policy, run_jobs):
    policy.store_credit_bonus_percent = 10
    policy.save()
    ret = start(order, resolution="store_credit")
    return_mark_received(request=ret)
    run_jobs()

    ret.refresh_from_db()
    assert ret.state == ReturnState.CREDITED and ret.credit_amount == Decimal("44.00")
    assert ActionRecord.objects.get(return_request=ret).operation == "store_credit"
    assert "we've added $44.00 of store credit to your account" in updates(order)[-1]


def test_an_exchange_ships_when_the_return_arrives_if_it_did_not_ship_early(order, size_large, run_jobs):
    ret = start(order, resolution="exchange", exchange_for_id=size_large.pk)
    return_mark_received(request=ret)
    run_jobs()

    ret.refresh_from_db()
    assert ret.state == ReturnState.EXCHANGED and ret.exchange_shipped_at
    shipped = ActionRecord.objects.get(return_request=ret, operation="replacement")
    assert shipped.payload["line_items"] == [{"sku": "SHIRT-L", "title": "Linen shirt", "variant": "L", "quantity": 1}]
    assert ret.items.get().reservation == ReservationState.SHIPPED


def test_steps_only_move_forward(order):
    ret = start(order)
    return_mark_received(request=ret)

    with pytest.raises(ReturnStateError, match="received: cannot mark it on its way"):
        return_mark_in_transit(request=ret)
    with pytest.raises(ReturnStateError):
        return_approve(request=ret)


def test_each_step_is_in_the_audit_log_with_who_did_it(order, django_user_model):
    agent = django_user_model.objects.create_user("agent")
    ret = start(order)
    return_mark_received(request=ret, by=agent)

    trail = AuditEvent.objects.filter(order=order).order_by("id")
    assert [e.message for e in trail] == [
        "Return R1042-1 requested by the customer.",
        f"Return label {ret.return_tracking_code} issued (local).",
        "Return R1042-1 received.",
    ]
    assert trail.last().actor_user == agent


def test_each_return_of_an_order_gets_its_own_number(order):
    start(order)
    assert start(order, sku="SOCK").number == "R1042-2"
