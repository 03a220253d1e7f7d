"""What the customer pages do: record delivery feedback, open a not-received claim."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from orders.choices import EventSource, TicketChannel, TicketReason
from orders.facts import facts_announce
from orders.models import Order, Ticket
from orders.services import ticket_create
from orders.updates import OrderRef, TicketData

from .models import DeliveryFeedback


def feedback_record(*, order: Order, rating: int, comment: str = "") -> DeliveryFeedback:
    """Keep the customer's latest answer to "Did everything arrive OK?"."""
    feedback, _ = DeliveryFeedback.objects.update_or_create(
        order=order, defaults={"rating": rating, "comment": comment.strip()[:2000]}
    )
    return feedback


@transaction.atomic
def not_received_claim(*, order: Order, note: str = "") -> Ticket:
    """The customer says a delivered parcel did not arrive: a contact for agents, once per order, that
    the delivered-but-not-received playbook takes over (its detector hears of it at once)."""
    ticket, _ = ticket_create(
        store=order.store,
        data=TicketData(
            reason=TicketReason.DELIVERY_PROBLEM,
            created_at=timezone.now(),
            channel=TicketChannel.WEB,
            order=OrderRef(external_id=order.external_id, order_number=order.order_number),
            external_id=f"not-received:{order.pk}",
            subject="The tracking page says delivered, but the parcel did not arrive",
            body=note.strip()[:2000],
            source=EventSource.CUSTOMER,
        ),
    )
    facts_announce(order_ids=[order.pk], shipment_ids=order.shipments.values_list("pk", flat=True))
    return ticket
