"""Sent once, at the right time: the outbox with the real Twilio SDK against a fake Twilio on loopback."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.choices import MessageStatus
from notifications.models import Message
from notifications.services import (
    message_claim_and_send,
    message_compose,
    message_send,
    messages_dispatch,
    messages_send,
)
from tests.factories import CustomerFactory, MessageTemplateFactory, NotificationSettingsFactory, OrderFactory

pytest_plugins = ["tests.fakes.twilio"]
pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 11, 18, 20, 0, tzinfo=dt.UTC)  # 12:00 in Los Angeles
LA_NIGHT = dt.datetime(2026, 11, 19, 6, 0, tzinfo=dt.UTC)  # 22:00 in Los Angeles


@pytest.fixture
def order():
    customer = CustomerFactory(phone="+14155550123", timezone="America/Los_Angeles", email="sam@example.com")
    order = OrderFactory(store=customer.store, customer=customer, order_number="1001")
    for kind, text in [
        ("delay", "Hi {{ first_name }}, order {{ order_number }} hit a delay. We're on it."),
        ("shipped", "Order {{ order_number }} has shipped."),
        ("out_for_delivery", "Order {{ order_number }} is out for delivery today."),
        ("failed_attempt", "The carrier missed you with order {{ order_number }}."),
    ]:
        MessageTemplateFactory(store=order.store, kind=kind, channel="sms", body_text=text)
    NotificationSettingsFactory(store=order.store)
    return order


def compose(order, kind="delay", key="case:1:step:1", now=NOON, **kwargs):
    with time_machine.travel(now, tick=False):
        return message_compose(order=order, kind=kind, key=key, detected_at=now - dt.timedelta(seconds=30), **kwargs)


def test_a_message_is_rendered_sent_once_and_its_time_to_notify_recorded(order, fake_twilio, run_jobs):
    message = compose(order)
    run_jobs()

    message.refresh_from_db()
    (request,) = fake_twilio.requests
    assert request.to == "+14155550123"
    assert request.body == f"Hi {order.customer.first_name}, order 1001 hit a delay. We're on it."
    assert str(message.public_id) in request.status_callback
    assert (message.status, message.provider_id.startswith("SM")) == (MessageStatus.SENT, True)
    assert message.time_to_notify is not None and message.time_to_notify >= 30


def test_the_same_key_never_sends_twice(order, fake_twilio, run_jobs):
    first = compose(order)
    second = compose(order)
    run_jobs()
    message_send(first.pk)  # a duplicate job changes nothing

    assert first.pk == second.pk
    assert len(fake_twilio.requests) == 1


def test_a_wave_of_messages_is_sent_by_one_outbox_drain_each_message_once(order, fake_twilio, run_jobs):
    orders = [order] + [
        OrderFactory(
            store=order.store,
            order_number=f"20{n}",
            customer=CustomerFactory(store=order.store, phone=f"+1415555{n:04}"),
        )
        for n in range(4)
    ]
    for n, each in enumerate(orders):
        compose(each, kind="failed_attempt", key=f"case:{n}")

    assert run_jobs() == 1
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 5
    assert sorted(r.to for r in fake_twilio.requests) == sorted(o.customer.phone for o in orders)
    assert messages_send() == 0  # a drain that finds nothing due sends nothing


def test_a_full_outbox_batch_queues_the_next_drain_for_the_rest(order, fake_twilio, run_jobs):
    direct_messages(order, 3)

    assert messages_send(limit=2) == 2
    assert [r.body for r in fake_twilio.requests] == ["Update 0", "Update 1"]  # oldest first

    assert run_jobs() == 1  # the next drain, which the full batch queued, sends the third
    assert [r.body for r in fake_twilio.requests] == ["Update 0", "Update 1", "Update 2"]


def direct_messages(order, count: int) -> list[Message]:
    """Queued SMS about `order`, a minute apart (oldest first), as the outbox finds them."""
    messages = []
    for n in range(count):
        with time_machine.travel(NOON + dt.timedelta(minutes=n), tick=False):
            messages.append(
                Message.objects.create(
                    store=order.store,
                    order=order,
                    customer=order.customer,
                    kind="failed_attempt",
                    channel="sms",
                    to=order.customer.phone,
                    body_text=f"Update {n}",
                    idempotency_key=f"direct:{n}",
                )
            )
    return messages


def test_a_drain_reads_its_batch_in_one_query_then_claims_and_settles_each_message(
    order, fake_twilio, django_assert_num_queries
):
    direct_messages(order, 4)

    with django_assert_num_queries(1 + 2 * 4):  # the batch; per message, its claim and its outcome
        assert messages_send() == 4
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 4


def test_a_message_another_drain_sent_after_this_one_read_it_is_not_sent_again(order, fake_twilio):
    (message,) = direct_messages(order, 1)
    read_earlier = Message.objects.get(pk=message.pk)
    message_send(message.pk)  # another drain got there first

    assert message_claim_and_send(read_earlier) is None
    assert len(fake_twilio.requests) == 1


def test_a_slow_batch_reads_each_message_again_so_an_opt_out_since_is_honoured(order, fake_twilio, monkeypatch):
    # Twilio answers the first send "unsubscribed" (the customer texted STOP): that opts the number out, and
    # the second message to it, read with the batch before, must not go.
    monkeypatch.setattr("notifications.services.BATCH_FRESH_SECONDS", 0)
    fake_twilio.queue_error(21610, message="Attempt to send to unsubscribed recipient")
    first, second = direct_messages(order, 2)

    messages_send()

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == MessageStatus.FAILED
    assert (second.status, second.error) == (MessageStatus.SUPPRESSED, "The customer opted out before it was sent.")
    assert len(fake_twilio.requests) == 1


def test_a_non_urgent_message_waits_for_the_customers_morning(order, fake_twilio, run_jobs):
    message = compose(order, now=LA_NIGHT)
    run_jobs()
    assert (message.status, message.scheduled_for) == (
        MessageStatus.SCHEDULED,
        dt.datetime(2026, 11, 19, 16, 0, tzinfo=dt.UTC),
    )

    with time_machine.travel(dt.datetime(2026, 11, 19, 15, 59, tzinfo=dt.UTC), tick=False):
        assert messages_dispatch() == 0
    with time_machine.travel(dt.datetime(2026, 11, 19, 16, 0, tzinfo=dt.UTC), tick=False):
        assert messages_dispatch() == 1
        run_jobs()

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and len(fake_twilio.requests) == 1


def test_an_urgent_message_goes_at_once_even_at_night(order, fake_twilio, run_jobs):
    compose(order, kind="out_for_delivery", now=LA_NIGHT)
    run_jobs()

    assert len(fake_twilio.requests) == 1


def test_news_arriving_together_is_merged_into_one_message(order, fake_twilio, run_jobs):
    shipped = compose(order, kind="shipped", key="milestone:shipped")
    latest = compose(order, kind="out_for_delivery", key="milestone:ofd", now=NOON + dt.timedelta(minutes=4))
    run_jobs()

    shipped.refresh_from_db()
    assert (shipped.status, shipped.merged_into) == (MessageStatus.MERGED, latest)
    assert [r.body for r in fake_twilio.requests] == ["Order 1001 is out for delivery today."]


def test_news_with_nothing_earlier_to_replace_costs_no_merge(order, fake_twilio):
    with CaptureQueriesContext(connection) as queries:
        compose(order, kind="shipped", key="milestone:shipped")

    # The frequency caps and the merge window are counted in one query; with nothing to merge, no UPDATE.
    assert [q["sql"].split()[0] for q in queries.captured_queries].count("UPDATE") == 0


def test_the_frequency_cap_per_order_suppresses_the_fourth_message_of_a_day(order, fake_twilio, run_jobs):
    for i in range(4):
        compose(order, key=f"case:{i}", now=NOON + dt.timedelta(hours=i))
    run_jobs()

    statuses = list(Message.objects.order_by("created_at").values_list("status", flat=True))
    assert statuses[:3] == [MessageStatus.SENT] * 3
    assert statuses[3] == MessageStatus.SUPPRESSED
    assert "Frequency cap" in Message.objects.get(status=MessageStatus.SUPPRESSED).error
    assert len(fake_twilio.requests) == 3


def test_the_frequency_cap_per_customer_counts_their_messages_of_the_week_about_every_order(order, fake_twilio):
    type(order.store.notification_settings).objects.filter(store=order.store).update(max_per_customer_per_week=2)
    another = OrderFactory(store=order.store, customer=order.customer, order_number="1002")
    someone_else = OrderFactory(store=order.store, customer=CustomerFactory(store=order.store), order_number="1003")
    compose(order, key="case:1", now=NOON - dt.timedelta(days=6))
    compose(someone_else, key="case:2", now=NOON - dt.timedelta(days=1))  # another customer's: not counted
    compose(another, key="case:3", now=NOON - dt.timedelta(days=1))

    third = compose(another, key="case:4", now=NOON)
    a_week_on = compose(another, key="case:5", now=NOON + dt.timedelta(days=1, hours=1))

    assert (third.status, third.error) == (
        MessageStatus.SUPPRESSED,
        "Frequency cap: 2 messages to this customer in a week.",
    )
    assert a_week_on.status == MessageStatus.QUEUED  # the first one is more than a week old by then


def test_an_opted_out_customer_is_not_messaged(order, fake_twilio, run_jobs):
    order.customer.sms_opted_out_at = NOON
    order.customer.save()

    message = compose(order)
    run_jobs()

    assert message.status == MessageStatus.SUPPRESSED
    assert fake_twilio.requests == []


def test_a_stop_that_arrives_before_the_send_cancels_it(order, fake_twilio, run_jobs):
    message = compose(order, now=LA_NIGHT)  # held until morning
    type(order.customer).objects.filter(pk=order.customer_id).update(sms_opted_out_at=LA_NIGHT)

    with time_machine.travel(dt.datetime(2026, 11, 19, 16, 0, tzinfo=dt.UTC), tick=False):
        messages_dispatch()
        run_jobs()

    message.refresh_from_db()
    assert message.status == MessageStatus.SUPPRESSED and fake_twilio.requests == []


def test_a_twilio_outage_is_retried_with_backoff_then_succeeds_once(order, fake_twilio, run_jobs):
    fake_twilio.queue_status(500)
    message = compose(order)
    run_jobs()
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and "Retrying" in message.error

    with time_machine.travel(message.scheduled_for, tick=False):
        messages_dispatch()
        run_jobs()

    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    assert len(fake_twilio.messages) == 1  # one message accepted by Twilio


def test_a_permanent_failure_is_recorded_not_retried_and_opts_the_number_out(order, fake_twilio, run_jobs):
    fake_twilio.queue_error(21610, message="Attempt to send to unsubscribed recipient")
    message = compose(order)
    run_jobs()
    messages_dispatch()
    run_jobs()

    message.refresh_from_db()
    order.customer.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.error.startswith("21610")
    assert order.customer.sms_opted_out_at is not None
    assert len(fake_twilio.requests) == 1


def test_a_send_that_may_have_reached_twilio_is_flagged_for_review_never_resent(order, fake_twilio, run_jobs):
    fake_twilio.queue_delay(3)  # longer than the client's timeout: Twilio got it, we never heard back
    message = compose(order)
    run_jobs()
    messages_dispatch()
    run_jobs()

    message.refresh_from_db()
    assert message.status == MessageStatus.REVIEW
    assert len(fake_twilio.requests) == 1


def test_a_worker_that_died_between_the_provider_call_and_the_commit_leaves_a_message_to_review(order, fake_twilio):
    message = compose(order)
    # The worker claimed it and called Twilio, then died before recording the outcome.
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING, claimed_at=NOON)

    with time_machine.travel(NOON + dt.timedelta(minutes=3), tick=False):
        messages_dispatch()

    message.refresh_from_db()
    assert message.status == MessageStatus.REVIEW
    assert message_send(message.pk) is None  # never resent blindly


@pytest.mark.django_db(transaction=True)
def test_a_key_composed_again_returns_the_first_message_and_touches_nothing_else(order, fake_twilio, run_jobs):
    # Outside any transaction (as a worker composes): the repeat is found by the unique key alone.
    shipped = compose(order, kind="shipped", key="milestone:shipped")
    latest = compose(order, kind="out_for_delivery", key="milestone:ofd", now=NOON + dt.timedelta(minutes=1))

    again = compose(order, kind="shipped", key="milestone:shipped", now=NOON + dt.timedelta(minutes=2))

    shipped.refresh_from_db()
    latest.refresh_from_db()
    assert again.pk == shipped.pk and again.status == MessageStatus.MERGED
    assert latest.status == MessageStatus.QUEUED  # the repeat did not merge the newer message into the old one
    assert Message.objects.count() == 2
    run_jobs()
    assert [r.body for r in fake_twilio.requests] == ["Order 1001 is out for delivery today."]


def test_a_key_composed_again_over_the_frequency_cap_is_still_the_first_message(order, fake_twilio):
    first = compose(order, key="case:0")
    for i in range(1, 3):
        compose(order, key=f"case:{i}", now=NOON + dt.timedelta(minutes=i))

    again = compose(order, key="case:0", now=NOON + dt.timedelta(minutes=5))

    assert again.pk == first.pk
    assert not Message.objects.filter(status=MessageStatus.SUPPRESSED).exists()
    assert Message.objects.count() == 3


def test_in_a_batch_a_customer_who_heard_nothing_this_week_is_composed_to_without_counting(order, fake_twilio):
    from cxhub.memo import memo_scope
    from notifications.services import customers_quiet_note

    quiet = OrderFactory(store=order.store, customer=CustomerFactory(store=order.store), order_number="1002")
    compose(order, key="earlier", now=NOON - dt.timedelta(days=2))
    with memo_scope(), time_machine.travel(NOON, tick=False):
        customers_quiet_note([order.customer_id, quiet.customer_id])
        with CaptureQueriesContext(connection) as queries:
            compose(quiet, key="case:1")
            compose(order, key="case:2")

    counts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT")]
    assert len(counts) == 1  # only for the customer we wrote to two days ago
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.QUEUED}


def test_in_a_batch_the_caps_still_count_what_the_batch_itself_composed(order, fake_twilio):
    from cxhub.memo import memo_scope
    from notifications.services import customers_quiet_note

    type(order.store.notification_settings).objects.filter(store=order.store).update(max_per_customer_per_week=1)
    another = OrderFactory(store=order.store, customer=order.customer, order_number="1002")
    with memo_scope(), time_machine.travel(NOON, tick=False):
        customers_quiet_note([order.customer_id])
        first = compose(order, key="case:1")
        second = compose(another, key="case:2")

    assert first.status == MessageStatus.QUEUED
    assert (second.status, second.error) == (
        MessageStatus.SUPPRESSED,
        "Frequency cap: 1 messages to this customer in a week.",
    )
