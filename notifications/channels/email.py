"""Email through Django's mail framework (EMAIL_URL -> EMAIL_BACKEND, EMAIL_HOST, ...).

Each email goes out from "<store name> <DEFAULT_FROM_EMAIL's address>", replies go to the store's
support address, and carries:

- a plain-text part and an HTML part: the message's HTML (or its text, escaped, with line breaks and
  links) inside the store's branded layout (`templates/notifications/email/base.html`);
- `Message-ID: <public_id@domain>` (the same on every retry, so receivers can drop a duplicate) and
  `X-CX-Message-Id: <public_id>`;
- for every kind but the transactional ones, an unsubscribe link in the footer and the RFC 8058
  one-click headers `List-Unsubscribe` / `List-Unsubscribe-Post`.

SMTP failures become ChannelErrors: a 5xx answer (refused recipient, rejected data) is permanent; a
4xx answer, a dropped connection, a refused connection or a timeout is transient.
"""

from __future__ import annotations

import smtplib
from email.utils import formataddr, parseaddr
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection
from django.template.loader import get_template, render_to_string
from django.utils.html import linebreaks, urlize
from django.utils.module_loading import import_string
from django.utils.safestring import mark_safe

from notifications.choices import TRANSACTIONAL_KINDS
from notifications.unsubscribe import unsubscribe_url
from portal.branding import branding

from .base import Channel, ChannelError

if TYPE_CHECKING:
    from notifications.models import Message
    from orders.models import Customer, Store

DEFAULT_TIMEOUT_SECONDS = 10.0
LAYOUT_TEMPLATE = "notifications/email/base.html"
PROVIDER_ID_MAX_LENGTH = 64  # Message.provider_id


def sender_address() -> str:
    """The address part of DEFAULT_FROM_EMAIL ("CX hub <cx@example.com>" -> "cx@example.com")."""
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL


def from_header(store: Store) -> str:
    """The From header: the store's name with the hub's sending address, quoted or encoded as needed."""
    return formataddr((store.name, sender_address()))


def message_id_for(message: Message) -> str:
    """A Message-ID derived from the message's public id: stable across retries, at most 64 characters."""
    domain = sender_address().rpartition("@")[2] or "localhost"
    message_id = f"<{message.public_id.hex}@{domain}>"
    return message_id if len(message_id) <= PROVIDER_ID_MAX_LENGTH else f"<{message.public_id.hex}@cxhub.invalid>"


def is_transactional(kind: str) -> bool:
    return kind in TRANSACTIONAL_KINDS


def text_as_html(text: str) -> str:
    """Plain text as HTML: escaped, links made clickable, paragraphs and line breaks kept."""
    return linebreaks(urlize(text, nofollow=True, autoescape=True), autoescape=False)


def branded_html(
    *,
    store: Store,
    kind: str,
    subject: str,
    html: str = "",
    text: str = "",
    unsubscribe: str = "",
    preview: dict | None = None,
    preview_text: str = "",
) -> str:
    """The whole HTML document of an email: `html` (trusted, already rendered) or else `text` inside
    the store's layout. `unsubscribe` is the link shown in the footer (non-transactional kinds only);
    `preview` (admin only) adds a header naming sender, recipient and subject, and `preview_text` the
    plain-text part under it."""
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    context = {
        "store": store,
        "subject": subject,
        "content": mark_safe(html or text_as_html(text)),  # rendered by the sandbox, autoescaped
        "preheader": first_line[:140],
        "brand": branding(store),
        "transactional": is_transactional(kind),
        "unsubscribe_url": "" if is_transactional(kind) else unsubscribe,
        "preview": preview,
        "preview_text": preview_text,
    }
    return render_to_string(LAYOUT_TEMPLATE, context)


def smtp_error(exc: BaseException) -> ChannelError:
    """What an SMTP failure means for the message: permanent (5xx) or worth retrying."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = [(addr, code, resp) for addr, (code, resp) in exc.recipients.items()]
        detail = "; ".join(f"{addr}: {code} {_text(resp)}" for addr, code, resp in refusals)
        codes = [code for _, code, _ in refusals]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return ChannelError(f"Recipient refused: {detail}", permanent=permanent, code=str(codes[0] if codes else ""))
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ChannelError(f"SMTP login refused: {_describe(exc)}", permanent=False, code="auth")
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        return ChannelError(f"SMTP server not ready: {_describe(exc)}", permanent=False, code=str(exc.smtp_code))
    if isinstance(exc, smtplib.SMTPResponseException):
        permanent = 500 <= exc.smtp_code < 600
        return ChannelError(f"SMTP server refused: {_describe(exc)}", permanent=permanent, code=str(exc.smtp_code))
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        # smtplib reports a read timeout as SMTPServerDisconnected("... timed out") raised from it.
        return ChannelError("SMTP server timed out", permanent=False, code="timeout")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return ChannelError(f"SMTP server disconnected: {exc}", permanent=False, code="disconnected")
    return ChannelError(f"SMTP error: {exc.__class__.__name__}: {exc}", permanent=False, code="network")


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _describe(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


class EmailChannel(Channel):
    kind = "email"
    label = "Email"

    def is_configured(self) -> bool:
        backend = getattr(settings, "EMAIL_BACKEND", "")
        return bool(backend) and backend != "django.core.mail.backends.dummy.EmailBackend"

    def address_for(self, customer: Customer) -> str:
        if customer.email_opted_out_at:
            return ""
        return customer.email or ""

    def warm_up(self) -> None:
        # The layout is compiled on first use (Django's cached template loader keeps it) and the backend
        # class imported by the first get_connection(); no connection is opened here.
        get_template(LAYOUT_TEMPLATE)
        import_string(settings.EMAIL_BACKEND)

    def build(self, message: Message) -> EmailMultiAlternatives:
        """The email for an outbox message (saved or not: the admin's test sends use unsaved ones)."""
        store = message.store
        customer = message.customer if message.customer_id else None
        unsubscribe = unsubscribe_url(customer) if customer and not is_transactional(message.kind) else ""
        headers = {"Message-ID": message_id_for(message), "X-CX-Message-Id": str(message.public_id)}
        text = message.body_text
        if unsubscribe:
            headers["List-Unsubscribe"] = f"<{unsubscribe}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            text = f"{text.rstrip()}\n\n--\nDon't want these emails? Unsubscribe: {unsubscribe}\n"
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=text,
            from_email=from_header(store),
            to=[message.to],
            reply_to=[store.support_email] if store.support_email else None,
            headers=headers,
        )
        html = branded_html(
            store=store,
            kind=message.kind,
            subject=message.subject,
            html=message.body_html,
            text=message.body_text,
            unsubscribe=unsubscribe,
        )
        email.attach_alternative(html, "text/html")
        return email

    def send(self, message: Message) -> str:
        customer = message.customer if message.customer_id else None
        if customer and customer.email_opted_out_at and not is_transactional(message.kind):
            raise ChannelError("The customer unsubscribed from email.", permanent=True, code="opted_out")
        try:
            email = self.build(message)
            timeout = getattr(settings, "EMAIL_TIMEOUT", None) or DEFAULT_TIMEOUT_SECONDS
            email.connection = get_connection(fail_silently=False, timeout=timeout)
            email.send()
        except BadHeaderError as exc:
            raise ChannelError(f"Invalid email header: {exc}", permanent=True, code="bad_header") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise smtp_error(exc) from exc
        return email.extra_headers["Message-ID"]
