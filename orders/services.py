"""Writes to the orders domain. Every source (webhooks, API, CSV, demo) comes through here.

Rules kept in one place:
- upserts are keyed by the source's natural ids, so applying the same fact twice changes nothing;
- a shipment's status is derived from the *set* of its tracking events (newest by occurred_at), so the
  order in which events arrive never matters and a late, older event never moves the status backwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, Q, Value, When
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .choices import (
    NON_SCAN_STATUSES,
    AddressVerification,
    EventSource,
    FinancialStatus,
    FulfillmentStatus,
    ShipmentStatus,
)
from .models import Customer, ErasedContact, LineItem, Order, Shipment, Store, Ticket, TrackingEvent
from .updates import (
    CustomerData,
    OrderData,
    OrderRef,
    PaymentData,
    ShipmentData,
    TicketData,
    TrackingEventData,
)
from .validators import normalize_phone


class NotReady(Exception):
    """A fact refers to something the hub has not heard of yet (e.g. a carrier scan before the
    fulfillment that announced the parcel). The delivery is kept and retried, never dropped."""


class ShipmentConflict(ValueError):
    """An update names an order, but the parcel it identifies (by tracking code or the source's id for it)
    is another order's. Nothing is written: a parcel never moves to another order, and one order's source
    never adds to another order's timeline. Permanent: retrying cannot make it right."""

    def __init__(self, *, tracking_code: str, owner: Order, named: Order) -> None:
        self.tracking_code = tracking_code
        self.owner = owner
        self.named = named
        super().__init__(
            f"tracking code {tracking_code} belongs to a shipment of order {owner.order_number}, "
            f"not of order {named.order_number}"
        )


# Ties on occurred_at are broken by how far along the journey a status is, so the result does not
# depend on which of two simultaneous events arrived last.
STATUS_PROGRESS = {
    ShipmentStatus.UNKNOWN: 0,
    ShipmentStatus.LABEL_CREATED: 1,
    ShipmentStatus.IN_TRANSIT: 2,
    ShipmentStatus.EXCEPTION: 3,
    ShipmentStatus.ATTEMPTED_DELIVERY: 4,
    ShipmentStatus.AVAILABLE_FOR_PICKUP: 5,
    ShipmentStatus.OUT_FOR_DELIVERY: 6,
    ShipmentStatus.DELIVERED: 7,
    ShipmentStatus.RETURNED_TO_SENDER: 8,
    ShipmentStatus.CANCELLED: 9,
}


def store_get_default() -> Store | None:
    """The store used for single-store installs (DEFAULT_STORE_SLUG, or the only store there is)."""
    if settings.DEFAULT_STORE_SLUG:
        return Store.objects.filter(slug=settings.DEFAULT_STORE_SLUG).first()
    stores = list(Store.objects.all()[:2])
    return stores[0] if len(stores) == 1 else None


def _assign(obj: object, values: dict[str, object]) -> list[str]:
    """Set the attributes whose value differs; return the changed field names."""
    changed = []
    for name, value in values.items():
        if value is not None and getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.append(name)
    return changed


@dataclass(frozen=True)
class CustomerKeys:
    """What identifies a source's customer: its email and phone as stored, the lookups, strongest first, and
    the digests of the contacts they look up (which find a customer whose personal data was erased)."""

    email: str
    phone: str
    lookups: list[Q]
    digests: list[str]


def customer_keys(*, store: Store, data: CustomerData, country: str = "") -> CustomerKeys:
    """By external id, then email, or (lacking both) phone."""
    email = data.email.strip().lower()
    # A national number is read as from the shipping country first, then the store's own.
    phone = normalize_phone(data.phone, country or store.country) or normalize_phone(data.phone, store.country)
    lookups = [Q(external_id=data.external_id)] if data.external_id else []
    contacts = {"email": email} if email else {}
    # A phone number alone identifies a customer only when nothing stronger was given: households share
    # numbers, and matching on it would merge two people.
    if phone and not (lookups or contacts):
        contacts = {"phone": phone}
    lookups += [Q(**{name: value}) for name, value in contacts.items()]
    # Under each of SECRET_KEY_FALLBACKS too: a digest kept before a new key took over is still found.
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    digests = [contact_digest(value, key) for value in contacts.values() for key in keys]
    return CustomerKeys(email, phone, lookups, digests=digests)


def contact_digest(contact: str, key: str | None = None) -> str:
    """A keyed one-way digest of an email address or phone number as stored (ErasedContact), under `key`
    (SECRET_KEY, the one an erasure keeps, unless given)."""
    return salted_hmac("orders.erased-contact", contact.lower(), key, algorithm="sha256").hexdigest()


def customer_find(*, store: Store, data: CustomerData) -> Customer | None:
    """The store's customer the source names, by the first of its lookups that finds one."""
    return _customer_first(store, customer_keys(store=store, data=data))


def _customer_first(store: Store, keys: CustomerKeys) -> Customer | None:
    for lookup in keys.lookups:
        if customer := Customer.objects.filter(lookup, store=store).first():
            return customer
    if not keys.digests:
        return None
    # Erased, a customer no longer has the contacts that name them: only their digests.
    erased = ErasedContact.objects.filter(store=store, digest__in=keys.digests).select_related("customer").first()
    return erased.customer if erased else None


def customer_upsert(
    *, store: Store, data: CustomerData, country: str = "", as_of: datetime | None = None
) -> Customer | None:
    """Find the customer (customer_keys) and update what the source said, unless it said it `as_of` before
    the customer's personal data was erased (an order or ticket from then, arriving since)."""
    keys = customer_keys(store=store, data=data, country=country)
    if not keys.lookups:
        return None
    values = {
        "external_id": data.external_id or None,
        "email": keys.email or None,
        "phone": keys.phone or None,
        "first_name": data.first_name,
        "last_name": data.last_name,
        "timezone": data.timezone,
        "lifetime_value": data.lifetime_value,
        "is_vip": data.is_vip,
    }
    customer = _customer_first(store, keys)
    if erased_since(customer, as_of):
        return customer
    if customer:
        changed = _assign(customer, values)
        if changed:
            try:
                with transaction.atomic():
                    customer.save(update_fields=changed)
            except IntegrityError:
                # Another customer row already holds that email or external id: keep ours as it was.
                customer.refresh_from_db()
        return customer
    try:
        with transaction.atomic():
            return Customer.objects.create(store=store, **{k: v for k, v in values.items() if v is not None})
    except IntegrityError:
        # A concurrent delivery created the same customer first: use theirs.
        return Customer.objects.filter(keys.lookups[0], store=store).first()


def erased_since(customer: Customer | None, when: datetime | None) -> bool:
    """Whether the customer's personal data was erased after `when`: what they said then stays out."""
    return bool(customer and customer.erased_at and when and when < customer.erased_at)


def order_find(*, store: Store, ref: OrderRef) -> Order | None:
    """The order a shipment, payment or ticket refers to, by external id, number or payment reference."""
    orders = Order.objects.filter(store=store)
    if ref.external_id and (order := orders.filter(external_id=ref.external_id).first()):
        return order
    if ref.order_number and (order := orders.filter(order_number=ref.order_number.lstrip("#")).first()):
        return order
    if ref.payment_reference:
        return orders.filter(payment_reference=ref.payment_reference).first()
    return None


@transaction.atomic
def order_upsert(*, store: Store, data: OrderData) -> Order:
    """Create or update an order (and its customer and line items) from what a source knows."""
    number = data.order_number.lstrip("#")
    if not (data.external_id or number):
        raise ValueError("an order needs an external id or an order number")
    # One locked read for both identities (each unique in the store, so at most two rows); an order found
    # by its external id wins over one found by its number.
    identities = [Q(external_id=data.external_id)] if data.external_id else []
    identities += [Q(order_number=number)] if number else []
    found = list(Order.objects.select_for_update().filter(Q(*identities, _connector=Q.OR), store=store))
    by_id = [o for o in found if data.external_id and o.external_id == data.external_id]
    order = (by_id or [o for o in found if number and o.order_number == number] or [None])[0]

    if order is not None and data.updated_at and order.source_updated_at and data.updated_at < order.source_updated_at:
        return order  # An older version of the order arrived late: what we have is newer.

    address = data.shipping_address
    values: dict[str, object] = {
        f.name: getattr(data, f.name)
        for f in fields(data)
        if f.name not in {"customer", "shipping_address", "line_items", "order_number", "external_id", "updated_at"}
    }
    values["source_updated_at"] = data.updated_at
    values["external_id"] = data.external_id or None
    values["order_number"] = number or None
    if address is not None:
        values.update(
            ship_name=address.name,
            ship_line1=address.line1,
            ship_line2=address.line2,
            ship_city=address.city,
            ship_region=address.region,
            ship_postal_code=address.postal_code,
            ship_country=address.country.upper(),
            is_international=bool(address.country) and address.country.upper() != store.country.upper(),
        )
        if address.verified is not None:
            values["address_verification"] = (
                AddressVerification.VERIFIED if address.verified else AddressVerification.FAILED
            )
    # An order whose personal data was erased keeps it out, and so does one placed before its customer's
    # erasure and arriving since (a backfill): the store platform may still hold what the customer asked
    # this store to erase.
    erased = order is not None and order.erased_at is not None
    if data.customer is not None and not erased:
        placed_at = order.placed_at if order else data.placed_at
        values["customer"] = customer = customer_upsert(
            store=store, data=data.customer, country=address.country if address else "", as_of=placed_at
        )
        if erased_since(customer, placed_at):
            erased, values["erased_at"] = True, customer.erased_at
    if erased:
        values.update(dict.fromkeys(Order.PERSONAL_FIELDS, ""))

    new = order is None
    if new:
        if not number:
            raise ValueError("a new order needs an order number")
        create = {k: v for k, v in values.items() if v is not None}
        create.setdefault("placed_at", timezone.now())
        create.setdefault("currency", store.currency)
        order = Order.objects.create(store=store, **create)
    else:
        changed = _assign(order, values)
        if changed:
            order.save(update_fields=[*changed, "updated_at"])

    if data.line_items is not None:
        _line_items_replace(order, data.line_items, new=new)
    return order


def _line_items_replace(order: Order, items: Iterable, *, new: bool) -> None:
    """Make the order's lines the source's list. A line is the same line by its external id or, without one,
    by SKU and title (a repeat in the list updates the line it repeats). A few statements for the whole list
    (the order row is locked, so no one else changes its lines meanwhile): one at a time, a 2-line order
    cost a backfill or an order webhook eight."""
    lines: dict[tuple[str, ...], LineItem] = {}
    for line in [] if new else order.line_items.all():
        lines.setdefault(_line_key(line.external_id, line.sku, line.title), line)
    created, updated, listed = [], [], []
    for item in items:
        values = {
            "sku": item.sku,
            "title": item.title,
            "variant": item.variant,
            "quantity": item.quantity,
            "unit_price": item.unit_price,
            "returnable": item.returnable,
        }
        key = _line_key(item.external_id, item.sku, item.title)
        line = lines.get(key)
        if line is None:
            line = lines[key] = LineItem(order=order, external_id=item.external_id, **values)
            created.append(line)
        elif _assign(line, values) and line.pk and line not in updated:
            updated.append(line)
        listed.append(line)
    LineItem.objects.bulk_create(created)
    LineItem.objects.bulk_update(updated, ["sku", "title", "variant", "quantity", "unit_price", "returnable"])
    if not new:
        order.line_items.exclude(pk__in=[line.pk for line in listed]).delete()


def _line_key(external_id: str, sku: str, title: str) -> tuple[str, ...]:
    return ("id", external_id) if external_id else ("sku", sku, title)


@dataclass(frozen=True)
class ShipmentChange:
    """What applying a ShipmentData did: the facts later steps (detectors, notices) react to."""

    shipment_id: int
    created: bool
    previous_status: str
    status: str
    new_events: int

    @property
    def status_changed(self) -> bool:
        return self.previous_status != self.status


@transaction.atomic
def shipment_upsert(*, store: Store, data: ShipmentData, source: str) -> ShipmentChange:
    """Create or update a shipment and record its events. Raises NotReady when its order or the
    shipment itself is not known yet, and ShipmentConflict when the update names an order but the parcel
    it identifies is another order's.

    Who may touch a parcel: an update without an order (a carrier's: EasyPost, AfterShip without one)
    finds it by the source's id or tracking code alone, as before. An update that names an order the hub
    knows (CSV, the REST API, a Shopify fulfillment, AfterShip's order id or number) applies only to a
    parcel of that order: it creates the order's own parcel, and a parcel with its tracking code on another
    order is a conflict, never taken over nor added to. A named order the hub does not know cannot be
    checked (AfterShip's order ids are often its own): that update is a carrier's, unless it must create
    the parcel, which waits for the order (NotReady).
    """
    shipment, order = _shipment_find(store, data)

    # An update whose news is older than the shipment's newest event (a late retry, a storm out of order)
    # must not bring back the estimate it carried then: the estimate follows the newest news, not the last
    # delivery to arrive.
    newest = max((event.occurred_at for event in data.events), default=None)
    stale = bool(shipment and shipment.last_event_at and newest and newest < shipment.last_event_at)
    values = {
        # Identity is filled in, never overwritten: two sources (a Shopify fulfillment, an AfterShip
        # tracking) each have their own id for the same parcel, and the first one found it.
        "external_id": (data.external_id or None) if shipment is None or not shipment.external_id else None,
        "carrier": (data.carrier or None) if shipment is None or not shipment.carrier else None,
        "tracking_code": (data.tracking_code or None) if shipment is None or not shipment.tracking_code else None,
        "service_level": data.service_level,
        "label_created_at": data.label_created_at,
        "carrier_estimated_delivery": None if stale else data.carrier_estimated_delivery,
    }
    created, unsaved = False, []
    if shipment is None:
        if order is None:
            raise NotReady(
                f"no order {data.order} yet for shipment {data.tracking_code or data.external_id}"
                if data.order
                else f"no shipment with tracking code {data.tracking_code or data.external_id} yet"
            )
        if not data.tracking_code:
            raise NotReady(f"shipment {data.external_id} is not announced with a tracking code yet")
        create = {k: v for k, v in values.items() if v is not None}
        shipment = Shipment.objects.create(store=store, order=order, **create)
        created = True
        if order.fulfillment_status == FulfillmentStatus.UNFULFILLED:
            Order.objects.filter(pk=order.pk).update(fulfillment_status=FulfillmentStatus.FULFILLED)
    else:
        # Saved together with the status the events derive: one UPDATE of the parcel per delivery.
        unsaved = _assign(shipment, values)

    previous = "" if created else shipment.status
    events = list(data.events)
    announces_label = any(e.status == ShipmentStatus.LABEL_CREATED for e in events)
    if shipment.label_created_at and created and not announces_label:
        events.append(
            TrackingEventData(
                status=ShipmentStatus.LABEL_CREATED,
                occurred_at=shipment.label_created_at,
                dedupe_key="label_created",
                message="Shipping label created",
            )
        )
    new_events = shipment_record_events(shipment=shipment, events=events, source=source, unsaved=unsaved, new=created)
    return ShipmentChange(
        shipment_id=shipment.pk,
        created=created,
        previous_status=previous,
        status=shipment.status,
        new_events=new_events,
    )


def _shipment_find(store: Store, data: ShipmentData) -> tuple[Shipment | None, Order | None]:
    """The parcel an update is about, locked, and the order the update names (None when it names none
    the hub knows). The parcel is the one with the source's id for it, else one with its tracking code.
    Tracking codes are unique in practice; the carrier only breaks a tie, since sources spell carriers
    differently and a parcel must not be missed over a name. One query for both: a carrier's update
    seldom carries the id the parcel was created with (a Shopify fulfillment's), so asking by id first and
    by code after cost every carrier update two.

    An update that names an order finds only that order's parcel: raises ShipmentConflict when the parcel
    it identifies is another order's (see shipment_upsert)."""
    match = Q()
    if data.external_id:
        match |= Q(external_id=data.external_id)
    if data.tracking_code:
        match |= Q(tracking_code=data.tracking_code)
    if not match:
        return None, (order_find(store=store, ref=data.order) if data.order else None)
    id_first = [Case(When(external_id=data.external_id, then=Value(0)), default=Value(1))] if data.external_id else []
    # The parcel's order comes along (not locked: only the parcel is) to check an order the update names.
    locked = Shipment.objects.select_for_update(of=("self",)).select_related("order")
    found = list(locked.filter(match, store=store).order_by(*id_first, "pk")[:6])
    by_id = [s for s in found if data.external_id and s.external_id == data.external_id]
    by_code = [s for s in found if data.tracking_code and s.tracking_code == data.tracking_code]
    order = _order_named(store, data.order, found) if data.order else None
    if order is not None:
        # The source's own id for a parcel names it outright. A tracking code may be on parcels of several
        # orders (a reused code): the named order's own is the one meant, and only another's is a conflict.
        mine = [s for s in by_code if s.order_id == order.pk]
        theirs = by_id[0] if by_id and by_id[0].order_id != order.pk else None
        if theirs is None and by_code and not mine and not by_id:
            theirs = by_code[0]
        if theirs is not None:
            raise ShipmentConflict(tracking_code=theirs.tracking_code, owner=theirs.order, named=order)
        by_code = mine
    same_carrier = [s for s in by_code if s.carrier == data.carrier]
    return (by_id or same_carrier or by_code or [None])[0], order


def _order_named(store: Store, ref: OrderRef, found: list[Shipment]) -> Order | None:
    """The order `ref` names, as order_find reads it, without a query when it is plainly a found parcel's
    order (its external id, which order_find tries first, or lacking one its number)."""
    number = ref.order_number.lstrip("#")
    for shipment in found:
        order = shipment.order
        if ref.external_id and order.external_id == ref.external_id:
            return order
        if not ref.external_id and number and order.order_number == number:
            return order
    return order_find(store=store, ref=ref)


def shipment_record_events(
    *,
    shipment: Shipment,
    events: Iterable[TrackingEventData],
    source: str,
    unsaved: Sequence[str] = (),
    new: bool = False,
) -> int:
    """Store new events (dedupe per shipment) and re-derive the shipment's status. Returns how many
    events were new. `unsaved` names fields the caller changed on `shipment`: saved with the status.
    `new` says the caller created the shipment in this transaction, so it has no timeline to read yet.

    The caller holds the shipment's row lock, so the timeline read here is the whole timeline: one read
    serves both the dedupe and the new status.
    """
    rows: dict[str, TrackingEvent] = {}
    for e in events:
        rows.setdefault(
            e.dedupe_key[:200],
            TrackingEvent(
                shipment=shipment,
                status=e.status,
                raw_status=e.raw_status[:120],
                raw_detail=e.raw_detail[:120],
                message=e.message[:500],
                location=e.location[:200],
                occurred_at=e.occurred_at,
                source=source,
                dedupe_key=e.dedupe_key[:200],
            ),
        )
    read = rows and not new
    timeline = list(shipment.events.values_list("pk", "dedupe_key", "status", "occurred_at", "source")) if read else []
    known = {key for _, key, _, _, _ in timeline}
    added = [row for key, row in rows.items() if key not in known]
    added, replaced, copies = _copies_merge(timeline, added, source)
    if added:
        if replaced:
            TrackingEvent.objects.filter(pk__in=replaced).delete()
        TrackingEvent.objects.bulk_create(added, ignore_conflicts=True)
        kept = [(status, at) for pk, _, status, at, _ in timeline if pk not in replaced]
        shipment_refresh_status(shipment, kept + [(row.status, row.occurred_at) for row in added], unsaved=unsaved)
    elif unsaved:
        shipment.save(update_fields=[*unsaved, "updated_at"])
    return len(added) - copies


# When two sources report one scan (Shopify's fulfillment events relay the carrier's scans that AfterShip or
# EasyPost report too), the timeline keeps one copy: the one from the source nearest the carrier, whichever
# arrived first, so the timeline is the same in any arrival order. Sources not listed rank last.
SOURCE_PREFERENCE = [
    EventSource.EASYPOST,
    EventSource.AFTERSHIP,
    EventSource.SHOPIFY,
    EventSource.API,
    EventSource.ADMIN,
    EventSource.CSV,
    EventSource.DEMO,
]


def _source_rank(source: str) -> int:
    return SOURCE_PREFERENCE.index(source) if source in SOURCE_PREFERENCE else len(SOURCE_PREFERENCE)


def _scan_moment(status: str, at: datetime) -> tuple[str, datetime] | None:
    """What makes two sources' events one scan: the same status in the same minute (UTC). A minute, because
    Shopify keeps a scan's time to the minute while the carrier trackers keep seconds; the calendar minute
    rather than "within 60 s" so that "the same scan" is an equivalence and the kept copy cannot depend on
    the arrival order. "unknown" says nothing about which scan it was: such events are never merged."""
    if status == ShipmentStatus.UNKNOWN:
        return None
    return status, at.astimezone(UTC).replace(second=0, microsecond=0)


def _copies_merge(
    timeline: list[tuple[int, str, str, datetime, str]], added: list[TrackingEvent], source: str
) -> tuple[list[TrackingEvent], set[int], int]:
    """Of the new events, those to store, the stored events (pks) they replace, and how many of those to
    store only replace a copy (news to no one). A new event that is another source's copy of a stored scan
    is dropped when that source ranks above `source`, and replaces the copies of sources ranked below it.
    Events of one source are never merged with each other: it tells its own scans apart by their keys."""
    copies: dict[tuple[str, datetime], list[tuple[int, str]]] = {}
    for pk, _, status, at, stored_source in timeline:
        if stored_source != source and (moment := _scan_moment(status, at)):
            copies.setdefault(moment, []).append((pk, stored_source))
    if not copies:
        return added, set(), 0
    rank = _source_rank(source)
    kept, replaced, copied = [], set(), 0
    for row in added:
        moment = _scan_moment(row.status, row.occurred_at)
        others = copies.get(moment, []) if moment else []
        if any(_source_rank(other) < rank for _, other in others):
            continue
        replaced.update(pk for pk, _ in others)
        copied += bool(others)
        kept.append(row)
    return kept, replaced, copied


def shipment_copies_remove(shipment: Shipment) -> int:
    """Remove the copies of one scan that lower-ranked sources stored before copies were merged on arrival
    (_copies_merge, 2026-12): the timeline becomes what it would be had every event arrived since. The caller
    holds the shipment's row lock. Returns how many events were removed."""
    events = list(shipment.events.only("pk", "dedupe_key", "status", "occurred_at", "source"))
    timeline: list[tuple[int, str, str, datetime, str]] = []
    dropped: list[int] = []
    for source in sorted({event.source for event in events}, key=_source_rank):
        rows = [event for event in events if event.source == source]
        kept, _, _ = _copies_merge(timeline, rows, source)  # best-ranked first: nothing stored is replaced
        dropped += sorted({event.pk for event in rows} - {event.pk for event in kept})
        timeline += [(event.pk, event.dedupe_key, event.status, event.occurred_at, source) for event in kept]
    if dropped:
        shipment.events.filter(pk__in=dropped).delete()
        shipment_refresh_status(shipment, [(status, at) for _, _, status, at, _ in timeline])
    return len(dropped)


def shipment_refresh_status(
    shipment: Shipment, timeline: list[tuple[str, datetime]], *, unsaved: Sequence[str] = ()
) -> None:
    """Derive status, first/last scan and delivered_at from the shipment's whole timeline, as
    (status, occurred_at) pairs.

    Events the carrier vocabulary did not know (status "unknown") stay in the timeline but never set
    the status: a customer should not see "unknown" after "in transit". `unsaved` names fields the
    caller changed on `shipment`: they are saved in the same UPDATE.
    """
    known = [(status, at) for status, at in timeline if status != ShipmentStatus.UNKNOWN]
    scans = [at for status, at in timeline if status not in NON_SCAN_STATUSES]
    values: dict[str, object] = {
        "first_scan_at": min(scans) if scans else None,
        "last_scan_at": max(scans) if scans else None,
    }
    if known:
        status, at = max(known, key=lambda pair: (pair[1], STATUS_PROGRESS[pair[0]]))
        values["status"] = status
        values["last_event_at"] = at
        delivered = [at for s, at in known if s == ShipmentStatus.DELIVERED]
        values["delivered_at"] = max(delivered) if status == ShipmentStatus.DELIVERED else None
    changed = [name for name, value in values.items() if getattr(shipment, name) != value]
    for name in changed:
        setattr(shipment, name, values[name])
    if changed or unsaved:
        shipment.save(update_fields=[*unsaved, *changed, "updated_at"])


@transaction.atomic
def payment_record(*, store: Store, data: PaymentData) -> Order:
    """Apply a payment outcome. A success always wins; a failure never undoes a payment or refund."""
    order = order_find(store=store, ref=data.order)
    if order is None:
        raise NotReady(f"no order for payment {data.external_id or data.order}")
    order = Order.objects.select_for_update().get(pk=order.pk)
    changed = []
    if data.order.payment_reference and not order.payment_reference:
        order.payment_reference = data.order.payment_reference
        changed.append("payment_reference")
    if data.succeeded:
        if order.financial_status in (FinancialStatus.PENDING, FinancialStatus.FAILED):
            order.financial_status = FinancialStatus.PAID
            changed.append("financial_status")
    elif order.financial_status == FinancialStatus.PENDING:
        order.financial_status = FinancialStatus.FAILED
        changed.append("financial_status")
    if changed:
        order.save(update_fields=[*changed, "updated_at"])
    return order


def ticket_create(*, store: Store, data: TicketData) -> tuple[Ticket, bool]:
    """Record an inbound contact once (by its helpdesk id when it has one). Returns (ticket, created)."""
    if data.external_id:
        existing = Ticket.objects.filter(store=store, source=data.source, external_id=data.external_id).first()
        if existing:
            return existing, False
    order = order_find(store=store, ref=data.order) if data.order else None
    customer = customer_upsert(store=store, data=data.customer, as_of=data.created_at) if data.customer else None
    if order is not None and customer is None:
        customer = order.customer
    # Written before its customer's personal data was erased (a helpdesk's backfill): the texts stay out.
    erased = erased_since(customer, data.created_at)
    try:
        with transaction.atomic():
            ticket = Ticket.objects.create(
                store=store,
                order=order,
                customer=customer,
                external_id=data.external_id,
                source=data.source,
                channel=data.channel,
                reason=data.reason,
                subject="" if erased else data.subject[:255],
                body="" if erased else data.body,
                created_at=data.created_at,
            )
    except IntegrityError:
        return Ticket.objects.get(store=store, source=data.source, external_id=data.external_id), False
    return ticket, True
