"""Read-only figures for the admin landing page: a handful of indexed aggregate queries."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from orders.choices import FINAL_SHIPMENT_STATUSES, ShipmentStatus, TicketReason
from orders.models import Order, Shipment, Store, Ticket

# Appendix A of the e-book: a label with no carrier scan for 48 hours is a ship-slip.
NO_SCAN_HOURS = 48


@dataclass(frozen=True)
class Overview:
    orders_30d: int
    tickets_30d: int
    wismo_30d: int
    shipments_by_status: list[tuple[str, str, int, int]]  # value, label, count, % of the largest
    not_scanned: int
    moving: int
    has_store: bool  # none on a new install: the page then says where to start

    @property
    def contact_rate(self) -> float | None:
        return self.tickets_30d / self.orders_30d if self.orders_30d else None

    @property
    def wismo_share(self) -> float | None:
        return self.wismo_30d / self.tickets_30d if self.tickets_30d else None


def overview() -> Overview:
    now = timezone.now()
    since = now - timedelta(days=30)
    tickets = Ticket.objects.filter(created_at__gte=since).aggregate(
        total=Count("id"), wismo=Count("id", filter=Q(reason=TicketReason.WISMO))
    )
    by_status = dict(Shipment.objects.values_list("status").annotate(n=Count("id")).order_by())
    largest = max(by_status.values(), default=0) or 1
    return Overview(
        orders_30d=Order.objects.filter(placed_at__gte=since).count(),
        tickets_30d=tickets["total"],
        wismo_30d=tickets["wismo"],
        shipments_by_status=[
            (status.value, status.label, by_status[status.value], round(100 * by_status[status.value] / largest))
            for status in ShipmentStatus
            if by_status.get(status.value)
        ],
        not_scanned=Shipment.objects.filter(
            status=ShipmentStatus.LABEL_CREATED, label_created_at__lt=now - timedelta(hours=NO_SCAN_HOURS)
        ).count(),
        moving=Shipment.objects.exclude(status__in=FINAL_SHIPMENT_STATUSES).count(),
        has_store=Store.objects.exists(),
    )
