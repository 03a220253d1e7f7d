"""A customer's personal data: a copy when they ask for it, erased when they ask for that (GDPR articles 15 and
17, CCPA; Shopify's customers/data_request, customers/redact and shop/redact topics).

Erasing follows the store platforms' own rule: the person goes, the sale stays. Names, email addresses, phone
numbers, street addresses, postal codes and what the customer and the store wrote to each other are taken
out; orders, amounts, items, parcels and their scans, exceptions, remedies and messages' kinds and times stay,
so the KPIs, the caps and the audit trail still add up. The customer's row stays too, marked erased.

Every app that holds personal data registers a holder in settings.PERSONAL_DATA_HOLDERS (this app's own among
them), so this app need not know the others: each copies out and erases its own rows. Free text that may
quote the customer (an audit message, an exception's facts, a carrier's "signed for by …") is scrubbed of
the words that identify them rather than dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F, Model, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.module_loading import import_string

from cxhub.jobs import enqueue

from .choices import DataRequestKind, DeliveryState
from .models import (
    Customer,
    DataRequest,
    ErasedContact,
    InboundDelivery,
    Order,
    ReturnItem,
    ReturnRequest,
    Store,
    Ticket,
    TrackingEvent,
)
from .services import contact_digest, customer_find
from .updates import CustomerData, PersonalDataRequest

ERASED = "[erased]"
# Customers erased per transaction when a whole store goes (shop/redact).
STORE_BATCH = 500
STORE_ERASURE_TIMEOUT = 2 * 3600  # seconds
# Queued again only once its job can no longer be running (RQ has timed it out), so two never run at once.
STORE_ERASURE_RETRY_AFTER = timedelta(seconds=STORE_ERASURE_TIMEOUT, minutes=15)
# The search for an erased customer's raw webhooks is queued again if it has not run by then: its job was lost.
SCRUB_RETRY_AFTER = timedelta(minutes=15)
# Deliveries that have not been applied yet: erased, they are not applied (they would bring the data back).
UNAPPLIED = (DeliveryState.RECEIVED, DeliveryState.WAITING)


class Scrubber:
    """Takes the words that identify some customers (names, email addresses, phone numbers, street lines,
    postal codes) out of free text, case-insensitively and as whole words only."""

    def __init__(self, words: Iterable[str]) -> None:
        kept = sorted({w.strip() for w in words if len(w.strip()) >= 2}, key=len, reverse=True)
        alternatives = "|".join(re.escape(w) for w in kept)
        self._pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE) if kept else None

    def text(self, value: str) -> str:
        return self._pattern.sub(ERASED, value) if self._pattern and value else value

    def data(self, value: Any) -> Any:
        """The same, through a JSON value's strings (keys stay)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.data(item) for item in value]
        if isinstance(value, dict):
            return {key: self.data(item) for key, item in value.items()}
        return value


@dataclass(frozen=True)
class People:
    """Whose personal data: some customers of a store and their orders (or all of the store's)."""

    store: Store
    customer_ids: list[int]
    order_ids: list[int]
    # By order: the words that identify its recipient and customer. A scrubber per order stays a few words
    # long (one for a whole batch of customers would be thousands, and 500 times slower).
    scrubbers: dict[int, Scrubber]
    # Strings a raw webhook naming these people contains (their email addresses, phones and street lines).
    traces: list[str]
    # By customer: their email address and phone, remembered as digests (ErasedContact) once erased.
    contacts: list[tuple[int, str]] = field(default_factory=list)
    whole_store: bool = False

    def of(self, queryset: QuerySet, *, order: str = "order", customer: str = "", store: str = "") -> QuerySet:
        """The rows of `queryset` that are these people's: through their order (`order`: the path to it, ""
        for orders themselves) or their customer (`customer`: the path to it). For a whole store, all rows of
        the store (`store`: the path to it, by default through the order)."""
        order_key = f"{order}__" if order else ""
        if self.whole_store:
            return queryset.filter(**{store or f"{order_key}store": self.store})
        belongs = Q(**{f"{order_key}pk__in": self.order_ids})
        if customer:
            belongs |= Q(**{f"{customer}__in": self.customer_ids})
        return queryset.filter(belongs)


class PersonalDataHolder:
    """What one app holds about customers. `copy` lists it (for the customer's copy); `erase` takes it out
    and says how many rows of each kind it changed. Erasing twice changes nothing more."""

    def copy(self, people: People) -> dict[str, Any]:
        return {}

    def erase(self, people: People, *, request: DataRequest) -> Counter:
        return Counter()


def holders() -> list[PersonalDataHolder]:
    return [import_string(path)() for path in settings.PERSONAL_DATA_HOLDERS]


def rows_scrub(queryset: QuerySet, people: People, fields: Sequence[str], *, order: str = "order") -> int:
    """Scrub the words of each row's order (`order`: the path to it) out of `fields` (text or JSON) of the
    rows of `queryset` that are these people's, saving those that changed in one statement."""
    changed: list[Model] = []
    for row in people.of(queryset, order=order).only("pk", *fields).annotate(owner=F(order)):
        scrubber = people.scrubbers.get(row.owner)
        if scrubber is None:
            continue
        before = [getattr(row, name) for name in fields]
        for name in fields:
            setattr(row, name, scrubber.data(getattr(row, name)))
        if [getattr(row, name) for name in fields] != before:
            changed.append(row)
    if changed:
        queryset.model.objects.bulk_update(changed, fields, batch_size=500)
    return len(changed)


def people_of(
    store: Store,
    customers: Sequence[Customer],
    *,
    order_external_ids: Iterable[str] = (),
    order_ids: Iterable[int] = (),
    store_batch: bool = False,
) -> People:
    """These customers, their orders, and the orders named by the store platform's ids or by their own.
    `store_batch`: a batch of a whole store's erasure, which leaves nothing to look for later (its raw
    webhooks are all emptied at the end, and a store that removed the app sends nothing more)."""
    named = Q(customer__in=customers) | Q(external_id__in=[i for i in order_external_ids if i]) | Q(pk__in=order_ids)
    orders = Order.objects.filter(named, store=store)
    orders = list(orders.only("pk", "customer_id", *Order.PERSONAL_FIELDS))
    words: dict[int | None, list[str]] = {}
    contacts = []
    for customer in customers:
        phone_digits = customer.phone.lstrip("+")
        said = [customer.first_name, customer.last_name, customer.full_name, customer.email, customer.phone]
        words[customer.pk] = said + ([phone_digits, phone_digits[-10:]] if len(phone_digits) >= 10 else [])
        contacts += [(customer.pk, contact) for contact in (customer.email, customer.phone) if contact]
    traces = [contact for _, contact in contacts]
    scrubbers = {}
    for order in orders:
        name = [order.ship_name, *order.ship_name.split()]
        street = [order.ship_line1, order.ship_line2, order.ship_postal_code]
        scrubbers[order.pk] = Scrubber([*words.get(order.customer_id, []), *name, *street])
        traces += [order.ship_line1] if len(order.ship_line1) >= 5 else []
    return People(
        store=store,
        customer_ids=[c.pk for c in customers],
        order_ids=[o.pk for o in orders],
        scrubbers=scrubbers,
        traces=[] if store_batch else sorted(set(traces)),
        contacts=[] if store_batch else contacts,
    )


def personal_data_copy(
    customer: Customer | None, *, store: Store | None = None, order_external_ids: Sequence[str] = ()
) -> dict[str, Any]:
    """Everything the hub holds about `customer` (and on the orders named by the platform's ids, as for a
    guest checkout, which has no customer), as JSON-ready data: what a copy of their data hands over."""
    store = customer.store if customer else store
    people = people_of(store, [customer] if customer else [], order_external_ids=order_external_ids)
    copy: dict[str, Any] = {
        "store": store.name,
        "generated_at": timezone.now().isoformat(),
        "erased_at": _iso(customer.erased_at) if customer else None,
    }
    for holder in holders():
        copy.update(holder.copy(people))
    return copy


@transaction.atomic
def personal_data_erase(
    *,
    store: Store,
    customers: Sequence[Customer],
    order_external_ids: Sequence[str] = (),
    source: str,
    external_id: str = "",
    user: AbstractBaseUser | None = None,
) -> DataRequest:
    """Erase these customers' personal data (and that on the orders named by the platform's ids), and record
    the request. A request the store platform sends twice is erased once (the second finds nothing left)."""
    request = DataRequest.objects.create(
        store=store, kind=DataRequestKind.ERASURE, customer=customers[0] if len(customers) == 1 else None,
        source=source, external_id=external_id, orders_named=list(order_external_ids), requested_by=user,
    )  # fmt: skip
    outcome = _erase(people_of(store, customers, order_external_ids=order_external_ids), request=request)
    request.completed_at, request.outcome = timezone.now(), dict(outcome)
    request.save(update_fields=["completed_at", "outcome", "webhook_traces"])
    return request


def store_erasure_start(
    *, store: Store, source: str, external_id: str = "", user: AbstractBaseUser | None = None
) -> DataRequest:
    """Record an erasure of every customer of `store` (Shopify's shop/redact, 48 hours after the store removed
    the app) and queue it: a large store takes longer than a webhook's batch should."""
    request = DataRequest.objects.create(
        store=store, kind=DataRequestKind.ERASURE, source=source, external_id=external_id, requested_by=user
    )
    _store_erasure_queue(request.pk)
    return request


def store_erasure_run(request_id: int) -> DataRequest | None:
    """Erase the personal data of every customer of the request's store, a batch of customers per transaction.
    Run again after an interruption (erasures_recover), it goes over the rest; erased rows are skipped."""
    request = DataRequest.objects.select_related("store").filter(pk=request_id, completed_at__isnull=True).first()
    if request is None:
        return None
    store, outcome = request.store, Counter()
    for customers, order_ids in _store_batches(store, since=request.requested_at):
        with transaction.atomic():
            people = people_of(store, customers, order_ids=order_ids, store_batch=True)
            outcome += _erase(people, request=request)
    with transaction.atomic():
        # What no customer or order ties to a person, such as the raw webhooks: emptied whole.
        everything = People(store=store, customer_ids=[], order_ids=[], scrubbers={}, traces=[], whole_store=True)
        outcome += _erase(everything, request=request)
        request.completed_at, request.outcome = timezone.now(), dict(outcome)
        request.save(update_fields=["completed_at", "outcome"])
    return request


def erasures_recover() -> int:
    """Queue again what a lost job or a dead worker left unfinished of erasures: store erasures, and the search
    for the raw webhooks naming an erased customer (each is safe to run twice). Returns how many."""
    now = timezone.now()
    stale = DataRequest.objects.filter(
        kind=DataRequestKind.ERASURE, customer__isnull=True, completed_at__isnull=True,
        requested_at__lt=now - STORE_ERASURE_RETRY_AFTER,
    ).values_list("pk", flat=True)  # fmt: skip
    for pk in stale:
        _store_erasure_queue(pk)
    unsearched = DataRequest.objects.exclude(webhook_traces=[]).filter(completed_at__lt=now - SCRUB_RETRY_AFTER)
    unsearched = unsearched.values_list("pk", flat=True)
    for pk in unsearched:
        _deliveries_scrub_queue(pk)
    return len(stale) + len(unsearched)


def _store_erasure_queue(request_id: int) -> None:
    from .jobs import store_erasure_job

    enqueue(
        "low", store_erasure_job, request_id, job_id=f"store-erasure-{request_id}", job_timeout=STORE_ERASURE_TIMEOUT
    )


def _store_batches(store: Store, *, since: datetime) -> Iterator[tuple[list[Customer], list[int]]]:
    """The store's customers a batch at a time (but those erased `since` the request, by an interrupted run of
    it), then its guest orders (those with no customer)."""
    left = Customer.objects.filter(store=store).exclude(erased_at__gte=since).order_by("pk")
    last = 0
    while customers := list(left.filter(pk__gt=last)[:STORE_BATCH]):
        yield customers, []
        last = customers[-1].pk
    guests = Order.objects.filter(store=store, customer__isnull=True).order_by("pk").values_list("pk", flat=True)
    last = 0
    while order_ids := list(guests.filter(pk__gt=last)[:STORE_BATCH]):
        yield [], order_ids
        last = order_ids[-1]


def _erase(people: People, *, request: DataRequest) -> Counter:
    outcome: Counter = Counter()
    for holder in holders():
        outcome += holder.erase(people, request=request)
    return outcome


def data_request_apply(*, store: Store, data: PersonalDataRequest, source: str) -> DataRequest:
    """Carry out a request the store platform or an integration relays: a copy is recorded, for the store owner
    to download and send on; an erasure is done now (a whole store's, by a job)."""
    if data.kind == DataRequestKind.COPY:
        return data_request_record(
            store=store, customer_data=data.customer, order_external_ids=data.order_external_ids,
            external_id=data.external_id, source=source,
        )  # fmt: skip
    if data.whole_store:
        return store_erasure_start(store=store, source=source, external_id=data.external_id)
    found = customer_find(store=store, data=data.customer)
    return personal_data_erase(
        store=store, customers=[found] if found else [], order_external_ids=data.order_external_ids,
        source=source, external_id=data.external_id,
    )  # fmt: skip


def data_request_record(
    *, store: Store, customer_data: CustomerData, order_external_ids: Sequence[str], external_id: str, source: str
) -> DataRequest:
    """Record a request for a copy of a customer's data (Shopify's customers/data_request): the store owner
    downloads it from the admin and sends it on. A request sent twice is recorded once."""
    asked = DataRequest.objects.filter(store=store, kind=DataRequestKind.COPY, source=source)
    if external_id and (found := asked.filter(external_id=external_id).first()):
        return found
    return DataRequest.objects.create(
        store=store, kind=DataRequestKind.COPY, customer=customer_find(store=store, data=customer_data),
        source=source, external_id=external_id, orders_named=list(order_external_ids),
    )  # fmt: skip


def data_request_copy(request: DataRequest) -> dict[str, Any]:
    """The copy a request asked for, marking the request answered the first time it is downloaded."""
    copy = personal_data_copy(request.customer, store=request.store, order_external_ids=request.orders_named)
    if request.customer is None and not copy["orders"]:
        copy["note"] = "The hub holds no customer or order this request names."
    if request.completed_at is None:
        request.completed_at = timezone.now()
        request.save(update_fields=["completed_at"])
    return copy


# -- what this app holds ---------------------------------------------------------------------------------------


class OrdersData(PersonalDataHolder):
    """The customer, their orders' shipping addresses, tickets, return comments, carriers' scan texts and the
    raw webhook deliveries that carried them."""

    def copy(self, people: People) -> dict[str, Any]:
        customers = Customer.objects.filter(pk__in=people.customer_ids)
        orders = Order.objects.filter(pk__in=people.order_ids).prefetch_related("line_items", "shipments__events")
        tickets = people.of(Ticket.objects.all(), customer="customer")
        returns = people.of(ReturnRequest.objects.prefetch_related("items__line_item"))
        return {
            "customer": [
                {
                    **{name: getattr(c, name) for name in Customer.PERSONAL_FIELDS},
                    "preferred_channel": c.preferred_channel,
                    "sms_opted_out_at": _iso(c.sms_opted_out_at),
                    "email_opted_out_at": _iso(c.email_opted_out_at),
                }
                for c in customers
            ],
            "orders": [_order_copy(order) for order in orders.order_by("placed_at")],
            "tickets": [
                {"created_at": _iso(t.created_at), "channel": t.channel, "subject": t.subject, "body": t.body}
                for t in tickets.order_by("created_at")
            ],
            "returns": [
                {
                    "number": r.number,
                    "state": r.state,
                    "resolution": r.resolution,
                    "items": [
                        {"item": i.line_item.title, "quantity": i.quantity, "reason": i.reason, "comment": i.comment}
                        for i in r.items.all()
                    ],
                }
                for r in returns.order_by("created_at")
            ],
        }

    def erase(self, people: People, *, request: DataRequest) -> Counter:
        outcome: Counter = Counter()
        customers = Customer.objects.filter(store=people.store)
        if not people.whole_store:
            customers = customers.filter(pk__in=people.customer_ids)
        # Known again by digest alone: an old order or ticket naming them by email or phone, arriving later.
        ErasedContact.objects.bulk_create(
            [ErasedContact(store=people.store, customer_id=pk, digest=contact_digest(c)) for pk, c in people.contacts],
            ignore_conflicts=True,
        )
        outcome["customers"] = _personal_fields_erase(customers)
        outcome["orders"] = _personal_fields_erase(people.of(Order.objects.all(), order=""))
        tickets = people.of(Ticket.objects.all(), customer="customer", store="store").exclude(subject="", body="")
        outcome["tickets"] = tickets.update(subject="", body="")
        outcome["return comments"] = (
            people.of(ReturnItem.objects.all(), order="return_request__order").exclude(comment="").update(comment="")
        )
        if not people.whole_store:  # a whole store is scrubbed batch by batch, by the words of each
            scans = TrackingEvent.objects.exclude(message="")
            outcome["carrier scans"] = rows_scrub(scans, people, ["message"], order="shipment__order")
        outcome["webhook deliveries"] = _deliveries_erase(people, request)
        outcome["admin history"] = _history_erase(people)
        return +outcome


def _personal_fields_erase(rows: QuerySet) -> int:
    """Empty the PERSONAL_FIELDS of customers or orders and mark them erased (so that later updates of an order
    leave them out); rows erased before and given details again since are erased again. Returns how many."""
    empty = dict.fromkeys(rows.model.PERSONAL_FIELDS, "")
    return rows.exclude(Q(**empty, erased_at__isnull=False)).update(**empty, erased_at=timezone.now())


def _deliveries_erase(people: People, request: DataRequest) -> int:
    """Empty a whole store's raw webhooks now. Those naming some people are found by a job once this commits
    (erased_deliveries_scrub): finding them reads every raw webhook the store keeps, 0.1 ms each
    (bench/README.md), which no person or API call should wait on. Returns how many were emptied now."""
    if people.whole_store:
        return deliveries_scrub(people.store.pk)
    if people.traces:
        request.webhook_traces = people.traces  # saved with the request's outcome
        _deliveries_scrub_queue(request.pk)
    return 0


def _deliveries_scrub_queue(request_id: int) -> None:
    from .jobs import erased_deliveries_scrub_job

    enqueue("low", erased_deliveries_scrub_job, request_id, job_id=f"erased-deliveries-scrub-{request_id}")


def erased_deliveries_scrub(request_id: int) -> int:
    """Empty the raw webhooks naming the customer an erasure request erased (by the traces it kept of them till
    now), count them in its outcome and forget the traces. Run twice, the second finds nothing to do."""
    with transaction.atomic():
        request = DataRequest.objects.select_for_update().filter(pk=request_id).exclude(webhook_traces=[]).first()
        if request is None:
            return 0
        emptied = deliveries_scrub(request.store_id, request.webhook_traces)
        outcome = Counter(request.outcome) + Counter({"webhook deliveries": emptied})
        request.webhook_traces, request.outcome = [], dict(outcome)
        request.save(update_fields=["webhook_traces", "outcome"])
    return emptied


def deliveries_scrub(store_id: int, traces: Sequence[str] = ()) -> int:
    """Empty the store's raw webhooks that contain any of `traces` (case-insensitively), or all of them with
    none given; those not applied yet never will be (they would bring the data back)."""
    deliveries = InboundDelivery.objects.filter(store_id=store_id).exclude(body="")
    if traces:
        named = Q()
        for trace in traces:
            named |= Q(body__icontains=trace)
        deliveries = deliveries.filter(named)
    unapplied = deliveries.filter(state__in=UNAPPLIED).update(
        body="", state=DeliveryState.IGNORED, error="personal data erased before it was applied"
    )
    return unapplied + deliveries.update(body="")


def _history_erase(people: People) -> int:
    """The admin's history names a customer whose change it records (the row as it was then): named by id
    instead. A whole store's customers were renamed batch by batch."""
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Customer),
        object_id__in=[str(pk) for pk in people.customer_ids],
    )
    return entries.exclude(object_repr__startswith="Customer ").update(
        object_repr=Concat(Value("Customer "), "object_id")
    )


def _order_copy(order: Order) -> dict[str, Any]:
    return {
        "order_number": order.order_number,
        "placed_at": _iso(order.placed_at),
        "total": str(order.total),
        "currency": order.currency,
        "shipping_address": order.shipping_address_lines,
        "items": [{"title": i.title, "variant": i.variant, "quantity": i.quantity} for i in order.line_items.all()],
        "parcels": [
            {
                "carrier": s.carrier,
                "tracking_code": s.tracking_code,
                "status": s.status,
                "scans": [
                    {"at": _iso(e.occurred_at), "status": e.status, "message": e.message, "location": e.location}
                    for e in s.events.all()
                ],
            }
            for s in order.shipments.all()
        ],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
