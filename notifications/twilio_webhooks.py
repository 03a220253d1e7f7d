"""POST /webhooks/twilio/status/ and /webhooks/twilio/inbound/ — what Twilio tells the hub.

Thin: check Twilio's signature, hand the form to notifications.inbound, answer. CSRF-exempt because
Twilio signs its requests instead. Twilio retries on errors, so everything done here is idempotent and
anything the hub does not know answers 200 (a retry would not make it known).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from cxhub.errors import post_only
from orders.validators import normalize_phone

from .inbound import (
    help_text,
    inbound_keyword,
    inbound_reply_to_ticket,
    sender_for,
    sms_opt_in,
    sms_opt_out,
    sms_status_update,
)

logger = logging.getLogger(__name__)


def _signed_by_twilio(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    token = settings.TWILIO_AUTH_TOKEN
    if not (signature and token):
        return False
    # Twilio signs the URL it called. Behind a TLS-terminating proxy or load balancer the request Django
    # sees has another scheme, host or port, so the hub's public URL (the one given to Twilio in status
    # callbacks and the console) is what is checked, with the path and query string as received.
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    return RequestValidator(token).validate(url, request.POST, signature)


def _form(request: HttpRequest) -> dict[str, str]:
    """The posted fields (checked against the signature as received) as text PostgreSQL can store: it refuses
    NUL characters, which a signed form may still carry."""
    return {key: value.replace("\x00", "\ufffd") for key, value in request.POST.items()}


def _refused() -> JsonResponse:
    return JsonResponse({"error": "invalid or missing X-Twilio-Signature"}, status=401)


def _twiml(response: MessagingResponse | None = None) -> HttpResponse:
    return HttpResponse(str(response or MessagingResponse()), content_type="text/xml; charset=utf-8")


@csrf_exempt
@post_only
def twilio_status(request: HttpRequest) -> HttpResponse:
    """A status callback for a message the hub sent (named by its public id in `m`, else by its sid)."""
    if not _signed_by_twilio(request):
        return _refused()
    form = _form(request)
    sms_status_update(
        public_id=request.GET.get("m", "").replace("\x00", ""),
        provider_id=form.get("MessageSid", "") or form.get("SmsSid", ""),
        twilio_status=form.get("MessageStatus", "") or form.get("SmsStatus", ""),
        error_code=form.get("ErrorCode", ""),
    )
    return HttpResponse(status=200)


@csrf_exempt
@post_only
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """A customer's SMS to the hub's number: STOP/START/HELP keywords, or a message for the CX team."""
    if not _signed_by_twilio(request):
        return _refused()
    form = _form(request)
    phone = normalize_phone(form.get("From", ""))
    body = form.get("Body", "")
    if not phone:
        return _twiml()
    keyword = inbound_keyword(body, form.get("OptOutType", ""))
    if keyword == "stop":
        # Twilio itself answers STOP with the confirmation carriers require: no reply of ours.
        sms_opt_out(phone)
        return _twiml()
    if keyword == "start":
        sms_opt_in(phone)
        return _twiml()
    if keyword == "help":
        sender = sender_for(phone)
        reply = MessagingResponse()
        if sender is not None:
            reply.message(help_text(sender.store))
        return _twiml(reply)
    media = [form.get(f"MediaUrl{i}", "") for i in range(_media_count(form))]
    inbound_reply_to_ticket(
        phone=phone,
        body=body,
        message_sid=form.get("MessageSid", "") or form.get("SmsSid", ""),
        media_urls=[url for url in media if url],
    )
    return _twiml()


def _media_count(form: dict[str, str]) -> int:
    count = form.get("NumMedia", "0")
    return min(int(count), 10) if count.isdigit() else 0
