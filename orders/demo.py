"""Demo data: two brands, their customers and N orders over the last 30 days, every kind of journey.

Deterministic for a seed (one `random.Random`, times relative to a fixed anchor) and idempotent:
everything is keyed by stable ids and applied through `orders.services`, so a second run updates
in place and never duplicates. The journeys are the cases the hub exists for: on time, never
scanned, stalled, failed attempts, carrier exceptions, late to ship, failed payments, cancellations,
international parcels and VIPs, and problems that have passed (a late first scan, a missed delivery,
an order shipped after its promised date, each delivered since) — with tickets, a realistic share of
them "where is my order?". Each journey happens when it would: a parcel still in transit or waiting
at a depot was sent days ago, not weeks.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from .choices import EventSource, FinancialStatus, FulfillmentStatus, ShipmentStatus, TicketChannel, TicketReason
from .models import Customer, Store
from .privacy import data_request_record
from .services import order_upsert, shipment_upsert, ticket_create
from .updates import (
    AddressData,
    CustomerData,
    LineItemData,
    OrderData,
    OrderRef,
    ShipmentData,
    TicketData,
    TrackingEventData,
)

BRANDS = [
    {
        "slug": "northwind",
        "name": "Northwind Outfitters",
        "primary_colour": "#1f3a2e",
        "accent_colour": "#d97706",
        "support_email": "help@northwind.example",
        "support_phone": "+14155550100",
        "support_url": "https://northwind.example/help",
        "timezone": "America/Los_Angeles",
        "shopify_domain": "northwind-outfitters.myshopify.com",
        "products": [
            ("NW-JKT-01", "Ridge rain jacket", ["S / Moss", "M / Moss", "L / Slate"], "129.00"),
            ("NW-BOOT-02", "Trail boots", ["US 8", "US 9", "US 10", "US 11"], "159.00"),
            ("NW-SOCK-03", "Merino hiking socks (3-pack)", ["M", "L"], "24.00"),
            ("NW-PACK-04", "Day pack 24L", ["Rust", "Black"], "89.00"),
            ("NW-BEAN-05", "Wool beanie", ["One size"], "29.00"),
        ],
    },
    {
        "slug": "lumen",
        "name": "Lumen Home",
        "primary_colour": "#27272a",
        "accent_colour": "#0d9488",
        "support_email": "care@lumenhome.example",
        "support_phone": "+12025550143",
        "support_url": "https://lumenhome.example/support",
        "timezone": "America/New_York",
        "shopify_domain": "lumen-home.myshopify.com",
        "products": [
            ("LH-LAMP-01", "Arc floor lamp", ["Brass", "Matte black"], "189.00"),
            ("LH-THROW-02", "Linen throw", ["Sand", "Sage"], "79.00"),
            ("LH-MUG-03", "Stoneware mugs (set of 4)", ["Speckled"], "48.00"),
            ("LH-CANDLE-04", "Cedar candle", ["Large"], "32.00"),
            ("LH-RUG-05", "Wool rug 5x8", ["Ivory", "Charcoal"], "349.00"),
        ],
    },
]

FIRST_NAMES = ["Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Priya", "Lucas", "Chloe", "Omar", "Hana", "Diego",
               "Grace", "Kenji", "Amara", "Felix", "Ines", "Theo", "Nora", "Sami"]  # fmt: skip
LAST_NAMES = ["Garcia", "Nguyen", "Smith", "Patel", "Kim", "Okafor", "Rossi", "Müller", "Brown", "Silva", "Cohen",
              "Haddad", "Larsen", "Tanaka", "Dubois", "Walsh"]  # fmt: skip
US_ADDRESSES = [
    ("San Francisco", "CA", "94105", "America/Los_Angeles"),
    ("Portland", "OR", "97205", "America/Los_Angeles"),
    ("Denver", "CO", "80202", "America/Denver"),
    ("Austin", "TX", "78701", "America/Chicago"),
    ("Chicago", "IL", "60601", "America/Chicago"),
    ("Brooklyn", "NY", "11201", "America/New_York"),
    ("Boston", "MA", "02108", "America/New_York"),
    ("Miami", "FL", "33130", "America/New_York"),
]
INTERNATIONAL_ADDRESSES = [
    ("Toronto", "ON", "M5V 2T6", "CA", "America/Toronto", "+16135550142"),
    ("London", "", "SW1A 1AA", "GB", "Europe/London", "+442079460958"),
    ("Berlin", "", "10115", "DE", "Europe/Berlin", "+4930901820"),
    ("Sydney", "NSW", "2000", "AU", "Australia/Sydney", "+61291234567"),
]
CARRIERS = [("usps", "Priority Mail"), ("ups", "Ground"), ("fedex", "Home Delivery"), ("dhl", "Express Worldwide")]
HUBS = ["Oakland, CA", "Reno, NV", "Salt Lake City, UT", "Denver, CO", "Kansas City, MO", "Chicago, IL",
        "Columbus, OH", "Jersey City, NJ"]  # fmt: skip

# Journey -> weight. The mix a mid-size store sees in a month, tilted so every case shows up.
JOURNEYS = {
    "delivered": 30,
    "in_transit": 14,
    "no_first_scan": 7,
    "stalled": 7,
    "failed_attempt": 6,
    "carrier_exception": 4,
    "returned_to_sender": 2,
    "awaiting_fulfillment": 6,
    "late_to_ship": 5,
    "address_problem": 3,
    "failed_payment": 4,
    "cancelled": 3,
    "international": 9,
    # Problems that began and ended before now: the history the KPIs measure (insights/demo.py).
    "slow_pickup": 4,
    "redelivered": 4,
    "shipped_late": 3,
}
# Journeys that end delivered (when their time has come).
DELIVERED_JOURNEYS = ("delivered", "international", "slow_pickup", "redelivered", "shipped_late")
# How many days before now an order of these journeys was placed (the others: any time in the last 30).
PLACED_DAYS_AGO = {
    "in_transit": (1, 4),  # on its way: scanned in the last days, not stalled
    "failed_attempt": (4, 9),  # the carrier still holds it: a parcel waits days, not weeks, before going back
    "carrier_exception": (4, 9),
    "no_first_scan": (4, 30),
    "late_to_ship": (4, 30),
    "stalled": (9, 20),
    "awaiting_fulfillment": (2 / 24, 30 / 24),
    # Over by now: delivered after their problem.
    "slow_pickup": (10, 30),
    "redelivered": (10, 30),
    "shipped_late": (12, 30),
}
# Chance that a journey makes the customer get in touch, and why. Problems make WISMO likely.
TICKET_ODDS = {
    "delivered": (0.04, [TicketReason.PRODUCT, TicketReason.RETURN, TicketReason.RETURN, TicketReason.OTHER]),
    "in_transit": (0.06, [TicketReason.WISMO]),
    "no_first_scan": (0.45, [TicketReason.WISMO]),
    "stalled": (0.5, [TicketReason.WISMO, TicketReason.WISMO, TicketReason.DELIVERY_PROBLEM]),
    "failed_attempt": (0.4, [TicketReason.DELIVERY_PROBLEM, TicketReason.WISMO]),
    "carrier_exception": (0.4, [TicketReason.WISMO, TicketReason.DELIVERY_PROBLEM]),
    "returned_to_sender": (0.6, [TicketReason.DELIVERY_PROBLEM]),
    "awaiting_fulfillment": (0.05, [TicketReason.WISMO]),
    "late_to_ship": (0.45, [TicketReason.WISMO]),
    "address_problem": (0.2, [TicketReason.DELIVERY_PROBLEM]),
    "failed_payment": (0.25, [TicketReason.BILLING]),
    "cancelled": (0.2, [TicketReason.BILLING, TicketReason.OTHER]),
    "international": (0.15, [TicketReason.WISMO]),
    "slow_pickup": (0.3, [TicketReason.WISMO]),
    "redelivered": (0.25, [TicketReason.WISMO]),
    "shipped_late": (0.35, [TicketReason.WISMO]),
}


@dataclass(frozen=True)
class SeedResult:
    stores: int
    orders: int
    shipments: int
    tickets: int


def demo_anchor() -> datetime:
    """The 'now' demo data is laid out from: the start of the current hour, so that two runs in the
    same hour write identical rows."""
    return timezone.now().replace(minute=0, second=0, microsecond=0)


def demo_seed(
    *, orders: int = 300, seed: int = 42, anchor: datetime | None = None, progress: Callable[[int], None] | None = None
) -> SeedResult:
    """Create or update the demo brands and `orders` orders (split between them). Idempotent."""
    rng = random.Random(seed)
    now = anchor or demo_anchor()
    stores = [_store_upsert(brand) for brand in BRANDS]
    journeys = list(JOURNEYS)
    weights = [JOURNEYS[j] for j in journeys]
    shipments = tickets = 0
    for index in range(orders):
        brand = BRANDS[index % len(BRANDS)]
        store = stores[index % len(stores)]
        journey = rng.choices(journeys, weights)[0]
        with transaction.atomic():
            made_shipments, made_ticket = _seed_order(rng, store, brand, index, journey, now)
        shipments += made_shipments
        tickets += made_ticket
        if progress:
            progress(1)
    _data_request_seed(stores[0])
    return SeedResult(stores=len(stores), orders=orders, shipments=shipments, tickets=tickets)


def _data_request_seed(store: Store) -> None:
    """A customer's request for a copy of their data, relayed by Shopify: it waits under Data requests for the
    store owner to download and send on (once: the request's id dedupes it)."""
    customer = Customer.objects.filter(store=store).order_by("pk").first()
    if customer is not None:
        data_request_record(
            store=store, customer_data=CustomerData(external_id=customer.external_id, email=customer.email),
            order_external_ids=[], external_id="demo-9999", source=EventSource.SHOPIFY,
        )  # fmt: skip


def demo_stores() -> list[Store]:
    return list(Store.objects.filter(slug__in=[brand["slug"] for brand in BRANDS]).order_by("slug"))


# Webhook secrets the demo stores start with, so that signed webhooks can be tried against the demo.
DEMO_PROVIDERS = ("shopify", "easypost", "aftership", "stripe")


def demo_webhook_secret(store_slug: str, provider: str) -> str:
    return f"demo-{store_slug}-{provider}"


def _store_upsert(brand: dict) -> Store:
    fields = {k: v for k, v in brand.items() if k not in {"slug", "products"}}
    store, _ = Store.objects.update_or_create(slug=brand["slug"], defaults=fields)
    unset = {
        f"{provider}_webhook_secret": demo_webhook_secret(store.slug, provider)
        for provider in DEMO_PROVIDERS
        if not getattr(store, f"{provider}_webhook_secret")  # one set in the admin stays
    }
    if unset:
        Store.objects.filter(pk=store.pk).update(**unset)
    return store


def _customer(rng: random.Random, brand: dict, international: tuple | None) -> tuple[CustomerData, AddressData]:
    # A pool of ~40% as many customers as orders gives repeat buyers, as real stores have.
    number = rng.randrange(120)
    first, last = FIRST_NAMES[number % len(FIRST_NAMES)], LAST_NAMES[(number * 7) % len(LAST_NAMES)]
    ltv = Decimal(rng.choice([40, 80, 150, 220, 400, 650, 1200, 2500])) + Decimal(number % 100) / 4
    if international:
        city, region, postal, country, tz, phone = international
        number += 1000  # a different customer from the domestic one with the same number
    else:
        city, region, postal, tz = US_ADDRESSES[number % len(US_ADDRESSES)]
        country, phone = "US", f"+14155550{number:03d}" if number % 2 else f"+12025550{number:03d}"
    customer = CustomerData(
        email=f"{first}.{last}.{number}@{brand['slug']}-customers.example".lower().replace("ü", "u"),
        phone=phone if number % 5 else "",  # some customers gave no phone
        first_name=first,
        last_name=last,
        external_id=f"{brand['slug']}-cust-{number}",
        timezone=tz,
        lifetime_value=ltv,
        is_vip=ltv >= 1000,
    )
    address = AddressData(
        name=f"{first} {last}",
        line1=f"{10 + number} {rng.choice(['Oak', 'Pine', 'Market', 'Harbor', 'Maple'])} St",
        city=city,
        region=region,
        postal_code=postal,
        country=country,
        verified=True,
    )
    return customer, address


def _seed_order(
    rng: random.Random, store: Store, brand: dict, index: int, journey: str, now: datetime
) -> tuple[int, int]:
    international = rng.choice(INTERNATIONAL_ADDRESSES) if journey == "international" else None
    customer, address = _customer(rng, brand, international)
    days_ago = rng.uniform(*PLACED_DAYS_AGO.get(journey, (0.2, 30)))
    placed_at = now - timedelta(days=days_ago, minutes=rng.randrange(60))
    items = []
    for sku, title, variants, price in rng.sample(brand["products"], rng.randint(1, 3)):
        items.append(
            LineItemData(
                title=title,
                sku=sku,
                variant=rng.choice(variants),
                quantity=rng.choice([1, 1, 1, 2]),
                unit_price=Decimal(price),
                external_id=f"{sku}-{index}",
                returnable=not sku.endswith("-03"),  # socks and mugs: hygiene / final sale
            )
        )
    subtotal = sum((i.unit_price * i.quantity for i in items), Decimal("0"))
    shipping = Decimal("0.00") if subtotal >= 100 else Decimal("7.95")
    tax = (subtotal * Decimal("0.0825")).quantize(Decimal("0.01"))
    if journey == "address_problem":
        address = AddressData(**{**address.__dict__, "line2": "", "verified": False})
    order_number = f"{1001 + index // len(BRANDS)}"
    order = order_upsert(
        store=store,
        data=OrderData(
            external_id=f"{brand['slug']}-{order_number}",
            order_number=order_number,
            placed_at=placed_at,
            currency=store.currency,
            subtotal=subtotal,
            shipping_total=shipping,
            tax_total=tax,
            total=subtotal + shipping + tax,
            financial_status=FinancialStatus.FAILED if journey == "failed_payment" else FinancialStatus.PAID,
            fulfillment_status=FulfillmentStatus.UNFULFILLED,
            payment_reference=f"pi_demo_{brand['slug']}_{order_number}",
            cancelled_at=placed_at + timedelta(hours=rng.uniform(1, 20)) if journey == "cancelled" else None,
            customer=customer,
            shipping_address=address,
            line_items=items,
            promised_ship_by=placed_at + timedelta(days=2),
            promised_deliver_by=placed_at + timedelta(days=12 if international else 6),
        ),
    )
    shipments = 0
    if journey not in ("awaiting_fulfillment", "late_to_ship", "failed_payment", "cancelled"):
        _seed_shipment(rng, store, order.external_id, index, journey, placed_at, now, address)
        shipments = 1
    odds, reasons = TICKET_ODDS[journey]
    ticket = 0
    if rng.random() < odds:
        reason = rng.choice(reasons)
        created_at = min(now - timedelta(minutes=5), placed_at + timedelta(days=rng.uniform(1, 8)))
        ticket_create(
            store=store,
            data=TicketData(
                reason=reason,
                created_at=created_at,
                channel=rng.choice([TicketChannel.EMAIL, TicketChannel.EMAIL, TicketChannel.CHAT, TicketChannel.PHONE]),
                order=OrderRef(external_id=order.external_id),
                external_id=f"demo-ticket-{brand['slug']}-{order_number}",
                subject=TicketReason(reason).label,
                source=EventSource.DEMO,
            ),
        )
        ticket = 1
    return shipments, ticket


def _seed_shipment(
    rng: random.Random,
    store: Store,
    order_external_id: str,
    index: int,
    journey: str,
    placed_at: datetime,
    now: datetime,
    address: AddressData,
) -> None:
    carrier, service = CARRIERS[3] if journey == "international" else rng.choice(CARRIERS[:3])
    # Never after `now`: a label "created" tomorrow would show on the tracking page as a scan from the future.
    label_at = min(placed_at + timedelta(hours=rng.uniform(4, 30)), now - timedelta(minutes=10))
    if journey == "shipped_late":  # restocked a day or two after the promised ship-by date (2 days)
        label_at = placed_at + timedelta(hours=rng.uniform(60, 100))
    if journey == "no_first_scan":
        label_at = now - timedelta(hours=rng.uniform(50, 90))
    destination = f"{address.city}, {address.region or address.country}"
    route = rng.sample(HUBS, 3)
    events: list[tuple[str, datetime, str, str, str]] = []  # (status, when, raw, message, where)

    def scan(status: str, when: datetime, raw: str, message: str, where: str) -> None:
        if when < now:
            events.append((status, when, raw, message, where))

    if journey != "no_first_scan":
        # A slow pickup: the carrier scans the parcel only after the ship-slip threshold (48 hours).
        t = label_at + timedelta(hours=rng.uniform(52, 80) if journey == "slow_pickup" else rng.uniform(6, 20))
        scan(ShipmentStatus.IN_TRANSIT, t, "in_transit", "Accepted at origin facility", route[0])
        if journey == "stalled":
            # Last heard of 6 to 9 days ago, nothing since.
            t = now - timedelta(days=rng.uniform(6, 9))
            scan(ShipmentStatus.IN_TRANSIT, t, "in_transit", "Departed facility", route[1])
        else:
            for hub in route[1:]:
                t += timedelta(hours=rng.uniform(10, 30))
                scan(ShipmentStatus.IN_TRANSIT, t, "in_transit", "Arrived at facility", hub)
        if journey == "international":
            t += timedelta(days=rng.uniform(1, 3))
            scan(ShipmentStatus.IN_TRANSIT, t, "in_transit", "Cleared customs", f"{address.city}, {address.country}")
        t += timedelta(hours=rng.uniform(8, 20))
        if journey == "redelivered":
            # Missed once, delivered on the carrier's next round.
            scan(ShipmentStatus.OUT_FOR_DELIVERY, t, "out_for_delivery", "Out for delivery", destination)
            scan(ShipmentStatus.ATTEMPTED_DELIVERY, t + timedelta(hours=5), "failure",
                 "Delivery attempted: no one available to sign", destination)  # fmt: skip
            t += timedelta(hours=rng.uniform(20, 26))
        if journey in DELIVERED_JOURNEYS and t < now:
            scan(ShipmentStatus.OUT_FOR_DELIVERY, t, "out_for_delivery", "Out for delivery", destination)
            scan(ShipmentStatus.DELIVERED, t + timedelta(hours=rng.uniform(2, 8)), "delivered",
                 rng.choice(["Delivered, front door", "Delivered, mailroom", "Delivered, handed to resident"]),
                 destination)  # fmt: skip
        elif journey == "failed_attempt":
            scan(ShipmentStatus.OUT_FOR_DELIVERY, t, "out_for_delivery", "Out for delivery", destination)
            scan(ShipmentStatus.ATTEMPTED_DELIVERY, t + timedelta(hours=5), "failure",
                 "Delivery attempted: no secure location available", destination)  # fmt: skip
        elif journey == "carrier_exception":
            delay = rng.choice(["Weather delay: severe storms in the area", "Delayed: missed connection at hub"])
            scan(ShipmentStatus.EXCEPTION, t, "failure", delay, route[-1])
        elif journey == "returned_to_sender":
            scan(ShipmentStatus.ATTEMPTED_DELIVERY, t, "failure", "Delivery attempted: business closed", destination)
            scan(ShipmentStatus.RETURNED_TO_SENDER, t + timedelta(days=2), "return_to_sender",
                 "Returned to sender: undeliverable as addressed", route[-1])  # fmt: skip
    estimate = label_at + timedelta(days=9 if journey == "international" else 4)
    shipment_upsert(
        store=store,
        data=ShipmentData(
            tracking_code=f"DEMO{store.slug[:2].upper()}{index:08d}",
            carrier=carrier,
            service_level=service,
            order=OrderRef(external_id=order_external_id),
            external_id=f"demo-fulfillment-{store.slug}-{index}",
            label_created_at=label_at,
            carrier_estimated_delivery=estimate,
            events=[
                TrackingEventData(
                    status=s, occurred_at=w, raw_status=raw, message=m, location=where, dedupe_key=f"demo:{i}"
                )
                for i, (s, w, raw, m, where) in enumerate(events)
            ],
        ),
        source=EventSource.DEMO,
    )
