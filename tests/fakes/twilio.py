"""A fake Twilio REST API: a real HTTP server on loopback that the official SDK talks to.

It answers POST /2010-04-01/Accounts/{AccountSid}/Messages.json the way Twilio does — Basic auth
checked, the form parsed, a 201 with a Message resource, or a 4xx/5xx with Twilio's error JSON — and
records every request. A test can queue answers for the next requests: an error code, a status, a slow
answer (longer than the client's timeout) or a dropped connection.

Use the `fake_twilio` fixture: it starts the server, points settings.TWILIO_* at it and stops it after.
In a test module: `pytest_plugins = ["tests.fakes.twilio"]`.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC[0-9a-f]{32})/Messages\.json$")

# What Twilio says for the errors tests ask for (https://www.twilio.com/docs/errors/<code>).
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    21211: "Invalid 'To' Phone Number",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
    21602: "Message body is required.",
    21603: "The 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
}

# The GSM 03.38 basic character set and its extension table (each extension character costs two septets).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


def sms_encoding(text: str) -> str:
    return "GSM-7" if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text) else "UCS-2"


def sms_segments(text: str) -> int:
    if sms_encoding(text) == "GSM-7":
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, multi = 160, 153
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if units <= single else -(-units // multi)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    auth: tuple[str, str] | None
    form: dict[str, list[str]]
    client_port: int = 0  # which connection it came on

    def value(self, name: str) -> str:
        values = self.form.get(name, [])
        return values[0] if values else ""

    @property
    def to(self) -> str:
        return self.value("To")

    @property
    def body(self) -> str:
        return self.value("Body")

    @property
    def from_(self) -> str:
        return self.value("From")

    @property
    def messaging_service_sid(self) -> str:
        return self.value("MessagingServiceSid")

    @property
    def status_callback(self) -> str:
        return self.value("StatusCallback")


@dataclass
class Answer:
    """A queued answer: a status and JSON body, after a delay; `drop` closes the connection unanswered."""

    status: int = 201
    body: dict | None = None
    delay: float = 0.0
    drop: bool = False


@dataclass
class FakeTwilio:
    account_sid: str = field(default_factory=lambda: "AC" + secrets.token_hex(16))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    from_number: str = "+15005550006"
    requests: list[RecordedRequest] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    answers: deque[Answer] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- programming the next answers ---------------------------------------------------------------------

    def queue_error(self, code: int, *, status: int = 400, message: str = "") -> None:
        """The next request is refused with Twilio's error JSON (e.g. 21610 opted out, 20429 with 429)."""
        self.answers.append(Answer(status=status, body=self.error_body(code, status, message)))

    def queue_status(self, status: int) -> None:
        """The next request gets a bare HTTP error, as a proxy or an outage would answer (429, 500, 503)."""
        code = 20429 if status == 429 else None
        body = self.error_body(code, status) if code else {"status": status, "message": "Internal Server Error"}
        self.answers.append(Answer(status=status, body=body))

    def queue_delay(self, seconds: float) -> None:
        """The next request is accepted (the message is created) but answered only after `seconds`."""
        self.answers.append(Answer(delay=seconds))

    def queue_drop(self) -> None:
        """The next request is read, then the connection is closed without an answer."""
        self.answers.append(Answer(drop=True))

    # --- server ------------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body go out in two writes: with Nagle's algorithm the body waited for the
            # client's delayed ACK, 40 ms per answer on a kept-alive connection (Twilio's servers do not).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._send(self, 404, fake.error_body(20404, 404))

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that gave up (timeout) leaves a broken pipe: expected here

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-twilio", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    # --- answering ---------------------------------------------------------------------------------------------

    def error_body(self, code: int | None, status: int, message: str = "") -> dict:
        return {
            "code": code,
            "message": message or ERROR_MESSAGES.get(code or 0, "Error"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode()
        auth = _basic_auth(handler.headers.get("Authorization", ""))
        recorded = RecordedRequest(
            method="POST",
            path=handler.path,
            headers=dict(handler.headers.items()),
            auth=auth,
            form=parse_qs(raw, keep_blank_values=True),
            client_port=handler.client_address[1],
        )
        with self._lock:
            self.requests.append(recorded)
            answer = self.answers.popleft() if self.answers else Answer()
        if answer.drop:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if answer.status != 201 or answer.body is not None:
            return self._send(handler, answer.status, answer.body or {})
        status, body = self._create_message(recorded)
        if answer.delay:
            self._stopping.wait(answer.delay)
        self._send(handler, status, body)

    def _create_message(self, request: RecordedRequest) -> tuple[int, dict]:
        match = MESSAGES_PATH.match(request.path.split("?")[0])
        if request.auth != (self.account_sid, self.auth_token):
            return 401, self.error_body(20003, 401)
        if match is None or match["account"] != self.account_sid:
            return 404, self.error_body(20404, 404)
        if not request.to:
            return 400, self.error_body(21604, 400)
        if not (request.from_ or request.messaging_service_sid):
            return 400, self.error_body(21603, 400)
        if not request.body and not request.form.get("MediaUrl"):
            return 400, self.error_body(21602, 400)
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        message = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": request.body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            # With a Messaging Service and no From, Twilio picks the sender later: "accepted", no from yet.
            "from": request.from_ or None,
            "messaging_service_sid": request.messaging_service_sid or None,
            "num_media": "0",
            "num_segments": str(sms_segments(request.body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if request.from_ else "accepted",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "to": request.to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        with self._lock:
            self.messages.append(message)
        return 201, message

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _basic_auth(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None
    return user, password


@pytest.fixture
def fake_twilio(settings) -> Iterator[FakeTwilio]:
    """A running fake Twilio with settings.TWILIO_* pointing at it (From number, no Messaging Service,
    a 1-second timeout)."""
    fake = FakeTwilio().start()
    settings.TWILIO_ACCOUNT_SID = fake.account_sid
    settings.TWILIO_AUTH_TOKEN = fake.auth_token
    settings.TWILIO_FROM_NUMBER = fake.from_number
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_BASE_URL = fake.base_url
    settings.TWILIO_TIMEOUT_SECONDS = 1.0
    try:
        yield fake
    finally:
        fake.stop()
