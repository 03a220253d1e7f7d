"""The message templates a store starts with: one SMS and one email per kind, in a friendly store voice.

Modelled on the e-book's plug-and-play templates (delay, delay + remedy, lost-maybe, post-delivery care).
SMS texts stay within one GSM-7 segment (160 characters) with typical values: plain ASCII punctuation
only, since a single curly quote or dash would switch the whole text to UCS-2 (70 per segment).

`templates_seed(store)` is idempotent (one row per store, kind and channel) and never overwrites a
template a manager edited.
"""

from __future__ import annotations

from django.db import transaction

from orders.choices import Channel
from orders.models import Store

from .choices import MessageKind
from .models import MessageTemplate

SIGN_OFF = "The {{ store_name }} team"
TRACK_BUTTON = ("Track your order", "tracking_url")


def _html_text(text: str) -> str:
    # Copy is static text with Jinja tags: only the characters HTML gives a meaning to are escaped.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def email(subject: str, *paragraphs: str, button: tuple[str, str] | None = None) -> dict[str, str]:
    """An email template: the same copy as a text part and as an HTML fragment (the layout adds the
    store's header, footer and unsubscribe link)."""
    text_parts = list(paragraphs)
    html_parts = [f"<p>{_html_text(p)}</p>" for p in paragraphs]
    if button:
        label, placeholder = button
        text_parts.append(f"{label}: {{{{ {placeholder} }}}}")
        html_parts.append(f'<p><a class="cx-button" href="{{{{ {placeholder} }}}}">{_html_text(label)}</a></p>')
    text_parts.append(SIGN_OFF)
    html_parts.append(f"<p>{SIGN_OFF}</p>")
    return {"subject": subject, "body_text": "\n\n".join(text_parts) + "\n", "body_html": "\n".join(html_parts) + "\n"}


def sms(text: str) -> dict[str, str]:
    return {"subject": "", "body_text": text, "body_html": ""}


# kind -> channel -> fields of MessageTemplate. Every kind but "test" (the admin's test sends) has both.
DEFAULT_TEMPLATES: dict[str, dict[str, dict[str, str]]] = {
    MessageKind.ORDER_CONFIRMED: {
        Channel.SMS: sms(
            "{{ store_name }}: thanks {{ first_name }}! Order {{ order_number }} is confirmed. "
            "We'll text you when it ships."
        ),
        Channel.EMAIL: email(
            "Order {{ order_number }} is confirmed",
            "Hi {{ first_name }},",
            "Thanks for your order! We've got order {{ order_number }} and we're getting it ready. "
            "We'll let you know the moment it ships.",
            "Anything to change? Just reply to this email.",
        ),
    },
    MessageKind.SHIPPED: {
        Channel.SMS: sms(
            "{{ store_name }}: good news {{ first_name }}, order {{ order_number }} is on its way"
            "{% if carrier %} with {{ carrier }}{% endif %}. Track it: {{ tracking_url }}"
        ),
        Channel.EMAIL: email(
            "Order {{ order_number }} is on its way",
            "Hi {{ first_name }},",
            "Good news: order {{ order_number }} has shipped{% if carrier %} with {{ carrier }}"
            "{% if tracking_code %} (tracking number {{ tracking_code }}){% endif %}{% endif %}."
            "{% if eta %} It should arrive by {{ eta }}.{% endif %} We'll keep an eye on it for you.",
            button=TRACK_BUTTON,
        ),
    },
    MessageKind.OUT_FOR_DELIVERY: {
        Channel.SMS: sms(
            "{{ store_name }}: order {{ order_number }} is out for delivery today! Track it: {{ tracking_url }}"
        ),
        Channel.EMAIL: email(
            "Arriving today: order {{ order_number }}",
            "Hi {{ first_name }},",
            "Order {{ order_number }} is out for delivery{% if carrier %} with {{ carrier }}{% endif %} "
            "and should reach you today.",
            button=TRACK_BUTTON,
        ),
    },
    MessageKind.DELIVERED: {
        Channel.SMS: sms(
            "{{ store_name }}: order {{ order_number }} was delivered. Can't find it? Reply HELP and we'll sort it out."
        ),
        Channel.EMAIL: email(
            "Order {{ order_number }} was delivered",
            "Hi {{ first_name }},",
            "{{ carrier or 'The carrier' }} says order {{ order_number }} was delivered. We hope you love it!",
            "Can't find it? Check with neighbours and around the door, then just reply to this email: "
            "we'll sort it out.",
        ),
    },
    MessageKind.DELAY: {
        Channel.SMS: sms(
            "{{ store_name }}: hi {{ first_name }}, heads up: order {{ order_number }} hit a delay in transit. "
            "We're on it and will update you within 24h. Questions? Reply here."
        ),
        Channel.EMAIL: email(
            "A heads-up about order {{ order_number }}",
            "Hi {{ first_name }},",
            "Your order {{ order_number }} has hit a delay in transit. We spotted it before you had to ask, "
            "we're already chasing {{ carrier or 'the carrier' }}, and we'll update you within 24 hours."
            "{% if eta %} The latest estimate is {{ eta }}.{% endif %}",
            "Questions in the meantime? Just reply to this email.",
            button=TRACK_BUTTON,
        ),
    },
    MessageKind.DELAY_REMEDY: {
        Channel.SMS: sms(
            "{{ store_name }}: hi {{ first_name }}, order {{ order_number }} is delayed so we've "
            "{{ action or 'fast-tracked it' }}.{% if eta %} New ETA: {{ eta }}.{% endif %}"
            "{% if offer %} Plus {{ offer }}, on us.{% endif %}"
        ),
        Channel.EMAIL: email(
            "We're on it: update for order {{ order_number }}",
            "Hi {{ first_name }},",
            "We noticed a potential delay with your delivery. We've already {{ action or 'fast-tracked it' }}."
            "{% if eta %} Your new ETA is {{ eta }}.{% endif %}"
            "{% if offer %} As an apology, here's {{ offer }} on your next order.{% endif %} "
            "You don't need to do a thing.",
            button=TRACK_BUTTON,
        ),
    },
    MessageKind.LOST_MAYBE: {
        Channel.SMS: sms(
            "{{ store_name }}: hi {{ first_name }}, order {{ order_number }} may be lost in transit. "
            "We've {{ action or 'flagged it with the carrier' }}. No need to do a thing."
        ),
        Channel.EMAIL: email(
            "Order {{ order_number }}: we're making it right",
            "Hi {{ first_name }},",
            "We think your package may have gone missing. We've {{ action or 'flagged it with the carrier' }} "
            "and we're watching it closely.{% if offer %} For the trouble, here's {{ offer }}.{% endif %}",
            "If the original turns up, feel free to keep it or return it: your call. Thanks for your patience.",
        ),
    },
    MessageKind.LATE_TO_SHIP: {
        Channel.SMS: sms(
            "{{ store_name }}: hi {{ first_name }}, order {{ order_number }} is taking longer than planned "
            "to leave us. Sorry! We'll text you as soon as it ships."
        ),
        Channel.EMAIL: email(
            "Order {{ order_number }} is running late",
            "Hi {{ first_name }},",
            "Order {{ order_number }} is taking longer than we promised to leave our warehouse, and we're sorry. "
            "{% if action %}We've {{ action }}. {% endif %}We'll email you the moment it ships."
            "{% if offer %} In the meantime, here's {{ offer }} for the wait.{% endif %}",
            "Would you rather cancel? Just reply to this email.",
        ),
    },
    MessageKind.FAILED_ATTEMPT: {
        Channel.SMS: sms(
            "{{ store_name }}: {{ carrier or 'the carrier' }} tried to deliver order {{ order_number }} "
            "but couldn't. See your options: {{ tracking_url }}"
        ),
        Channel.EMAIL: email(
            "We missed you: order {{ order_number }}",
            "Hi {{ first_name }},",
            "{{ carrier or 'The carrier' }} tried to deliver order {{ order_number }} but couldn't. "
            "They'll usually try again on the next business day.",
            "You can see your options (redelivery or pick-up) on the tracking page, or reply to this email "
            "and we'll arrange it for you.",
            button=TRACK_BUTTON,
        ),
    },
    MessageKind.ADDRESS_FIX: {
        Channel.SMS: sms(
            "{{ store_name }}: hi {{ first_name }}, we couldn't verify the address for order {{ order_number }}. "
            "Reply with the correct one so it isn't delayed."
        ),
        Channel.EMAIL: email(
            "Please check the address for order {{ order_number }}",
            "Hi {{ first_name }},",
            "We couldn't verify the delivery address for order {{ order_number }}, and we'd hate for it to go astray.",
            "Please reply to this email with the correct address (street, apartment, city and postal code) "
            "and we'll update it before it ships.",
        ),
    },
    MessageKind.PAYMENT_FAILED: {
        Channel.SMS: sms(
            "{{ store_name }}: hi {{ first_name }}, the payment for order {{ order_number }} didn't go through. "
            "Reply here and we'll help you finish it."
        ),
        Channel.EMAIL: email(
            "Payment for order {{ order_number }} didn't go through",
            "Hi {{ first_name }},",
            "The payment for order {{ order_number }} didn't go through, so we're holding your order for now.",
            "It's often a card that expired or a bank being careful. Reply to this email"
            "{% if support_phone %} or call {{ support_phone }}{% endif %} and we'll help you finish it. "
            "We'll never ask for your card number by email.",
        ),
    },
    MessageKind.POST_DELIVERY_SURVEY: {
        Channel.SMS: sms(
            "{{ store_name }}: your order {{ order_number }} was delivered! Did everything arrive OK? "
            "If not, reply HELP and we'll fix it fast."
        ),
        Channel.EMAIL: email(
            "Did everything arrive OK?",
            "Hi {{ first_name }},",
            "Order {{ order_number }} was delivered. Did everything arrive OK?",
            "If anything is missing, damaged or just not right, reply to this email and we'll fix it fast. "
            "If it's all good, we'd love to hear that too.",
        ),
    },
    MessageKind.EXCHANGE_ON_THE_WAY: {
        Channel.SMS: sms(
            "{{ store_name }}: your exchange for order {{ order_number }} is on its way, before your return "
            "even reaches us. Track it: {{ tracking_url }}"
        ),
        Channel.EMAIL: email(
            "Your exchange is on its way",
            "Hi {{ first_name }},",
            "We didn't wait for your return to reach us: the exchange for order {{ order_number }} has already "
            "shipped{% if carrier %} with {{ carrier }}{% endif %}."
            "{% if eta %} It should arrive by {{ eta }}.{% endif %}",
            "Send the original back whenever it suits you.",
            button=TRACK_BUTTON,
        ),
    },
    MessageKind.RETURN_UPDATE: {
        Channel.SMS: sms(
            "{{ store_name }}: your return for order {{ order_number }}: {{ action or 'it is being processed' }}. "
            "{% if return_url %}Follow it: {{ return_url }}{% else %}Questions? Reply here.{% endif %}"
        ),
        Channel.EMAIL: email(
            "An update on your return for order {{ order_number }}",
            "Hi {{ first_name }},",
            "Here's where your return for order {{ order_number }} stands: {{ action or 'it is being processed' }}.",
            "We'll keep you updated each step. Questions? Just reply to this email.",
            button=("Follow your return", "return_url"),
        ),
    },
    MessageKind.HELP_REPLY: {
        Channel.SMS: sms(
            "{{ store_name }}: got it, {{ first_name }}. A real person will get back to you shortly."
            "{% if support_contact %} Need us now? {{ support_contact }}.{% endif %} Reply STOP to opt out."
        ),
        Channel.EMAIL: email(
            "We're on it: order {{ order_number }}",
            "Hi {{ first_name }},",
            "Thanks for getting in touch. A real person on our team will get back to you shortly about "
            "order {{ order_number }}.",
            "Anything to add? Just reply to this email.",
        ),
    },
}


@transaction.atomic
def templates_seed(store: Store) -> int:
    """Create the store's missing default templates; returns how many were created. Existing rows
    (edited or not) are left exactly as they are."""
    created = 0
    for kind, channels in DEFAULT_TEMPLATES.items():
        for channel, fields in channels.items():
            _, was_created = MessageTemplate.objects.get_or_create(
                store=store, kind=kind, channel=channel, defaults=dict(fields)
            )
            created += was_created
    return created
