"""Message templates: the placeholders CX managers may use, the context they are filled from, and a
sandboxed renderer.

Templates are Jinja2 source rendered by a `SandboxedEnvironment` against a context of plain strings
only (never model objects), so a template cannot reach the database or Python internals whatever it
tries: `{{ order.customer }}` names nothing, `{{ ''.__class__ }}` is refused by the sandbox, and
`{% include %}` / `{% import %}` have no loader to read from.

Two strictness levels:

- In production (`render`, `render_message`) a missing placeholder renders as "", so a message is never
  held back because, say, a parcel has no ETA yet.
- On save (`validate_template`) every part is parsed and rendered against `SAMPLE_CONTEXT` with
  `StrictUndefined`: a syntax error, an unknown placeholder, attribute access that leads nowhere, an
  include/import, a loop or an out-of-range number is refused with a message naming the field.
"""

from __future__ import annotations

import types
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

import jinja2
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.module_loading import import_string
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from orders.carriers import carrier_name, carrier_tracking_url
from orders.eta import shipment_eta
from orders.formats import format_phone

if TYPE_CHECKING:
    from orders.models import Order, Shipment

    from .models import MessageTemplate

# name -> what it holds. Every name is always present in the context (possibly ""), as a plain string.
PLACEHOLDERS: dict[str, str] = {
    "first_name": 'The customer\'s first name, or "there" when unknown ("Hi {{ first_name }}" stays friendly).',
    "order_number": "The order number as the store shows it, e.g. 1042 or #1042.",
    "store_name": "The store's name.",
    "tracking_url": "The customer's own tracking page: a signed, unguessable link to this order.",
    "carrier_tracking_url": 'The carrier\'s own tracking page for the parcel, or "" if unknown.',
    "carrier": "The carrier of the parcel, e.g. USPS, UPS, FedEx.",
    "tracking_code": "The tracking number of the parcel (the one the message is about, else the order's newest).",
    "eta": 'The carrier\'s estimated delivery day, e.g. "Fri 27 Nov" (as on the tracking page), or "" when the '
    "carrier gave none or the day has passed: write `{% if eta %}…{% endif %}` around it.",
    "action": 'What the hub did about the problem, e.g. "upgraded your shipping to Express" (from the playbook).',
    "offer": 'The make-good offered, e.g. "a $10 credit" (from the playbook), or "".',
    "support_email": "The store's support email address.",
    "support_phone": 'The store\'s support phone number, as people read it, e.g. "+1 415-555-0123".',
    "support_url": "The store's help centre address.",
    "support_contact": "The best way to reach support: the support email, else phone, else help centre address.",
    "return_url": 'The customer\'s page for a return (QR code, label, status), in return updates; "" otherwise.',
}

# Realistic values used to check templates on save, to measure SMS length and to preview without orders.
SAMPLE_CONTEXT: dict[str, str] = {
    "first_name": "Alexandra",
    "order_number": "#10234",
    "store_name": "Northwind Outfitters",
    "tracking_url": "https://cx.example.com/track/",
    "carrier_tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
    "carrier": "UPS",
    "tracking_code": "1Z999AA10123456784",
    "eta": "Fri 27 Nov",
    "action": "upgraded your shipping to Express",
    "offer": "a $10 credit",
    "support_email": "help@northwind.example",
    "support_phone": "+1 415-555-0123",
    "support_url": "https://northwind.example/help",
    "support_contact": "help@northwind.example",
    "return_url": "https://cx.example.com/returns/r/R10234-1/",
}
assert SAMPLE_CONTEXT.keys() == PLACEHOLDERS.keys()

# Best-effort resource limits for templates (the sandbox stops data access, not a memory bomb).
MAX_NUMBER = 10_000
MAX_REPEAT_LENGTH = 10_000


class TemplateRenderError(Exception):
    """A template could not be rendered: the message says why, with the line when known."""


class Rendered(NamedTuple):
    subject: str
    text: str
    html: str


class SmsLength(NamedTuple):
    characters: int  # in the encoding's units: GSM-7 septets (extension characters count 2) or UTF-16 units
    segments: int
    encoding: str  # "GSM-7" or "UCS-2"


# --- Context -------------------------------------------------------------------------------------------------


def _eta(shipment: Shipment | None, store_tz: str) -> str:
    """The parcel's estimated delivery day, e.g. "Fri 27 Nov", exactly as its tracking page shows it
    (`orders.eta`); "" when there is none or it has passed, so no message calls a past day a new ETA."""
    if shipment is None:
        return ""
    eta = shipment_eta(estimate=shipment.carrier_estimated_delivery, status=shipment.status, tz_name=store_tz)
    return eta.label if eta and not eta.passed else ""


def message_context(*, order: Order, shipment: Shipment | None = None, extra: dict | None = None) -> dict[str, str]:
    """The placeholders' values for a message about `order`: plain strings only, never model objects.

    The parcel placeholders describe `shipment`, the parcel the message is about (a delay of the second
    parcel names the second parcel), else the order's newest. `extra` (action, offer, ... from a
    playbook) is added with every value coerced to str (None -> "")."""
    store = order.store
    customer = order.customer
    shipment = shipment or order.shipments.order_by("-created_at", "-id").first()
    support_phone = format_phone(store.support_phone)
    support_contact = store.support_email or support_phone or store.support_url
    context = {
        "first_name": (customer.first_name.strip() if customer else "") or "there",
        "order_number": order.order_number,
        "store_name": store.name,
        "tracking_url": import_string(settings.TRACKING_URL_BUILDER)(order),
        "carrier_tracking_url": carrier_tracking_url(shipment.carrier, shipment.tracking_code) if shipment else "",
        "carrier": carrier_name(shipment.carrier) if shipment else "",
        "tracking_code": shipment.tracking_code if shipment else "",
        "eta": _eta(shipment, store.timezone),
        "action": "",
        "offer": "",
        "support_email": store.support_email,
        "support_phone": support_phone,
        "support_url": store.support_url,
        "support_contact": support_contact,
        "return_url": "",
    }
    for key, value in (extra or {}).items():
        context[str(key)] = "" if value is None else str(value)
    return {key: str(value) for key, value in context.items()}


# --- Rendering -------------------------------------------------------------------------------------------------


class _Environment(SandboxedEnvironment):
    """The sandbox, with no loader (include/import/extends cannot read anything), no `lipsum`, unsafe
    attributes refused at once and repetition (`*`, `**`) bounded."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, *, autoescape: bool, undefined: type[jinja2.Undefined]) -> None:
        super().__init__(
            autoescape=autoescape,
            undefined=undefined,
            finalize=lambda value: "" if value is None else value,
        )
        self.globals.pop("lipsum", None)

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        # Refused outright, even by the lenient production renderer: reaching for internals is never "missing".
        raise jinja2.sandbox.SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe."
        )

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise jinja2.sandbox.SecurityError("the ** operator is not allowed in message templates")
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                too_long = isinstance(count, int) and len(sequence) * max(count, 0) > MAX_REPEAT_LENGTH
                if isinstance(sequence, str | list | tuple) and too_long:
                    raise jinja2.sandbox.SecurityError("repetition too long for a message template")
        return super().call_binop(context, operator, left, right)


_ENVIRONMENTS = {
    (autoescape, strict): _Environment(
        autoescape=autoescape, undefined=jinja2.StrictUndefined if strict else jinja2.ChainableUndefined
    )
    for autoescape in (True, False)
    for strict in (True, False)
}


def _template_line(tb: types.TracebackType | None) -> int | None:
    """The template line a runtime error happened on (Jinja maps its frames to "<template>" lines)."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _error(exc: BaseException) -> TemplateRenderError:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        line = exc.lineno
        message = exc.message or str(exc)
    else:
        line = _template_line(exc.__traceback__)
        message = str(exc) or type(exc).__name__
        if isinstance(exc, TypeError) and "no loader" in message:
            message = "templates cannot include, import or extend other templates"
    prefix = f"Line {line}: " if line else ""
    return TemplateRenderError(f"{prefix}{message}")


@lru_cache(maxsize=512)
def _compile(source: str, autoescape: bool, strict: bool) -> jinja2.Template:
    try:
        return _ENVIRONMENTS[(autoescape, strict)].from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise _error(exc) from exc


def _render(source: str, context: dict, *, autoescape: bool, strict: bool) -> str:
    template = _compile(source, autoescape, strict)
    try:
        return template.render(context)
    except Exception as exc:  # a template may fail in any way (1/0, bad filter arguments, ...)
        raise _error(exc) from exc


def render(source: str, context: dict, *, autoescape: bool) -> str:
    """Render template source against `context`; a missing placeholder renders as "".

    Raises TemplateRenderError (with the line number when known) for a syntax error or a refused operation.
    """
    return _render(source, context, autoescape=autoescape, strict=False)


def render_message(template: MessageTemplate, context: dict) -> Rendered:
    """A template's parts rendered: SMS -> text only (no-break spaces made plain); email -> subject
    (one line), text part and HTML part (autoescaped; "" when the template has none)."""
    text = render(template.body_text, context, autoescape=False).strip()
    if template.channel == "sms":
        return Rendered(subject="", text=text.replace("\xa0", " "), html="")
    subject = " ".join(render(template.subject, context, autoescape=False).split())
    html = render(template.body_html, context, autoescape=True).strip() if template.body_html.strip() else ""
    return Rendered(subject=subject, text=text, html=html)


# --- Validation ------------------------------------------------------------------------------------------------

_REFUSED_NODES: dict[type[nodes.Node], str] = {
    nodes.Include: "{% include %} is not allowed: a template stands alone",
    nodes.Import: "{% import %} is not allowed: a template stands alone",
    nodes.FromImport: "{% from ... import %} is not allowed: a template stands alone",
    nodes.Extends: "{% extends %} is not allowed: a template stands alone",
    nodes.For: "loops are not allowed: placeholders are plain text",
    nodes.Macro: "macros are not allowed in message templates",
    nodes.CallBlock: "{% call %} is not allowed in message templates",
}


def template_errors(source: str, *, autoescape: bool) -> list[str]:
    """Why `source` is not an acceptable template (empty when it is)."""
    env = _ENVIRONMENTS[(autoescape, True)]
    try:
        ast = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return [str(_error(exc))]
    errors = []
    for node_type, message in _REFUSED_NODES.items():
        for node in ast.find_all(node_type):
            errors.append(f"Line {node.lineno}: {message}")
    for node in ast.find_all(nodes.Const):
        if isinstance(node.value, int | float) and not isinstance(node.value, bool) and abs(node.value) > MAX_NUMBER:
            errors.append(f"Line {node.lineno}: numbers above {MAX_NUMBER} are not allowed")
    unknown = sorted(meta.find_undeclared_variables(ast) - PLACEHOLDERS.keys())
    if unknown:
        names = ", ".join("{{ " + name + " }}" for name in unknown)
        errors.append(f"Unknown placeholder{'s' if len(unknown) > 1 else ''} {names}. Use one of: {known_names()}.")
    if not errors:
        try:
            _render(source, SAMPLE_CONTEXT, autoescape=autoescape, strict=True)
        except TemplateRenderError as exc:
            errors.append(str(exc))
    return errors


def known_names() -> str:
    return ", ".join(PLACEHOLDERS)


def validate_template(template: MessageTemplate) -> None:
    """Refuse a template any part of which does not parse, names an unknown placeholder or fails to
    render against the sample context. Raises ValidationError keyed by field (subject/body_text/body_html)."""
    errors: dict[str, list[str]] = {}
    parts = [("body_text", template.body_text, False)]
    if template.channel == "email":
        parts += [("subject", template.subject, False), ("body_html", template.body_html, True)]
        if not template.subject.strip():
            errors["subject"] = ["An email needs a subject."]
    for field, source, autoescape in parts:
        found = template_errors(source or "", autoescape=autoescape)
        if found:
            errors.setdefault(field, []).extend(found)
    if not (template.body_text or "").strip() and "body_text" not in errors:
        errors["body_text"] = ["The message cannot be empty."]
    if errors:
        raise ValidationError(errors)


# --- SMS length ---------------------------------------------------------------------------------------------------

# Characters that force UCS-2 encoding (70 characters a segment instead of 160: twice the cost) although
# a GSM-7 character says the same. CX managers paste templates from word processors, which add them.
GSM_LOOKALIKES = str.maketrans(
    {
        "\xa0": " ",  # no-break space
        "\u2007": " ",  # figure space
        "\u202f": " ",  # narrow no-break space
        "\u200b": None,  # zero-width space
        "\u2060": None,  # word joiner
        "\ufeff": None,  # zero-width no-break space (BOM)
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
    }
)


def sms_body(text: str) -> str:
    """The text as it goes out: look-alike characters that would force UCS-2 replaced by GSM ones."""
    return text.translate(GSM_LOOKALIKES)


# GSM 03.38 basic character set (the escape character itself excluded) and the extension table, whose
# characters take two septets (escape + character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}  # (single message, per part of a multipart message)


def _units(text: str) -> tuple[str, list[int]]:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        return "GSM-7", [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    # UCS-2 as carriers do it today: UTF-16, where a character beyond the BMP (most emoji) takes two units.
    return "UCS-2", [len(ch.encode("utf-16-le")) // 2 for ch in text]


def sms_segments(text: str) -> SmsLength:
    """How long an SMS is and how many parts it is billed as. A character never straddles two parts
    (an escape pair or a surrogate pair moves whole to the next part). An empty text is 0 segments."""
    encoding, units = _units(text)
    characters = sum(units)
    single, per_part = LIMITS[encoding]
    if characters == 0:
        return SmsLength(0, 0, encoding)
    if characters <= single:
        return SmsLength(characters, 1, encoding)
    segments, used = 1, 0
    for width in units:
        if used + width > per_part:
            segments, used = segments + 1, 0
        used += width
    return SmsLength(characters, segments, encoding)
