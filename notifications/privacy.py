"""The personal data in the outbox: who each message went to and what it said (orders.privacy)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from orders.models import DataRequest
from orders.privacy import People, PersonalDataHolder

from .choices import MessageStatus
from .models import Message

# Not sent yet: erased, they are not sent (their address is gone).
UNSENT = (MessageStatus.SCHEDULED, MessageStatus.QUEUED)
CONTENT = {"to": "", "subject": "", "body_text": "", "body_html": ""}


class MessagesData(PersonalDataHolder):
    def copy(self, people: People) -> dict[str, Any]:
        messages = people.of(Message.objects.all(), customer="customer").order_by("created_at")
        return {
            "messages": [
                {
                    "sent_at": (m.sent_at or m.created_at).isoformat(),
                    "channel": m.channel,
                    "to": m.to,
                    "status": m.status,
                    "subject": m.subject,
                    "text": m.body_text,
                }
                for m in messages
            ]
        }

    def erase(self, people: People, *, request: DataRequest) -> Counter:
        messages = people.of(Message.objects.all(), customer="customer", store="store")
        unsent = messages.filter(status__in=UNSENT).update(
            **CONTENT, status=MessageStatus.SUPPRESSED, error="personal data erased before it was sent"
        )
        said = messages.exclude(**CONTENT).update(**CONTENT)
        return +Counter({"messages": unsent + said})
