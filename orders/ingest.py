"""Inbound deliveries: receive (verify, validate, store raw), process (apply, idempotent), reconcile, purge.

The rule is "nothing lost, nothing twice":
- a delivery is stored before the hub answers 2xx, and the answer does not wait for Redis (the job that
  applies it is queued by the process's hand-off thread, cxhub/handoff.py);
- processing claims deliveries in batches (rows another worker holds are skipped) and applies facts
  through idempotent services, so a redelivery, a second worker or a retry after a crash changes nothing;
- a fact that refers to something not seen yet waits and is retried; a failure keeps its error and
  can be reprocessed from the admin after a fix; the reconciler enqueues whatever was left behind;
- once its facts are applied a raw delivery is kept INBOUND_RETENTION_DAYS, then deleted (it holds the
  customer's details as the provider sent them); failed and waiting ones stay until someone handles them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, models, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from cxhub.claims import ABANDONED_GIVE_UP, CLAIM_UNHELD_AFTER, claims_unheld, lock_timeout_set
from cxhub.database import fetchone_unchecked
from cxhub.jobs import coalesced_started, enqueue_coalesced

from .choices import DeliveryState, EventSource
from .connectors import CONNECTORS, get_connector
from .connectors.base import Connector, PayloadError, SignatureError, UnsupportedEvent
from .facts import facts_announce
from .models import InboundDelivery, Order, Store
from .privacy import data_request_apply
from .services import (
    NotReady,
    ShipmentChange,
    ShipmentConflict,
    order_upsert,
    payment_record,
    shipment_upsert,
    ticket_create,
)
from .signers import Signer, UnknownStore, signer_find
from .updates import OrderData, PaymentData, PersonalDataRequest, ShipmentData, TicketData, Update

logger = logging.getLogger(__name__)

# Headers kept with a delivery: everything but credentials and cookies.
DROPPED_HEADERS = {"cookie", "authorization", "proxy-authorization"}
# A delivery waiting for an earlier event is retried after these delays, then given up on.
WAIT_BACKOFF = [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30),
                timedelta(hours=1)]  # fmt: skip
WAIT_GIVE_UP_AFTER = timedelta(hours=24)
# The states of deliveries done with, which the purge deletes once past their retention.
DONE_STATES = [DeliveryState.PROCESSED, DeliveryState.DUPLICATE, DeliveryState.IGNORED]
# The purge deletes this many a statement (short locks, no long transaction), at most this many times a run.
PURGE_BATCH, PURGE_BATCHES_PER_RUN = 5_000, 200
# The key under which one drain job at a time waits in the queue.
DRAIN_KEY = "inbound-drain"
# States in which a delivery with the same id makes a new one a duplicate.
LIVE_STATES = [DeliveryState.RECEIVED, DeliveryState.PROCESSING, DeliveryState.PROCESSED, DeliveryState.WAITING,
               DeliveryState.IGNORED]  # fmt: skip


@dataclass(frozen=True)
class Answer:
    """What the webhook endpoint says back to the provider."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


def inbound_receive(*, source: str, body: bytes, headers: Mapping[str, str], store_slug: str = "") -> Answer:
    """Verify and store one delivery, and queue it for processing. Never raises for bad input."""
    if source not in CONNECTORS:
        return Answer(404, {"error": f"unknown webhook source {source!r}"})
    if len(body) > settings.WEBHOOK_MAX_BODY_BYTES:
        return Answer(413, {"error": f"body larger than {settings.WEBHOOK_MAX_BODY_BYTES} bytes"})
    connector = get_connector(source)
    for reread in (False, True):
        try:
            signer = signer_find(connector, body, headers, store_slug, reread=reread)
        except UnknownStore as exc:
            return Answer(404, {"error": str(exc)})
        except SignatureError as exc:
            logger.warning("rejected %s webhook: %s", source, exc)
            return Answer(401, {"error": "invalid signature", "detail": str(exc)})
        answer = _receive_signed(connector, signer, body, headers)
        if answer is not None:
            return answer
    # The store's secret changed twice while this delivery was being checked.
    return Answer(401, {"error": "invalid signature", "detail": "the store's secret changed; send it again"})


def _receive_signed(connector: Connector, signer: Signer, body: bytes, headers: Mapping[str, str]) -> Answer | None:
    """Store a delivery signed by `signer`; None when the store no longer holds that secret (nothing stored)."""
    raw = {
        "source": connector.source,
        "store_id": signer.store_id,
        "headers": {k: v for k, v in headers.items() if k.lower() not in DROPPED_HEADERS},
        "body": _storable(body.decode("utf-8", errors="replace")),
    }
    try:
        payload = connector.decode(body)
        raw["event_type"] = _storable(connector.event_type(headers, payload)[:80])
        raw["delivery_id"] = _storable(connector.delivery_id(headers, payload)[:200])
        connector.updates(raw["event_type"], payload)  # validates: every fact fits its column
    except PayloadError as exc:
        if _insert(raw, signer, DeliveryState.FAILED, error=_storable(str(exc))) is None:
            return None
        return Answer(400, {"error": "invalid payload", "field": exc.field, "detail": str(exc)})
    except UnsupportedEvent as exc:
        stored = _insert(raw, signer, DeliveryState.IGNORED, error=_storable(str(exc)))
        if stored is None:
            return None
        return Answer(202, {"status": "ignored", "id": stored[0], "detail": str(exc)})

    stored = _insert(raw, signer, DeliveryState.RECEIVED, dedupe=True)
    if stored is None:
        return None
    pk, state = stored
    if state == DeliveryState.DUPLICATE:
        return Answer(200, {"status": "duplicate", "id": pk})
    _drain_soon(handoff=True)
    return Answer(200, {"status": "received", "id": pk})


def _insert(
    values: dict[str, Any], signer: Signer, state: str, *, error: str = "", dedupe: bool = False
) -> tuple[int, str] | None:
    """Store a delivery in one statement, or nothing when the signer's store no longer holds its secret.

    With `dedupe`, a delivery whose id is already live for its store is stored as a duplicate instead.
    Checking the secret, the duplicate and inserting are one round trip (the webhook's only one to the
    database): `INSERT … SELECT … WHERE EXISTS (the store with that secret)`. No transaction: two copies
    arriving at the same instant are both stored, and processing marks the second a duplicate.
    Returns (pk, state stored).
    """
    delivery = InboundDelivery(**values, state=state, error=error)  # the model's defaults and auto_now_add
    params: list[Any] = []
    for model_field in _inserted_fields():
        if model_field.name == "state" and dedupe:
            params += [delivery.source, signer.store_id, delivery.delivery_id, *LIVE_STATES, DeliveryState.DUPLICATE]
        params.append(model_field.get_db_prep_save(model_field.pre_save(delivery, add=True), connection))
    params += [signer.store_id, signer.secret] if signer.secret else [signer.store_id]
    # The env fallback secret cannot change under a running process: only the store's existence is checked.
    sql = _insert_sql(connection.vendor, dedupe=dedupe, secret_field=signer.secret_field if signer.secret else "")
    # Sent twice on a dropped connection, it stores at most a second copy, which processing skips.
    return fetchone_unchecked(sql, params)


# What a new delivery sets; the other columns start empty (NULL).
INSERTED_FIELDS = ("source", "store", "event_type", "delivery_id", "headers", "body", "received_at", "state",
                   "attempts", "error")  # fmt: skip


def _inserted_fields() -> list[models.Field]:
    return [InboundDelivery._meta.get_field(name) for name in INSERTED_FIELDS]


@functools.cache
def _insert_sql(vendor: str, *, dedupe: bool, secret_field: str) -> str:
    """_insert's statement, written once per shape: composing it through the ORM on every webhook cost more
    than the round trip itself. Parameters: the inserted values in INSERTED_FIELDS order (with `dedupe`,
    the state is preceded by the live-duplicate test's source, store, delivery id, live states and the
    duplicate state), then the store's pk and, with `secret_field`, the secret it must still hold."""
    quote = connection.ops.quote_name
    meta, store_meta = InboundDelivery._meta, Store._meta
    table = quote(meta.db_table)

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    selected = []
    for name in INSERTED_FIELDS:
        if name == "state" and dedupe:
            states = ", ".join(["%s"] * len(LIVE_STATES))
            selected.append(
                f"CASE WHEN EXISTS (SELECT 1 FROM {table} WHERE {column('source')} = %s AND {column('store')} = %s "
                f"AND {column('delivery_id')} = %s AND {column('state')} IN ({states})) THEN %s ELSE %s END"
            )
        else:
            selected.append("%s")
    holder = f"SELECT 1 FROM {quote(store_meta.db_table)} WHERE {quote(store_meta.pk.column)} = %s"
    if secret_field:
        holder += f" AND {quote(store_meta.get_field(secret_field).column)} = %s"
    return (
        f"INSERT INTO {table} ({', '.join(column(name) for name in INSERTED_FIELDS)}) SELECT {', '.join(selected)} "
        f"WHERE EXISTS ({holder}) RETURNING {quote(meta.pk.column)}, {column('state')}"
    )


def _storable(text: str) -> str:
    """Text PostgreSQL can store: it refuses NUL characters. A body holding a raw NUL is not JSON anyway
    (it is refused with 400), and an id or event type holding an escaped one is kept readable."""
    return text.replace("\x00", "\ufffd")


def _drain_soon(*, force: bool = False, handoff: bool = False) -> None:
    """Have a worker apply what is stored: one job for a burst of deliveries (see inbound_drain).
    `handoff`: queue it from the process's hand-off thread, not the webhook's answer."""
    from .jobs import inbound_drain_job

    enqueue_coalesced("default", inbound_drain_job, key=DRAIN_KEY, force=force, handoff=handoff)


@dataclass(frozen=True)
class ProcessResult:
    state: str
    applied: list[object] = field(default_factory=list)

    @property
    def shipment_ids(self) -> list[int]:
        return [a.shipment_id for a in self.applied if isinstance(a, ShipmentChange)]

    @property
    def order_ids(self) -> list[int]:
        return [a.pk for a in self.applied if isinstance(a, Order)]

    @property
    def names_erased(self) -> bool:
        """Whether it updated an order whose personal data was erased (which the raw body still holds)."""
        return any(isinstance(a, Order) and a.erased_at for a in self.applied)


def inbound_drain(*, limit: int | None = None) -> dict[int, ProcessResult]:
    """Apply the oldest deliveries waiting to be processed, up to `limit`, as one batch.

    A webhook does not queue a job per delivery: it queues a drain unless one is waiting already, so a
    carrier's burst is applied in batches and detection runs once per batch instead of once per
    delivery (bench/README.md). A full batch queues the next drain before it starts work, so another
    worker can take the backlog's next batch at the same time; claims skip rows another worker holds,
    so concurrent batches never share a delivery; one whose worker died applying it is claimed alone.
    The batch is applied in one transaction, each delivery in a savepoint of its own: one that fails or
    must wait does not hold back the rest. The batch's facts are announced once, at the end, and checked
    in this job (the event-driven detection, then the playbooks of the cases it opens): two hops through
    the queue less before the customer hears. A worker killed while applying leaves a claim nobody holds,
    which reconcile hands out again a minute after it was made; killed after, applied deliveries whose
    detection the next sweep does.
    """
    limit = limit or settings.INBOUND_BATCH_SIZE
    coalesced_started("default", DRAIN_KEY)
    with transaction.atomic():
        candidates = list(
            InboundDelivery.objects.select_for_update(skip_locked=True)
            .filter(state=DeliveryState.RECEIVED)
            .order_by("pk")
            .values_list("pk", "abandoned")[:limit]
        )
        # A delivery handed out after its worker died is applied alone: it may be what killed it.
        suspect = next((pk for pk, abandoned in candidates if abandoned), None)
        pks = [suspect] if suspect else [pk for pk, _ in candidates]
        unheld_at = timezone.now() + CLAIM_UNHELD_AFTER  # also what tells this claim from a later one
        InboundDelivery.objects.filter(pk__in=pks).update(
            state=DeliveryState.PROCESSING, attempts=F("attempts") + 1, next_attempt_at=unheld_at
        )
        if len(candidates) == limit or len(pks) < len(candidates):
            _drain_soon()
    if not pks:
        return {}
    results = _process_batch(pks, unheld_at)
    facts_announce(
        shipment_ids=[pk for result in results.values() for pk in result.shipment_ids],
        order_ids=[pk for result in results.values() for pk in result.order_ids],
        here=True,
    )
    return results


def _identity(delivery: InboundDelivery) -> tuple[str, int | None, str]:
    return delivery.source, delivery.store_id, delivery.delivery_id


def _processed_before(batch: list[InboundDelivery]) -> set[tuple[str, int | None, str]]:
    """The identities in `batch` that another delivery has been processed under (one query a batch)."""
    # The dedupe index (source, store, delivery_id) serves all three lists; the batch's own deliveries
    # are being processed, so they are not among those found.
    found = InboundDelivery.objects.filter(
        state=DeliveryState.PROCESSED,
        source__in={d.source for d in batch},
        store_id__in={d.store_id for d in batch},
        delivery_id__in={d.delivery_id for d in batch},
    )
    return set(found.values_list("source", "store_id", "delivery_id")) & {_identity(d) for d in batch}


def _process_batch(pks: list[int], unheld_at: datetime) -> dict[int, ProcessResult]:
    """Apply a claimed batch in one transaction: one commit (one WAL flush) a batch rather than one a delivery.
    The transaction holds the batch's rows from loading them to marking them, which is what tells the
    reconciler this claim's worker is alive; it takes only those still under this claim (not those the
    reconciler handed out, had the worker stalled past its minute since the claim). Each delivery is
    applied in a savepoint of its own, so one that must wait or fails is rolled back alone and keeps its own
    outcome; those applied, and copies of them, are marked in one statement each."""
    with transaction.atomic():
        lock_timeout_set(settings.INBOUND_LOCK_TIMEOUT_SECONDS)
        claimed = (
            InboundDelivery.objects.select_related("store")
            .filter(state=DeliveryState.PROCESSING, next_attempt_at=unheld_at)
            .select_for_update(no_key=True, of=("self",))
            .in_bulk(pks)
        )  # fmt: skip
        batch = [claimed[pk] for pk in pks if pk in claimed]
        processed = _processed_before(batch)
        results = {delivery.pk: _process_claimed(delivery, processed) for delivery in batch}
        for state in (DeliveryState.PROCESSED, DeliveryState.DUPLICATE):
            if done := [pk for pk, result in results.items() if result.state == state]:
                _mark(done, state)
        # The order left the erased details out; the raw body, kept 30 days, would still have them.
        if erased := [pk for pk, result in results.items() if result.names_erased]:
            InboundDelivery.objects.filter(pk__in=erased).update(body="")
    return results


def _apply(delivery: InboundDelivery) -> list[object]:
    connector = get_connector(delivery.source)
    updates = connector.updates(delivery.event_type, connector.decode(delivery.body.encode()))
    return [apply_update(delivery.store, update, source=delivery.source) for update in updates]


def _process_claimed(delivery: InboundDelivery, processed: set[tuple[str, int | None, str]]) -> ProcessResult:
    """Apply a delivery this worker has claimed, unless a delivery with its identity was processed
    (`processed`, which this adds to: two copies stored at the same instant are often in one batch).
    An outcome other than processed or duplicate is recorded on the delivery here; those two, by the batch."""
    if _identity(delivery) in processed:
        return ProcessResult(DeliveryState.DUPLICATE)
    try:
        with transaction.atomic():
            applied = _apply(delivery)
        processed.add(_identity(delivery))
        return ProcessResult(DeliveryState.PROCESSED, applied)
    except (NotReady, OperationalError) as exc:
        # Not yet (an event it builds on has not arrived) or not now (PostgreSQL gave up on a lock another
        # worker held, or a deadlock between two batches): tried again later rather than failed for a person
        # to reprocess. With the connection lost, recording it fails too: the claim is nobody's, and handed out again.
        if timezone.now() - delivery.received_at > WAIT_GIVE_UP_AFTER:
            return _finish(delivery, DeliveryState.FAILED, f"gave up waiting: {exc}")
        delay = WAIT_BACKOFF[min(delivery.attempts, len(WAIT_BACKOFF)) - 1]
        return _finish(delivery, DeliveryState.WAITING, str(exc), next_attempt_at=timezone.now() + delay)
    except UnsupportedEvent as exc:
        return _finish(delivery, DeliveryState.IGNORED, str(exc))
    except ShipmentConflict as exc:  # the delivery names another order than the parcel's: a person decides
        return _finish(delivery, DeliveryState.FAILED, str(exc))
    except Exception as exc:
        # The job boundary: whatever went wrong is recorded on the delivery, which stays in the admin
        # for a reprocess after the fix. Re-raising would only have RQ retry the same failure.
        logger.exception("processing inbound delivery %s failed", delivery.pk)
        return _finish(delivery, DeliveryState.FAILED, f"{exc.__class__.__name__}: {exc}")


def apply_update(store: Store, update: Update, *, source: str) -> object:
    """Apply one fact through the service that owns it."""
    match update:
        case OrderData():
            return order_upsert(store=store, data=update)
        case ShipmentData():
            return shipment_upsert(store=store, data=update, source=source)
        case PaymentData():
            return payment_record(store=store, data=update)
        case TicketData():
            return ticket_create(store=store, data=update)
        case PersonalDataRequest():
            return data_request_apply(store=store, data=update, source=source)
    raise TypeError(f"no service applies {type(update).__name__}")


def _finish(
    delivery: InboundDelivery, state: str, error: str = "", next_attempt_at: datetime | None = None
) -> ProcessResult:
    _mark([delivery.pk], state, error, next_attempt_at)
    return ProcessResult(state)


def _mark(pks: list[int], state: str, error: str = "", next_attempt_at: datetime | None = None) -> None:
    InboundDelivery.objects.filter(pk__in=pks).update(
        state=state,
        error=error,
        next_attempt_at=next_attempt_at,
        processed_at=timezone.now() if state in (DeliveryState.PROCESSED, DeliveryState.DUPLICATE) else None,
    )


def deliveries_unapplied_since() -> datetime | None:
    """When the oldest delivery still waiting for a worker was received: how far processing lags (None
    when nothing waits). Read from the index of deliveries still to do."""
    waiting = InboundDelivery.objects.filter(state=DeliveryState.RECEIVED)
    return waiting.aggregate(at=models.Min("received_at"))["at"]


def inbound_reprocess(queryset: QuerySet) -> int:
    """Send deliveries back through processing (after a fix). Processed ones are left alone."""
    handled = [DeliveryState.FAILED, DeliveryState.WAITING]
    pks = list(queryset.filter(state__in=handled).values_list("pk", flat=True))
    with transaction.atomic():
        # The states again: a waiting one the reconciler handed out meanwhile may have been applied since.
        count = InboundDelivery.objects.filter(pk__in=pks, state__in=handled).update(
            state=DeliveryState.RECEIVED, error="", next_attempt_at=None
        )
        if count:
            _drain_soon()
    return count


def inbound_reconcile(*, now: datetime | None = None) -> int:
    """Hand out again what was stored and not processed: deliveries received while Redis was down (or
    whose drain job Redis lost), retries now due, claims whose worker died. Returns how many."""
    now = now or timezone.now()
    with transaction.atomic():
        # Those received already stay as they are: rewriting a backlog's rows every minute would only
        # compete with the drains working it off.
        unqueued = InboundDelivery.objects.filter(
            state=DeliveryState.RECEIVED, received_at__lt=now - timedelta(seconds=30)
        ).count()
        due = InboundDelivery.objects.filter(state=DeliveryState.WAITING, next_attempt_at__lte=now).update(
            state=DeliveryState.RECEIVED
        )
        # A claim whose rows a drain's transaction still holds is alive, however long its batch takes.
        again, given_up = claims_unheld(
            InboundDelivery.objects.filter(state=DeliveryState.PROCESSING, next_attempt_at__lt=now)
        )
        suspects = [pk for (pk,) in again]
        InboundDelivery.objects.filter(pk__in=suspects).update(
            state=DeliveryState.RECEIVED, abandoned=F("abandoned") + 1
        )
        if given_up := [pk for (pk,) in given_up]:
            logger.error("inbound deliveries %s failed: their worker died applying them each time", given_up)
            InboundDelivery.objects.filter(pk__in=given_up).update(
                state=DeliveryState.FAILED,
                abandoned=F("abandoned") + 1,
                next_attempt_at=None,
                error=f"its worker stopped while applying it {ABANDONED_GIVE_UP} times (killed, out of memory, or "
                "its database connection lost): reprocess it once the cause is found",
            )
        if unqueued or due or suspects:
            _drain_soon(force=True)
    return unqueued + due + len(suspects)


def inbound_purge(*, now: datetime | None = None) -> int:
    """Delete the deliveries done with that arrived more than INBOUND_RETENTION_DAYS ago (0 keeps them all).
    Their facts stay; a provider's redelivery after that is stored again and changes nothing, the facts
    being keyed by the provider's ids. Returns how many were deleted; a backlog larger than a run's share
    goes in the next runs."""
    if not settings.INBOUND_RETENTION_DAYS:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=settings.INBOUND_RETENTION_DAYS)
    deleted, batches = 0, 0
    for source in EventSource.values:
        while batches < PURGE_BATCHES_PER_RUN:
            pks = list(inbound_purgeable(source, cutoff)[:PURGE_BATCH])
            if not pks:
                break
            deleted += InboundDelivery.objects.filter(pk__in=pks).delete()[0]
            batches += 1
    if deleted:
        logger.info("purged %d inbound deliveries older than %d days", deleted, settings.INBOUND_RETENTION_DAYS)
    return deleted


def inbound_purgeable(source: str, cutoff: datetime) -> QuerySet:
    """The ids of `source`'s deliveries done with that arrived before `cutoff`: one source at a time, so
    that the (source, state, received_at) index serves the query."""
    done = InboundDelivery.objects.filter(source=source, state__in=DONE_STATES, received_at__lt=cutoff)
    return done.order_by().values_list("pk", flat=True)
