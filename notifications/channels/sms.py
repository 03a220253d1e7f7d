"""SMS through Twilio, with the official SDK.

`TWILIO_API_BASE_URL` points the SDK at any Twilio-compatible API: the SDK builds twilio.com URLs
itself (edge and region only change hosts inside twilio.com), so a small HTTP client rewrites the scheme
and host of every request instead. Production leaves it at https://api.twilio.com and nothing is
rewritten; tests point it at a loopback fake and run the real SDK end to end.

Errors are sorted for the dispatcher: Twilio's 4xx answers about the message (invalid number, opted out,
landline…) are permanent; 429, 5xx and network trouble are transient; a failure after the request may
have reached Twilio is an unknown outcome, never resent blindly.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from requests import exceptions as requests_errors
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from ..rendering import sms_body
from .base import Channel, ChannelError

if TYPE_CHECKING:
    from twilio.http.response import Response

    from notifications.models import Message
    from orders.models import Customer

logger = logging.getLogger(__name__)
_per_thread = threading.local()  # the Twilio client kept (see SmsChannel._client)

STATUS_CALLBACK_PATH = "/webhooks/twilio/status/"

# Twilio answers these with a 4xx although waiting helps: rate limits (account, sender, A2P 10DLC daily cap).
TRANSIENT_CODES = frozenset({14107, 20429, 30022})
# 401/403/404 mean our credentials or account are wrong, not the message: fixing the settings makes it
# sendable again, so the dispatcher retries (and eventually gives up) instead of failing it for good.
ACCOUNT_STATUSES = frozenset({401, 403, 404})


def is_twilio_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "twilio.com" or host.endswith(".twilio.com")


class RedirectingHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, sending every request to `base_url`'s scheme and host (and path prefix)
    unless that is Twilio's own."""

    def __init__(self, *, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base = None if is_twilio_url(base_url) else urlsplit(base_url.rstrip("/"))

    def rewrite(self, url: str) -> str:
        if self.base is None:
            return url
        parts = urlsplit(url)
        return urlunsplit((self.base.scheme, self.base.netloc, self.base.path + parts.path, parts.query, ""))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        return super().request(method, self.rewrite(url), *args, **kwargs)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


def _twilio_error(exc: TwilioRestException | TwilioServiceException) -> ChannelError:
    status = int(exc.status or 0)
    code = exc.code if exc.code and exc.code != status else None
    text = getattr(exc, "msg", "") or getattr(exc, "detail", "") or getattr(exc, "title", "")
    described = f"Twilio {status}" + (f" error {code}" if code else "") + (f": {text}" if text else "")
    transient = status == 429 or status >= 500 or status in ACCOUNT_STATUSES or code in TRANSIENT_CODES
    # Anything else Twilio refused (21211 invalid 'To', 21408 region not enabled, 21610 unsubscribed
    # recipient, 21614 not a mobile number…) would be refused again: permanent.
    return ChannelError(described, permanent=not transient and 400 <= status < 500, code=str(code or status))


def _before_sending(exc: requests_errors.RequestException) -> bool:
    """Whether the request certainly never left: no connection was made (refused, DNS, connect timeout,
    TLS handshake, proxy). A read timeout or a dropped connection may come after Twilio got the request."""
    if isinstance(exc, requests_errors.ConnectTimeout | requests_errors.SSLError | requests_errors.ProxyError):
        return True
    if isinstance(exc, requests_errors.ConnectionError):
        cause = exc.args[0] if exc.args else None
        if isinstance(cause, MaxRetryError):
            return isinstance(cause.reason, NewConnectionError | ConnectTimeoutError)
        return False
    # Invalid URL, missing schema and the like: nothing was sent.
    return not isinstance(exc, requests_errors.Timeout)


class SmsChannel(Channel):
    kind = "sms"
    label = "SMS"

    def is_configured(self) -> bool:
        return bool(
            settings.TWILIO_ACCOUNT_SID
            and settings.TWILIO_AUTH_TOKEN
            and (settings.TWILIO_MESSAGING_SERVICE_SID or settings.TWILIO_FROM_NUMBER)
        )

    def address_for(self, customer: Customer) -> str:
        if customer.sms_opted_out_at is not None:
            return ""
        return customer.phone

    def status_callback_url(self, message: Message) -> str:
        # The public id (not the provider's sid) finds the message even when the callback beats the
        # dispatcher's save of the sid.
        return f"{settings.PUBLIC_BASE_URL}{STATUS_CALLBACK_PATH}?m={message.public_id}"

    def _client(self) -> Client:
        """This process's (and thread's) client for the current settings. Kept, so that its connection to
        Twilio is too: a client per message paid a TCP (and in production a TLS) handshake per SMS."""
        key = (os.getpid(), settings.TWILIO_API_BASE_URL, settings.TWILIO_TIMEOUT_SECONDS,
               settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)  # fmt: skip
        kept_key, client = getattr(_per_thread, "client", (None, None))
        if kept_key != key:
            if client is not None and kept_key[0] == key[0]:
                client.http_client.close()  # the settings changed: its connection is of no more use
            http = RedirectingHttpClient(base_url=settings.TWILIO_API_BASE_URL, timeout=settings.TWILIO_TIMEOUT_SECONDS)
            client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)
            _per_thread.client = (key, client)
        return client

    def warm_up(self) -> None:
        # The SDK imports its API domains on first use: `client.messages` loads twilio.rest.api and every
        # resource of the 2010 API (~100 modules: 0.45 s per work horse measured, with no bytecode cache).
        # Reaching `messages` imports them; nothing is sent, and no connection is opened to be forked.
        self._client().messages  # noqa: B018  (the attribute access is the point)

    def send(self, message: Message) -> str:
        if not self.is_configured():
            raise ChannelError("Twilio is not configured", permanent=False, code="not_configured")
        sender: dict[str, str] = (
            {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
            if settings.TWILIO_MESSAGING_SERVICE_SID
            else {"from_": settings.TWILIO_FROM_NUMBER}
        )
        try:
            created = self._client().messages.create(
                to=message.to,
                body=sms_body(message.body_text),
                status_callback=self.status_callback_url(message),
                **sender,
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            error = _twilio_error(exc)
            logger.warning("SMS %s refused by Twilio: %s", message.public_id, error)
            raise error from exc
        except requests_errors.RequestException as exc:
            sent = not _before_sending(exc)
            logger.warning("SMS %s: Twilio unreachable (%s), maybe sent: %s", message.public_id, exc, sent)
            raise ChannelError(
                f"Twilio unreachable: {exc.__class__.__name__}",
                permanent=False,
                unknown_outcome=sent,
                code="timeout" if isinstance(exc, requests_errors.Timeout) else "connection",
            ) from exc
        except ValueError as exc:
            # A 2xx whose body is not JSON: Twilio accepted something, we cannot tell what.
            raise ChannelError(f"unreadable Twilio answer: {exc}", permanent=False, unknown_outcome=True) from exc
        if not created.sid:
            raise ChannelError("Twilio answered without a message sid", permanent=False, unknown_outcome=True)
        return created.sid
