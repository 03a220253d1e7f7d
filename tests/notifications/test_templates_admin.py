"""The template editor in the admin: validation on save, live preview against a real order, a test sent
to yourself over real SMTP, the default templates, and the outbox's review actions."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.admin import describe_length
from notifications.channels.sms import SmsChannel
from notifications.choices import MessageKind, MessageStatus
from notifications.defaults import DEFAULT_TEMPLATES, templates_seed
from notifications.models import Message, MessageTemplate
from notifications.rendering import SAMPLE_CONTEXT, message_context, render_message, sms_segments
from orders.choices import Channel
from tests.factories import OrderFactory, ShipmentFactory, StoreFactory

pytest_plugins = ["tests.fakes.smtp", "tests.fakes.twilio"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    return StoreFactory(name="Northwind", primary_colour="#0f766e", support_email="care@northwind.example")


@pytest.fixture
def newest_order(store):
    OrderFactory(
        store=store, order_number="#1001", customer__first_name="Olga", placed_at=timezone.now() - timedelta(days=9)
    )
    order = OrderFactory(store=store, order_number="#1042", customer__first_name="Maya")
    ShipmentFactory(order=order, carrier="ups", tracking_code="1Z999")
    return order


def email_template(store, **values) -> MessageTemplate:
    fields = {
        "store": store,
        "kind": MessageKind.DELAY,
        "channel": Channel.EMAIL,
        "subject": "A heads-up about order {{ order_number }}",
        "body_text": "Hi {{ first_name }}, your parcel with {{ carrier }} is late.",
        "body_html": "<p>Hi {{ first_name }}, your parcel with <b>{{ carrier }}</b> is late.</p>",
        **values,
    }
    return MessageTemplate.objects.create(**fields)


def sms_template(store, body: str = "{{ store_name }}: hi {{ first_name }}, order {{ order_number }} is late."):
    return MessageTemplate.objects.create(store=store, kind=MessageKind.DELAY, channel=Channel.SMS, body_text=body)


def change_url(template: MessageTemplate) -> str:
    return reverse("admin:notifications_messagetemplate_change", args=[template.pk])


def preview_url(template: MessageTemplate) -> str:
    return reverse("admin:notifications_messagetemplate_preview", args=[template.pk])


def form_data(template: MessageTemplate, **changes) -> dict:
    data = {
        "store": template.store_id,
        "kind": template.kind,
        "channel": template.channel,
        "is_active": "on",
        "subject": template.subject,
        "body_text": template.body_text,
        "body_html": template.body_html,
    }
    return {**data, **changes}


# --- Editing ------------------------------------------------------------------------------------------------------


def test_the_change_form_lists_the_placeholders_and_shows_a_preview(admin_client, store, newest_order):
    template = email_template(store)

    response = admin_client.get(change_url(template))

    assert response.status_code == 200
    content = response.content.decode()
    for name in ("first_name", "order_number", "tracking_url", "eta", "action", "offer", "support_url"):
        assert f"<code>{{{{ {name} }}}}</code>" in content
    assert f'<iframe id="cx-preview" name="cx-preview" title="Preview" src="{preview_url(template)}" sandbox' in content
    assert f'href="{preview_url(template)}"' in content  # works with JavaScript off
    assert 'id="cx-preview-refresh"' in content
    assert f'<option value="{newest_order.pk}">#1042' in content


def test_the_change_form_of_an_sms_template_shows_its_length_and_segments(admin_client, store):
    template = sms_template(store)

    response = admin_client.get(change_url(template))

    assert "characters · 1 segment (GSM-7)" in response.content.decode()


def test_a_broken_template_is_refused_on_save_with_the_error_on_its_field(admin_client, store):
    template = email_template(store)

    response = admin_client.post(change_url(template), form_data(template, body_text="Hi {{ first_name"))

    assert response.status_code == 200  # the form again, not a redirect
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["body_text"]
    assert errors["body_text"][0].startswith("Line 1: unexpected end of template")
    assert "unexpected end of template" in response.content.decode()
    template.refresh_from_db()
    assert template.body_text == "Hi {{ first_name }}, your parcel with {{ carrier }} is late."


def test_an_unknown_placeholder_is_refused_on_save(admin_client, store):
    template = email_template(store)

    response = admin_client.post(
        change_url(template), form_data(template, subject="Order {{ order.number }}", body_html="{{ customer }}")
    )

    errors = response.context["adminform"].form.errors
    assert set(errors) == {"subject", "body_html"}
    assert "Unknown placeholder {{ order }}" in errors["subject"][0]
    assert "Unknown placeholder {{ customer }}" in errors["body_html"][0]


def test_a_template_reaching_for_internals_is_refused_on_save(admin_client, store):
    template = sms_template(store)

    response = admin_client.post(change_url(template), form_data(template, body_text="{{ first_name.__class__ }}"))

    assert "unsafe" in response.context["adminform"].form.errors["body_text"][0]


def test_a_valid_edit_is_saved(admin_client, store):
    template = email_template(store)

    response = admin_client.post(change_url(template), form_data(template, subject="Update on {{ order_number }}"))

    assert response.status_code == 302
    template.refresh_from_db()
    assert template.subject == "Update on {{ order_number }}"


def test_a_new_template_can_be_added_once_valid(admin_client, store):
    url = reverse("admin:notifications_messagetemplate_add")
    assert "Save the template to preview it" in admin_client.get(url).content.decode()
    data = {"store": store.pk, "kind": MessageKind.SHIPPED, "channel": Channel.SMS, "is_active": "on"}

    refused = admin_client.post(url, {**data, "body_text": "{% if eta %}ETA"})
    added = admin_client.post(url, {**data, "body_text": "Shipped! {{ tracking_url }}"})

    assert "body_text" in refused.context["adminform"].form.errors
    assert added.status_code == 302
    assert MessageTemplate.objects.get(store=store, kind=MessageKind.SHIPPED).body_text == "Shipped! {{ tracking_url }}"


def test_the_changelist_shows_each_sms_length_and_segment_count(admin_client, store):
    sms_template(store)
    email_template(store)

    response = admin_client.get(reverse("admin:notifications_messagetemplate_changelist"))

    content = response.content.decode()
    assert "SMS length (sample values)" in content
    assert "characters · 1 segment (GSM-7)" in content


# --- Preview ------------------------------------------------------------------------------------------------------


def test_the_preview_renders_the_saved_template_against_the_stores_newest_order(admin_client, store, newest_order):
    template = email_template(store)

    response = admin_client.get(preview_url(template))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Hi Maya, your parcel with <b>UPS</b> is late." in content
    assert "A heads-up about order #1042" in content
    assert "background:#0f766e" in content  # inside the store's branded layout
    assert newest_order.customer.email in content
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Frame-Options"] == "SAMEORIGIN"


def test_the_preview_uses_the_order_asked_for_but_only_one_of_the_store(admin_client, store, newest_order):
    template = email_template(store)
    older = store.orders.get(order_number="#1001")
    elsewhere = OrderFactory(customer__first_name="Zed")

    chosen = admin_client.get(preview_url(template), {"order": older.pk}).content.decode()
    foreign = admin_client.get(preview_url(template), {"order": elsewhere.pk}).content.decode()

    assert "Hi Olga" in chosen
    assert "Hi Maya" in foreign
    assert "Zed" not in foreign


def test_the_preview_renders_unsaved_edits_without_saving_them(admin_client, store, newest_order):
    template = email_template(store)

    response = admin_client.post(
        preview_url(template), form_data(template, body_html="<p>Bonjour {{ first_name }}!</p>", subject="Salut")
    )

    content = response.content.decode()
    assert "<p>Bonjour Maya!</p>" in content
    assert "Salut" in content
    template.refresh_from_db()
    assert "Bonjour" not in template.body_html


def test_the_preview_of_a_broken_edit_explains_the_error(admin_client, store, newest_order):
    template = email_template(store)

    response = admin_client.post(preview_url(template), form_data(template, body_html="<p>{{ first_name </p>"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Cannot render" in content
    assert "Line 1:" in content


def test_the_sms_preview_shows_the_orders_text_and_length_and_the_sample_length_for_the_form(
    admin_client, store, newest_order
):
    template = sms_template(store)

    response = admin_client.post(preview_url(template), form_data(template, body_text="Hi {{ first_name }} 📦"))

    content = response.content.decode()
    assert "Hi Maya 📦" in content
    assert "<strong>Length for #1042:</strong> 10 characters · 1 segment (UCS-2)" in content
    assert response["X-SMS-Length"] == "15 characters · 1 segment (UCS-2)"  # "Hi Alexandra 📦", as saved ones are


def test_the_preview_without_any_order_uses_sample_values(admin_client, store):
    template = email_template(store)

    content = admin_client.get(preview_url(template)).content.decode()

    assert "Hi Alexandra" in content
    assert "sample values" in content


def test_the_preview_is_for_staff_only(client, store):
    response = client.get(preview_url(email_template(store)))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# --- SMS length: one figure -------------------------------------------------------------------------------------

SMS_DEFAULTS = [kind for kind, channels in DEFAULT_TEMPLATES.items() if Channel.SMS in channels]
# What a CX manager does to a default before the preview measures it (browsers post line breaks as CRLF).
EDITS = {
    "as seeded": lambda body: body,
    "a line typed with CRLF": lambda body: f"{body}\r\nThanks!",
    "a curly quote": lambda body: f"{body} We\u2019re here.",
    "an emoji": lambda body: f"{body} \U0001f4e6",
}


def default_sms(store, kind: str) -> MessageTemplate:
    return MessageTemplate.objects.create(
        store=store, kind=kind, channel=Channel.SMS, **DEFAULT_TEMPLATES[kind][Channel.SMS]
    )


def saved_length(admin_client, template: MessageTemplate) -> str:
    """The saved template's length, as its change list row and its change form show it (the same)."""
    changelist = reverse("admin:notifications_messagetemplate_changelist")
    row = admin_client.get(changelist, {"kind__exact": template.kind, "channel__exact": Channel.SMS})
    form = admin_client.get(change_url(template))
    listed = re.search(r'<td class="field-sms_length">(.*?)</td>', row.content.decode()).group(1)
    shown = re.search(r"<output>(.*?)</output>", form.content.decode()).group(1)
    assert listed == shown
    return shown


def live_length(admin_client, template: MessageTemplate, body: str) -> str:
    """The length the change form shows while the text is being typed (its preview's answer)."""
    return admin_client.post(preview_url(template), form_data(template, body_text=body))["X-SMS-Length"]


def bubble(preview: str) -> str:
    """The SMS text the preview shows."""
    return html.unescape(re.search(r'overflow-wrap:anywhere">(.*?)</div>', preview, re.S).group(1))


@pytest.mark.parametrize("edit", EDITS)
@pytest.mark.parametrize("kind", SMS_DEFAULTS)
def test_the_live_length_of_a_default_sms_is_the_length_it_shows_once_saved(
    admin_client, store, newest_order, kind, edit
):
    template = default_sms(store, kind)
    body = EDITS[edit](template.body_text)

    live = live_length(admin_client, template, body)
    saved = admin_client.post(change_url(template), form_data(template, body_text=body))

    assert saved.status_code == 302
    assert saved_length(admin_client, template) == live


def test_a_line_break_counts_one_character_however_the_browser_sends_it(admin_client, store):
    template = sms_template(store)

    typed = {ending: live_length(admin_client, template, f"Hi {{{{ first_name }}}}!{ending}Thanks!") for ending in
             ("\n", "\r\n", "\r")}  # fmt: skip

    assert set(typed.values()) == {"21 characters · 1 segment (GSM-7)"}  # "Hi Alexandra!", "\n", "Thanks!"


def test_look_alike_characters_are_counted_as_the_plain_ones_the_sms_carries(admin_client, store):
    template = sms_template(store, "Hi {{ first_name }}, we\u2019re on it \u2013 more soon\u2026")
    pasted = live_length(admin_client, template, template.body_text)

    assert saved_length(admin_client, template) == pasted == "40 characters · 1 segment (GSM-7)"
    assert live_length(admin_client, template, "Hi {{ first_name }}, we're on it - more soon...") == pasted


def test_the_saved_length_holds_against_any_order_chosen_for_the_preview(admin_client, store, newest_order):
    template = default_sms(store, MessageKind.SHIPPED)
    older = store.orders.get(order_number="#1001")

    for order in (newest_order, older):
        response = admin_client.post(preview_url(template), {**form_data(template), "_preview_order": order.pk})

        assert response["X-SMS-Length"] == saved_length(admin_client, template)
        assert f"<strong>Length for {order.order_number}:</strong>" in response.content.decode()


def sent_sms(fake_twilio, template: MessageTemplate, context: dict[str, str]) -> str:
    """What Twilio gets for `template` rendered against `context`, the message stored as message_schedule does."""
    body = render_message(template, context).text
    SmsChannel().send(Message(store=template.store, kind=template.kind, channel=Channel.SMS, to="+14155550123",
                              body_text=body))  # fmt: skip
    return fake_twilio.requests[-1].body


@pytest.mark.parametrize("kind", SMS_DEFAULTS)
def test_the_lengths_shown_are_those_of_the_sms_twilio_gets(admin_client, fake_twilio, store, newest_order, kind):
    template = default_sms(store, kind)
    template.body_text += " We\u2019re here."  # the channel sends a straight quote
    template.save()
    playbook = {"action": SAMPLE_CONTEXT["action"], "offer": SAMPLE_CONTEXT["offer"]}  # as the preview shows them

    preview = admin_client.get(preview_url(template)).content.decode()
    to_the_order = sent_sms(fake_twilio, template, message_context(order=newest_order, extra=playbook))
    with_sample_values = sent_sms(fake_twilio, template, SAMPLE_CONTEXT)

    assert bubble(preview) == to_the_order
    assert f"Length for #1042:</strong> {describe_length(sms_segments(to_the_order))}<" in preview
    assert saved_length(admin_client, template) == describe_length(sms_segments(with_sample_values))


# --- Send a test to me -------------------------------------------------------------------------------------------


def send_test(admin_client, *templates):
    return admin_client.post(
        reverse("admin:notifications_messagetemplate_changelist"),
        {"action": "send_test_to_me", "_selected_action": [t.pk for t in templates]},
        follow=True,
    )


def test_send_a_test_to_me_delivers_the_rendered_email_to_my_address(
    admin_client, admin_user, smtp_server, store, newest_order
):
    template = email_template(store)

    response = send_test(admin_client, template)

    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert smtp_server.envelopes[0].rcpt_tos == [admin_user.email]
    assert received["Subject"] == "[Test] A heads-up about order #1042"
    assert "Hi Maya, your parcel with <b>UPS</b> is late." in received.get_body(("html",)).get_content()
    assert received["List-Unsubscribe"] is None  # no link that could opt the real customer out
    assert Message.objects.count() == 0  # nothing in the outbox
    assert f"test sent to {admin_user.email}" in response.content.decode()


def test_send_a_test_reports_an_smtp_refusal(admin_client, admin_user, smtp_server, store, newest_order):
    smtp_server.refuse[admin_user.email] = "550 5.1.1 No such user"

    response = send_test(admin_client, email_template(store))

    assert "not sent" in response.content.decode()
    assert "No such user" in response.content.decode()


def test_send_a_test_skips_sms_templates(admin_client, smtp_server, store):
    response = send_test(admin_client, sms_template(store))

    assert smtp_server.messages == []
    assert "only email templates can be sent as a test" in response.content.decode()


def test_send_a_test_needs_an_email_address_on_my_user(admin_client, admin_user, smtp_server, store):
    admin_user.email = ""
    admin_user.save()

    response = send_test(admin_client, email_template(store))

    assert smtp_server.messages == []
    assert "Your user has no email address" in response.content.decode()


# --- Default templates --------------------------------------------------------------------------------------------


def test_the_defaults_are_seeded_once_per_store_kind_and_channel(store):
    expected = sum(len(channels) for channels in DEFAULT_TEMPLATES.values())

    assert templates_seed(store) == expected
    assert templates_seed(store) == 0
    assert MessageTemplate.objects.filter(store=store).count() == expected
    assert templates_seed(StoreFactory()) == expected


def test_seeding_never_overwrites_a_managers_edit(admin_client, store):
    templates_seed(store)
    template = MessageTemplate.objects.get(store=store, kind=MessageKind.DELAY, channel=Channel.SMS)
    admin_client.post(change_url(template), form_data(template, body_text="Our own words, {{ first_name }}."))
    switched_off = MessageTemplate.objects.get(store=store, kind=MessageKind.SHIPPED, channel=Channel.EMAIL)
    switched_off.is_active = False
    switched_off.save()

    assert templates_seed(store) == 0

    template.refresh_from_db()
    switched_off.refresh_from_db()
    assert template.body_text == "Our own words, {{ first_name }}."
    assert switched_off.is_active is False


def test_seeded_templates_render_against_a_real_order_in_the_preview(admin_client, store, newest_order):
    templates_seed(store)
    template = MessageTemplate.objects.get(store=store, kind=MessageKind.DELAY_REMEDY, channel=Channel.EMAIL)

    content = admin_client.get(preview_url(template)).content.decode()

    assert "on it: update for order #1042" in content
    assert "Hi Maya," in content
    assert "cx-button" in content


# --- Outbox --------------------------------------------------------------------------------------------------------


def outbox_message(store, status: str, key: str, **values) -> Message:
    return Message.objects.create(
        store=store, kind=MessageKind.DELAY, channel=Channel.EMAIL, to="maya@example.com", body_text="Hi",
        idempotency_key=key, status=status, **values,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("action", "status", "note"),
    [
        ("mark_reviewed_sent", MessageStatus.SENT, "was sent"),
        ("mark_reviewed_not_sent", MessageStatus.FAILED, "was not sent"),
    ],
)
def test_review_actions_settle_only_messages_awaiting_review(admin_client, store, action, status, note):
    claimed = timezone.now() - timedelta(minutes=5)
    in_review = outbox_message(
        store, MessageStatus.REVIEW, "a", error="Timed out after the request.", claimed_at=claimed
    )
    delivered = outbox_message(store, MessageStatus.DELIVERED, "b")

    response = admin_client.post(
        reverse("admin:notifications_message_changelist"),
        {"action": action, "_selected_action": [in_review.pk, delivered.pk]},
        follow=True,
    )

    in_review.refresh_from_db()
    delivered.refresh_from_db()
    assert in_review.status == status
    assert in_review.error.startswith("Timed out after the request.\nReviewed by admin on ")
    assert in_review.error.endswith(f": {note}.")
    assert in_review.sent_at == (claimed if status == MessageStatus.SENT else None)
    assert delivered.status == MessageStatus.DELIVERED
    content = response.content.decode()
    assert f"1 message marked as {note}." in content
    assert "1 not awaiting review" in content


def test_the_outbox_lists_messages_with_their_order_and_time_to_notify(admin_client, store, newest_order):
    now = timezone.now()
    outbox_message(
        store, MessageStatus.SENT, "c", order=newest_order, detected_at=now - timedelta(seconds=95), sent_at=now
    )

    response = admin_client.get(reverse("admin:notifications_message_changelist"), {"status__exact": "sent"})

    content = response.content.decode()
    assert reverse("admin:orders_order_change", args=[newest_order.pk]) in content
    assert "1 min 35 s" in content
