"""Address problem: the parcel is likely to go to the wrong place, or to nowhere.

For the customer a bad address means a parcel that bounces between depots and comes back to the
sender days later, and they only learn of it when they ask. Fixing the address before the carrier
gives up is cheap; shipping again is not. Three signals, none needing a time threshold:

- the address failed verification (at checkout or by the store's address check);
- the address was never verified and the order has already been fulfilled (optional: some stores
  never verify, and then every shipped order would match);
- the carrier itself reported an address issue on a shipment that is now held (exception) or failed
  a delivery attempt. ADDRESS_DETAILS lists the carrier sub-statuses that name the address.

Orders with a delivered shipment are left out: a parcel reached the address, so it works. A doubtful
address is watched for `within_days` after the order (a month by default, the life of a parcel in
flight); past that, a parcel still not delivered belongs to the stall and not-received detectors and to
agents. The window also keeps the sweep to the recent orders instead of every failed address in history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from orders.choices import AddressVerification, ShipmentStatus
from orders.models import Order, Shipment, TrackingEvent
from playbooks.detectors.base import Detector
from playbooks.params import Param

# TrackingEvent.raw_detail values, as the connectors store them, that mean "the address is the problem":
# - EasyPost status_detail `address_correction`: the carrier had to correct the address.
# - AfterShip subtag Exception_002 ("customer moved") and Exception_007 ("incorrect address").
# Shopify sends no sub-status (its raw_detail stays empty); its `buyer_action_required` is a raw_status
# that may as well be customs duties or a pickup, so it is left to carrier_disruption.
ADDRESS_DETAILS = frozenset({"address_correction", "Exception_002", "Exception_007"})

HELD_STATUSES = (ShipmentStatus.EXCEPTION, ShipmentStatus.ATTEMPTED_DELIVERY)


class AddressProblemDetector(Detector):
    kind = "address_problem"
    label = "Address problem"
    subject = "order"
    params = {
        "flag_unverified_at_fulfillment": Param(
            # Off by default: Shopify and CSV orders never carry a verification result.
            bool,
            False,
            "Also flag orders that were fulfilled while their address was never verified.",
        ),
        "within_days": Param(
            int,
            30,
            "Days after the order during which a doubtful address is flagged; a carrier's report always is.",
            minimum=1,
        ),
    }

    def matching(self, now: datetime, params: dict[str, Any]) -> QuerySet[Order]:
        shipments = Shipment.objects.filter(order=OuterRef("pk"))
        address_events = TrackingEvent.objects.filter(shipment=OuterRef("pk"), raw_detail__in=ADDRESS_DETAILS)
        # Two small indexed sets, unioned: orders with a parcel held over its address (status index), and
        # orders whose address is in doubt and not delivered yet (partial index). Written as an OR, the
        # condition made PostgreSQL test every order: 4.4 s at a million shipments (bench/README.md).
        reported = (
            Shipment.objects.filter(status__in=HELD_STATUSES).filter(Exists(address_events)).order_by().values("order")
        )
        delivered = Exists(shipments.filter(status=ShipmentStatus.DELIVERED))
        in_doubt = (
            Order.objects.filter(cancelled_at__isnull=True, placed_at__gte=_watched_since(now, params))
            .exclude(delivered)
            .order_by()
            .values("pk")
        )
        # Served by a partial index on the open orders whose address failed verification, by date.
        doubtful = [in_doubt.filter(address_verification=AddressVerification.FAILED)]
        if params["flag_unverified_at_fulfillment"]:
            # A set of its own, so that turning it on leaves the failed-verification set indexed.
            fulfilled = Exists(shipments.exclude(status=ShipmentStatus.CANCELLED))
            doubtful.append(in_doubt.filter(fulfilled, address_verification=AddressVerification.UNVERIFIED))
        return Order.objects.filter(cancelled_at__isnull=True, pk__in=reported.union(*doubtful))

    def facts(self, subject: Order, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        reported = [
            {
                "tracking_code": event.shipment.tracking_code,
                "carrier": event.shipment.carrier,
                "shipment_status": event.shipment.status,
                "raw_status": event.raw_status,
                "raw_detail": event.raw_detail,
                "message": event.message,
                "occurred_at": event.occurred_at.isoformat(),
            }
            for event in TrackingEvent.objects.filter(
                shipment__order=subject, shipment__status__in=HELD_STATUSES, raw_detail__in=ADDRESS_DETAILS
            ).select_related("shipment")
        ]
        verification = subject.address_verification
        shipments = subject.shipments.all()
        rules = []
        watched = subject.placed_at >= _watched_since(now, params)
        if watched and not shipments.filter(status=ShipmentStatus.DELIVERED).exists():
            if verification == AddressVerification.FAILED:
                rules.append("verification_failed")
            elif (
                verification == AddressVerification.UNVERIFIED
                and params["flag_unverified_at_fulfillment"]
                and shipments.exclude(status=ShipmentStatus.CANCELLED).exists()
            ):
                rules.append("unverified_at_fulfillment")
        if reported:
            rules.append("carrier_reported")
        return {
            "order_number": subject.order_number,
            "address": subject.shipping_address_lines,
            "address_verification": verification,
            "flag_unverified_at_fulfillment": params["flag_unverified_at_fulfillment"],
            "within_days": params["within_days"],
            "watched": watched,
            "rules": rules,
            "carrier_reports": reported,
        }

    def sentence(self, subject: Order, now: datetime, params: dict[str, Any], facts: dict[str, Any]) -> str:
        parts = []
        if "verification_failed" in facts["rules"]:
            parts.append("the shipping address failed verification")
        if "unverified_at_fulfillment" in facts["rules"]:
            parts.append("the order was fulfilled to an address that was never verified")
        reports = facts["carrier_reports"]
        if reports:
            newest = max(reports, key=lambda report: report["occurred_at"])
            said = f': "{newest["message"]}"' if newest["message"] else ""
            parts.append(
                f"the carrier reported an address issue on {len(reports)} scan(s), latest "
                f"{newest['raw_detail']} on {newest['carrier'].upper()} {newest['tracking_code']}{said}"
            )
        if not parts:
            if not facts.get("watched", True):
                return f"The order is more than {facts['within_days']} days old: its address is no longer watched."
            return "No address problem is reported any more."
        sentence = "; ".join(parts)
        return sentence[0].upper() + sentence[1:] + "."


def _watched_since(now: datetime, params: dict[str, Any]) -> datetime:
    return now - timedelta(days=params["within_days"])
