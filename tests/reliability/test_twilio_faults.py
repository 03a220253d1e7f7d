"""The fake Twilio answering 500, 429 and time-outs: sends are retried with backoff (10 s, 1 min, 5 min) through
RQ's scheduler, then succeed or end recorded as failed; a send Twilio may have received is flagged for review,
never repeated; and nothing is ever sent twice, even when the cron's dispatcher fires alongside the retries.

Real SDK, real HTTP to the fake on loopback, real Redis; the clock is frozen and moved by hand, and the
scheduler and cron are ticked as `rqworker --with-scheduler` and `rqcron cxhub.cron` would.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

import pytest
import time_machine
from django.utils import timezone

from notifications.choices import MessageStatus
from notifications.models import Message
from notifications.services import RETRY_BACKOFF, message_compose
from tests.factories import MessageTemplateFactory, NotificationSettingsFactory, OrderFactory, StoreFactory
from tests.reliability.helpers import count_by, cron_tick, queued_jobs, scheduled_at, scheduler_tick

pytest_plugins = ["tests.fakes.twilio"]
pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 11, 18, 20, 0, tzinfo=dt.UTC)  # noon in Los Angeles, the customers' zone: no quiet hours
SECOND = dt.timedelta(seconds=1)

Fault = Callable[[object], None]


def status(code: int) -> Fault:
    return lambda fake: fake.queue_status(code)


def rate_limited(fake) -> None:
    fake.queue_error(20429, status=429)


def answers_too_late(fake) -> None:
    fake.queue_delay(1)  # the client gives up first (see `quick_timeout`); Twilio has created the message by then


def drops_the_connection(fake) -> None:
    fake.queue_drop()


def accepts(fake) -> None:
    fake.queue_delay(0)


@pytest.fixture(autouse=True)
def quick_timeout(settings, fake_twilio) -> None:
    """Give up on Twilio after a quarter of a second (production: 10 s) to keep the time-outs quick."""
    settings.TWILIO_TIMEOUT_SECONDS = 0.25


@pytest.fixture
def store():
    store = StoreFactory(slug="acme")
    NotificationSettingsFactory(store=store)
    MessageTemplateFactory(store=store, kind="delay", channel="sms", body_text="Order {{ order_number }} is late.")
    return store


def compose(store, n: int = 0) -> Message:
    order = OrderFactory(store=store, customer__phone=f"+1415555{7000 + n}")
    return message_compose(order=order, kind="delay", key=f"delay:{order.pk}")


def tick() -> None:
    """One second of a production install: the scheduler moves due retries to the queue, the cron's
    dispatcher re-enqueues whatever is due as well (a second job for the same send), workers run both."""
    scheduler_tick()
    cron_tick(only=["messages_dispatch_job"])


def requests_for(fake_twilio, message: Message) -> list:
    return [r for r in fake_twilio.requests if str(message.public_id) in r.status_callback]


def accepted_for(fake_twilio, message: Message) -> list:
    return [m for m in fake_twilio.messages if m["to"] == message.to]


@pytest.mark.parametrize(
    ("case", "faults", "final", "attempts"),
    [
        ("500_then_accepted", [status(500)], MessageStatus.SENT, 2),
        ("429_twice_then_accepted", [rate_limited, status(429)], MessageStatus.SENT, 3),
        ("503_at_every_attempt_until_it_gives_up", [status(503)] * 4, MessageStatus.FAILED, 4),
        ("timeout_after_twilio_got_it", [answers_too_late], MessageStatus.REVIEW, 1),
        ("connection_dropped_mid_request", [drops_the_connection], MessageStatus.REVIEW, 1),
    ],
)
def test_a_send_is_retried_with_backoff_then_ends_sent_failed_or_flagged_and_never_twice(
    case, faults, final, attempts, store, fake_twilio, run_jobs
):
    for fault in faults:
        fault(fake_twilio)

    with time_machine.travel(NOON, tick=False) as clock:
        message = compose(store)
        run_jobs()
        for attempt in range(1, attempts):
            message.refresh_from_db()
            retry_at = timezone.now() + RETRY_BACKOFF[attempt - 1]
            assert (message.status, message.scheduled_for, message.attempts) == (
                MessageStatus.QUEUED, retry_at, attempt
            ), case  # fmt: skip
            assert message.error.startswith("Retrying: Twilio"), case
            assert scheduled_at("high", f"message-{message.pk}-{attempt + 1}") == retry_at, case

            clock.move_to(retry_at - SECOND)
            tick()
            run_jobs()
            assert len(fake_twilio.requests) == attempt, f"{case}: retried before its backoff ran out"

            clock.move_to(retry_at)
            tick()
            run_jobs()

        message.refresh_from_db()
        assert (message.status, message.attempts) == (final, attempts), (case, message.error)
        requests, accepted = requests_for(fake_twilio, message), accepted_for(fake_twilio, message)
        assert len(requests) == attempts == len(fake_twilio.requests), case
        if final == MessageStatus.SENT:
            assert [a["sid"] for a in accepted] == [message.provider_id], case
            assert message.error == ""
        elif final == MessageStatus.FAILED:
            assert accepted == [], case
            assert message.error.startswith("503: Twilio 503"), case
        else:
            assert len(accepted) <= 1 and message.error.startswith("Outcome unknown"), case

        # Nothing is left to fire: later scheduler and cron ticks never send it again.
        clock.move_to(NOON + dt.timedelta(hours=2))
        tick()
        run_jobs()
        assert len(fake_twilio.requests) == attempts, case
        assert queued_jobs() == 0


def test_a_batch_through_a_flaky_twilio_sends_each_message_at_most_once(store, fake_twilio, run_jobs):
    rng = random.Random(8)
    faults = [status(500), status(503), rate_limited] * 3 + [answers_too_late, drops_the_connection, accepts, accepts]
    for _ in range(60):
        rng.choice(faults)(fake_twilio)

    with time_machine.travel(NOON, tick=False) as clock:
        messages = [compose(store, n) for n in range(12)]
        run_jobs()
        for wait in [*RETRY_BACKOFF, dt.timedelta(hours=1)]:
            clock.shift(wait)
            tick()
            run_jobs()

    outcomes = count_by(Message.objects.values_list("status", flat=True))
    assert set(outcomes) == {MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.REVIEW}, outcomes
    assert sum(outcomes.values()) == len(messages)
    for message in Message.objects.all():
        requests, accepted = requests_for(fake_twilio, message), accepted_for(fake_twilio, message)
        assert len(requests) == message.attempts <= len(RETRY_BACKOFF) + 1, message.error
        if message.status == MessageStatus.SENT:
            assert [a["sid"] for a in accepted] == [message.provider_id]
        elif message.status == MessageStatus.FAILED:
            assert accepted == [] and message.attempts == len(RETRY_BACKOFF) + 1
        else:
            assert len(accepted) <= 1
            # Flagged at the first uncertain answer: never tried again after it.
            assert requests[-1] is not None and message.error.startswith("Outcome unknown")
    assert queued_jobs() == 0
