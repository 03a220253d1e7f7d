"""The REST API's request and response shapes.

Input serializers validate a request and map it onto the `orders.updates` dataclasses (`to_data()`); they
never write. Views hand those dataclasses to `orders.services`, the one way in for every source, so the
same rules (upserts by natural ids, event dedupe, status derived from the timeline) hold for the API.

Output serializers are read-only views of the models. Each one that nests relations declares the
matching `select_related`/`prefetch_related` in a `prefetch()` class method next to its fields, so a new
section is added in one place and the query count stays constant.

Datetimes must carry a UTC offset ("Z" or "+02:00"): a naive datetime is rejected with a 400, since the
hub cannot know which time zone the caller meant. Money is a decimal string with two places.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from rest_framework import serializers

from orders.carriers import carrier_name, carrier_slug, carrier_tracking_url
from orders.choices import (
    DataRequestKind,
    EventSource,
    FinancialStatus,
    FulfillmentStatus,
    ShipmentStatus,
    TicketChannel,
    TicketReason,
)
from orders.models import Customer, DataRequest, LineItem, Order, Shipment, Store, Ticket, TrackingEvent
from orders.services import order_find
from orders.updates import (
    AddressData,
    CustomerData,
    LineItemData,
    OrderData,
    OrderRef,
    PersonalDataRequest,
    ShipmentData,
    TicketData,
    TrackingEventData,
)
from orders.validators import normalize_phone, validate_timezone

# The longest list one request may carry (line items, a shipment's events, a bulk of events).
MAX_ITEMS = 1000
DEDUPE_PREFIX = "api:"
MAX_INT = 2_147_483_647  # PositiveIntegerField's upper bound on every supported database


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO-8601 datetime that names its offset. A naive one is ambiguous, so it is a 400."""

    default_error_messages = {
        "naive": "Include a UTC offset, e.g. 2025-03-01T14:05:00Z or 2025-03-01T09:05:00-05:00.",
    }

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


class BoundedListField(serializers.ListField):
    """A ListField that checks its length before validating any item: an oversized list costs nothing."""

    def to_internal_value(self, data: Any) -> list[Any]:
        if self.max_length is not None and isinstance(data, list) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


def money(**kwargs: Any) -> serializers.DecimalField:
    """An amount in the order's currency: a decimal string such as "59.00", never negative."""
    return serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"), **kwargs)


def text(max_length: int, **kwargs: Any) -> serializers.CharField:
    """An optional string that may be blank."""
    return serializers.CharField(max_length=max_length, required=False, allow_blank=True, **kwargs)


def _store(serializer: serializers.Field) -> Store:
    return serializer.context["store"]


# --- Input: orders -----------------------------------------------------------------------------------------


class CustomerRefSerializer(serializers.Serializer):
    """A customer as a source names them: found by external id or email, or (lacking both) phone
    (orders.services.customer_keys)."""

    external_id = text(64, help_text="The customer's id in the store platform.")
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = text(
        32, help_text="E.164 (+14155550123), or national (for the order's shipping country, else the store's)."
    )


class CustomerInputSerializer(CustomerRefSerializer):
    """The order's customer, and what the source knows of them."""

    first_name = text(80)
    last_name = text(80)
    timezone = serializers.CharField(max_length=64, required=False, validators=[validate_timezone])
    lifetime_value = money(required=False)
    is_vip = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not any(attrs.get(key) for key in ("external_id", "email", "phone")):
            raise serializers.ValidationError("Give at least one of external_id, email or phone.")
        return attrs


class AddressInputSerializer(serializers.Serializer):
    """The shipping address. When sent, it replaces the stored one as a whole."""

    name = text(160)
    line1 = text(200)
    line2 = text(200)
    city = text(100)
    region = text(100)
    postal_code = text(20)
    country = text(2, help_text="ISO 3166-1 alpha-2, e.g. US.")
    verified = serializers.BooleanField(required=False, help_text="Whether an address check passed.")

    def validate_country(self, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z]{2}", value):
            raise serializers.ValidationError("Use a two-letter ISO country code, e.g. US.")
        return value.upper()


class LineItemInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=255)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_INT, default=1)
    unit_price = money(default=Decimal("0.00"))
    sku = text(64)
    variant = text(255)
    external_id = text(64, help_text="The line's id in the store platform; lines without one match by SKU+title.")
    returnable = serializers.BooleanField(default=True)


class OrderInputSerializer(serializers.Serializer):
    """An order to create or update. Fields left out keep their stored value.

    The order is found by `external_id`, then by `order_number` (a leading "#" is ignored); creating
    one needs an `order_number`. `line_items`, when sent, replace the stored lines.

    Context: `store`, and `order_number` when the URL names the order (PUT/PATCH).
    """

    external_id = serializers.CharField(max_length=64, required=False, help_text="The order's id in the platform.")
    order_number = serializers.CharField(max_length=64, required=False, help_text='e.g. "1001" or "#1001".')
    placed_at = AwareDateTimeField(required=False, help_text="Defaults to now for a new order.")
    currency = serializers.CharField(max_length=3, required=False, help_text="ISO 4217; defaults to the store's.")
    subtotal = money(required=False)
    shipping_total = money(required=False)
    tax_total = money(required=False)
    discount_total = money(required=False)
    total = money(required=False)
    financial_status = serializers.ChoiceField(choices=FinancialStatus.choices, required=False)
    fulfillment_status = serializers.ChoiceField(choices=FulfillmentStatus.choices, required=False)
    payment_reference = text(128, help_text="The payment's id at the processor.")
    cancelled_at = AwareDateTimeField(required=False)
    promised_ship_by = AwareDateTimeField(required=False)
    promised_deliver_by = AwareDateTimeField(required=False)
    customer = CustomerInputSerializer(required=False)
    shipping_address = AddressInputSerializer(required=False)
    line_items = LineItemInputSerializer(many=True, required=False, max_length=MAX_ITEMS)

    existing: Order | None = None

    def validate_order_number(self, value: str) -> str:
        number = value.lstrip("#").strip()
        if not number:
            raise serializers.ValidationError("An order number needs more than a '#'.")
        return number

    def validate_currency(self, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{3}", value):
            raise serializers.ValidationError("Use a three-letter ISO 4217 code, e.g. USD.")
        return value.upper()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        store = _store(self)
        url_number = self.context.get("order_number")
        if url_number is not None:
            url_number = url_number.lstrip("#").strip()
            if attrs.get("order_number", url_number) != url_number:
                raise serializers.ValidationError(
                    {"order_number": [f"Does not match the order number in the URL ({url_number})."]}
                )
            attrs["order_number"] = url_number
        external_id, number = attrs.get("external_id", ""), attrs.get("order_number", "")
        if not (external_id or number):
            raise serializers.ValidationError({"order_number": ["Give an order_number or an external_id."]})

        orders = Order.objects.filter(store=store)
        by_external_id = orders.filter(external_id=external_id).first() if external_id else None
        by_number = orders.filter(order_number=number).first() if number else None
        # One request never touches two orders, nor renames another order into the one the URL names.
        named_other = url_number is not None and by_external_id and by_external_id.order_number != url_number
        if by_external_id and (named_other or (by_number and by_external_id.pk != by_number.pk)):
            raise serializers.ValidationError(
                {"external_id": [f"Belongs to order {by_external_id.order_number}, not to order {number}."]}
            )
        self.existing = by_external_id or by_number
        if self.existing is None and not number:
            raise serializers.ValidationError({"order_number": ["This field is required to create an order."]})

        # The phone is read as from the shipping country first, then the store's (as the service does).
        phone = attrs.get("customer", {}).get("phone")
        country = attrs.get("shipping_address", {}).get("country") or store.country
        if phone and not (normalize_phone(phone, country) or normalize_phone(phone, store.country)):
            raise serializers.ValidationError(
                {"customer": {"phone": ["Not a valid phone number; use E.164, e.g. +14155550123."]}}
            )
        return attrs

    def to_data(self) -> OrderData:
        values = dict(self.validated_data)
        customer = values.pop("customer", None)
        address = values.pop("shipping_address", None)
        items = values.pop("line_items", None)
        return OrderData(
            **values,
            customer=CustomerData(**customer) if customer else None,
            shipping_address=AddressData(**address) if address is not None else None,
            line_items=[LineItemData(**item) for item in items] if items is not None else None,
        )


class OrderFilterSerializer(serializers.Serializer):
    """Query parameters of the order list."""

    placed_after = AwareDateTimeField(required=False, help_text="Orders placed at or after this instant.")
    placed_before = AwareDateTimeField(required=False, help_text="Orders placed before this instant.")
    email = serializers.EmailField(required=False, help_text="The customer's email (case-insensitive).")

    def filter(self, queryset: QuerySet[Order]) -> QuerySet[Order]:
        params = self.validated_data
        if "placed_after" in params:
            queryset = queryset.filter(placed_at__gte=params["placed_after"])
        if "placed_before" in params:
            queryset = queryset.filter(placed_at__lt=params["placed_before"])
        if params.get("email"):
            queryset = queryset.filter(customer__email__iexact=params["email"])
        return queryset


# --- Input: shipments and tracking events ---------------------------------------------------------------


def event_dedupe_key(tracking_code: str, event: dict[str, Any]) -> str:
    """`api:{event_id}` when the caller names its event; otherwise a digest of what the event says, so
    a retried POST of the same scan is recognised."""
    if event.get("event_id"):
        return DEDUPE_PREFIX + event["event_id"]
    occurred_at = event["occurred_at"].astimezone(UTC).isoformat()
    basis = "\x1f".join((tracking_code, occurred_at, event["status"], event.get("message", "")))
    return f"{DEDUPE_PREFIX}auto:{hashlib.sha1(basis.encode(), usedforsecurity=False).hexdigest()[:32]}"


class EventInputSerializer(serializers.Serializer):
    """One carrier scan, already mapped onto the hub's canonical statuses."""

    status = serializers.ChoiceField(choices=ShipmentStatus.choices)
    occurred_at = AwareDateTimeField()
    message = text(500)
    location = text(200)
    raw_status = text(120, help_text="The carrier's own status word.")
    raw_detail = text(120, help_text="The carrier's sub-status.")
    event_id = serializers.CharField(
        max_length=200 - len(DEDUPE_PREFIX),
        required=False,
        help_text="Your id for the event: a second event with the same id on the shipment is a duplicate. "
        "Without one, tracking code + occurred_at + status + message identify the event.",
    )

    @staticmethod
    def to_event(tracking_code: str, event: dict[str, Any]) -> TrackingEventData:
        return TrackingEventData(
            status=event["status"],
            occurred_at=event["occurred_at"],
            dedupe_key=event_dedupe_key(tracking_code, event),
            raw_status=event.get("raw_status", ""),
            raw_detail=event.get("raw_detail", ""),
            message=event.get("message", ""),
            location=event.get("location", ""),
        )


def carrier_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        max_length=80, help_text='Any common spelling ("UPS", "FedEx", "Canada Post"); stored as a slug.', **kwargs
    )


def validate_carrier_name(value: str) -> str:
    slug = carrier_slug(value)
    if not slug:
        raise serializers.ValidationError("Name a carrier, e.g. usps, ups, fedex or dhl.")
    if len(slug) > 40:
        raise serializers.ValidationError("A carrier name is at most 40 characters.")
    return slug


class ShipmentInputSerializer(serializers.Serializer):
    """A parcel of an existing order, found by tracking code within the store. Context: `store`."""

    order_number = serializers.CharField(max_length=64, required=False)
    order_external_id = serializers.CharField(max_length=64, required=False)
    tracking_code = serializers.CharField(max_length=64)
    carrier = carrier_field()
    service_level = text(80)
    label_created_at = AwareDateTimeField(required=False)
    carrier_estimated_delivery = AwareDateTimeField(required=False)
    events = BoundedListField(child=EventInputSerializer(), required=False, max_length=MAX_ITEMS)

    def validate_carrier(self, value: str) -> str:
        return validate_carrier_name(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        store = _store(self)
        ref = OrderRef(external_id=attrs.get("order_external_id", ""), order_number=attrs.get("order_number", ""))
        if not ref:
            raise serializers.ValidationError({"order_number": ["Give an order_number or an order_external_id."]})
        order = order_find(store=store, ref=ref)
        if order is None:
            raise serializers.ValidationError(
                {"order_number" if ref.order_number else "order_external_id": ["No such order."]}
            )
        elsewhere = (
            Shipment.objects.filter(store=store, tracking_code=attrs["tracking_code"])
            .exclude(order=order)
            .select_related("order")
            .first()
        )
        if elsewhere:
            raise serializers.ValidationError(
                {"tracking_code": [f"Belongs to a shipment of order {elsewhere.order.order_number}."]}
            )
        attrs["order"] = order
        return attrs

    def to_data(self) -> ShipmentData:
        values = self.validated_data
        code = values["tracking_code"]
        return ShipmentData(
            tracking_code=code,
            carrier=values["carrier"],
            order=OrderRef(order_number=values["order"].order_number),
            service_level=values.get("service_level"),
            label_created_at=values.get("label_created_at"),
            carrier_estimated_delivery=values.get("carrier_estimated_delivery"),
            events=[EventInputSerializer.to_event(code, event) for event in values.get("events", [])],
        )


class TrackingEventInputSerializer(EventInputSerializer):
    """One scan of a shipment the hub knows, named by its tracking code (and carrier, to break a tie)."""

    tracking_code = serializers.CharField(max_length=64)
    carrier = carrier_field(required=False)

    def validate_carrier(self, value: str) -> str:
        return validate_carrier_name(value)


def shipments_for(store: Store, events: list[dict[str, Any]]) -> list[Shipment | None]:
    """The shipment each event belongs to (None when unknown), loaded with one query for all events.

    As in `services.shipment_upsert`, the tracking code finds the shipment and the carrier only
    breaks a tie.
    """
    codes = {event["tracking_code"] for event in events}
    by_code: dict[str, list[Shipment]] = {}
    for shipment in Shipment.objects.filter(store=store, tracking_code__in=codes).order_by("pk"):
        by_code.setdefault(shipment.tracking_code, []).append(shipment)
    found: list[Shipment | None] = []
    for event in events:
        candidates = by_code.get(event["tracking_code"], [])
        same_carrier = [s for s in candidates if s.carrier == event.get("carrier")]
        found.append((same_carrier or candidates or [None])[0])
    return found


UNKNOWN_TRACKING_CODE = "No shipment with this tracking code in this store."


class EventBatch:
    """Events to record, grouped by the shipment they belong to."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.received = len(events)
        self.by_shipment: dict[int, list[TrackingEventData]] = {}
        for event in events:
            shipment = event["shipment"]
            data = EventInputSerializer.to_event(shipment.tracking_code, event)
            self.by_shipment.setdefault(shipment.pk, []).append(data)


class TrackingEventCreateSerializer(TrackingEventInputSerializer):
    """A single tracking event. Context: `store`."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        (attrs["shipment"],) = shipments_for(_store(self), [attrs])
        if attrs["shipment"] is None:
            raise serializers.ValidationError({"tracking_code": [UNKNOWN_TRACKING_CODE]})
        return attrs

    def to_data(self) -> EventBatch:
        return EventBatch([self.validated_data])


class TrackingEventBulkSerializer(serializers.Serializer):
    """Up to 1000 events. Every item is checked before anything is stored. Context: `store`."""

    events = BoundedListField(
        child=TrackingEventInputSerializer(), allow_empty=False, max_length=MAX_ITEMS, help_text="At most 1000."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        events = attrs["events"]
        errors = {}
        for index, (event, shipment) in enumerate(zip(events, shipments_for(_store(self), events), strict=True)):
            if shipment is None:
                errors[index] = {"tracking_code": [UNKNOWN_TRACKING_CODE]}
            event["shipment"] = shipment
        if errors:
            raise serializers.ValidationError({"events": errors})
        return attrs

    def to_data(self) -> EventBatch:
        return EventBatch(self.validated_data["events"])


class EventCountsSerializer(serializers.Serializer):
    received = serializers.IntegerField(help_text="Events in the request.")
    new = serializers.IntegerField(help_text="Events stored now.")
    duplicates = serializers.IntegerField(help_text="Events the hub already had (or repeated in the request).")


# --- Input: tickets ----------------------------------------------------------------------------------------


class TicketInputSerializer(serializers.Serializer):
    """An inbound customer contact from a helpdesk. An `order_number` must name an order of the store (400 "No such
    order." otherwise, as for shipments: a link silently dropped would hide the contact from its order). Context:
    `store`."""

    reason = serializers.ChoiceField(choices=TicketReason.choices)
    channel = serializers.ChoiceField(choices=TicketChannel.choices)
    created_at = AwareDateTimeField(help_text="When the customer got in touch.")
    order_number = serializers.CharField(max_length=64, required=False)
    customer_email = serializers.EmailField(required=False)
    external_id = serializers.CharField(
        max_length=64, required=False, help_text="The helpdesk's id: posting it again returns the same ticket."
    )
    subject = text(255)
    body = text(100_000, trim_whitespace=False)

    def validate_order_number(self, value: str) -> str:
        if order_find(store=_store(self), ref=OrderRef(order_number=value)) is None:
            raise serializers.ValidationError("No such order.")
        return value

    def to_data(self) -> TicketData:
        values = self.validated_data
        return TicketData(
            reason=values["reason"],
            created_at=values["created_at"],
            channel=values["channel"],
            order=OrderRef(order_number=values["order_number"]) if values.get("order_number") else None,
            customer=CustomerData(email=values["customer_email"]) if values.get("customer_email") else None,
            external_id=values.get("external_id", ""),
            subject=values.get("subject", ""),
            body=values.get("body", ""),
            source=EventSource.API,
        )


class DataRequestInputSerializer(serializers.Serializer):
    """A customer's request about their personal data, received by the store (orders.privacy)."""

    kind = serializers.ChoiceField(choices=DataRequestKind.choices)
    customer = CustomerRefSerializer(required=False)
    orders = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=1000,
        help_text="The store platform's ids of orders the request names, such as a guest checkout's.",
    )  # fmt: skip
    reference = serializers.CharField(
        max_length=64, required=False, help_text="Your id for the request: a copy asked again under it is the same one."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        customer = attrs.get("customer") or {}
        if not (any(customer.get(key) for key in ("external_id", "email", "phone")) or attrs.get("orders")):
            raise serializers.ValidationError(
                {"customer": ["Name the customer (external_id, email or phone) or give orders."]}
            )
        return attrs

    def to_data(self) -> PersonalDataRequest:
        values = self.validated_data
        return PersonalDataRequest(
            kind=values["kind"],
            customer=CustomerData(**values.get("customer", {})),
            order_external_ids=values.get("orders", []),
            external_id=values.get("reference", ""),
        )


# --- Output ------------------------------------------------------------------------------------------------


class CustomerSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="full_name", read_only=True)

    class Meta:
        model = Customer
        fields = ["external_id", "name", "first_name", "last_name", "email", "phone", "is_vip"]
        read_only_fields = fields


class ShippingAddressSerializer(serializers.ModelSerializer):
    """The order's ship_* fields as one object."""

    name = serializers.CharField(source="ship_name", read_only=True)
    line1 = serializers.CharField(source="ship_line1", read_only=True)
    line2 = serializers.CharField(source="ship_line2", read_only=True)
    city = serializers.CharField(source="ship_city", read_only=True)
    region = serializers.CharField(source="ship_region", read_only=True)
    postal_code = serializers.CharField(source="ship_postal_code", read_only=True)
    country = serializers.CharField(source="ship_country", read_only=True)

    class Meta:
        model = Order
        fields = ["name", "line1", "line2", "city", "region", "postal_code", "country", "address_verification"]
        read_only_fields = fields


class LineItemSerializer(serializers.ModelSerializer):
    line_total = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)

    class Meta:
        model = LineItem
        fields = ["external_id", "sku", "title", "variant", "quantity", "unit_price", "line_total", "returnable"]
        read_only_fields = fields


class TrackingEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrackingEvent
        fields = ["status", "message", "location", "occurred_at", "raw_status", "raw_detail", "source"]
        read_only_fields = fields


class ShipmentSerializer(serializers.ModelSerializer):
    """A parcel with its timeline, newest event first."""

    carrier_name = serializers.SerializerMethodField()
    tracking_url = serializers.SerializerMethodField(help_text="The carrier's public tracking page, or empty.")
    events = TrackingEventSerializer(many=True, read_only=True)

    class Meta:
        model = Shipment
        fields = [
            "tracking_code",
            "carrier",
            "carrier_name",
            "tracking_url",
            "service_level",
            "status",
            "label_created_at",
            "first_scan_at",
            "last_scan_at",
            "last_event_at",
            "carrier_estimated_delivery",
            "delivered_at",
            "events",
        ]
        read_only_fields = fields

    def get_carrier_name(self, shipment: Shipment) -> str:
        return carrier_name(shipment.carrier)

    def get_tracking_url(self, shipment: Shipment) -> str:
        return carrier_tracking_url(shipment.carrier, shipment.tracking_code)

    @staticmethod
    def events_prefetch(lookup: str = "events") -> Prefetch:
        return Prefetch(lookup, queryset=TrackingEvent.objects.order_by("-occurred_at", "-id"))


class ShipmentResultSerializer(ShipmentSerializer):
    """A shipment as the shipment and tracking-event endpoints answer: with its order's number."""

    order_number = serializers.CharField(source="order.order_number", read_only=True)

    class Meta(ShipmentSerializer.Meta):
        fields = ["order_number", *ShipmentSerializer.Meta.fields]
        read_only_fields = fields

    @classmethod
    def prefetch(cls, queryset: QuerySet[Shipment]) -> QuerySet[Shipment]:
        return queryset.select_related("order").prefetch_related(cls.events_prefetch())


class TicketSerializer(serializers.ModelSerializer):
    class Meta:
        model = Ticket
        fields = ["id", "external_id", "source", "channel", "reason", "subject", "body", "created_at"]
        read_only_fields = fields


class TicketResultSerializer(TicketSerializer):
    """A ticket as POST /tickets/ answers: with the order and customer it was linked to."""

    order_number = serializers.CharField(source="order.order_number", read_only=True, allow_null=True)
    customer_email = serializers.CharField(source="customer.email", read_only=True, allow_null=True)

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "order_number", "customer_email"]
        read_only_fields = fields


class OrderListSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.full_name", read_only=True, allow_null=True)
    customer_email = serializers.CharField(source="customer.email", read_only=True, allow_null=True)

    class Meta:
        model = Order
        fields = [
            "order_number",
            "external_id",
            "placed_at",
            "currency",
            "total",
            "financial_status",
            "fulfillment_status",
            "customer_name",
            "customer_email",
        ]
        read_only_fields = fields

    @classmethod
    def prefetch(cls, queryset: QuerySet[Order]) -> QuerySet[Order]:
        return queryset.select_related("customer")


class OrderDetailSerializer(serializers.ModelSerializer):
    """Everything a helpdesk sidebar shows about one order, in a constant number of queries.

    To add a section (say, the playbooks app's open exceptions), add its field here and its
    `prefetch_related` lookup to `prefetch()`; tests/orders/api/test_orders.py checks that the
    query count does not grow with the number of shipments.
    """

    customer = CustomerSerializer(read_only=True, allow_null=True)
    shipping_address = ShippingAddressSerializer(source="*", read_only=True)
    line_items = LineItemSerializer(many=True, read_only=True)
    shipments = ShipmentSerializer(many=True, read_only=True)
    tickets = TicketSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "order_number",
            "external_id",
            "placed_at",
            "currency",
            "subtotal",
            "shipping_total",
            "tax_total",
            "discount_total",
            "total",
            "financial_status",
            "fulfillment_status",
            "payment_reference",
            "cancelled_at",
            "is_international",
            "promised_ship_by",
            "promised_deliver_by",
            "customer",
            "shipping_address",
            "line_items",
            "shipments",
            "tickets",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @classmethod
    def prefetch(cls, queryset: QuerySet[Order]) -> QuerySet[Order]:
        return queryset.select_related("customer").prefetch_related(
            Prefetch("line_items", queryset=LineItem.objects.order_by("id")),
            Prefetch("shipments", queryset=Shipment.objects.order_by("created_at", "id")),
            ShipmentSerializer.events_prefetch("shipments__events"),
            Prefetch("tickets", queryset=Ticket.objects.order_by("-created_at", "-id")),
        )


class DataRequestResultSerializer(serializers.ModelSerializer):
    """A request as POST /data-requests/ answers it: what was done, and for a copy, the copy itself."""

    customer_found = serializers.SerializerMethodField(help_text="Whether the hub holds a customer it names.")
    reference = serializers.CharField(source="external_id", read_only=True)
    orders = serializers.ListField(source="orders_named", read_only=True)

    class Meta:
        model = DataRequest
        fields = ["id", "kind", "reference", "orders", "customer_found", "requested_at", "completed_at", "outcome"]
        read_only_fields = fields

    def get_customer_found(self, request: DataRequest) -> bool:
        return request.customer_id is not None
