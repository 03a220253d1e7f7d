"""Twilio's requests to the hub, signed as Twilio signs them: status callbacks and customers' replies."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from django.utils import timezone
from twilio.request_validator import RequestValidator

from notifications.channels.sms import SmsChannel
from notifications.choices import MessageKind, MessageStatus
from notifications.inbound import inbound_keyword
from notifications.models import Message
from orders.choices import Channel
from orders.models import Customer, Ticket
from tests.factories import CustomerFactory, OrderFactory, StoreFactory

pytest_plugins = ["tests.fakes.twilio"]
pytestmark = pytest.mark.django_db

TOKEN = "twilio-auth-token-0123456789abcdef"
ACCOUNT = "AC" + "5" * 32
PHONE = "+14155550123"
HUB_NUMBER = "+15005550006"
STATUS_PATH = "/webhooks/twilio/status/"
INBOUND_PATH = "/webhooks/twilio/inbound/"
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response />'


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_ACCOUNT_SID = ACCOUNT
    settings.PUBLIC_BASE_URL = "http://testserver"


def post_twilio(client, path: str, params: dict, *, signature: str | None = None, signed_url: str = ""):
    """POST a form as Twilio does, signed over the URL it called (or `signed_url`)."""
    url = signed_url or f"http://testserver{path}"
    if signature is None:
        signature = RequestValidator(TOKEN).compute_signature(url, params)
    headers = {"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}
    return client.post(path, urlencode(params), content_type="application/x-www-form-urlencoded", **headers)


def make_message(*, status: str = MessageStatus.SENT, provider_id: str = "", **values) -> Message:
    order = OrderFactory(customer__phone=PHONE)
    return Message.objects.create(
        store=order.store,
        customer=order.customer,
        order=order,
        kind=MessageKind.DELAY,
        channel=Channel.SMS,
        to=PHONE,
        body_text="Your parcel is running a day late.",
        idempotency_key=f"test:{uuid.uuid4()}",
        status=status,
        provider_id=provider_id or "SM" + uuid.uuid4().hex,
        sent_at=timezone.now() - timedelta(minutes=1) if status != MessageStatus.SENDING else None,
        **values,
    )


def callback(message: Message, status: str, **extra) -> dict:
    params = {
        "MessageSid": message.provider_id,
        "SmsSid": message.provider_id,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": ACCOUNT,
        "From": HUB_NUMBER,
        "To": message.to,
        "ApiVersion": "2010-04-01",
    }
    return {**params, **extra}


def status_path(message: Message) -> str:
    return f"{STATUS_PATH}?m={message.public_id}"


def inbound(body: str, *, sid: str = "", phone: str = PHONE, **extra) -> dict:
    return {
        "MessageSid": sid or "SM" + uuid.uuid4().hex,
        "SmsSid": sid or "SM" + uuid.uuid4().hex,
        "AccountSid": ACCOUNT,
        "From": phone,
        "To": HUB_NUMBER,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "FromCountry": "US",
        "ApiVersion": "2010-04-01",
        **extra,
    }


# --- status callbacks ---------------------------------------------------------------------------------------


def test_it_marks_a_sent_message_delivered_from_a_signed_callback(client):
    message = make_message()

    response = post_twilio(client, status_path(message), callback(message, "delivered"))

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert message.delivered_at is not None


@pytest.mark.parametrize(
    ("twilio_status", "code"), [("undelivered", "30003"), ("failed", "30007"), ("undelivered", "30006")]
)
def test_it_records_twilios_error_code_when_a_message_fails(client, twilio_status, code):
    message = make_message()

    response = post_twilio(client, status_path(message), callback(message, twilio_status, ErrorCode=code))

    assert response.status_code == 200
    message.refresh_from_db()
    assert (message.status, message.error) == (twilio_status, code)
    assert message.delivered_at is None


def test_it_finds_the_message_by_twilios_sid_when_the_url_has_no_public_id(client):
    message = make_message()

    post_twilio(client, STATUS_PATH, callback(message, "delivered"))

    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_it_falls_back_to_twilios_sid_when_the_public_id_is_unknown(client):
    message = make_message()

    post_twilio(client, f"{STATUS_PATH}?m={uuid.uuid4()}", callback(message, "delivered"))

    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl"], ids=["missing", "wrong"])
def test_it_refuses_an_unsigned_or_badly_signed_callback_and_changes_nothing(client, signature):
    message = make_message()

    response = post_twilio(client, status_path(message), callback(message, "delivered"), signature=signature)

    assert response.status_code == 401
    assert "error" in response.json()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_it_refuses_a_callback_signed_with_another_token(client):
    message = make_message()
    url = f"http://testserver{status_path(message)}"
    params = callback(message, "delivered")
    forged = RequestValidator("some-other-token").compute_signature(url, params)

    assert post_twilio(client, status_path(message), params, signature=forged).status_code == 401
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_it_checks_the_signature_against_the_hubs_public_url_behind_a_proxy(client, settings):
    # Twilio called https://hub.example.com; the proxy forwarded to the app as http://testserver.
    settings.PUBLIC_BASE_URL = "https://hub.example.com"
    message = make_message()
    params = callback(message, "delivered")

    as_seen_inside = post_twilio(client, status_path(message), params)
    assert as_seen_inside.status_code == 401

    public = f"https://hub.example.com{status_path(message)}"
    assert post_twilio(client, status_path(message), params, signed_url=public).status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_it_keeps_a_delivered_message_delivered_when_a_late_sent_arrives(client):
    message = make_message()
    post_twilio(client, status_path(message), callback(message, "delivered"))
    delivered_at = Message.objects.get(pk=message.pk).delivered_at

    for late in ("sent", "queued", "undelivered"):
        response = post_twilio(client, status_path(message), callback(message, late, ErrorCode="30003"))
        assert response.status_code == 200

    message.refresh_from_db()
    assert (message.status, message.delivered_at, message.error) == (MessageStatus.DELIVERED, delivered_at, "")


def test_it_settles_a_message_whose_send_outcome_was_unknown(client):
    message = make_message(status=MessageStatus.REVIEW)
    Message.objects.filter(pk=message.pk).update(provider_id="", sent_at=None)
    sid = "SM" + uuid.uuid4().hex

    post_twilio(client, status_path(message), {**callback(message, "sent"), "MessageSid": sid})

    message.refresh_from_db()
    assert (message.status, message.provider_id) == (MessageStatus.SENT, sid)
    assert message.sent_at is not None


@pytest.mark.parametrize(
    "path",
    [f"{STATUS_PATH}?m={uuid.uuid4()}", f"{STATUS_PATH}?m=not-a-uuid", STATUS_PATH],
    ids=["unknown-public-id", "garbage-public-id", "unknown-sid"],
)
def test_it_answers_200_to_callbacks_for_messages_it_does_not_know(client, path):
    message = make_message()
    params = {**callback(message, "delivered"), "MessageSid": "SM" + "0" * 32, "SmsSid": "SM" + "0" * 32}

    response = post_twilio(client, path, params)

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_it_only_accepts_post(client):
    assert client.get(STATUS_PATH).status_code == 405
    assert client.get(INBOUND_PATH).status_code == 405


def test_it_follows_a_message_from_the_sdk_send_to_its_delivery_receipt(client, fake_twilio, settings):
    settings.TWILIO_AUTH_TOKEN = fake_twilio.auth_token
    message = make_message(status=MessageStatus.SENDING, provider_id="pending")
    message.provider_id = SmsChannel().send(message)
    Message.objects.filter(pk=message.pk).update(provider_id=message.provider_id, status=MessageStatus.SENT)

    # Twilio calls back the exact URL the SDK gave it, signed with the account's token.
    url = fake_twilio.requests[0].status_callback
    path = urlsplit(url).path + "?" + urlsplit(url).query
    params = callback(message, "delivered")
    signature = RequestValidator(fake_twilio.auth_token).compute_signature(url, params)
    response = post_twilio(client, path, params, signature=signature)

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


# --- replies ------------------------------------------------------------------------------------------------


@pytest.fixture
def households():
    """The same number at two stores (a repeat buyer), and a neighbour with another number."""
    first = CustomerFactory(phone=PHONE, store=StoreFactory(name="Acme Outdoor"))
    second = CustomerFactory(phone=PHONE, store=StoreFactory(name="Blue Kettle"))
    neighbour = CustomerFactory(phone="+14155550999")
    return first, second, neighbour


@pytest.mark.parametrize("body", ["STOP", "stop ", "Unsubscribe", " Cancel\n", "stopall", "Stop."])
def test_it_opts_the_number_out_for_every_customer_who_has_it(client, households, body):
    first, second, neighbour = households

    response = post_twilio(client, INBOUND_PATH, inbound(body))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    # Twilio itself sends the confirmation carriers require: the hub answers with empty TwiML.
    assert response.content == EMPTY_TWIML
    assert Customer.objects.filter(pk__in=[first.pk, second.pk], sms_opted_out_at__isnull=False).count() == 2
    assert Customer.objects.get(pk=neighbour.pk).sms_opted_out_at is None
    assert not Ticket.objects.exists()


def test_it_honours_twilios_own_opt_out_verdict_for_localised_keywords(client, households):
    post_twilio(client, INBOUND_PATH, inbound("ARRET", OptOutType="STOP"))

    assert Customer.objects.filter(phone=PHONE, sms_opted_out_at__isnull=True).count() == 0
    assert not Ticket.objects.exists()


def test_it_reads_a_national_number_the_way_twilio_sends_it_in_e164(client, households):
    post_twilio(client, INBOUND_PATH, inbound("STOP", phone="+1 (415) 555-0123"))

    assert Customer.objects.filter(phone=PHONE, sms_opted_out_at__isnull=True).count() == 0


def test_it_keeps_the_first_opt_out_time_when_stop_is_sent_again(client, households):
    post_twilio(client, INBOUND_PATH, inbound("STOP"))
    first_time = Customer.objects.get(pk=households[0].pk).sms_opted_out_at

    post_twilio(client, INBOUND_PATH, inbound("STOP"))

    assert Customer.objects.get(pk=households[0].pk).sms_opted_out_at == first_time


@pytest.mark.parametrize("body", ["START", "yes", " Unstop "])
def test_it_opts_the_number_back_in_on_start(client, households, body):
    post_twilio(client, INBOUND_PATH, inbound("STOP"))

    response = post_twilio(client, INBOUND_PATH, inbound(body))

    assert response.status_code == 200
    assert response.content == EMPTY_TWIML
    assert Customer.objects.filter(phone=PHONE, sms_opted_out_at__isnull=False).count() == 0
    assert SmsChannel().address_for(Customer.objects.get(pk=households[0].pk)) == PHONE


@pytest.mark.parametrize("body", ["HELP", "info", "Help "])
def test_it_answers_help_with_the_stores_support_details(client, body):
    store = StoreFactory(
        name="Acme Outdoor",
        support_email="care@acme.example",
        support_phone="+18005550100",
        support_url="https://acme.example/help",
    )
    CustomerFactory(phone=PHONE, store=store)

    response = post_twilio(client, INBOUND_PATH, inbound(body))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    text = response.content.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>')
    for detail in ("Acme Outdoor", "care@acme.example", "+1 800-555-0100", "https://acme.example/help", "STOP"):
        assert detail in text
    assert not Ticket.objects.exists()


def test_it_answers_help_for_the_store_of_the_most_recent_order(client):
    now = timezone.now()
    OrderFactory(customer__phone=PHONE, store=StoreFactory(name="Old Shop"), placed_at=now - timedelta(days=90))
    OrderFactory(customer__phone=PHONE, store=StoreFactory(name="New & Shiny"), placed_at=now - timedelta(days=2))

    text = post_twilio(client, INBOUND_PATH, inbound("HELP")).content.decode()

    assert "New &amp; Shiny" in text
    assert "Old Shop" not in text


def test_it_turns_any_other_reply_into_one_ticket_on_the_latest_order_even_when_delivered_twice(client):
    now = timezone.now()
    older = OrderFactory(customer__phone=PHONE, placed_at=now - timedelta(days=30))
    latest = OrderFactory(customer=older.customer, store=older.store, placed_at=now - timedelta(days=2))
    params = inbound("The parcel says delivered but it is not here", sid="SM" + "7" * 32)

    first = post_twilio(client, INBOUND_PATH, params)
    again = post_twilio(client, INBOUND_PATH, params)  # Twilio retried the webhook

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.content == EMPTY_TWIML
    ticket = Ticket.objects.get()
    assert ticket.order == latest
    assert ticket.store == latest.store
    assert ticket.customer == older.customer
    assert (ticket.reason, ticket.channel, ticket.source) == ("other", "sms", "twilio")
    assert ticket.external_id == "SM" + "7" * 32
    assert ticket.body == "The parcel says delivered but it is not here"


def test_it_files_a_reply_from_a_customer_without_orders_under_that_customer(client):
    customer = CustomerFactory(phone=PHONE)

    post_twilio(client, INBOUND_PATH, inbound("Do you ship to Canada?"))

    ticket = Ticket.objects.get()
    assert (ticket.customer, ticket.store, ticket.order) == (customer, customer.store, None)


def test_it_keeps_links_to_pictures_a_customer_sends(client):
    OrderFactory(customer__phone=PHONE)
    media = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"

    post_twilio(client, INBOUND_PATH, inbound("Box arrived crushed", NumMedia="1", MediaUrl0=media))

    assert Ticket.objects.get().body == f"Box arrived crushed\nAttachment: {media}"


@pytest.mark.parametrize("body", ["Where is my order?", "STOP"])
def test_it_answers_an_unknown_number_with_empty_twiml_and_stores_nothing(client, households, body):
    response = post_twilio(client, INBOUND_PATH, inbound(body, phone="+14155550777"))

    assert response.status_code == 200
    assert response.content == EMPTY_TWIML
    assert not Ticket.objects.exists()
    assert not Customer.objects.filter(sms_opted_out_at__isnull=False).exists()


@pytest.mark.parametrize("body", ["STOP", "Where is my order?"])
def test_it_refuses_an_inbound_message_with_a_bad_signature_and_stores_nothing(client, households, body):
    response = post_twilio(client, INBOUND_PATH, inbound(body), signature="bm90IGEgc2lnbmF0dXJl")

    assert response.status_code == 401
    assert not Ticket.objects.exists()
    assert not Customer.objects.filter(sms_opted_out_at__isnull=False).exists()


@pytest.mark.parametrize(
    ("body", "keyword"),
    [
        ("STOP", "stop"),
        ("  quit\n", "stop"),
        ("Revoke", "stop"),
        ("OPTOUT", "stop"),
        ("stop!", "stop"),
        ("end", "stop"),
        ("Start", "start"),
        ("YES", "start"),
        ("Yes!", None),
        ("info", "help"),
        ("please stop texting me", None),
        ("stop it", None),
        ("helpful, thanks", None),
        ("", None),
    ],
)
def test_it_recognises_keywords_only_as_the_whole_message(body, keyword):
    assert inbound_keyword(body) == keyword


@pytest.mark.parametrize("path", ["/webhooks/twilio/status/", "/webhooks/twilio/inbound/"])
def test_a_get_is_answered_with_a_json_405_naming_post(client, path):
    response = client.get(path)

    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json() == {"error": "method GET not allowed: POST here"}
