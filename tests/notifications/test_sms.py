"""The SMS channel: the official Twilio SDK against a fake Twilio API on loopback."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.channels import ChannelError, get_channel
from notifications.channels.sms import RedirectingHttpClient, SmsChannel
from notifications.choices import MessageKind
from notifications.models import Message
from notifications.rendering import sms_body
from orders.choices import Channel
from tests.factories import CustomerFactory, OrderFactory
from tests.services import free_port

pytest_plugins = ["tests.fakes.twilio"]
pytestmark = pytest.mark.django_db

SID = re.compile(r"^SM[0-9a-f]{32}$")


def make_message(body: str = "Your order #1001 is out for delivery today.", **values) -> Message:
    order = OrderFactory(customer__phone="+14155550123")
    values = {
        "store": order.store,
        "customer": order.customer,
        "order": order,
        "kind": MessageKind.OUT_FOR_DELIVERY,
        "channel": Channel.SMS,
        "to": order.customer.phone,
        "body_text": body,
        "idempotency_key": f"test:{order.pk}:{body}",
        **values,
    }
    return Message.objects.create(**values)


def test_messages_sent_one_after_another_share_one_connection_to_twilio(fake_twilio):
    SmsChannel().send(make_message("First."))
    SmsChannel().send(make_message("Second."))

    first, second = fake_twilio.requests
    assert first.client_port == second.client_port  # no new TCP (and TLS) handshake per message


def send_failure(message: Message) -> ChannelError:
    with pytest.raises(ChannelError) as caught:
        SmsChannel().send(message)
    return caught.value


def test_it_is_the_channel_the_registry_gives_for_sms():
    assert isinstance(get_channel("sms"), SmsChannel)
    assert SmsChannel.kind == "sms"


def test_it_posts_one_message_to_twilio_and_returns_twilios_sid(fake_twilio):
    message = make_message()

    provider_id = SmsChannel().send(message)

    assert len(fake_twilio.requests) == 1
    sent = fake_twilio.requests[0]
    assert sent.path == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    assert sent.auth == (fake_twilio.account_sid, fake_twilio.auth_token)
    assert sent.to == "+14155550123"
    assert sent.body == "Your order #1001 is out for delivery today."
    assert sent.from_ == "+15005550006"
    assert sent.messaging_service_sid == ""
    assert sent.status_callback == f"http://testserver/webhooks/twilio/status/?m={message.public_id}"
    assert SID.match(provider_id)
    assert provider_id == fake_twilio.messages[0]["sid"]


def test_it_sends_through_the_messaging_service_when_one_is_set(fake_twilio, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "a1" * 16

    provider_id = SmsChannel().send(make_message())

    sent = fake_twilio.requests[0]
    assert sent.messaging_service_sid == settings.TWILIO_MESSAGING_SERVICE_SID
    assert "From" not in sent.form
    assert fake_twilio.messages[0]["status"] == "accepted"
    assert SID.match(provider_id)


def test_it_replaces_no_break_spaces_so_the_sms_stays_in_one_gsm7_segment(fake_twilio):
    body = "Your parcel\xa0#1001 arrives today \u2019 between 2\xa0and\u00a04\u202fpm \u2013 track it online."

    SmsChannel().send(make_message(body=body))

    sent = fake_twilio.requests[0].body
    assert sent == "Your parcel #1001 arrives today ' between 2 and 4 pm - track it online."
    assert fake_twilio.messages[0]["num_segments"] == "1"


def test_it_keeps_characters_gsm7_cannot_say():
    assert sms_body("Danke schön, Zoë 📦") == "Danke schön, Zoë 📦"


@pytest.mark.parametrize("code", [21211, 21408, 21610, 21614])
def test_it_fails_permanently_when_twilio_refuses_the_recipient(fake_twilio, code):
    fake_twilio.queue_error(code)

    error = send_failure(make_message())

    assert error.permanent is True
    assert error.unknown_outcome is False
    assert error.code == str(code)
    assert len(fake_twilio.requests) == 1


@pytest.mark.parametrize(
    "program",
    [
        lambda fake: fake.queue_error(20429, status=429),
        lambda fake: fake.queue_status(429),
        lambda fake: fake.queue_status(500),
        lambda fake: fake.queue_status(503),
    ],
    ids=["429-with-code", "429-bare", "500", "503"],
)
def test_it_fails_transiently_when_twilio_is_busy_or_down(fake_twilio, program):
    program(fake_twilio)

    error = send_failure(make_message())

    assert error.permanent is False
    assert error.unknown_outcome is False


def test_it_fails_transiently_when_the_credentials_are_wrong(fake_twilio, settings):
    settings.TWILIO_AUTH_TOKEN = "not-the-token"

    error = send_failure(make_message())

    assert (error.permanent, error.unknown_outcome, error.code) == (False, False, "20003")


def test_it_flags_an_unknown_outcome_when_twilio_answers_after_the_timeout(fake_twilio):
    fake_twilio.queue_delay(3)

    error = send_failure(make_message())

    assert error.unknown_outcome is True
    assert error.permanent is False
    # Why it must not be resent blindly: Twilio did get it, and created the message.
    assert len(fake_twilio.messages) == 1


def test_it_flags_an_unknown_outcome_when_the_connection_drops_after_sending(fake_twilio):
    fake_twilio.queue_drop()

    error = send_failure(make_message())

    assert (error.permanent, error.unknown_outcome) == (False, True)
    assert len(fake_twilio.requests) == 1


def test_it_knows_nothing_was_sent_when_it_cannot_connect(fake_twilio, settings):
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{free_port()}"

    error = send_failure(make_message())

    assert (error.permanent, error.unknown_outcome, error.code) == (False, False, "connection")
    assert fake_twilio.requests == []


def test_it_refuses_to_send_without_configuration(settings):
    settings.TWILIO_ACCOUNT_SID = ""

    error = send_failure(make_message())

    assert (error.permanent, error.code) == (False, "not_configured")


def test_it_is_configured_with_credentials_and_a_from_number_or_messaging_service(settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 32, "token"
    settings.TWILIO_FROM_NUMBER, settings.TWILIO_MESSAGING_SERVICE_SID = "", ""
    assert not SmsChannel().is_configured()
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "0" * 32
    assert SmsChannel().is_configured()
    settings.TWILIO_MESSAGING_SERVICE_SID, settings.TWILIO_FROM_NUMBER = "", "+15005550006"
    assert SmsChannel().is_configured()
    settings.TWILIO_AUTH_TOKEN = ""
    assert not SmsChannel().is_configured()


def test_it_addresses_a_customer_by_phone_until_they_opt_out():
    customer = CustomerFactory(phone="+14155550199")
    assert SmsChannel().address_for(customer) == "+14155550199"

    customer.sms_opted_out_at = timezone.now() - timedelta(days=1)
    assert SmsChannel().address_for(customer) == ""


def test_it_sends_every_request_to_the_configured_api_unless_that_is_twilio():
    local = RedirectingHttpClient(base_url="http://127.0.0.1:8765/", timeout=1)
    assert (
        local.rewrite("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?x=1")
        == "http://127.0.0.1:8765/2010-04-01/Accounts/AC1/Messages.json?x=1"
    )
    twilio = RedirectingHttpClient(base_url="https://api.twilio.com", timeout=1)
    url = "https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC1/Messages.json"
    assert twilio.rewrite(url) == url
