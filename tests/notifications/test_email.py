"""The email channel against a real SMTP server on loopback, and the unsubscribe link it carries."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.test import Client

from notifications.channels import ChannelError, get_channel
from notifications.channels.email import EmailChannel
from notifications.choices import MessageKind
from notifications.models import Message
from notifications.unsubscribe import SALT, unsubscribe_token, unsubscribe_url
from orders.choices import Channel
from portal.branding import branding
from tests.factories import CustomerFactory, OrderFactory, StoreFactory
from tests.services import free_port

pytest_plugins = ["tests.fakes.smtp"]
pytestmark = pytest.mark.django_db


def make_message(kind: str = MessageKind.DELAY, **values) -> Message:
    store = values.pop("store", None) or StoreFactory(
        name="Northwind", primary_colour="#0f766e", accent_colour="#f59e0b", support_email="care@northwind.example"
    )
    customer = values.pop("customer", None) or CustomerFactory(store=store, email="maya@example.com")
    order = OrderFactory(store=store, customer=customer)
    fields = {
        "store": store,
        "customer": order.customer,
        "order": order,
        "kind": kind,
        "channel": Channel.EMAIL,
        "to": order.customer.email,
        "subject": "A heads-up about order #1042",
        "body_text": "Hi Maya,\n\nYour order #1042 hit a delay.\n\nThe Northwind team\n",
        "body_html": "<p>Hi Maya,</p><p>Your order <strong>#1042</strong> hit a delay.</p>",
        "idempotency_key": f"test:{order.pk}:{kind}",
        **values,
    }
    return Message.objects.create(**fields)


def send_failure(message: Message) -> ChannelError:
    with pytest.raises(ChannelError) as caught:
        EmailChannel().send(message)
    return caught.value


def unsubscribe_path(received) -> str:
    return urlsplit(received["List-Unsubscribe"].strip().strip("<>")).path


# --- Sending ------------------------------------------------------------------------------------------------------


def test_it_is_the_channel_the_registry_gives_for_email():
    assert isinstance(get_channel("email"), EmailChannel)
    assert EmailChannel.kind == "email"


def test_a_real_smtp_server_receives_one_branded_email_with_text_and_html_parts(smtp_server):
    message = make_message()

    provider_id = EmailChannel().send(message)

    assert len(smtp_server.envelopes) == 1
    assert smtp_server.envelopes[0].rcpt_tos == ["maya@example.com"]
    received = smtp_server.messages[0]
    assert received["Subject"] == "A heads-up about order #1042"
    assert received["From"] == "Northwind <cx@localhost>"
    assert received["To"] == "maya@example.com"
    assert received["Reply-To"] == "care@northwind.example"
    assert received["X-CX-Message-Id"] == str(message.public_id)
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert text.startswith("Hi Maya,\n\nYour order #1042 hit a delay.")
    assert "<p>Your order <strong>#1042</strong> hit a delay.</p>" in html
    assert "Northwind" in html
    assert "background:#0f766e" in html  # the store's primary colour heads the email
    assert "#f59e0b" in html  # its accent colour
    assert 'href="mailto:care@northwind.example"' in html
    assert provider_id == received["Message-ID"] == f"<{message.public_id.hex}@localhost>"


def test_the_footer_shows_the_support_phone_as_people_read_it_and_dials_the_e164_number(smtp_server):
    store = StoreFactory(name="Northwind", support_email="care@northwind.example", support_phone="+14155550123")

    EmailChannel().send(make_message(store=store))

    html = smtp_server.messages[0].get_body(("html",)).get_content()
    assert re.search(r'<a href="tel:\+14155550123"[^>]*>\+1 415-555-0123</a>', html)


def test_the_message_id_is_the_same_on_a_retry_so_receivers_can_drop_a_duplicate(smtp_server):
    message = make_message()

    first, second = EmailChannel().send(message), EmailChannel().send(message)

    assert first == second
    assert [m["Message-ID"] for m in smtp_server.messages] == [first, first]
    assert len(first) <= Message._meta.get_field("provider_id").max_length


def test_the_sender_name_is_the_store_quoted_when_needed(smtp_server, settings):
    settings.DEFAULT_FROM_EMAIL = "CX hub <updates@hub.example>"
    store = StoreFactory(name="Acme, Inc.", support_email="")

    EmailChannel().send(make_message(store=store))

    received = smtp_server.messages[0]
    assert received["From"].addresses[0].display_name == "Acme, Inc."
    assert received["From"].addresses[0].addr_spec == "updates@hub.example"
    assert received["Reply-To"] is None
    assert received["Message-ID"].endswith("@hub.example>")


@pytest.mark.parametrize(
    "kind",
    [MessageKind.DELAY, MessageKind.SHIPPED, MessageKind.LOST_MAYBE, MessageKind.POST_DELIVERY_SURVEY],
)
def test_proactive_kinds_carry_one_click_unsubscribe_headers_and_a_footer_link(smtp_server, kind):
    message = make_message(kind=kind)

    EmailChannel().send(message)

    received = smtp_server.messages[0]
    url = unsubscribe_url(message.customer)
    assert received["List-Unsubscribe"].strip() == f"<{url}>"  # (folded onto its own line: it is long)
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f'href="{url}"' in received.get_body(("html",)).get_content()
    assert f"Unsubscribe: {url}" in received.get_body(("plain",)).get_content()


@pytest.mark.parametrize("kind", [MessageKind.ORDER_CONFIRMED, MessageKind.HELP_REPLY, MessageKind.TEST])
def test_transactional_kinds_carry_no_unsubscribe(smtp_server, kind):
    EmailChannel().send(make_message(kind=kind))

    received = smtp_server.messages[0]
    assert received["List-Unsubscribe"] is None
    assert received["List-Unsubscribe-Post"] is None
    assert "nsubscribe" not in received.get_body(("html",)).get_content()
    assert "nsubscribe" not in received.get_body(("plain",)).get_content()


def test_without_an_html_part_the_text_is_escaped_with_line_breaks_inside_the_layout(smtp_server):
    body = "Hi Tom & <Jerry>,\nline two\n\nSee https://northwind.example/help"

    EmailChannel().send(make_message(body_html="", body_text=body))

    html = smtp_server.messages[0].get_body(("html",)).get_content()
    assert "<p>Hi Tom &amp; &lt;Jerry&gt;,<br>line two</p>" in html
    assert '<a href="https://northwind.example/help" rel="nofollow">https://northwind.example/help</a>' in html
    assert "<Jerry>" not in html
    assert "Northwind" in html


def test_the_unsubscribe_link_in_a_received_email_opts_the_customer_out(smtp_server):
    message = make_message()
    EmailChannel().send(message)

    response = Client(enforce_csrf_checks=True).post(
        unsubscribe_path(smtp_server.messages[0]), {"List-Unsubscribe": "One-Click"}
    )

    assert response.status_code == 200
    message.customer.refresh_from_db()
    assert message.customer.email_opted_out_at is not None


def test_an_opted_out_customer_gets_no_more_proactive_email_but_still_transactional_ones(smtp_server):
    message = make_message()
    message.customer.email_opted_out_at = message.created_at
    message.customer.save()

    error = send_failure(message)
    EmailChannel().send(make_message(kind=MessageKind.HELP_REPLY, store=message.store, customer=message.customer))

    assert (error.permanent, error.code) == (True, "opted_out")
    assert len(smtp_server.messages) == 1


def test_address_for_is_the_email_unless_opted_out():
    channel = EmailChannel()

    assert channel.address_for(CustomerFactory(email="a@example.com")) == "a@example.com"
    assert channel.address_for(CustomerFactory(email="")) == ""
    assert channel.address_for(CustomerFactory(email="b@example.com", email_opted_out_at="2026-01-01T00:00Z")) == ""


def test_it_is_configured_when_an_email_backend_is_set(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert EmailChannel().is_configured() is True
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    assert EmailChannel().is_configured() is False


# --- SMTP failures ------------------------------------------------------------------------------------------------


def test_a_recipient_the_server_refuses_for_good_fails_permanently(smtp_server):
    smtp_server.refuse["maya@example.com"] = "550 5.1.1 No such user here"

    error = send_failure(make_message())

    assert (error.permanent, error.unknown_outcome, error.code) == (True, False, "550")
    assert "No such user here" in str(error)
    assert smtp_server.envelopes == []


def test_a_recipient_refused_for_now_is_retried(smtp_server):
    smtp_server.refuse["maya@example.com"] = "450 4.2.1 Mailbox busy, try later"

    error = send_failure(make_message())

    assert (error.permanent, error.code) == (False, "450")


def test_a_message_the_server_rejects_fails_permanently(smtp_server):
    smtp_server.data_reply = "554 5.7.1 Message rejected"

    error = send_failure(make_message())

    assert (error.permanent, error.code) == (True, "554")


def test_a_server_that_is_down_is_a_transient_failure(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens there

    error = send_failure(make_message())

    assert (error.permanent, error.unknown_outcome, error.code) == (False, False, "network")


@pytest.fixture
def rude_server(settings) -> Iterator[socket.socket]:
    """A TCP server that accepts a connection and hangs up at once."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.getsockname()
    yield server
    stop.set()
    thread.join(2)
    server.close()


def test_a_server_that_hangs_up_is_a_transient_failure(rude_server):
    error = send_failure(make_message())

    assert (error.permanent, error.code) == (False, "disconnected")


def test_a_server_that_never_answers_times_out_as_a_transient_failure(settings):
    silent = socket.create_server(("127.0.0.1", 0))  # listens, never accepts nor greets
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = silent.getsockname()
    settings.EMAIL_TIMEOUT = 0.3
    try:
        error = send_failure(make_message())
    finally:
        silent.close()

    assert (error.permanent, error.code) == (False, "timeout")


# --- Unsubscribe page -------------------------------------------------------------------------------------------------


@pytest.fixture
def customer():
    return CustomerFactory(email="maya@example.com", store__name="Northwind", store__accent_colour="#f59e0b")


def test_the_unsubscribe_link_is_absolute_and_unguessable(customer):
    url = unsubscribe_url(customer)

    assert url.startswith("http://testserver/unsubscribe/")
    token = urlsplit(url).path.split("/")[2]
    assert len(token.rsplit(":", 1)[1]) >= 40  # an HMAC-SHA256 signature, not just the id
    assert signing.Signer(salt=SALT).unsign_object(unsubscribe_token(customer)) == customer.pk
    assert unsubscribe_token(customer) == unsubscribe_token(customer)  # one stable link per customer


def test_get_shows_a_branded_confirmation_without_opting_out(customer):
    response = Client().get(f"/unsubscribe/{unsubscribe_token(customer)}/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "Unsubscribe from Northwind emails?" in content
    assert "maya@example.com" in content
    # Branded, with the pale accent (#f59e0b) made readable as the tracking page does.
    assert f"--link: {branding(customer.store)['link']};" in content
    assert re.search(r'<form method="post">\s*<input type="hidden" name="csrfmiddlewaretoken"', content)
    customer.refresh_from_db()
    assert customer.email_opted_out_at is None


def test_the_confirmation_form_post_opts_out(customer):
    client = Client(enforce_csrf_checks=True)
    url = f"/unsubscribe/{unsubscribe_token(customer)}/"
    page = client.get(url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)

    response = client.post(url, {"csrfmiddlewaretoken": token})

    assert response.status_code == 200
    assert "You're unsubscribed" in response.content.decode()
    customer.refresh_from_db()
    assert customer.email_opted_out_at is not None


def test_the_confirmation_form_post_needs_its_csrf_token(customer):
    response = Client(enforce_csrf_checks=True).post(f"/unsubscribe/{unsubscribe_token(customer)}/", {})

    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.email_opted_out_at is None


def test_a_one_click_post_opts_out_without_csrf(customer):
    response = Client(enforce_csrf_checks=True).post(
        f"/unsubscribe/{unsubscribe_token(customer)}/", "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )  # fmt: skip

    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.email_opted_out_at is not None


def test_unsubscribing_twice_keeps_the_first_date(customer):
    url = f"/unsubscribe/{unsubscribe_token(customer)}/"
    Client().post(url, {"List-Unsubscribe": "One-Click"})
    customer.refresh_from_db()
    first = customer.email_opted_out_at

    second_visit = Client().get(url)
    Client().post(url, {"List-Unsubscribe": "One-Click"})

    customer.refresh_from_db()
    assert customer.email_opted_out_at == first
    assert "You're unsubscribed" in second_visit.content.decode()


@pytest.mark.parametrize(
    "make_token",
    [
        lambda c: unsubscribe_token(c)[:-2] + ("AA" if not unsubscribe_token(c).endswith("AA") else "BB"),
        lambda c: (
            signing.Signer(salt=SALT).sign_object(c.pk + 1).split(":")[0] + ":" + unsubscribe_token(c).split(":")[1]
        ),
        lambda c: signing.Signer().sign_object(c.pk),  # signed for another purpose
        lambda c: signing.Signer(salt=SALT).sign_object("x"),
        lambda c: "garbage",
        lambda c: str(c.pk),
    ],
    ids=["tampered-signature", "swapped-id", "other-salt", "not-an-id", "garbage", "bare-id"],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_bad_token_gets_a_friendly_404_and_changes_nothing(customer, make_token, method):
    response = getattr(Client(), method)(f"/unsubscribe/{make_token(customer)}/", {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 404
    assert "This link is not valid" in response.content.decode()
    customer.refresh_from_db()
    assert customer.email_opted_out_at is None


def test_a_token_for_a_deleted_customer_gets_a_friendly_404(customer):
    token = unsubscribe_token(customer)
    customer.delete()

    response = Client().get(f"/unsubscribe/{token}/")

    assert response.status_code == 404
    assert "This link is not valid" in response.content.decode()
