"""The contract every outbound channel (one file per channel) fulfils."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from notifications.models import Message
    from orders.models import Customer


class ChannelError(Exception):
    """A send failed. `permanent` failures (invalid number, opted out at the carrier, rejected address)
    are recorded and never retried; transient ones (timeouts, 429, 5xx) are retried with backoff.
    `unknown_outcome` means the request may have reached the provider: it is flagged for review, not
    resent blindly."""

    def __init__(self, message: str, *, permanent: bool, unknown_outcome: bool = False, code: str = "") -> None:
        super().__init__(message)
        self.permanent = permanent
        self.unknown_outcome = unknown_outcome
        self.code = code


class Channel:
    kind: ClassVar[str]  # "sms", "email": stored on messages; never renamed
    label: ClassVar[str]

    def is_configured(self) -> bool:
        """Whether the settings this channel needs are present."""
        raise NotImplementedError

    def address_for(self, customer: Customer) -> str:
        """Where to reach this customer on this channel, or "" (no address, or opted out)."""
        raise NotImplementedError

    def send(self, message: Message) -> str:
        """Hand the message to the provider; return the provider's id for it. Raises ChannelError.

        Must pass `message.public_id` where the provider allows it (status callbacks, idempotency).
        Every network call has a timeout.
        """
        raise NotImplementedError

    def warm_up(self) -> None:
        """Load what the first send loads lazily (the provider's SDK, templates), without sending anything
        or opening a connection. RQ workers call it before they fork the work horses that send
        (cxhub/worker.py): a horse runs one job and is thrown away, so what it loads lazily it loads again
        for every message."""
