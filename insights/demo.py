"""The demo's past month as the hub would have recorded it, so that its KPI page has a history to measure.

`orders.demo` lays out a month of orders, but a hub that starts with the demo sees them all at once: every
exception is detected at start, after every ticket (so no contact counts as "after the exception"), a
playbook's holdout holds a handful of orders, nothing is closed yet and nobody has answered a survey. The
KPI page then says "too few orders to tell" or "—" nearly everywhere.

This module writes what the hub would have done had it run all along, for what happened before now: each
milestone, and each problem that has passed (a late first scan, a missed delivery, an order shipped late).
Each is detected when its fact arrived (what only time reveals, at the sweep after its threshold), with
its detector's facts and explanation as of then, under the playbook the engine picks (`playbook_for`), in
or out of its holdout by the engine's rule, with the plan the engine makes (`plan_case_under`, caps
included). Its messages are rendered from the store's templates, held for quiet hours and the merge window
by the outbox's own rule (`message_hold`) and sent once due (frequency caps, which rarely bind at the demo's
volume, are not replayed); the case closes as it would have. Customers whose playbook held them out,
told nothing, write in more often; some answer the post-delivery survey.

Everything is decided in memory, then written a statement per kind of row: replaying the engine row by row
took a minute. Problems still under way are left to the detectors (`run_sweeps`), as in production.
Deterministic for a seed and the same orders; running it again replaces what it wrote before (its cases say
so in their facts).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch

from cxhub.bulk import rows_update
from cxhub.memo import memo_scope, memoized
from notifications.channels import get_channel
from notifications.choices import URGENT_KINDS, MessageKind, MessageStatus
from notifications.defaults import templates_seed
from notifications.models import Message, MessageTemplate
from notifications.policy import channel_order, message_hold
from notifications.rendering import message_context, render_message
from notifications.services import store_settings
from orders.choices import EventSource, FinancialStatus, ShipmentStatus, TicketChannel, TicketReason
from orders.models import Order, Shipment, Store
from orders.services import ticket_create
from orders.updates import OrderRef, TicketData
from playbooks.actions import ACTIONS
from playbooks.actions.notify import MessageAction
from playbooks.audit import audit_event, jsonable
from playbooks.caps import Ledger
from playbooks.choices import ActorType, AuditKind, CaseState, RemedyState
from playbooks.defaults import DEFAULT_HOLDOUT_PERCENT, caps_seed, playbooks_seed
from playbooks.detectors import DETECTORS
from playbooks.engine import (
    CONCLUDED,
    HELD_OUT_NEWS,
    PlannedRemedy,
    detector_settings,
    plan_case_under,
    playbook_for,
    playbook_record_version,
    playbook_version_current,
)
from playbooks.models import AuditEvent, ExceptionCase, Playbook, Remedy
from portal.models import DeliveryFeedback
from portal.services import feedback_record

# Marks the cases written here, in their facts: a later run replaces them, and whoever reads one knows.
SEEDED = {"seeded_by": "seed_demo (what the hub would have done before the demo started)"}

# The demo stores measure their tracking updates. At 300 orders a month a 10% holdout holds about 25 orders of
# the busiest playbook, under the 30 a comparison needs (insights.constants), so these hold out a quarter: a
# store of that size measuring a playbook within a month has to.
MEASURED_HOLDOUT_PERCENT = {
    "milestone_confirmed": 25,
    "milestone_shipped": 25,
    "milestone_out_for_delivery": 25,
    "milestone_delivered": 25,
}
# The chance that a held-out order's customer, told nothing, asks "where is my order?" after the exception:
# the contacts the playbook prevents when it acts. (The tickets orders.demo seeds come either way.)
UNTOLD_CONTACT_ODDS = {
    "milestone_confirmed": 0.06,
    "milestone_shipped": 0.2,
    "milestone_out_for_delivery": 0.08,
    "milestone_delivered": 0.05,
    "no_first_scan": 0.35,
    "failed_attempt": 0.3,
    "late_to_ship": 0.4,
}
# Post-delivery survey: the share of customers who answer, and their ratings (5 down to 1) after a journey
# that went smoothly (False) or had a problem on the way (True).
SURVEY_ANSWER_ODDS = 0.4
RATING_WEIGHTS = {False: (58, 27, 9, 4, 2), True: (22, 30, 24, 14, 10)}
LOW_RATING_COMMENTS = ["It took longer than promised.", "The box was damaged.", "I had to chase the delivery."]

# The types replayed: the milestones, post-delivery care, and the problems whose end the demo's facts show
# (the other problems are all still under way: the detectors find them live).
REPLAYED = [
    "milestone_confirmed",
    "milestone_shipped",
    "milestone_out_for_delivery",
    "milestone_delivered",
    "post_delivery",
    "no_first_scan",
    "failed_attempt",
    "late_to_ship",
]


@dataclass(frozen=True)
class HistoryResult:
    cases: int
    messages: int
    tickets: int
    answers: int


@dataclass(frozen=True)
class Moment:
    """What the hub would have seen: an exception type on a subject, when; for a problem, when it cleared."""

    at: datetime
    kind: str
    order: Order
    shipment: Shipment | None = None
    cleared_at: datetime | None = None


@transaction.atomic
def demo_history_seed(*, stores: list[Store], anchor: datetime, seed: int = 42) -> HistoryResult:
    """Write the hub's past for these stores' orders, up to `anchor` (the demo's now). Makes the default
    playbooks, caps and message templates when missing: the history acts and writes through them."""
    rng = random.Random(seed)
    _measurement_set_up(stores)
    _forget(stores)
    found = {kind: detector_settings(kind) for kind in REPLAYED}
    params = {kind: values for kind, (enabled, values) in found.items() if enabled}
    moments = [moment for order in _orders(stores) for moment in _moments(rng, order, params)]
    moments.sort(key=lambda moment: (moment.at, moment.kind, moment.order.pk))
    history = _History(rng, anchor, stores)
    with memo_scope():  # playbooks, versions, templates and settings read once
        for moment in moments:
            if _over_by(moment, anchor):
                history.replay(moment, params[moment.kind])
    history.record()
    tickets = sum(_untold_contact(rng, case, anchor) for case in history.held_out)
    answers = sum(_survey_answer(rng, case, message, anchor, history.troubled) for case, message in history.surveys)
    return HistoryResult(len(history.cases), len(history.sent), tickets, answers)


def _measurement_set_up(stores: list[Store]) -> None:
    playbooks_seed()
    for store in stores:
        caps_seed(store)
        templates_seed(store)
    # Only a share still at the default: one a manager set stays.
    measured = Playbook.objects.filter(
        trigger__in=MEASURED_HOLDOUT_PERCENT, store__isnull=True, holdout_percent=DEFAULT_HOLDOUT_PERCENT
    )
    for playbook in measured:
        playbook.holdout_percent = MEASURED_HOLDOUT_PERCENT[playbook.trigger]
        playbook.save(update_fields=["holdout_percent", "updated_at"])
        playbook_record_version(playbook)


def _forget(stores: list[Store]) -> None:
    """Delete what an earlier run wrote: its cases, with their steps and trail, and their messages."""
    earlier = ExceptionCase.objects.filter(store__in=stores, facts__seeded_by=SEEDED["seeded_by"])
    keys = [f"remedy:{pk}" for pk in Remedy.objects.filter(case__in=earlier).values_list("pk", flat=True)]
    Message.objects.filter(idempotency_key__in=keys).delete()
    earlier.delete()


# --- What happened, from the facts ---------------------------------------------------------------------------------


def _orders(stores: list[Store]) -> list[Order]:
    shipments = Prefetch("shipments", queryset=Shipment.objects.order_by("pk").prefetch_related("events"))
    orders = Order.objects.filter(store__in=stores).select_related("store", "customer").prefetch_related(shipments)
    return list(orders.order_by("pk"))


def _moments(rng: random.Random, order: Order, params: dict[str, dict[str, Any]]) -> Iterator[Moment]:
    """The order's past: its milestones, and each problem that began and ended. `params`: the enabled types'."""
    found = []
    if order.financial_status == FinancialStatus.PAID:  # a cancelled order was confirmed before it was cancelled
        found.append(("milestone_confirmed", order.placed_at, None, None))
    labels = [shipment.label_created_at for shipment in order.shipments.all() if shipment.label_created_at]
    if labels and order.promised_ship_by and "late_to_ship" in params:
        late = order.promised_ship_by + timedelta(hours=params["late_to_ship"]["grace_hours"])
        if min(labels) > late:
            found.append(("late_to_ship", late, None, min(labels)))
    if order.cancelled_at is None:
        for shipment in order.shipments.all():
            found += [(kind, at, shipment, cleared) for kind, at, cleared in _parcel_moments(shipment, params)]
    for kind, fact_at, shipment, cleared_at in found:
        if kind in params:
            yield Moment(_seen(rng, kind, fact_at), kind, order, shipment, cleared_at and _heard(rng, cleared_at))


def _parcel_moments(shipment: Shipment, params: dict[str, dict[str, Any]]) -> Iterator[tuple[str, datetime, Any]]:
    """(type, when its fact arrived or its threshold passed, when the fact that cleared it arrived)."""
    timeline = list(reversed(shipment.events.all()))  # oldest first
    if shipment.label_created_at and shipment.first_scan_at and "no_first_scan" in params:
        slip = shipment.label_created_at + timedelta(hours=params["no_first_scan"]["hours"])
        if shipment.first_scan_at > slip:
            yield "no_first_scan", slip, shipment.first_scan_at
    if shipment.first_scan_at:
        yield "milestone_shipped", shipment.first_scan_at, None
    out_for_delivery = [event for event in timeline if event.status == ShipmentStatus.OUT_FOR_DELIVERY]
    if out_for_delivery:
        yield "milestone_out_for_delivery", out_for_delivery[0].occurred_at, None
    for event, news in pairwise(timeline):
        if event.status == ShipmentStatus.ATTEMPTED_DELIVERY:  # news came after it: a problem that passed
            yield "failed_attempt", event.occurred_at, news.occurred_at
    if shipment.delivered_at:
        yield "milestone_delivered", shipment.delivered_at, None
        if "post_delivery" in params:
            yield "post_delivery", shipment.delivered_at + timedelta(days=params["post_delivery"]["days"]), None


def _seen(rng: random.Random, kind: str, fact_at: datetime) -> datetime:
    """When the hub detected a type: what only time reveals (its threshold passed) at the next sweep, the
    others when their fact arrived."""
    if DETECTORS[kind].time_based:
        return fact_at + timedelta(seconds=rng.uniform(5, settings.SWEEP_INTERVAL_SECONDS))
    return _heard(rng, fact_at)


def _heard(rng: random.Random, fact_at: datetime) -> datetime:
    """When a fact reached the hub: within the minute (the provider's webhook, a worker)."""
    return fact_at + timedelta(seconds=rng.uniform(3, 60))


def _over_by(moment: Moment, anchor: datetime) -> bool:
    """Whether it is history by `anchor`: seen, and for a problem over, with time for the hub to have acted
    (else the detectors find it live)."""
    horizon = anchor - timedelta(minutes=30)
    if DETECTORS[moment.kind].resolves_when_acted:
        return moment.at < horizon
    return moment.cleared_at is not None and moment.at < moment.cleared_at < horizon


def _as_of(shipment: Shipment, at: datetime) -> Shipment:
    """The parcel as the hub knew it at `at`: its status and scan times then (what a detector's facts read, and
    a message). Its events are all of them: facts read the first scan and the newest attempt, out-for-delivery
    or delivery, which the demo's parcels have one of each."""
    seen = [event for event in shipment.events.all() if event.occurred_at <= at]  # newest first
    scans = [event.occurred_at for event in seen if event.status != ShipmentStatus.LABEL_CREATED]
    past = copy.copy(shipment)
    past.status = seen[0].status if seen else ShipmentStatus.LABEL_CREATED
    past.last_event_at = seen[0].occurred_at if seen else None
    past.first_scan_at, past.last_scan_at = (scans[-1], scans[0]) if scans else (None, None)
    past.delivered_at = shipment.delivered_at if past.status == ShipmentStatus.DELIVERED else None
    return past


# --- What the hub did ------------------------------------------------------------------------------------------------


class _History:
    """Replays the moments in time order, deciding each as the engine would, and keeps the rows for `record`."""

    def __init__(self, rng: random.Random, anchor: datetime, stores: list[Store]) -> None:
        self.rng, self.anchor, self.ledger = rng, anchor, Ledger()
        self.cases: list[ExceptionCase] = []
        self.remedies: list[Remedy] = []
        self.messages: list[tuple[Message, Remedy]] = []
        self.trail: list[AuditEvent] = []
        self.held_out: list[ExceptionCase] = []
        self.sent: list[Message] = []
        self.surveys: list[tuple[ExceptionCase, Message]] = []
        self.troubled: set[int] = set()  # orders that had a problem: their customers rate lower
        # Subjects with a case of a type already (the live detectors'): a type that does not recur is not
        # detected twice on one subject, and one that does is left to them.
        cases = ExceptionCase.objects.filter(store__in=stores).values_list("kind", "shipment_id", "order_id")
        self.known = {(kind, shipment_id or order_id) for kind, shipment_id, order_id in cases}
        self.contexts: dict[tuple[int, int | None], dict[str, str]] = {}  # a message's placeholders

    def replay(self, moment: Moment, params: dict[str, Any]) -> None:
        detector = DETECTORS[moment.kind]
        subject = _as_of(moment.shipment, moment.at) if moment.shipment else moment.order
        if (detector.kind, subject.pk) in self.known:
            return
        facts = detector.facts(subject, moment.at, params)
        case = ExceptionCase(
            store=moment.order.store, order=moment.order, shipment=moment.shipment, kind=detector.kind,
            detected_at=moment.at, facts=jsonable({**facts, "thresholds": params, **SEEDED}),
            explanation=detector.explain(subject, moment.at, params, facts),
        )  # fmt: skip
        self.cases.append(case)
        self._note(AuditKind.DETECTED, case.explanation, case=case, detector=case.kind, facts=case.facts)
        if not detector.resolves_when_acted:
            self.troubled.add(case.order_id)
        at = moment.at + timedelta(seconds=self.rng.uniform(0.5, 4))  # a worker picks it up and plans it
        if playbook := playbook_for(case):
            case.playbook_version = playbook_version_current(playbook)
            plan = plan_case_under(playbook, case, ledger=self.ledger, at=at)
            if plan.held_out:
                case.is_holdout = True
                self.held_out.append(case)
                self._note(AuditKind.HELD_OUT, f"In the {playbook.holdout_percent}% holdout of {playbook.name}: no "
                           "proactive action.", case=case, actor_type=ActorType.PLAYBOOK)  # fmt: skip
            else:
                case.state = CaseState.ACTING
                at = self._act(case, plan.remedies, at)
        self._close(case, moment, at)

    def _act(self, case: ExceptionCase, planned: list[PlannedRemedy], at: datetime) -> datetime:
        """Run the plan's steps in order, up to one that would wait for a person (the history keeps what ran by
        itself). Returns when the last one ran."""
        for step in planned:
            if not step.check.allowed:
                break
            action = ACTIONS[step.action]
            at += timedelta(seconds=self.rng.uniform(0.2, 2))
            remedy = Remedy(
                case=case, position=step.position, action=step.action, params=jsonable(step.params),
                amount=step.amount, currency=case.order.currency, state=RemedyState.DONE, started_at=at,
                executed_at=at, cap_check=jsonable({"allowed": True, **step.check.details}),
            )  # fmt: skip
            if isinstance(action, MessageAction):
                remedy.result = self._message(case, remedy, action.message_kind(step.params), step.params, at)
            elif action.kind == "escalate":
                remedy.result = action.execute(remedy)  # says where the case goes, nothing else
            self.remedies.append(remedy)
            paid = f" ({step.amount} {remedy.currency})" if step.amount and not action.pays_a_sum else ""
            self._note(AuditKind.EXECUTED, f"{step.description}{paid}.", remedy=remedy, actor_type=ActorType.PLAYBOOK,
                       result=remedy.result)  # fmt: skip
            if remedy.result.get("escalate"):
                case.state = CaseState.ESCALATED
                self._note(AuditKind.ESCALATED, f"Passed to the {remedy.result['queue']} queue by the playbook.",
                           case=case)  # fmt: skip
        return at

    def _message(self, case: ExceptionCase, remedy: Remedy, kind: str, params: dict[str, Any], at: datetime) -> dict:
        """The message the step composed at `at`, sent when it was due (or still waiting, if that is after now)."""
        order, customer = case.order, case.order.customer
        picked = customer and next(filter(None, (_reach(order, kind, name) for name in channel_order(
            kind=kind, requested=params["channel"], preferred=customer.preferred_channel))), None)  # fmt: skip
        if not picked:
            return {"status": MessageStatus.SUPPRESSED, "note": "No channel can reach this customer."}
        channel, address, template = picked
        # A message about the order names its newest parcel, as message_context would find it (without a query).
        shipment = case.shipment or max(order.shipments.all(), key=lambda s: (s.created_at, s.pk), default=None)
        key = (order.pk, shipment.pk if shipment else None)
        if key not in self.contexts:
            self.contexts[key] = message_context(order=order, shipment=shipment)
        rendered = render_message(template, self.contexts[key])
        hold = message_hold(kind, now=at, tz=customer.timezone or order.store.timezone,
                            config=store_settings(order.store_id))  # fmt: skip
        sent_at = (hold.until or at) + timedelta(seconds=self.rng.uniform(1, 15))  # the outbox's next drain
        message = Message(
            store_id=order.store_id, order=order, customer=customer, kind=kind, channel=channel, to=address,
            subject=rendered.subject, body_text=rendered.text, body_html=rendered.html, detected_at=case.detected_at,
            urgent=kind in URGENT_KINDS, scheduled_for=hold.until, status=MessageStatus.QUEUED,
        )  # fmt: skip
        if sent_at < self.anchor:
            message.status, message.attempts = MessageStatus.SENT, 1
            message.claimed_at = message.sent_at = sent_at
            self.sent.append(message)
            if kind == MessageKind.POST_DELIVERY_SURVEY:
                self.surveys.append((case, message))
        elif hold.quiet:
            message.status = MessageStatus.SCHEDULED
        self.messages.append((message, remedy))
        return {"message": str(message.public_id), "status": message.status, "channel": channel, "to": address}

    def _close(self, case: ExceptionCase, moment: Moment, at: datetime) -> None:
        if DETECTORS[case.kind].resolves_when_acted:
            # Once its steps have run, or at once when held out; with no playbook it stays open, as it does live.
            if case.state == CaseState.ACTING:
                self._resolve(case, at, CONCLUDED)
            elif case.is_holdout:
                self._resolve(case, at, HELD_OUT_NEWS)
        elif case.state == CaseState.ESCALATED:
            # A person closes it after the fact that cleared it (an escalated case waits for one).
            closed_at = moment.cleared_at + timedelta(hours=self.rng.uniform(0.5, 6))
            if closed_at < self.anchor:
                self._resolve(case, closed_at, "Sorted out by the team it was passed to.", actor_type=ActorType.USER)
        else:
            subject = "order no longer meets it"
            if moment.shipment:
                subject = f"shipment is now {_as_of(moment.shipment, moment.cleared_at).get_status_display().lower()}"
            self._resolve(case, moment.cleared_at, f"The condition cleared: the {subject}.")

    def _resolve(self, case: ExceptionCase, at: datetime, reason: str, actor_type: str | None = None) -> None:
        case.state, case.resolved_at, case.resolution = CaseState.RESOLVED, at, reason
        self._note(AuditKind.RESOLVED, reason, case=case, actor_type=actor_type)

    def _note(self, kind: str, message: str, **details: Any) -> None:
        self.trail.append(audit_event(kind, message, **details))

    def record(self) -> None:
        """Write the rows, a statement per kind (and per batch), then give the rows whose creation time the
        database sets (to now) the time they happened: a case's trail and steps the times of its detection,
        its steps and its resolution, to the second or so; a message the time of its detection. Those times
        are known here, so they are written as values (cxhub.bulk.rows_update), not read back by subqueries."""
        ExceptionCase.objects.bulk_create(self.cases)
        Remedy.objects.bulk_create(self.remedies)
        for message, remedy in self.messages:
            message.idempotency_key = f"remedy:{remedy.pk}"  # the notify step's key
        messages = [message for message, _ in self.messages]
        Message.objects.bulk_create(messages)
        AuditEvent.objects.bulk_create(self.trail)
        for remedy in self.remedies:
            remedy.created_at = remedy.case.detected_at
        for event in self.trail:
            event.created_at = _happened_at(event)
        for message in messages:
            message.created_at = message.detected_at
        for rows in (self.remedies, self.trail, messages):
            for start in range(0, len(rows), WRITE_BATCH):
                rows_update(rows[start : start + WRITE_BATCH], ["created_at"])


# Rows per UPDATE of their creation times: two parameters each, well inside a statement's limit.
WRITE_BATCH = 2000


def _happened_at(event: AuditEvent) -> datetime:
    """When what an audit event of the history records happened: a step when it ran, a resolution when the
    case was closed, anything else when the case was detected."""
    if event.remedy is not None and event.remedy.executed_at:
        return event.remedy.executed_at
    if event.kind == AuditKind.RESOLVED and event.case.resolved_at:
        return event.case.resolved_at
    return event.case.detected_at


def _reach(order: Order, kind: str, channel_kind: str) -> tuple[str, str, MessageTemplate] | None:
    """(channel, address, template) when this channel can take a message of `kind` to the order's customer."""
    channel = memoized(("channel", channel_kind), lambda: get_channel(channel_kind))
    address = channel.address_for(order.customer) if channel.is_configured() else ""
    template = memoized(
        ("message_template", order.store_id, kind, channel_kind),
        lambda: MessageTemplate.objects.filter(store_id=order.store_id, kind=kind, channel=channel_kind,
                                               is_active=True).first(),
    )  # fmt: skip
    return (channel_kind, address, template) if address and template else None


def _untold_contact(rng: random.Random, case: ExceptionCase, anchor: datetime) -> int:
    """Maybe a "where is my order?" ticket from a held-out order's customer, in the days after the exception."""
    if rng.random() >= UNTOLD_CONTACT_ODDS.get(case.kind, 0):
        return 0
    created_at = case.detected_at + timedelta(hours=rng.uniform(3, 96))
    if created_at >= anchor:
        return 0
    order = case.order
    _, created = ticket_create(
        store=order.store,
        data=TicketData(
            reason=TicketReason.WISMO,
            created_at=created_at,
            channel=rng.choice([TicketChannel.EMAIL, TicketChannel.EMAIL, TicketChannel.CHAT, TicketChannel.PHONE]),
            order=OrderRef(external_id=order.external_id),
            external_id=f"demo-untold-{case.kind}-{order.external_id}",
            subject=TicketReason.WISMO.label,
            source=EventSource.DEMO,
        ),
    )
    return int(created)


def _survey_answer(
    rng: random.Random, case: ExceptionCase, message: Message, anchor: datetime, troubled: set[int]
) -> int:
    """Maybe the customer's answer to the post-delivery survey, within a day and a half of it."""
    if rng.random() >= SURVEY_ANSWER_ODDS:
        return 0
    answered_at = message.sent_at + timedelta(hours=rng.uniform(0.5, 36))
    if answered_at >= anchor:
        return 0
    rating = rng.choices([5, 4, 3, 2, 1], RATING_WEIGHTS[case.order_id in troubled])[0]
    feedback_record(order=case.order, rating=rating, comment=rng.choice(LOW_RATING_COMMENTS) if rating <= 2 else "")
    DeliveryFeedback.objects.filter(order=case.order).update(created_at=answered_at, updated_at=answered_at)
    return 1
