"""REST API views: parse with a serializer, build `orders.updates` dataclasses, call `orders.services`.

Every view acts for the store of the request's token (`request.user.store`) and never reads or writes
another store's rows. Validation errors are DRF's `{"field": ["message"]}` bodies with status 400.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.module_loading import import_string
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException, NotFound, ParseError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.choices import DataRequestKind, EventSource
from orders.facts import facts_announce
from orders.models import Order, Shipment, Store
from orders.privacy import data_request_apply, data_request_copy
from orders.services import (
    NotReady,
    ShipmentChange,
    ShipmentConflict,
    order_upsert,
    shipment_record_events,
    shipment_upsert,
    ticket_create,
)
from orders.updates import ShipmentData

from .serializers import (
    DataRequestInputSerializer,
    DataRequestResultSerializer,
    EventBatch,
    EventCountsSerializer,
    OrderDetailSerializer,
    OrderFilterSerializer,
    OrderInputSerializer,
    OrderListSerializer,
    ShipmentInputSerializer,
    ShipmentResultSerializer,
    TicketInputSerializer,
    TicketResultSerializer,
    TrackingEventBulkSerializer,
    TrackingEventCreateSerializer,
)

BAD_REQUEST = OpenApiResponse(description='Invalid input: `{"field": ["message"]}`, naming each bad field.')
NOT_FOUND = OpenApiResponse(description="No order with this number in the token's store.")
ORDER_NUMBER = OpenApiParameter(
    "order_number", OpenApiTypes.STR, OpenApiParameter.PATH, description='The order number, without "#".'
)


class OrderPagination(LimitOffsetPagination):
    max_limit = 500


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class NestingParser(JSONParser):
    """DRF's JSON parser, answering a body nested too deeply for Python's parser (`[` 100,000 times) with
    the 400 of any malformed JSON rather than a 500 (RecursionError)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc


class StoreAPIView(APIView):
    """JSON in, JSON out, for the store of the request's token."""

    parser_classes = [NestingParser]
    renderer_classes = [JSONRenderer]

    @property
    def store(self) -> Store:
        return self.request.user.store

    def store_orders(self) -> QuerySet[Order]:
        return Order.objects.filter(store=self.store)

    def order_detail(self, order_number: str) -> Order:
        """The order with this number, with everything the detail view shows; 404 if not in the store."""
        number = order_number.lstrip("#")
        order = OrderDetailSerializer.prefetch(self.store_orders()).filter(order_number=number).first()
        if order is None:
            raise NotFound(f"No order {number} in this store.")
        return order

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, RequestDataTooBig):
            exc = PayloadTooLarge(f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
        return super().handle_exception(exc)

    def context(self, **extra: object) -> dict[str, object]:
        return {"request": self.request, "store": self.store, **extra}


@extend_schema_view(
    get=extend_schema(
        summary="List orders",
        description="The store's orders, newest first, with minimal fields. Paginated with `limit`/`offset`.",
        parameters=[OrderFilterSerializer],
        responses={200: OrderListSerializer(many=True), 400: BAD_REQUEST},
        tags=["orders"],
    ),
    post=extend_schema(
        summary="Create or update an order",
        description=(
            "Upsert by `external_id`, then `order_number`, within the token's store. Fields left out keep "
            "their stored value; `line_items`, when sent, replace the stored lines. Answers the order as "
            "`GET /orders/{order_number}/` does: 201 when it was created, 200 when it was updated."
        ),
        request=OrderInputSerializer,
        responses={201: OrderDetailSerializer, 200: OrderDetailSerializer, 400: BAD_REQUEST},
        tags=["orders"],
    ),
)
class OrderListView(StoreAPIView, generics.ListAPIView):
    serializer_class = OrderListSerializer
    pagination_class = OrderPagination

    def get_queryset(self) -> QuerySet[Order]:
        params = OrderFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return params.filter(OrderListSerializer.prefetch(self.store_orders())).order_by("-placed_at", "-id")

    def post(self, request: Request) -> Response:
        return upsert_order(self, request.data)


@extend_schema_view(
    get=extend_schema(
        summary="One order, everything about it",
        description=(
            "The helpdesk sidebar view: order, customer, address, line items, shipments each with its "
            "tracking timeline (newest event first) and carrier tracking URL, and tickets."
        ),
        parameters=[ORDER_NUMBER],
        responses={200: OrderDetailSerializer, 404: NOT_FOUND},
        tags=["orders"],
    ),
    put=extend_schema(
        summary="Create or update the order with this number",
        description="As `POST /orders/`, with the order number taken from the URL. 201 when created.",
        parameters=[ORDER_NUMBER],
        request=OrderInputSerializer,
        responses={201: OrderDetailSerializer, 200: OrderDetailSerializer, 400: BAD_REQUEST},
        tags=["orders"],
    ),
    patch=extend_schema(
        summary="Update the order with this number",
        description="Fields left out keep their stored value. 404 when the store has no such order.",
        parameters=[ORDER_NUMBER],
        request=OrderInputSerializer,
        responses={200: OrderDetailSerializer, 400: BAD_REQUEST, 404: NOT_FOUND},
        tags=["orders"],
    ),
)
class OrderDetailView(StoreAPIView):
    def get(self, request: Request, order_number: str) -> Response:
        return Response(order_detail_data(self.order_detail(order_number)))

    def put(self, request: Request, order_number: str) -> Response:
        return upsert_order(self, request.data, order_number=order_number)

    def patch(self, request: Request, order_number: str) -> Response:
        if not self.store_orders().filter(order_number=order_number.lstrip("#")).exists():
            raise NotFound(f"No order {order_number.lstrip('#')} in this store.")
        return upsert_order(self, request.data, order_number=order_number)


def upsert_order(view: StoreAPIView, body: object, order_number: str | None = None) -> Response:
    extra = {"order_number": order_number} if order_number is not None else {}
    serializer = OrderInputSerializer(data=body, context=view.context(**extra))
    serializer.is_valid(raise_exception=True)
    created = serializer.existing is None
    data = serializer.to_data()
    try:
        order = order_upsert(store=view.store, data=data)
    except IntegrityError:
        # A concurrent request created the same order first: what we have is now an update of it.
        created = False
        order = order_upsert(store=view.store, data=data)
    facts_announce(order_ids=[order.pk])
    return Response(
        order_detail_data(view.order_detail(order.order_number)),
        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


def order_detail_data(order: Order) -> dict:
    """The order as the sidebar shows it, plus what the apps above add (exceptions, remedies, audit…)
    through settings.ORDER_DETAIL_SECTIONS, so this app need not know them."""
    data = OrderDetailSerializer(order).data
    for path in settings.ORDER_DETAIL_SECTIONS:
        data.update(import_string(path)(order))
    return data


class ShipmentView(StoreAPIView):
    @extend_schema(
        summary="Create or update a shipment",
        description=(
            "A parcel of an existing order, found by tracking code within the store. Optional `events` are "
            "recorded as by `POST /tracking-events/`; the status always follows the newest event. "
            "201 when the shipment was created, 200 when it was updated."
        ),
        request=ShipmentInputSerializer,
        responses={201: ShipmentResultSerializer, 200: ShipmentResultSerializer, 400: BAD_REQUEST},
        tags=["shipments"],
    )
    def post(self, request: Request) -> Response:
        serializer = ShipmentInputSerializer(data=request.data, context=self.context())
        serializer.is_valid(raise_exception=True)
        try:
            change = upsert_shipment(self.store, serializer.to_data())
        except NotReady as exc:  # the order went away between validation and the write
            raise serializers.ValidationError({"order_number": ["No such order."]}) from exc
        except ShipmentConflict as exc:  # another order's parcel took the code between validation and the write
            raise serializers.ValidationError(
                {"tracking_code": [f"Belongs to a shipment of order {exc.owner.order_number}."]}
            ) from exc
        facts_announce(shipment_ids=[change.shipment_id])
        return Response(
            self.shipment_result(change.shipment_id),
            status=status.HTTP_201_CREATED if change.created else status.HTTP_200_OK,
        )

    def shipment_result(self, shipment_id: int) -> dict:
        shipment = ShipmentResultSerializer.prefetch(Shipment.objects.filter(store=self.store)).get(pk=shipment_id)
        return ShipmentResultSerializer(shipment).data


def upsert_shipment(store: Store, data: ShipmentData) -> ShipmentChange:
    try:
        return shipment_upsert(store=store, data=data, source=EventSource.API)
    except IntegrityError:
        # A concurrent request created the same shipment first: apply ours as an update of it.
        return shipment_upsert(store=store, data=data, source=EventSource.API)


def record_events(store: Store, batch: EventBatch) -> int:
    """Record a batch in one transaction, shipment by shipment; return how many events were new.

    The shipments are locked in id order while their status is re-derived, so concurrent batches
    neither lose a status change nor deadlock.
    """
    new = 0
    with transaction.atomic():
        shipments = Shipment.objects.select_for_update().filter(store=store, pk__in=batch.by_shipment).order_by("pk")
        for shipment in shipments:
            new += shipment_record_events(
                shipment=shipment, events=batch.by_shipment[shipment.pk], source=EventSource.API
            )
        facts_announce(shipment_ids=batch.by_shipment)
    return new


class TrackingEventView(ShipmentView):
    @extend_schema(
        summary="Record one tracking event",
        description=(
            "A scan for a shipment the store has, named by tracking code. A repeat (same `event_id`, or "
            "without one the same tracking code, occurred_at, status and message) is stored once. Answers "
            "the shipment with its re-derived status: 201 when the event was new, 200 for a duplicate."
        ),
        request=TrackingEventCreateSerializer,
        responses={201: ShipmentResultSerializer, 200: ShipmentResultSerializer, 400: BAD_REQUEST},
        tags=["tracking events"],
    )
    def post(self, request: Request) -> Response:
        serializer = TrackingEventCreateSerializer(data=request.data, context=self.context())
        serializer.is_valid(raise_exception=True)
        new = record_events(self.store, serializer.to_data())
        return Response(
            self.shipment_result(serializer.validated_data["shipment"].pk),
            status=status.HTTP_201_CREATED if new else status.HTTP_200_OK,
        )


class TrackingEventBulkView(StoreAPIView):
    @extend_schema(
        summary="Record up to 1000 tracking events",
        description=(
            "Every item is validated first: if any is invalid the answer is 400 with the errors by item "
            'index (`{"events": {"3": {"status": ["…"]}}}`) and nothing is stored. Otherwise all events '
            "are recorded in one transaction; repeats are counted as duplicates."
        ),
        request=TrackingEventBulkSerializer,
        responses={200: EventCountsSerializer, 400: BAD_REQUEST},
        tags=["tracking events"],
    )
    def post(self, request: Request) -> Response:
        serializer = TrackingEventBulkSerializer(data=request.data, context=self.context())
        serializer.is_valid(raise_exception=True)
        batch = serializer.to_data()
        new = record_events(self.store, batch)
        counts = {"received": batch.received, "new": new, "duplicates": batch.received - new}
        return Response(EventCountsSerializer(counts).data)


class TicketView(StoreAPIView):
    @extend_schema(
        summary="Record an inbound customer contact",
        description=(
            "A ticket from a helpdesk. With an `external_id`, posting the same ticket again answers 200 "
            "with the ticket already recorded instead of creating a second one."
        ),
        request=TicketInputSerializer,
        responses={201: TicketResultSerializer, 200: TicketResultSerializer, 400: BAD_REQUEST},
        tags=["tickets"],
    )
    def post(self, request: Request) -> Response:
        serializer = TicketInputSerializer(data=request.data, context=self.context())
        serializer.is_valid(raise_exception=True)
        ticket, created = ticket_create(store=self.store, data=serializer.to_data())
        if created and ticket.order_id:
            # A contact can be news for detectors (a "not received" claim on a delivered parcel).
            facts_announce(
                order_ids=[ticket.order_id], shipment_ids=ticket.order.shipments.values_list("pk", flat=True)
            )
        return Response(
            TicketResultSerializer(ticket).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class DataRequestView(StoreAPIView):
    @extend_schema(
        summary="Answer a customer's request about their personal data",
        description=(
            "For a store platform without compliance webhooks, or a helpdesk: `erasure` erases the customer's "
            "personal data (and that on the orders listed) at once and answers what it erased, in rows per kind; "
            "`copy` answers everything the hub holds about them in `copy`, for you to send them. The person goes, "
            "the sale stays: see the README's *Personal data*."
        ),
        request=DataRequestInputSerializer,
        responses={201: DataRequestResultSerializer, 400: BAD_REQUEST},
        tags=["personal data"],
    )
    def post(self, request: Request) -> Response:
        serializer = DataRequestInputSerializer(data=request.data, context=self.context())
        serializer.is_valid(raise_exception=True)
        data_request = data_request_apply(store=self.store, data=serializer.to_data(), source=EventSource.API)
        body = DataRequestResultSerializer(data_request).data
        if data_request.kind == DataRequestKind.COPY:
            body["copy"] = data_request_copy(data_request)  # handed over: the request is done
        return Response(body, status=status.HTTP_201_CREATED)
