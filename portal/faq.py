"""Pre-emptive answers: which situations an order is in, and the FAQ entries that help there.

Pure reads over rows the tracking page has already loaded, plus one query for the entries.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from orders.choices import FulfillmentStatus, ShipmentStatus
from orders.models import Order, Shipment
from playbooks.models import ExceptionCase

from .choices import OrderSituation
from .models import FaqEntry
from .selectors import CompiledQuery

# A live case of one of these kinds means the order is late, whatever the carrier's last scan says.
DELAY_CASE_KINDS = frozenset({"no_first_scan", "transit_stall", "carrier_disruption", "late_to_ship"})
# ... and of these, that the carrier could not deliver (even once the parcel's status has moved on).
# Not "delivered_not_received": the customer told us, the notice answers them, and "the carrier couldn't
# deliver" answers would not fit. Not "address_problem" either: it is caught before any delivery attempt.
DELIVERY_PROBLEM_CASE_KINDS = frozenset({"failed_attempt"})

# Cancelled and unknown shipments say nothing the customer could ask about.
SHIPMENT_SITUATIONS: dict[str, OrderSituation] = {
    ShipmentStatus.LABEL_CREATED: OrderSituation.PREPARING,
    ShipmentStatus.IN_TRANSIT: OrderSituation.IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY: OrderSituation.OUT_FOR_DELIVERY,
    ShipmentStatus.DELIVERED: OrderSituation.DELIVERED,
    ShipmentStatus.ATTEMPTED_DELIVERY: OrderSituation.DELIVERY_PROBLEM,
    # Held at a pickup point: the parcel did not reach the door and the customer has to act.
    ShipmentStatus.AVAILABLE_FOR_PICKUP: OrderSituation.DELIVERY_PROBLEM,
    ShipmentStatus.EXCEPTION: OrderSituation.DELIVERY_PROBLEM,
    ShipmentStatus.RETURNED_TO_SENDER: OrderSituation.DELIVERY_PROBLEM,
}


def returning_to_sender(case: ExceptionCase, shipments: Iterable[Shipment]) -> bool:
    """A carrier disruption whose parcel is going back to the store: not a delay, and not coming as it is."""
    return case.kind == "carrier_disruption" and any(
        s.pk == case.shipment_id and s.status == ShipmentStatus.RETURNED_TO_SENDER for s in shipments
    )


def order_situations(order: Order, shipments: Iterable[Shipment], live_cases: Iterable[ExceptionCase]) -> set[str]:
    """Every situation the order is in: one per parcel's status, "unfulfilled" while something has not
    shipped, and "delayed" / "delivery problem" from the live cases the hub is handling."""
    if order.cancelled_at is not None:
        return set()  # shipping answers would only mislead
    moving = [s for s in shipments if s.status != ShipmentStatus.CANCELLED]
    situations: set[str] = {SHIPMENT_SITUATIONS[s.status] for s in moving if s.status in SHIPMENT_SITUATIONS}
    if not moving or order.fulfillment_status == FulfillmentStatus.PARTIAL:
        situations.add(OrderSituation.UNFULFILLED)
    for case in live_cases:
        if returning_to_sender(case, moving):
            # Going back to the store is not a delay: "my order is delayed" answers would mislead.
            situations.add(OrderSituation.DELIVERY_PROBLEM)
        elif case.kind in DELAY_CASE_KINDS:
            situations.add(OrderSituation.DELAYED)
        elif case.kind in DELIVERY_PROBLEM_CASE_KINDS:
            situations.add(OrderSituation.DELIVERY_PROBLEM)
    return {str(s) for s in situations}


# A store's shown entries and every store's, in the managers' order.
_ENTRIES = CompiledQuery(
    lambda store_id: (
        FaqEntry.objects.filter(Q(store_id=store_id) | Q(store__isnull=True), is_active=True)
        .only("question", "answer", "order_states", "position")
        .order_by("position", "id")
    )
)


def faq_for(order: Order, situations: set[str]) -> list[FaqEntry]:
    """The shown entries of the order's store and of every store that help in any of `situations`, in
    the managers' order. One query (none when there is no situation).

    The situations are matched here rather than in SQL: JSON containment is not portable (SQLite, the
    demo's database, has none), and a store has a few dozen entries at most."""
    if not situations:
        return []
    entries = _ENTRIES(order.store_id)
    return [e for e in entries if isinstance(e.order_states, list) and situations.intersection(e.order_states)]
