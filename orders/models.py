"""The facts the hub watches: stores, customers, orders, shipments, tracking events and tickets.

Models hold fields, constraints and small properties; every write that spans rows lives in
`orders/services.py`.
"""

import hashlib
import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from cxhub.runs import BackgroundRun

from .choices import (
    AddressVerification,
    Channel,
    DataRequestKind,
    DeliveryState,
    EventSource,
    FinancialStatus,
    FulfillmentStatus,
    ReservationState,
    ReturnReason,
    ReturnResolution,
    ReturnState,
    ShipmentStatus,
    TicketChannel,
    TicketReason,
)
from .validators import validate_e164, validate_hex_colour, validate_timezone

MONEY = {"max_digits": 12, "decimal_places": 2, "default": Decimal("0.00")}


class Store(models.Model):
    """A merchant brand. Customers see its name, logo and colours; its secrets sign its webhooks."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    logo_url = models.URLField(blank=True, help_text="Shown at the top of tracking pages and emails.")
    primary_colour = models.CharField(max_length=7, default="#1f2937", validators=[validate_hex_colour])
    accent_colour = models.CharField(max_length=7, default="#2563eb", validators=[validate_hex_colour])
    support_email = models.EmailField(blank=True)
    support_phone = models.CharField(max_length=20, blank=True, validators=[validate_e164])
    support_url = models.URLField(blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    currency = models.CharField(max_length=3, default="USD")
    country = models.CharField(
        max_length=2,
        default="US",
        help_text="ISO country the store ships from: other destinations are international.",
    )
    shopify_domain = models.CharField(
        max_length=255,
        blank=True,
        help_text="The shop's myshopify.com domain, as Shopify sends it in webhooks.",
    )
    shopify_webhook_secret = models.CharField(max_length=255, blank=True)
    easypost_webhook_secret = models.CharField(max_length=255, blank=True)
    aftership_webhook_secret = models.CharField(max_length=255, blank=True)
    stripe_webhook_secret = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["shopify_domain"], condition=~Q(shopify_domain=""), name="store_unique_shopify_domain"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="customers")
    external_id = models.CharField(max_length=64, blank=True)
    first_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(
        max_length=20, blank=True, validators=[validate_e164], help_text="E.164, e.g. +14155550123"
    )
    timezone = models.CharField(max_length=64, blank=True, validators=[validate_timezone])
    lifetime_value = models.DecimalField(**MONEY)
    is_vip = models.BooleanField("VIP", default=False)
    preferred_channel = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    sms_opted_out_at = models.DateTimeField(null=True, blank=True)
    email_opted_out_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    erased_at = models.DateTimeField(
        "personal data erased", null=True, blank=True, help_text="Name, contact and addresses erased on request."
    )

    PERSONAL_FIELDS = ("first_name", "last_name", "email", "phone", "timezone")

    class Meta:
        ordering = ["last_name", "first_name"]
        permissions = [("handle_data_request", "Can hand over or erase a customer's personal data")]
        constraints = [
            models.UniqueConstraint(fields=["store", "email"], condition=~Q(email=""), name="customer_unique_email"),
            models.UniqueConstraint(
                fields=["store", "external_id"],
                condition=~Q(external_id=""),
                name="customer_unique_external_id",
            ),
        ]
        indexes = [
            models.Index(fields=["email"], name="customer_email"),
            models.Index(fields=["store", "phone"], name="customer_store_phone"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.phone or f"Customer {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Order(models.Model):
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="orders")
    external_id = models.CharField(max_length=64, blank=True, help_text="The order's id in the store platform.")
    order_number = models.CharField(max_length=64)
    customer = models.ForeignKey(Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders")
    placed_at = models.DateTimeField()
    currency = models.CharField(max_length=3, default="USD")
    subtotal = models.DecimalField(**MONEY)
    shipping_total = models.DecimalField(**MONEY)
    tax_total = models.DecimalField(**MONEY)
    discount_total = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    financial_status = models.CharField(max_length=20, choices=FinancialStatus.choices, default=FinancialStatus.PENDING)
    fulfillment_status = models.CharField(
        max_length=20, choices=FulfillmentStatus.choices, default=FulfillmentStatus.UNFULFILLED
    )
    payment_reference = models.CharField(
        max_length=128, blank=True, help_text="Payment id at the processor, e.g. a Stripe PaymentIntent id."
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    ship_name = models.CharField("recipient", max_length=160, blank=True)
    ship_line1 = models.CharField("address line 1", max_length=200, blank=True)
    ship_line2 = models.CharField("address line 2", max_length=200, blank=True)
    ship_city = models.CharField("city", max_length=100, blank=True)
    ship_region = models.CharField("region", max_length=100, blank=True)
    ship_postal_code = models.CharField("postal code", max_length=20, blank=True)
    ship_country = models.CharField("country", max_length=2, blank=True)
    address_verification = models.CharField(
        max_length=12, choices=AddressVerification.choices, default=AddressVerification.UNVERIFIED
    )
    is_international = models.BooleanField(default=False)
    promised_ship_by = models.DateTimeField(null=True, blank=True)
    promised_deliver_by = models.DateTimeField(null=True, blank=True)
    source_updated_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the store platform last changed the order."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    erased_at = models.DateTimeField(
        "personal data erased",
        null=True,
        blank=True,
        help_text="Recipient, street and postal code erased on request; later updates do not bring them back.",
    )

    # What identifies the person on the order (city, region and country stay: they are not one person's).
    PERSONAL_FIELDS = ("ship_name", "ship_line1", "ship_line2", "ship_postal_code")

    class Meta:
        ordering = ["-placed_at"]
        constraints = [
            models.UniqueConstraint(fields=["store", "order_number"], name="order_unique_number"),
            models.UniqueConstraint(
                fields=["store", "external_id"], condition=~Q(external_id=""), name="order_unique_external_id"
            ),
        ]
        indexes = [
            models.Index(fields=["order_number"], name="order_number"),
            models.Index(fields=["store", "placed_at"], name="order_store_placed"),
            models.Index(fields=["placed_at"], condition=Q(financial_status="paid"), name="order_paid_placed"),
            models.Index(fields=["payment_reference"], name="order_payment_ref"),
            # Detector sweeps: only the few rows that may be in trouble now are indexed, so a sweep's time
            # follows the problems in flight, not the order history (cancelled orders never match).
            # Late to ship: paid orders still waiting to ship, by their promise.
            models.Index(
                fields=["promised_ship_by"],
                condition=Q(fulfillment_status="unfulfilled", financial_status="paid", cancelled_at__isnull=True),
                name="order_awaiting_shipment",
            ),
            # Keyed on the id, whose order follows the table's: PostgreSQL overestimates these sets (it cannot
            # tell that old failed payments end up cancelled) and would plan a parallel bitmap scan otherwise.
            models.Index(
                fields=["id"],
                condition=Q(financial_status="failed", cancelled_at__isnull=True),
                name="order_payment_failed_id",
            ),
            models.Index(
                fields=["placed_at"],
                include=["id"],
                condition=Q(address_verification="failed", cancelled_at__isnull=True),
                name="order_address_failed_open",
            ),
            # Shipment detectors test "the order is not cancelled" against these few rows (index only).
            models.Index(fields=["id"], condition=Q(cancelled_at__isnull=False), name="order_cancelled"),
        ]

    def __str__(self) -> str:
        return f"{self.order_number}"

    @property
    def shipping_address_lines(self) -> list[str]:
        city_line = " ".join(p for p in [self.ship_city, self.ship_region, self.ship_postal_code] if p)
        return [p for p in [self.ship_name, self.ship_line1, self.ship_line2, city_line, self.ship_country] if p]


class LineItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="line_items")
    external_id = models.CharField(max_length=64, blank=True)
    sku = models.CharField("SKU", max_length=64, blank=True)
    title = models.CharField(max_length=255)
    variant = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(**MONEY)
    returnable = models.BooleanField(default=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "external_id"],
                condition=~Q(external_id=""),
                name="line_item_unique_external_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.title}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class Shipment(models.Model):
    """One parcel. Its status always follows its newest tracking event (see services.shipment_record_events)."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="shipments")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    external_id = models.CharField(max_length=64, blank=True, help_text="Fulfillment or tracker id at the source.")
    carrier = models.CharField(max_length=40, help_text="Carrier slug, e.g. usps, ups, fedex, dhl.")
    service_level = models.CharField(max_length=80, blank=True)
    tracking_code = models.CharField(max_length=64)
    label_created_at = models.DateTimeField(null=True, blank=True)
    first_scan_at = models.DateTimeField(null=True, blank=True)
    last_scan_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the event that set the current status happened.",
    )
    status = models.CharField(max_length=24, choices=ShipmentStatus.choices, default=ShipmentStatus.LABEL_CREATED)
    carrier_estimated_delivery = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["order", "tracking_code"], name="shipment_unique_tracking_per_order")
        ]
        indexes = [
            models.Index(fields=["tracking_code"], name="shipment_tracking_code"),
            # Sweeps: per store, by status, oldest last scan first.
            models.Index(fields=["store", "status", "last_scan_at"], name="shipment_store_status_scan"),
            models.Index(fields=["status", "label_created_at"], name="shipment_status_label"),
            # Milestones: recent first scans, recent status changes, recent deliveries.
            models.Index(fields=["first_scan_at"], name="shipment_first_scan"),
            models.Index(fields=["status", "last_event_at"], name="shipment_status_event"),
            # Also post-delivery care; with the ids, so that testing its condition reads the index alone.
            models.Index(fields=["status", "delivered_at"], include=["order", "id"], name="shipment_delivered_ids"),
            # Carrier-disruption sweep: the parcels the carrier holds or sends back, with their order.
            models.Index(
                fields=["order"],
                include=["id"],
                condition=Q(status__in=["exception", "returned_to_sender"]),
                name="shipment_disrupted",
            ),
            # Transit-stall sweep: parcels in transit by first and by last scan (an OR of the two).
            models.Index(
                fields=["first_scan_at"], condition=Q(status="in_transit"), name="shipment_transit_first_scan"
            ),
            models.Index(fields=["last_scan_at"], condition=Q(status="in_transit"), name="shipment_transit_last_scan"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier.upper()} {self.tracking_code}"


class TrackingEvent(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=24, choices=ShipmentStatus.choices)
    raw_status = models.CharField(max_length=120, blank=True, help_text="The carrier's own status word.")
    raw_detail = models.CharField(max_length=120, blank=True, help_text="The carrier's sub-status, if any.")
    message = models.CharField(max_length=500, blank=True)
    location = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=20, choices=EventSource.choices)
    dedupe_key = models.CharField(max_length=200)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "dedupe_key"], name="tracking_event_unique_dedupe_key")
        ]
        indexes = [models.Index(fields=["shipment", "occurred_at"], name="tracking_event_timeline")]

    def __str__(self) -> str:
        return f"{self.get_status_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"


class Ticket(models.Model):
    """An inbound customer contact. Contact rate and %WISMO are computed from these."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="tickets")
    customer = models.ForeignKey(Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets")
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets")
    external_id = models.CharField(max_length=64, blank=True, help_text="The ticket's id in the helpdesk.")
    source = models.CharField(max_length=20, choices=EventSource.choices, default=EventSource.API)
    channel = models.CharField(max_length=10, choices=TicketChannel.choices, default=TicketChannel.EMAIL)
    reason = models.CharField(max_length=20, choices=TicketReason.choices, default=TicketReason.OTHER)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(help_text="When the customer got in touch.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "source", "external_id"],
                condition=~Q(external_id=""),
                name="ticket_unique_external_id",
            )
        ]
        indexes = [
            models.Index(fields=["store", "reason", "created_at"], name="ticket_store_reason_created"),
            # Delivered-but-not-received: from the few claims to their orders.
            models.Index(fields=["order"], condition=Q(reason="delivery_problem"), name="ticket_claim_order"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} ({self.created_at:%Y-%m-%d})"


class InboundDelivery(models.Model):
    """One webhook delivery exactly as it arrived, stored before the hub answers 2xx.

    Processing (orders.ingest) reads it back, so nothing a provider sent is lost before it is applied: a
    failed delivery keeps its error and can be reprocessed after a fix. Once applied it is kept
    INBOUND_RETENTION_DAYS, then purged (orders.ingest.inbound_purge); the facts it carried stay.
    """

    source = models.CharField(max_length=20, choices=EventSource.choices)
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries")
    event_type = models.CharField(max_length=80, blank=True)
    delivery_id = models.CharField(max_length=200, blank=True, help_text="The provider's id; a redelivery repeats it.")
    headers = models.JSONField(default=dict)
    body = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=12, choices=DeliveryState.choices, default=DeliveryState.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    abandoned = models.PositiveSmallIntegerField(
        db_default=0, help_text="How many times a worker stopped (killed, out of memory) while applying it."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "inbound deliveries"
        indexes = [
            models.Index(fields=["source", "store", "delivery_id"], name="delivery_dedupe"),
            models.Index(fields=["source", "state", "received_at"], name="delivery_source_state"),
            # The reconciler's query: only rows still to do, oldest first.
            models.Index(
                fields=["state", "next_attempt_at"],
                name="delivery_pending",
                condition=Q(state__in=["received", "processing", "waiting"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.event_type or 'delivery'} #{self.pk}"


class OrderImport(BackgroundRun):
    """A CSV backfill uploaded in the admin and run by a worker (orders/imports.py), with its progress and report.

    The file is kept only until the import is done: it holds customers' names and addresses, which the
    orders now hold; the report stays.
    """

    unit = "row"
    # Before the first order is written, every row of the file is validated.
    starting_text = "Checking every row before importing…"

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="imports")
    file_name = models.CharField(max_length=255)
    content = models.TextField(blank=True, help_text="The file as uploaded; emptied once imported.")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    rows_read = models.PositiveIntegerField(default=0)
    orders_created = models.PositiveIntegerField(default=0)
    orders_updated = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    orders_rejected = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="The first rejected rows.")
    errors_total = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "CSV import"
        indexes = [
            # The recovery job's query: only imports not finished.
            models.Index(fields=["state"], name="orderimport_unfinished", condition=Q(state__in=["queued", "running"])),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} into {self.store}"


class DataRequest(models.Model):
    """A customer's request about the personal data the hub holds on them, and what was done (orders.privacy).

    Kept as the store's record of having answered it, so it names no personal data itself: the customer
    by their row (erased, for an erasure) and the store platform's ids. For the moment after an erasure it
    holds what the raw webhooks still to be emptied say of the customer (`webhook_traces`)."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="data_requests")
    kind = models.CharField(max_length=10, choices=DataRequestKind.choices)
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="data_requests",
        help_text="Empty for a whole store's erasure, or when the hub holds nobody the request names.",
    )  # fmt: skip
    source = models.CharField(max_length=20, choices=EventSource.choices)
    external_id = models.CharField(max_length=64, blank=True, help_text="The store platform's id for the request.")
    orders_named = models.JSONField(
        default=list, blank=True, help_text="The store platform's ids of the orders the request names."
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(
        null=True, blank=True, help_text="Erased, or for a copy, first downloaded by someone in the admin."
    )
    outcome = models.JSONField(default=dict, blank=True, help_text="How many rows of each kind were erased.")
    # Kept here rather than in the job's arguments, so Redis never holds them, and a lost job is queued
    # again (erasures_recover); emptied with the webhooks.
    webhook_traces = models.JSONField(
        default=list, blank=True, editable=False,
        help_text="The erased customer's email, phone and street, until the raw webhooks naming them are emptied.",
    )  # fmt: skip

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["store", "requested_at"], name="datarequest_store_requested")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class ErasedContact(models.Model):
    """A keyed one-way digest of an erased customer's email address or phone number (orders.privacy): what
    tells an old order or ticket naming them by it alone, arriving after the erasure, to be theirs, without
    the hub keeping the address itself."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="erased_contacts")
    digest = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "digest"], name="erased_contact_unique")]

    def __str__(self) -> str:
        return f"Erased contact of customer {self.customer_id}"


class ApiToken(models.Model):
    """A REST API credential scoped to one store. Only a hash is kept; the key is shown once."""

    PREFIX = "cxh_"

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="Who uses it, e.g. 'Warehouse WMS' or 'Zendesk sidebar'.")
    key_prefix = models.CharField(max_length=12, editable=False, help_text="The first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["store", "name"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def assign_new_key(self) -> str:
        """Give the token a fresh key and return it: only its hash is kept, so it cannot be shown again."""
        key = self.PREFIX + secrets.token_urlsafe(32)
        self.key_prefix, self.key_hash = key[:10], self.hash_key(key)
        return key

    @classmethod
    def issue(cls, *, store: Store, name: str) -> tuple["ApiToken", str]:
        token = cls(store=store, name=name)
        key = token.assign_new_key()
        token.save()
        return token, key


class ReturnPolicy(models.Model):
    """A store's rules for returns, edited by CX managers. The returns portal checks every item against
    them; a store without a policy gets these defaults."""

    store = models.OneToOneField(Store, on_delete=models.CASCADE, related_name="return_policy")
    window_days = models.PositiveSmallIntegerField(
        default=30, help_text="Days from delivery during which items can be returned."
    )
    allow_refund = models.BooleanField("offer a refund", default=True, help_text="To the original payment.")
    allow_store_credit = models.BooleanField("offer store credit", default=True)
    store_credit_bonus_percent = models.PositiveSmallIntegerField(
        "store credit bonus (%)",
        default=0,
        validators=[MaxValueValidator(100)],
        help_text="Extra credit for choosing credit over a refund: 10 turns a $50 return into $55 of credit.",
    )
    allow_exchange = models.BooleanField("offer exchanges", default=True, help_text="For another variant in stock.")
    ship_exchange_early = models.BooleanField(
        "ship exchanges before the return arrives",
        default=False,
        help_text="The exchange playbook ships the new variant as soon as the return label is issued, within "
        "its caps. Otherwise the exchange ships when the return is received.",
    )
    return_shipping_fee = models.DecimalField(
        **MONEY, help_text="Deducted from refunds (not from credit), unless the reason ships free."
    )
    auto_approve = models.BooleanField(
        default=True,
        help_text="Issue the label at once for eligible returns. Off: an agent approves each return first.",
    )
    non_returnable_skus = models.TextField(
        "non-returnable SKUs",
        blank=True,
        help_text="One SKU per line; end with * for every SKU starting so (GIFT-*). Items marked final sale on "
        "the order are never returnable either.",
    )
    return_address = models.TextField(blank=True, help_text="Where returns go, as printed on the label.")
    instructions = models.TextField(
        blank=True, help_text="Shown on the customer's return page: how to pack, where to drop off."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "return policies"

    def __str__(self) -> str:
        return f"Return policy of {self.store}"

    def sku_is_returnable(self, sku: str) -> bool:
        for pattern in self.non_returnable_skus.split():
            if sku == pattern or (pattern.endswith("*") and sku.startswith(pattern[:-1])):
                return False
        return True


class ReturnReasonRule(models.Model):
    """How one return reason is handled, e.g. damaged: return shipping free, photo requested."""

    policy = models.ForeignKey(ReturnPolicy, on_delete=models.CASCADE, related_name="reason_rules")
    reason = models.CharField(max_length=20, choices=ReturnReason.choices)
    accepted = models.BooleanField(default=True, help_text="Offer this reason to customers.")
    free_return_shipping = models.BooleanField(default=False, help_text="No return shipping fee for this reason.")
    photo_required = models.BooleanField(default=False, help_text="Ask for a photo of the item.")
    needs_approval = models.BooleanField(default=False, help_text="An agent approves these returns first.")
    window_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="A different return window for this reason (e.g. 90 days for damaged)."
    )

    class Meta:
        ordering = ["reason"]
        constraints = [models.UniqueConstraint(fields=["policy", "reason"], name="reason_rule_once_per_policy")]

    def __str__(self) -> str:
        return self.get_reason_display()


class ExchangeVariant(models.Model):
    """A variant customers may exchange into, with the stock the store sets aside for exchanges."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="exchange_variants")
    product = models.CharField(
        max_length=255, help_text="The product's title as on order lines: its variants are offered in exchange."
    )
    title = models.CharField(max_length=255, help_text="e.g. Size M / Blue")
    sku = models.CharField("SKU", max_length=64)
    available = models.PositiveIntegerField(default=0, help_text="Units that can still be reserved for exchanges.")

    class Meta:
        ordering = ["product", "title"]
        constraints = [models.UniqueConstraint(fields=["store", "sku"], name="exchange_variant_unique_sku")]
        indexes = [models.Index(fields=["store", "product"], name="exchange_variant_product")]

    def __str__(self) -> str:
        return f"{self.product} ({self.title})"


class ReturnRequest(models.Model):
    """A customer's return or exchange of some of an order's items."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="returns")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="returns")
    number = models.CharField(max_length=32, help_text="The return's reference, e.g. R1001-1.")
    state = models.CharField(max_length=14, choices=ReturnState.choices, default=ReturnState.REQUESTED)
    resolution = models.CharField(max_length=14, choices=ReturnResolution.choices)
    awaiting_approval_because = models.CharField(max_length=255, blank=True)
    return_carrier = models.CharField(max_length=40, blank=True)
    return_tracking_code = models.CharField(max_length=64, blank=True)
    drop_off_code = models.CharField(
        max_length=64, blank=True, help_text="What the QR code at drop-off encodes (no printer needed)."
    )
    label_provider = models.CharField(max_length=40, blank=True)
    return_shipping_fee = models.DecimalField(**MONEY)
    refund_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    credit_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    resolution_reference = models.CharField(max_length=64, blank=True, help_text="The refund, credit or shipment id.")
    rejection_reason = models.TextField(blank=True, help_text="Shown to the customer.")
    label_issued_at = models.DateTimeField(null=True, blank=True)
    in_transit_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    exchange_shipped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("process_returnrequest", "Can approve, reject and receive returns")]
        constraints = [models.UniqueConstraint(fields=["store", "number"], name="return_unique_number")]
        indexes = [
            models.Index(fields=["resolution", "state"], name="return_resolution_state"),
            models.Index(fields=["state", "created_at"], name="return_state_created"),
        ]

    def __str__(self) -> str:
        return self.number


class ReturnItem(models.Model):
    return_request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="items")
    line_item = models.ForeignKey(LineItem, on_delete=models.CASCADE, related_name="return_items")
    quantity = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    reason = models.CharField(max_length=20, choices=ReturnReason.choices)
    exchange_variant = models.CharField(max_length=255, blank=True, help_text="The variant wanted instead.")
    exchange_for = models.ForeignKey(
        ExchangeVariant, on_delete=models.PROTECT, null=True, blank=True, related_name="return_items"
    )
    reservation = models.CharField(
        max_length=10, choices=ReservationState.choices, blank=True, default=ReservationState.NONE
    )
    comment = models.TextField(blank=True)
    photo = models.FileField(upload_to="returns/photos/%Y/%m/", blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.line_item.title}"
