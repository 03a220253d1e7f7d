"""The FAQ entries every store starts with: the "Where is my order?" questions, answered before they are
asked, in the situation where each comes up.

Written after the e-book's WISMO advice: tell the customer what is happening and what the store is
already doing, so that they don't need to do a thing. The defaults apply to every store (no store set);
a manager edits them, hides one (untick "shown") or adds a store's own.

`faq_seed()` is idempotent (one row per default's key) and never overwrites an entry a manager edited.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from .choices import OrderSituation
from .models import FaqEntry


@dataclass(frozen=True)
class DefaultFaq:
    key: str
    question: str
    answer: str
    situations: tuple[OrderSituation, ...]


DEFAULT_FAQ: tuple[DefaultFaq, ...] = (
    DefaultFaq(
        "when-will-it-ship",
        "When will my order ship?",
        "We're getting your order ready. As soon as it leaves us, this page shows the carrier and the "
        "tracking number, and we'll send you a message.\n\n"
        "If it runs later than we promised, we'll tell you first. You don't need to chase us.",
        (OrderSituation.UNFULFILLED,),
    ),
    DefaultFaq(
        "label-created-no-scan",
        "The label exists but tracking hasn't moved. Is something wrong?",
        "Probably not. The label is made when your order is packed; tracking starts when the carrier "
        "first scans the parcel, usually within a day or two.\n\n"
        "We watch every parcel: if the carrier hasn't scanned it within 48 hours, we chase them and tell you "
        "what we're doing about it.",
        (OrderSituation.PREPARING,),
    ),
    DefaultFaq(
        "tracking-quiet",
        "Tracking hasn't updated for a while. Is my parcel lost?",
        "Parcels are mostly scanned at depots, so a day or two without an update is normal.\n\n"
        "We keep an eye on it for you. If it stays still for longer than usual, we look into it with the "
        "carrier and tell you what we've done. You won't have to ask.",
        (OrderSituation.IN_TRANSIT,),
    ),
    DefaultFaq(
        "delayed-what-now",
        "My order is delayed. What are you doing about it?",
        "We spotted the delay and we're already on it: what we've done so far is at the top of this page.\n\n"
        "This page updates as soon as the carrier moves your parcel again, and we'll message you if "
        "anything changes. You don't need to do a thing.",
        (OrderSituation.DELAYED,),
    ),
    DefaultFaq(
        "out-for-delivery-home",
        "Do I need to be home?",
        "Usually not. Most parcels can be left safely. If the carrier needs a signature or can't leave it, "
        "they will leave a note and try again or hold it at a pickup point nearby.\n\n"
        "The tracking number above opens the carrier's own page, with their delivery options.",
        (OrderSituation.OUT_FOR_DELIVERY,),
    ),
    DefaultFaq(
        "delivered-cannot-find",
        "It says delivered, but I can't find it.",
        "Have a look around your door, in your mailbox or parcel locker, and with your neighbours: carriers "
        "sometimes scan a parcel as delivered a little before it arrives.\n\n"
        "Still nothing by the end of the day? Choose \"I didn't receive it\" on this page and we'll sort it "
        "out quickly.",
        (OrderSituation.DELIVERED,),
    ),
    DefaultFaq(
        "delivery-problem-what-now",
        "The carrier reported a problem with my delivery. What happens now?",
        "We hear about it as soon as the carrier does, and we're on it. If they couldn't deliver, carriers "
        "usually try again on the next working day or keep the parcel at a pickup point nearby; their "
        "tracking page, linked above, says which.\n\n"
        "If something needs fixing, such as the address, we'll get in touch.",
        (OrderSituation.DELIVERY_PROBLEM,),
    ),
)


@transaction.atomic
def faq_seed() -> int:
    """Create the default FAQ entries that are missing; return how many were created."""
    created = 0
    for position, default in enumerate(DEFAULT_FAQ, start=1):
        _, made = FaqEntry.objects.get_or_create(
            key=default.key,
            defaults={
                "store": None,
                "question": default.question,
                "answer": default.answer,
                "order_states": [str(s) for s in default.situations],
                "position": position * 10,  # gaps, so a manager can slot an entry in between
            },
        )
        created += made
    return created
