"""Playbook step actions: what each costs, what it asks the provider to do (once), and what it says."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.choices import MessageKind
from notifications.models import Message
from playbooks.actions import ACTIONS, ACTIONS_PATHS
from playbooks.actions.base import Action, ActionError
from playbooks.choices import CaseState
from playbooks.models import ActionRecord
from tests.factories import (
    CustomerFactory,
    ExceptionCaseFactory,
    LineItemFactory,
    MessageTemplateFactory,
    OrderFactory,
    RemedyFactory,
    ReturnItemFactory,
    ShipmentFactory,
    StoreFactory,
)

pytest_plugins = ["tests.fakes.twilio"]
pytestmark = pytest.mark.django_db

EXPLANATION = "Label created 50 hours ago and no carrier scan yet (threshold 48 hours)."


@pytest.fixture
def order():
    """A $59.00 order: 2 x $20.00 shirts and 1 x $10.00 socks, $5.00 shipping, $4.00 tax."""
    store = StoreFactory()
    customer = CustomerFactory(store=store, email="sam@example.com", phone="+14155550123")
    order = OrderFactory(
        store=store,
        customer=customer,
        order_number="1042",
        subtotal=Decimal("50.00"),
        shipping_total=Decimal("5.00"),
        tax_total=Decimal("4.00"),
        total=Decimal("59.00"),
    )
    LineItemFactory(order=order, sku="SHIRT-M", title="Linen shirt", variant="M / Blue", quantity=2, unit_price="20.00")
    LineItemFactory(order=order, sku="SOCK-1", title="Wool socks", variant="", quantity=1, unit_price="10.00")
    return order


@pytest.fixture
def case(order):
    # An open exchange on the order, so ship_exchange has something to send.
    ReturnItemFactory(return_request__order=order, line_item=order.line_items.first(), exchange_variant="L")
    return ExceptionCaseFactory(shipment=ShipmentFactory(order=order), explanation=EXPLANATION)


def remedy_for(case, kind: str, approved: str = "0.00", **params):
    """A remedy for the case, approved at `approved`, with the step's params as stored (JSON)."""
    return RemedyFactory(case=case, action=kind, params=params, amount=Decimal(approved), currency="USD")


def only_record(remedy) -> ActionRecord:
    (record,) = ActionRecord.objects.filter(remedy=remedy)
    return record


def assert_executes_once(action: Action, remedy) -> dict:
    """Run the action twice: the same result both times and no second record."""
    first = action.execute(remedy)
    count = ActionRecord.objects.count()
    assert action.execute(remedy) == first
    assert ActionRecord.objects.count() == count
    return first


# --- the contract, for every registered action ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ACTIONS_PATHS)
def test_it_registers_each_action_under_its_own_kind_with_a_label(kind):
    action = ACTIONS[kind]
    assert isinstance(action, Action)
    assert action.kind == kind
    assert action.label.strip()
    assert type(action).__name__ == ACTIONS_PATHS[kind].rsplit(".", 1)[1]


def test_it_gives_every_action_a_unique_kind():
    kinds = [action.kind for action in ACTIONS.all()]
    assert len(kinds) == len(set(kinds)) == len(ACTIONS_PATHS)


@pytest.mark.parametrize("kind", ACTIONS_PATHS)
def test_it_documents_every_param_with_a_default_that_is_valid(kind):
    for name, param in ACTIONS[kind].params.items():
        assert param.help.strip(), f"{kind}.{name} has no help text"
        assert param.clean(name, param.default) == param.default


@pytest.mark.parametrize("kind", ACTIONS_PATHS)
def test_it_estimates_a_positive_cost_only_for_actions_that_cost_money(kind, case):
    action = ACTIONS[kind]
    amount = action.estimate(case, {})
    assert isinstance(amount, Decimal)
    assert amount == amount.quantize(Decimal("0.01"))
    if action.costs_money:
        assert amount > 0
    else:
        assert amount == 0


@pytest.mark.parametrize("kind", ACTIONS_PATHS)
def test_it_estimates_without_writing_anything(kind, case):
    with CaptureQueriesContext(connection) as queries:
        ACTIONS[kind].estimate(case, {})
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in queries.captured_queries)


@pytest.mark.parametrize("kind", ACTIONS_PATHS)
def test_it_describes_itself_in_one_line(kind, case):
    action = ACTIONS[kind]
    text = action.describe(case, {}, action.estimate(case, {}))
    assert text.strip() and "\n" not in text


@pytest.mark.parametrize("kind", ACTIONS_PATHS)
def test_it_returns_the_same_result_and_records_nothing_more_when_run_twice(kind, case):
    action = ACTIONS[kind]
    remedy = remedy_for(case, kind, str(action.estimate(case, {})))
    assert_executes_once(action, remedy)
    messages = Message.objects.filter(idempotency_key=f"remedy:{remedy.pk}").count()
    records = ActionRecord.objects.filter(remedy=remedy).count()
    # Messages go to the outbox (once), other changes to the provider (once); escalation to neither.
    assert (messages, records) == ((1, 0) if kind in ("notify", "survey") else (0, 0 if kind == "escalate" else 1))


# --- notify and survey -----------------------------------------------------------------------------------------


def test_it_puts_the_message_in_the_outbox_once_keyed_by_the_remedy(case, fake_twilio):
    MessageTemplateFactory(
        store=case.store, kind="failed_attempt", channel="sms", body_text="Missed you, {{ first_name }}."
    )
    remedy = remedy_for(case, "notify", template="failed_attempt", channel="sms")

    result = assert_executes_once(ACTIONS["notify"], remedy)

    message = Message.objects.get()
    assert (message.kind, message.channel, message.to, message.idempotency_key) == (
        "failed_attempt",
        "sms",
        "+14155550123",
        f"remedy:{remedy.pk}",
    )
    assert message.body_text == f"Missed you, {case.order.customer.first_name}."
    assert result["message"] == str(message.public_id)
    assert message.detected_at == case.detected_at
    assert not ActionRecord.objects.exists()


def test_it_tells_the_customer_what_the_store_already_did(case):
    MessageTemplateFactory(store=case.store, kind="delay_remedy", channel="email", subject="We're on it",
                           body_text="We've {{ action }}. Here is {{ offer }}.")  # fmt: skip
    RemedyFactory(case=case, position=1, action="expedite", params={"service_level": "Express"},
                  amount=Decimal("12.00"), state="done")  # fmt: skip
    RemedyFactory(case=case, position=2, action="refund_shipping", amount=Decimal("5.00"), state="done")
    RemedyFactory(case=case, position=3, action="coupon", amount=Decimal("10.00"), state="done",
                  result={"code": "COUP-ABC"})  # fmt: skip
    remedy = RemedyFactory(
        case=case, position=4, action="notify", params={"template": "delay_remedy", "channel": "email"}
    )

    ACTIONS["notify"].execute(remedy)

    assert Message.objects.get().body_text == (
        "We've upgraded the shipping to Express and refunded $5.00 of shipping. Here is $10.00 (COUP-ABC)."
    )


def test_it_records_why_no_message_went_when_the_order_has_no_customer():
    case = ExceptionCaseFactory(shipment=ShipmentFactory(order=OrderFactory(customer=None)))
    remedy = remedy_for(case, "notify")
    ACTIONS["notify"].execute(remedy)
    message = Message.objects.get()
    assert message.status == "suppressed" and "No channel" in message.error


def test_it_refuses_an_unknown_channel(case):
    remedy = remedy_for(case, "notify", channel="pigeon")
    with pytest.raises(ValidationError, match="channel: 'pigeon' is not one of auto, sms, email"):
        ACTIONS["notify"].execute(remedy)
    assert not ActionRecord.objects.exists()


def test_it_describes_the_notification_by_its_template(case):
    describe = ACTIONS["notify"].describe
    assert describe(case, {"template": "delay"}, Decimal("0.00")) == "Sent you a message about the delay"
    assert describe(case, {"template": "lost_maybe"}, Decimal("0.00")) == (
        "Let you know your parcel may be lost and what we're doing about it"
    )
    assert ACTIONS["notify"].estimate(case, {}) == Decimal("0.00")


@pytest.mark.parametrize("kind", MessageKind.values)
def test_it_describes_every_message_kind_in_words_never_its_slug(kind, case):
    text = ACTIONS["notify"].describe(case, {"template": kind}, Decimal("0.00"))
    assert text[0].isupper() and "_" not in text and text != "Sent you a message"  # its own words, no slug


@pytest.mark.parametrize(
    ("kind", "amount", "expected"),
    [
        ("refund", "1234.50", "Refunded €1,234.50"),
        ("refund_shipping", "5.00", "Refunded €5.00 of shipping"),
        ("coupon", "10.00", "A €10.00 coupon for your next order"),
        ("store_credit", "6.00", "Added €6.00 of store credit to your account"),
    ],
)
def test_it_describes_money_in_the_orders_currency(kind, amount, expected, case):
    case.order.currency = "EUR"
    assert ACTIONS[kind].describe(case, {}, Decimal(amount)) == expected


@pytest.mark.parametrize(
    ("country", "currency", "expected"),
    [
        ("US", "USD", "Refunded $1,234.50"),
        ("GB", "GBP", "Refunded £1,234.50"),
        ("GB", "USD", "Refunded US$1,234.50"),  # dollars in a British store say whose
        ("DE", "EUR", "Refunded 1.234,50\xa0€"),
    ],
)
def test_it_writes_money_as_the_stores_country_does(country, currency, expected, case):
    case.store.country, case.order.currency = country, currency
    assert ACTIONS["refund"].describe(case, {}, Decimal("1234.50")) == expected


def test_it_sends_the_post_delivery_survey(case):
    MessageTemplateFactory(store=case.store, kind="post_delivery_survey", channel="email", subject="All good?",
                           body_text="Did everything arrive OK?")  # fmt: skip
    remedy = remedy_for(case, "survey", channel="email")

    assert_executes_once(ACTIONS["survey"], remedy)

    message = Message.objects.get()
    assert (message.kind, message.channel, message.to) == ("post_delivery_survey", "email", "sam@example.com")
    assert ACTIONS["survey"].describe(case, {}, Decimal("0.00")) == "Asked how the delivery went"


# --- expedite --------------------------------------------------------------------------------------------------


def test_it_estimates_the_upgrade_at_its_cost(case):
    assert ACTIONS["expedite"].estimate(case, {}) == Decimal("12.00")
    assert ACTIONS["expedite"].estimate(case, {"cost": "15.5"}) == Decimal("15.50")


def test_it_asks_the_provider_to_upgrade_the_shipping(case):
    remedy = remedy_for(case, "expedite", "12.00", service_level="Overnight")

    result = assert_executes_once(ACTIONS["expedite"], remedy)

    record = only_record(remedy)
    assert (record.provider, record.operation) == ("local", "upgrade_shipping")
    assert record.payload == {"service_level": "Overnight"}
    assert result == {"reference": record.reference, "service_level": "Overnight"}
    assert ACTIONS["expedite"].describe(case, {}, Decimal("12.00")) == "Upgraded the shipping to Express"


def test_it_cannot_expedite_a_case_without_a_shipment(order):
    case = ExceptionCaseFactory(shipment=None, order=order, kind="late_to_ship")
    remedy = remedy_for(case, "expedite", "12.00")
    with pytest.raises(ActionError) as error:
        ACTIONS["expedite"].execute(remedy)
    assert error.value.permanent
    assert not ActionRecord.objects.exists()


# --- reship ----------------------------------------------------------------------------------------------------


def test_it_estimates_a_replacement_at_the_items_plus_shipping(case):
    assert ACTIONS["reship"].estimate(case, {}) == Decimal("55.00")  # 2 x 20.00 + 10.00 + 5.00


def test_it_asks_the_provider_to_ship_the_same_items_again(case):
    remedy = remedy_for(case, "reship", "55.00", shipping="Overnight")

    result = assert_executes_once(ACTIONS["reship"], remedy)

    record = only_record(remedy)
    assert (record.provider, record.operation) == ("local", "replacement")
    assert record.payload == {
        "line_items": [
            {"sku": "SHIRT-M", "title": "Linen shirt", "variant": "M / Blue", "quantity": 2},
            {"sku": "SOCK-1", "title": "Wool socks", "variant": "", "quantity": 1},
        ],
        "shipping": "Overnight",
    }
    assert result == {"reference": record.reference, "shipping": "Overnight"}
    assert ACTIONS["reship"].describe(case, {}, Decimal("55.00")) == "Shipped a replacement"


def test_it_cannot_reship_an_order_without_items():
    case = ExceptionCaseFactory()
    remedy = remedy_for(case, "reship", "5.00")
    with pytest.raises(ActionError) as error:
        ACTIONS["reship"].execute(remedy)
    assert error.value.permanent


# --- refund_shipping -------------------------------------------------------------------------------------------


def test_it_estimates_a_shipping_refund_at_what_shipping_cost(case):
    assert ACTIONS["refund_shipping"].estimate(case, {}) == Decimal("5.00")


def test_it_refunds_the_approved_shipping_amount(case):
    remedy = remedy_for(case, "refund_shipping", "3.00")  # approved below the 5.00 estimate

    result = assert_executes_once(ACTIONS["refund_shipping"], remedy)

    record = only_record(remedy)
    assert (record.provider, record.operation) == ("local", "refund")
    assert record.payload == {"amount": "3.00", "currency": "USD", "reason": "shipping refund"}
    assert result == {"reference": record.reference, "amount": "3.00"}
    assert ACTIONS["refund_shipping"].describe(case, {}, Decimal("5.00")) == "Refunded $5.00 of shipping"


def test_it_has_nothing_to_refund_when_shipping_was_free():
    case = ExceptionCaseFactory(shipment=ShipmentFactory(order=OrderFactory(shipping_total=Decimal("0.00"))))
    assert ACTIONS["refund_shipping"].estimate(case, {}) == Decimal("0.00")
    with pytest.raises(ActionError) as error:
        ACTIONS["refund_shipping"].execute(remedy_for(case, "refund_shipping", "0.00"))
    assert error.value.permanent
    assert not ActionRecord.objects.exists()


def test_it_never_refunds_more_shipping_than_was_paid(case):
    with pytest.raises(ActionError) as error:
        ACTIONS["refund_shipping"].execute(remedy_for(case, "refund_shipping", "7.00"))
    assert error.value.permanent


# --- refund ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "59.00"),  # all of it by default
        ({"percent": "15"}, "8.85"),
        ({"percent": "33.333"}, "19.67"),  # 19.66647 rounded to the cent
        ({"percent": "0"}, "0.00"),
        ({"fixed_amount": "20"}, "20.00"),
        ({"percent": "50", "fixed_amount": "12.5"}, "12.50"),  # a fixed amount wins over the percent
        ({"fixed_amount": "100.00"}, "59.00"),  # never more than the order total
        ({"percent": "150"}, "59.00"),
    ],
)
def test_it_estimates_a_refund_as_a_share_or_a_fixed_amount_capped_at_the_total(case, params, expected):
    assert ACTIONS["refund"].estimate(case, params) == Decimal(expected)


def test_it_refuses_a_negative_refund_percent(case):
    with pytest.raises(ValidationError):
        ACTIONS["refund"].estimate(case, {"percent": "-5"})


def test_it_refunds_the_approved_amount_not_the_estimate(case):
    remedy = remedy_for(case, "refund", "25.00")  # the estimate is 59.00

    result = assert_executes_once(ACTIONS["refund"], remedy)

    record = only_record(remedy)
    assert (record.provider, record.operation) == ("local", "refund")
    assert record.payload == {"amount": "25.00", "currency": "USD", "reason": "refund"}
    assert result == {"reference": record.reference, "amount": "25.00"}
    assert ACTIONS["refund"].describe(case, {}, Decimal("25.00")) == "Refunded $25.00"


@pytest.mark.parametrize("amount", ["0.00", "59.01"])
def test_it_refuses_to_refund_nothing_or_more_than_the_total(case, amount):
    with pytest.raises(ActionError) as error:
        ACTIONS["refund"].execute(remedy_for(case, "refund", amount))
    assert error.value.permanent
    assert not ActionRecord.objects.exists()


# --- coupon and store credit -----------------------------------------------------------------------------------


def test_it_estimates_a_coupon_at_its_value(case):
    assert ACTIONS["coupon"].estimate(case, {}) == Decimal("10.00")
    assert ACTIONS["coupon"].estimate(case, {"amount": "7.5"}) == Decimal("7.50")


def test_it_creates_a_coupon_worth_the_approved_amount_and_returns_its_code(case):
    remedy = remedy_for(case, "coupon", "8.00", amount="10.00")

    result = assert_executes_once(ACTIONS["coupon"], remedy)

    record = only_record(remedy)
    assert (record.provider, record.operation) == ("local", "coupon")
    assert record.payload == {"amount": "8.00", "currency": "USD"}
    assert result == {"reference": record.reference, "code": record.reference, "amount": "8.00"}
    assert ACTIONS["coupon"].describe(case, {}, Decimal("10.00")) == "A $10.00 coupon for your next order"


def test_it_adds_store_credit_worth_the_approved_amount(case):
    remedy = remedy_for(case, "store_credit", "6.00", amount="10.00")

    result = assert_executes_once(ACTIONS["store_credit"], remedy)

    record = only_record(remedy)
    assert (record.provider, record.operation) == ("local", "store_credit")
    assert record.payload == {"amount": "6.00", "currency": "USD"}
    assert result == {"reference": record.reference, "amount": "6.00"}
    assert ACTIONS["store_credit"].estimate(case, {}) == Decimal("10.00")
    assert ACTIONS["store_credit"].describe(case, {}, Decimal("6.00")) == "Added $6.00 of store credit to your account"


@pytest.mark.parametrize("kind", ["coupon", "store_credit"])
def test_it_gives_no_discount_worth_nothing(case, kind):
    with pytest.raises(ActionError) as error:
        ACTIONS[kind].execute(remedy_for(case, kind, "0.00"))
    assert error.value.permanent


# --- hold_and_retry, helpdesk_note, escalate -------------------------------------------------------------------


def test_it_asks_the_provider_to_hold_the_fulfillment(case):
    remedy = remedy_for(case, "hold_and_retry")

    result = assert_executes_once(ACTIONS["hold_and_retry"], remedy)

    record = only_record(remedy)
    assert (record.provider, record.operation) == ("local", "hold_fulfillment")
    assert record.payload == {"reason": "address needs fixing"}
    assert result == {"reference": record.reference, "reason": "address needs fixing"}
    assert ACTIONS["hold_and_retry"].describe(case, {}, Decimal("0.00")) == "Held the parcel while the address is fixed"


def test_it_notes_the_explanation_and_the_step_note_on_the_ticket(case):
    remedy = remedy_for(case, "helpdesk_note", note="Offer a reship if they write in.")

    result = assert_executes_once(ACTIONS["helpdesk_note"], remedy)

    record = only_record(remedy)
    assert (record.provider, record.operation) == ("local", "ticket_note")
    assert record.payload == {"note": f"{EXPLANATION}\n\nOffer a reship if they write in."}
    assert result == {"reference": record.reference}
    assert ACTIONS["helpdesk_note"].describe(case, {}, Decimal("0.00")) == "Noted it on the helpdesk ticket"


def test_it_notes_just_the_explanation_when_the_step_has_no_note(case):
    remedy = remedy_for(case, "helpdesk_note")
    ACTIONS["helpdesk_note"].execute(remedy)
    assert only_record(remedy).payload == {"note": EXPLANATION}


def test_it_has_nothing_to_note_without_an_explanation_or_a_note():
    remedy = remedy_for(ExceptionCaseFactory(explanation=""), "helpdesk_note")
    with pytest.raises(ActionError) as error:
        ACTIONS["helpdesk_note"].execute(remedy)
    assert error.value.permanent


def test_it_escalates_by_saying_where_and_leaves_the_case_to_the_engine(case):
    remedy = remedy_for(case, "escalate", queue="claims")

    assert assert_executes_once(ACTIONS["escalate"], remedy) == {"escalate": True, "queue": "claims"}

    case.refresh_from_db()
    assert case.state == CaseState.OPEN
    assert not ActionRecord.objects.exists()
    assert ACTIONS["escalate"].describe(case, {}, Decimal("0.00")) == "Passed to our specialists team"
