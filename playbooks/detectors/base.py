"""The contract every detector (one file per exception type) fulfils.

A detector names a condition on shipments or orders as ONE indexed query. The engine uses that same
query three ways: a sweep (candidates that have no live case of this type yet), an event-driven check
on one object (the query filtered to its pk), and self-resolution (live cases whose subject no longer
matches). It never loops in Python over all shipments.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django.db.models import Exists, Model, OuterRef, QuerySet

from orders.models import Order, Shipment, TrackingEvent
from playbooks.params import Param


class Detector:
    kind: ClassVar[str]  # stored on cases and playbooks; never renamed
    label: ClassVar[str]
    subject: ClassVar[str]  # "shipment" or "order"
    params: ClassVar[dict[str, Param]] = {}
    # True when only time reveals the condition (run by the periodic sweep); event-driven detectors
    # are checked when a fact about their subject arrives, and by the sweep as a safety net.
    time_based: ClassVar[bool] = True
    # True for informational cases (post-delivery care): resolved once the playbook has acted,
    # rather than when the condition clears.
    resolves_when_acted: ClassVar[bool] = False
    # False when the condition cannot "clear" by itself (a customer's claim): only a person or the
    # playbook resolves it.
    resolves_when_cleared: ClassVar[bool] = True
    # What `facts` reads beyond its subject's row, as prefetch_related lookups (a parcel's "events"). The
    # engine fetches them for a batch of subjects at once before asking for their facts: a query per
    # lookup, not one per subject. `facts` reads them with `.all()`, which works on a subject alone too.
    facts_prefetch: ClassVar[tuple[str, ...]] = ()

    @property
    def recurs(self) -> bool:
        """Whether a case of this type may open again on the same subject once the earlier one closed: only
        a problem whose condition clears by itself (and may come back). Informational cases and those only
        a person or the playbook closes (a customer's claim) happen once per subject, ever."""
        return self.resolves_when_cleared and not self.resolves_when_acted

    def matching(self, now: datetime, params: dict[str, Any]) -> QuerySet:
        """Every subject (Shipment or Order rows) for which the condition holds at `now`.

        One indexed query; no Python iteration. Must not exclude subjects that already have a case:
        the engine does that (and uses this query to find cleared cases).
        """
        raise NotImplementedError

    def facts(self, subject: Model, now: datetime, params: dict[str, Any]) -> dict[str, Any]:
        """JSON-ready facts that made the subject match, with the thresholds applied (for the audit trail)."""
        raise NotImplementedError

    def explain(
        self, subject: Model, now: datetime, params: dict[str, Any], facts: dict[str, Any] | None = None
    ) -> str:
        """One plain sentence for agents: what happened and which threshold it crossed. `facts`, when the
        caller has them already (opening a case records both), spare the queries that found them."""
        return self.sentence(subject, now, params, self.facts(subject, now, params) if facts is None else facts)

    def sentence(self, subject: Model, now: datetime, params: dict[str, Any], facts: dict[str, Any]) -> str:
        """The sentence of `explain`, from the subject's facts."""
        raise NotImplementedError


def order_not_cancelled() -> Exists:
    """A shipment's order is not cancelled, for shipment detectors: the test that `order__cancelled_at__isnull=True`
    makes, written as the absence of a cancelled order (a partial index holds the few), so that checking a set of
    parcels does not mean fetching each one's order row (bench/README.md)."""
    return ~Exists(Order.objects.filter(pk=OuterRef("order_id"), cancelled_at__isnull=False))


def newest_event(shipment: Shipment, status: str | None = None) -> TrackingEvent | None:
    """The parcel's newest event (with `status`), from its events as loaded, newest first: prefetched for a
    batch when the detector lists "events" in `facts_prefetch`."""
    return next((event for event in shipment.events.all() if status is None or event.status == status), None)
