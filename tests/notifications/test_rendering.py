"""Message templates: placeholders filled from an order, a sandbox that reaches nothing, refusal of broken
or unknown templates on save, and SMS length in GSM-7 and UCS-2."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from notifications.choices import MessageKind
from notifications.defaults import DEFAULT_TEMPLATES
from notifications.models import MessageTemplate
from notifications.rendering import (
    PLACEHOLDERS,
    SAMPLE_CONTEXT,
    SmsLength,
    TemplateRenderError,
    message_context,
    render,
    render_message,
    sms_segments,
    template_errors,
    validate_template,
)
from orders.choices import Channel
from portal.links import tracking_url
from tests.factories import CustomerFactory, OrderFactory, ShipmentFactory, StoreFactory


def sms_template(body: str) -> MessageTemplate:
    return MessageTemplate(kind=MessageKind.DELAY, channel=Channel.SMS, body_text=body)


def email_template(subject: str = "Order {{ order_number }}", text: str = "Hi", html: str = "") -> MessageTemplate:
    return MessageTemplate(
        kind=MessageKind.DELAY, channel=Channel.EMAIL, subject=subject, body_text=text, body_html=html
    )


def refusal(template: MessageTemplate) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        validate_template(template)
    return caught.value.message_dict


# --- Context ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_placeholders_are_filled_from_the_order_its_customer_store_and_newest_shipment(time_machine):
    time_machine.move_to(datetime(2026, 11, 23, 15, 0, tzinfo=UTC), tick=False)  # before the estimate
    store = StoreFactory(
        name="Northwind",
        support_email="care@northwind.example",
        support_url="https://northwind.example/help",
        support_phone="+14155550100",
    )
    order = OrderFactory(store=store, order_number="#1042", customer__first_name="Maya")
    ShipmentFactory(order=order, carrier="usps", tracking_code="OLD1")
    ShipmentFactory(
        order=order,
        carrier="ups",
        tracking_code="1Z999",
        carrier_estimated_delivery=datetime(2026, 11, 27, 18, 0, tzinfo=UTC),
    )

    context = message_context(order=order, extra={"action": "upgraded your shipping", "offer": None, "amount": 10})

    assert context == {
        "first_name": "Maya",
        "order_number": "#1042",
        "store_name": "Northwind",
        "tracking_url": tracking_url(order),  # the signed per-order link
        "carrier_tracking_url": "https://www.ups.com/track?tracknum=1Z999",
        "carrier": "UPS",
        "tracking_code": "1Z999",
        "eta": "Fri 27 Nov",
        "action": "upgraded your shipping",
        "offer": "",
        "support_email": "care@northwind.example",
        "support_phone": "+1 415-555-0100",  # as people read it (stored E.164)
        "support_url": "https://northwind.example/help",
        "support_contact": "care@northwind.example",
        "return_url": "",
        "amount": "10",
    }
    assert all(type(value) is str for value in context.values())
    assert set(PLACEHOLDERS) <= set(context)


@pytest.mark.django_db
def test_without_a_support_email_the_contact_is_the_phone_as_people_read_it():
    store = StoreFactory(support_email="", support_phone="+442079460018", support_url="https://northwind.example/help")

    context = message_context(order=OrderFactory(store=store))

    assert context["support_contact"] == context["support_phone"] == "+44 20 7946 0018"


@pytest.mark.django_db
def test_the_context_holds_only_strings_even_when_extra_values_are_model_objects():
    order = OrderFactory()

    context = message_context(order=order, extra={"offer": order.customer})

    assert context["offer"] == str(order.customer)
    assert all(type(value) is str for value in context.values())


@pytest.mark.django_db
def test_an_order_without_shipment_or_customer_name_still_reads_well():
    order = OrderFactory(customer__first_name="")

    context = message_context(order=order)

    assert context["first_name"] == "there"
    assert context["carrier"] == context["tracking_code"] == context["eta"] == context["carrier_tracking_url"] == ""
    assert (
        render("Hi {{ first_name }}{% if eta %}, ETA {{ eta }}{% endif %}.", context, autoescape=False) == "Hi there."
    )


@pytest.mark.django_db
def test_a_message_about_one_parcel_of_a_split_order_names_that_parcel():
    order = OrderFactory()
    first = ShipmentFactory(order=order, carrier="ups", tracking_code="1Z999AA10123456784")
    ShipmentFactory(order=order, carrier="usps", tracking_code="9400100000000000000001")  # the newest

    about_first = message_context(order=order, shipment=first)

    assert (about_first["carrier"], about_first["tracking_code"]) == ("UPS", "1Z999AA10123456784")
    assert message_context(order=order)["tracking_code"] == "9400100000000000000001"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("estimate", "store_tz", "expected"),
    [
        (datetime(2026, 11, 27, 0, 0, tzinfo=UTC), "America/Los_Angeles", "Fri 27 Nov"),  # a date-only estimate
        (datetime(2026, 11, 27, 3, 0, tzinfo=UTC), "America/Los_Angeles", "Thu 26 Nov"),  # evening of the 26th there
        (datetime(2026, 11, 27, 23, 0, tzinfo=UTC), "Australia/Sydney", "Sat 28 Nov"),
    ],
)
def test_the_eta_is_the_carriers_estimated_day_in_the_stores_zone(time_machine, estimate, store_tz, expected):
    time_machine.move_to(datetime(2026, 11, 23, 15, 0, tzinfo=UTC), tick=False)
    # The customer's own zone does not move the day: the tracking page (which never reads the customer)
    # shows the same day (orders.eta).
    order = OrderFactory(store=StoreFactory(timezone=store_tz), customer=CustomerFactory(timezone="Asia/Tokyo"))
    ShipmentFactory(order=order, carrier_estimated_delivery=estimate)

    assert message_context(order=order)["eta"] == expected


# --- Rendering and the sandbox ------------------------------------------------------------------------------


def test_a_missing_placeholder_renders_as_nothing_in_production():
    assert render("Hi {{ first_name }}, ETA {{ eta }}.", {"first_name": "Al"}, autoescape=False) == "Hi Al, ETA ."


def test_html_parts_escape_placeholder_values_and_text_parts_do_not():
    context = {"first_name": "<b>Al & co</b>"}

    assert render("<p>{{ first_name }}</p>", context, autoescape=True) == "<p>&lt;b&gt;Al &amp; co&lt;/b&gt;</p>"
    assert render("{{ first_name }}", context, autoescape=False) == "<b>Al & co</b>"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "source",
    [
        "{{ order.customer }}",
        "{{ order.customer.email }}",
        "{{ config }}{{ request }}{{ settings.SECRET_KEY }}",
    ],
)
def test_a_template_reaching_for_objects_renders_harmlessly_without_touching_the_database(
    django_assert_num_queries, source
):
    order = OrderFactory()
    context = message_context(order=order)

    with django_assert_num_queries(0):
        output = render(source, context, autoescape=False)

    assert output == ""


@pytest.mark.parametrize(
    "source",
    [
        "{{ order.objects.all() }}",
        "{{ ''.__class__ }}",
        "{{ first_name.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ first_name.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ 'x' * 100000 }}",
        "{{ 2 ** 64 }}",
    ],
)
def test_escapes_from_the_sandbox_are_refused_when_rendered(source):
    with pytest.raises(TemplateRenderError):
        render(source, dict(SAMPLE_CONTEXT), autoescape=False)


@pytest.mark.parametrize("source", ['{% include "base.html" %}', '{% import "macros.html" as m %}'])
def test_include_and_import_cannot_read_any_file(source):
    with pytest.raises(TemplateRenderError, match="cannot include, import or extend"):
        render(source, {}, autoescape=False)


def test_a_syntax_error_names_its_line():
    with pytest.raises(TemplateRenderError, match=r"^Line 2: unexpected end of template"):
        render("Hello\n{{ first_name", {}, autoescape=False)


def test_an_sms_gets_plain_spaces_for_no_break_spaces():
    rendered = render_message(sms_template("Arrives\xa0{{ eta }}"), {"eta": "Fri\xa027\xa0Nov"})

    assert rendered.text == "Arrives Fri 27 Nov"
    assert rendered.subject == rendered.html == ""


def test_an_email_gets_a_one_line_subject_a_text_part_and_an_escaped_html_part():
    template = email_template(
        subject="Order {{ order_number }}\nupdate", text="Hi {{ first_name }}\n", html="<p>Hi {{ first_name }}</p>"
    )

    rendered = render_message(template, {"order_number": "#1", "first_name": "Al & Bo"})

    assert rendered == ("Order #1 update", "Hi Al & Bo", "<p>Hi Al &amp; Bo</p>")


# --- Validation on save -------------------------------------------------------------------------------------


def test_a_template_using_known_placeholders_is_accepted():
    validate_template(
        email_template(
            subject="Update for {{ order_number }}",
            text="Hi {{ first_name }},{% if eta %} ETA {{ eta }}.{% endif %} {{ carrier or 'The carrier' }}",
            html="<p>{{ first_name|title }}</p>",
        )
    )


def test_a_broken_template_is_refused_naming_the_field_and_the_line():
    errors = refusal(email_template(text="Hi\n{{ first_name"))

    assert list(errors) == ["body_text"]
    assert errors["body_text"][0].startswith("Line 2: unexpected end of template")


def test_an_unknown_placeholder_is_refused_with_the_known_ones_listed():
    errors = refusal(email_template(subject="Hi {{ firstname }}", html="<p>{{ order.customer }}</p>"))

    assert set(errors) == {"subject", "body_html"}
    assert "Unknown placeholder {{ firstname }}" in errors["subject"][0]
    assert "first_name" in errors["subject"][0]
    assert "Unknown placeholder {{ order }}" in errors["body_html"][0]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ ''.__class__ }}", "unsafe"),
        ("{{ first_name.customer }}", "has no attribute 'customer'"),
        ('{% include "x.html" %}', "include"),
        ('{% import "x.html" as x %}', "import"),
        ('{% extends "x.html" %}', "extends"),
        ("{% for c in first_name %}{{ c }}{% endfor %}", "loops"),
        ("{{ first_name|center(100000) }}", "numbers above"),
        ("{{ 1 / 0 }}", "division by zero"),
    ],
)
def test_templates_that_reach_for_internals_or_other_files_are_refused_on_save(source, reason):
    errors = refusal(sms_template(source))

    assert reason in " ".join(errors["body_text"])


def test_an_email_needs_a_subject_and_every_message_a_body():
    errors = refusal(email_template(subject=" ", text=""))

    assert errors == {"subject": ["An email needs a subject."], "body_text": ["The message cannot be empty."]}


def test_an_sms_template_ignores_the_email_only_fields():
    template = sms_template("Hi {{ first_name }}")
    template.subject = "{{ broken"

    validate_template(template)


def test_template_errors_is_empty_for_a_good_template():
    assert template_errors("Hi {{ first_name }}", autoescape=False) == []


# --- SMS length ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SmsLength(0, 0, "GSM-7")),
        ("a" * 160, SmsLength(160, 1, "GSM-7")),
        ("a" * 161, SmsLength(161, 2, "GSM-7")),
        ("a" * 153 * 2, SmsLength(306, 2, "GSM-7")),
        ("a" * (153 * 2 + 1), SmsLength(307, 3, "GSM-7")),
        ("€" * 80, SmsLength(160, 1, "GSM-7")),
        ("€" + "a" * 159, SmsLength(161, 2, "GSM-7")),
        ("a" * 152 + "€" + "a" * 152, SmsLength(306, 3, "GSM-7")),  # the escape pair never straddles two parts
        ("^{}\\[~]|", SmsLength(16, 1, "GSM-7")),
        ("Café à Zürich, £5 ¿ñ?", SmsLength(21, 1, "GSM-7")),
        ("Merci \u2019", SmsLength(7, 1, "UCS-2")),  # one curly quote switches the whole text
        ("ç" * 70, SmsLength(70, 1, "UCS-2")),
        ("ç" * 71, SmsLength(71, 2, "UCS-2")),
        ("ç" * 67 * 2, SmsLength(134, 2, "UCS-2")),
        ("📦" * 35, SmsLength(70, 1, "UCS-2")),  # an emoji is two UTF-16 units
        ("📦" * 36, SmsLength(72, 2, "UCS-2")),
        ("a" * 66 + "📦" + "a" * 66, SmsLength(134, 3, "UCS-2")),  # a surrogate pair never straddles two parts
    ],
    ids=lambda value: repr(value)[:24] if isinstance(value, str) else None,
)
def test_sms_length_and_segments(text, expected):
    assert sms_segments(text) == expected


# --- Defaults -----------------------------------------------------------------------------------------------


def test_every_kind_but_test_has_a_default_sms_and_email():
    expected = {kind for kind in MessageKind.values if kind != MessageKind.TEST}

    assert set(DEFAULT_TEMPLATES) == expected
    assert all(set(channels) == {Channel.SMS, Channel.EMAIL} for channels in DEFAULT_TEMPLATES.values())


@pytest.mark.parametrize(("kind", "channel"), [(k, c) for k, cs in DEFAULT_TEMPLATES.items() for c in cs])
def test_every_default_template_is_valid(kind, channel):
    validate_template(MessageTemplate(kind=kind, channel=channel, **DEFAULT_TEMPLATES[kind][channel]))


@pytest.mark.parametrize("kind", list(DEFAULT_TEMPLATES))
# The contact is the support email, or the formatted phone ("+1 415-555-0123") of a store without one.
@pytest.mark.parametrize("contact", ["support_email", "support_phone"])
def test_every_default_sms_fits_one_gsm7_segment_with_typical_values(kind, contact):
    template = MessageTemplate(kind=kind, channel=Channel.SMS, **DEFAULT_TEMPLATES[kind][Channel.SMS])

    text = render_message(template, SAMPLE_CONTEXT | {"support_contact": SAMPLE_CONTEXT[contact]}).text

    assert sms_segments(text) == SmsLength(len(text), 1, "GSM-7"), text
    assert "{{" not in text and "}}" not in text
