"""The KPIs that show whether going proactive works: plain functions over indexed aggregate queries.

Every function takes a KpiScope (one store or all, and a period of whole days in the admin's time zone)
and runs a fixed number of GROUP BY / aggregate queries, whatever the number of orders: nothing loops
over orders in Python. The exact definitions are in each function's docstring and in the README
("KPIs"); the dashboard shows them next to the figures.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from notifications.choices import TRANSACTIONAL_KINDS, MessageKind
from notifications.models import Message
from orders.choices import TicketReason
from orders.models import Order, Store, Ticket
from playbooks.actions import ACTIONS
from playbooks.choices import ActorType, ApprovalDecision, AuditKind, CaseState, RemedyState
from playbooks.detectors import DETECTORS
from playbooks.models import Approval, AuditEvent, ExceptionCase, Remedy
from portal.models import DeliveryFeedback

from .constants import DEFAULT_COST_PER_TICKET, DEFAULT_PERIOD_DAYS, SATISFIED_RATING
from .percentiles import duration_percentiles
from .stats import Interval, newcombe_difference_interval, too_few_to_tell

# Messages the hub sent on its own initiative. Transactional ones (order confirmation, HELP replies,
# tests) go to everyone who asks, so they say nothing about being proactive.
PROACTIVE_KINDS = [kind.value for kind in MessageKind if kind not in TRANSACTIONAL_KINDS]


def money_actions() -> list[str]:
    """Remedy actions that cost the store money (refunds, coupons, re-ships...)."""
    return [action.kind for action in ACTIONS.all() if action.costs_money]


# --- Scope ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiScope:
    """Which store (None: all) and which days, `since` to `until` inclusive, in the admin's time zone."""

    since: date
    until: date
    store: Store | None = None

    @classmethod
    def last_days(cls, days: int = DEFAULT_PERIOD_DAYS, *, store: Store | None = None) -> KpiScope:
        today = timezone.localdate()
        return cls(since=today - timedelta(days=days - 1), until=today, store=store)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time.min, tzinfo=timezone.get_current_timezone())

    @property
    def end(self) -> datetime:
        """The first instant after the period (exclusive bound)."""
        return datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone())

    @property
    def days(self) -> list[date]:
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]

    def of_store(self, path: str = "store") -> Q:
        return Q(**{path: self.store}) if self.store else Q()

    def within(self, field_name: str) -> Q:
        return Q(**{f"{field_name}__gte": self.start, f"{field_name}__lt": self.end})


def _share(part: int | float, whole: int | float) -> float | None:
    return part / whole if whole else None


# --- Contact rate and %WISMO --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactRate:
    orders: int
    tickets: int
    tickets_with_order: int
    wismo_tickets: int

    @property
    def rate(self) -> float | None:
        """Contacts per order: tickets about an order ÷ orders."""
        return _share(self.tickets_with_order, self.orders)

    @property
    def wismo_share(self) -> float | None:
        return _share(self.wismo_tickets, self.tickets)


def contact_rate(scope: KpiScope) -> ContactRate:
    """Contact rate per order = tickets created in the period that name an order ÷ orders placed in the
    period. %WISMO = "Where is my order?" tickets ÷ all tickets created in the period. Two queries."""
    orders = Order.objects.filter(scope.of_store(), scope.within("placed_at")).count()
    tickets = Ticket.objects.filter(scope.of_store(), scope.within("created_at")).aggregate(
        total=Count("pk"),
        with_order=Count("pk", filter=Q(order__isnull=False)),
        wismo=Count("pk", filter=Q(reason=TicketReason.WISMO)),
    )
    return ContactRate(orders, tickets["total"], tickets["with_order"], tickets["wismo"])


# --- Time to notify ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeToNotify:
    messages: int
    p50: timedelta | None
    p90: timedelta | None


def time_to_notify(scope: KpiScope) -> TimeToNotify:
    """From the hub seeing the reason to write (Message.detected_at) to the provider accepting the message
    (Message.sent_at), over proactive messages sent in the period: the median and the 90th percentile
    (interpolated like PostgreSQL's percentile_cont). One query on PostgreSQL, three elsewhere."""
    messages = Message.objects.filter(
        scope.of_store(), scope.within("sent_at"), detected_at__isnull=False, kind__in=PROACTIVE_KINDS
    )
    duration = ExpressionWrapper(F("sent_at") - F("detected_at"), output_field=DurationField())
    count, (p50, p90) = duration_percentiles(messages, duration, [0.5, 0.9])
    return TimeToNotify(count, p50, p90)


# --- Tickets prevented: each playbook against its holdout ------------------------------------------------------


@dataclass(frozen=True)
class HoldoutComparison:
    """One playbook's treated orders against its holdout group, over the exceptions detected in the period.

    An order counts as contacted when it has a ticket created at or after the exception's detection:
    earlier tickets cannot have been prevented (and some detections are triggered by a ticket).
    """

    playbook_id: int
    playbook: str
    holdout_percent: int  # the playbook's share today (it may have changed during the period)
    treated_orders: int
    treated_contacted: int
    holdout_orders: int
    holdout_contacted: int
    # Treated orders per store id: how the measured effect is shared out for each store's ROI.
    treated_orders_by_store: dict[int, int] = field(default_factory=dict, compare=False)

    @property
    def treated_rate(self) -> float | None:
        return _share(self.treated_contacted, self.treated_orders)

    @property
    def holdout_rate(self) -> float | None:
        return _share(self.holdout_contacted, self.holdout_orders)

    @property
    def has_holdout(self) -> bool:
        return self.holdout_orders > 0

    @property
    def too_few_to_tell(self) -> bool:
        if not (self.treated_orders and self.holdout_orders):
            return True
        return too_few_to_tell(self.holdout_contacted, self.holdout_orders, self.treated_contacted, self.treated_orders)

    @property
    def difference(self) -> float | None:
        """Holdout rate - treated rate: the share of orders that did not contact support thanks to the
        playbook (positive: fewer contacts when it acts)."""
        if not (self.treated_orders and self.holdout_orders):
            return None
        return self.holdout_rate - self.treated_rate

    @property
    def interval(self) -> Interval | None:
        """95% confidence interval of the difference (Newcombe's hybrid score interval)."""
        if not (self.treated_orders and self.holdout_orders):
            return None
        return newcombe_difference_interval(
            self.holdout_contacted, self.holdout_orders, self.treated_contacted, self.treated_orders
        )

    @property
    def tickets_prevented(self) -> float | None:
        """Difference x treated orders; None when the samples are too small to tell."""
        return None if self.too_few_to_tell else self.difference * self.treated_orders

    @property
    def tickets_prevented_interval(self) -> Interval | None:
        if self.too_few_to_tell:
            return None
        return Interval(self.interval.low * self.treated_orders, self.interval.high * self.treated_orders)

    @property
    def verdict(self) -> str:
        if not self.has_holdout and not self.holdout_percent:
            return "No holdout group: give the playbook a holdout share to measure it."
        if not self.has_holdout:
            return "Too few orders to tell: none held out yet."
        if self.too_few_to_tell:
            return "Too few orders to tell."
        if self.interval.low > 0:
            return "Fewer contacts when the playbook acts."
        if self.interval.high < 0:
            return "More contacts when the playbook acts."
        return "No clear difference yet."


def holdout_comparisons(scope: KpiScope) -> list[HoldoutComparison]:
    """Per playbook that acted on exceptions detected in the period: orders treated (the playbook acted)
    and held out (it deliberately did nothing), and how many of each contacted support afterwards.
    One GROUP BY query (playbook, store, group); the few grouped rows are summed here."""
    contacted_after = Ticket.objects.filter(order_id=OuterRef("order_id"), created_at__gte=OuterRef("detected_at"))
    rows = (
        ExceptionCase.objects.filter(scope.of_store(), scope.within("detected_at"), playbook_version__isnull=False)
        .annotate(contacted=Exists(contacted_after))
        .values(
            "playbook_version__playbook_id",
            "playbook_version__playbook__name",
            "playbook_version__playbook__holdout_percent",
            "store_id",
            "is_holdout",
        )
        .annotate(
            orders=Count("order_id", distinct=True),
            contacted_orders=Count("order_id", distinct=True, filter=Q(contacted=True)),
        )
        .order_by()
    )
    groups: dict[int, dict] = {}
    for row in rows:
        group = groups.setdefault(
            row["playbook_version__playbook_id"],
            {
                "name": row["playbook_version__playbook__name"],
                "holdout_percent": row["playbook_version__playbook__holdout_percent"],
                "counts": defaultdict(int),
                "by_store": defaultdict(int),
            },
        )
        prefix = "holdout" if row["is_holdout"] else "treated"
        group["counts"][f"{prefix}_orders"] += row["orders"]
        group["counts"][f"{prefix}_contacted"] += row["contacted_orders"]
        if not row["is_holdout"]:
            group["by_store"][row["store_id"]] += row["orders"]
    comparisons = [
        HoldoutComparison(
            playbook_id=playbook_id,
            playbook=group["name"],
            holdout_percent=group["holdout_percent"],
            treated_orders=group["counts"]["treated_orders"],
            treated_contacted=group["counts"]["treated_contacted"],
            holdout_orders=group["counts"]["holdout_orders"],
            holdout_contacted=group["counts"]["holdout_contacted"],
            treated_orders_by_store=dict(group["by_store"]),
        )
        for playbook_id, group in groups.items()
    ]
    return sorted(comparisons, key=lambda c: (c.playbook.lower(), c.playbook_id))


# --- Automation resolution rate ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AutomationResolution:
    exceptions: int
    closed: int
    closed_without_person: int
    waiting_for_person: int

    @property
    def rate(self) -> float | None:
        """Closed without a person ÷ closed."""
        return _share(self.closed_without_person, self.closed)


def automation_resolution(scope: KpiScope) -> AutomationResolution:
    """Over the problem exceptions detected in the period (not milestones or post-delivery care, and not
    the holdout, where nothing acts on purpose): how many are closed (resolved or dismissed), and how
    many of those were resolved with no person involved: no audit event by a user (an approval,
    rejection, manual resolution or dismissal), no decided approval, and never escalated.
    `waiting_for_person`: still open and escalated. One query."""
    by_person = AuditEvent.objects.filter(case_id=OuterRef("pk"), actor_type=ActorType.USER)
    escalated = AuditEvent.objects.filter(case_id=OuterRef("pk"), kind=AuditKind.ESCALATED)
    decided = Approval.objects.filter(remedy__case_id=OuterRef("pk")).exclude(decision=ApprovalDecision.PENDING)
    closed = Q(state__in=[CaseState.RESOLVED, CaseState.DISMISSED])
    figures = (
        ExceptionCase.objects.filter(scope.of_store(), scope.within("detected_at"), is_holdout=False)
        .exclude(kind__in=DETECTORS.informational_kinds())  # counted, they would drown the problems
        .annotate(touched_by_person=Exists(by_person) | Exists(escalated) | Exists(decided))
        .aggregate(
            exceptions=Count("pk"),
            closed=Count("pk", filter=closed),
            closed_without_person=Count("pk", filter=Q(state=CaseState.RESOLVED, touched_by_person=False)),
            waiting=Count("pk", filter=Q(state=CaseState.ESCALATED)),
        )
    )
    return AutomationResolution(
        figures["exceptions"], figures["closed"], figures["closed_without_person"], figures["waiting"]
    )


# --- CSAT after delivery ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Csat:
    responses: int
    satisfied: int
    mean_rating: float | None
    by_rating: dict[int, int]

    @property
    def satisfied_share(self) -> float | None:
        return _share(self.satisfied, self.responses)


def csat_after_delivery(scope: KpiScope) -> Csat:
    """ "Did everything arrive OK?" answers first given in the period (DeliveryFeedback.created_at; a
    customer's later answer replaces the rating): share of 4-5 ratings, the mean, and each rating's
    count. One query."""
    ratings = {f"rated_{n}": Count("pk", filter=Q(rating=n)) for n in range(1, 6)}
    figures = DeliveryFeedback.objects.filter(scope.of_store("order__store"), scope.within("created_at")).aggregate(
        responses=Count("pk"),
        satisfied=Count("pk", filter=Q(rating__gte=SATISFIED_RATING)),
        mean=Avg("rating"),
        **ratings,
    )
    mean = float(figures["mean"]) if figures["mean"] is not None else None
    return Csat(figures["responses"], figures["satisfied"], mean, {n: figures[f"rated_{n}"] for n in range(1, 6)})


# --- Repeat purchase ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepeatPurchase:
    notified_customers: int
    notified_repeat: int
    other_customers: int
    other_repeat: int

    @property
    def notified_rate(self) -> float | None:
        return _share(self.notified_repeat, self.notified_customers)

    @property
    def other_rate(self) -> float | None:
        return _share(self.other_repeat, self.other_customers)

    @property
    def lift(self) -> float | None:
        """Notified rate - the others' rate (percentage points as a fraction)."""
        if self.notified_rate is None or self.other_rate is None:
            return None
        return self.notified_rate - self.other_rate


def repeat_purchase(scope: KpiScope) -> RepeatPurchase:
    """Customers who placed an order in the period, split by whether the hub sent them a proactive message
    about one of those orders; a customer "repeats" when they placed another order after their first one
    of the period (up to today). Observational, not randomised: notified customers are the ones whose
    orders had news or trouble. One query: orders since the period began, grouped by customer."""
    # Per order: did the hub tell its customer anything on its own initiative? (indexed on Message.order_id)
    told = Message.objects.filter(order_id=OuterRef("pk"), kind__in=PROACTIVE_KINDS, sent_at__isnull=False)
    in_period = Q(placed_at__lt=scope.end)
    per_customer = (
        Order.objects.filter(scope.of_store(), placed_at__gte=scope.start, customer__isnull=False)
        .annotate(told=Exists(told))
        .values("customer_id")
        .annotate(
            in_period=Count("pk", filter=in_period),
            since_start=Count("pk"),
            told_in_period=Count("pk", filter=in_period & Q(told=True)),
        )
        .filter(in_period__gt=0)
        .order_by()
    )
    # Counting orders from the start of the period on: a customer whose first order of the period is
    # followed by any later one has at least two.
    figures = per_customer.aggregate(
        notified_customers=Count("customer_id", filter=Q(told_in_period__gt=0)),
        notified_repeat=Count("customer_id", filter=Q(told_in_period__gt=0, since_start__gt=1)),
        other_customers=Count("customer_id", filter=Q(told_in_period=0)),
        other_repeat=Count("customer_id", filter=Q(told_in_period=0, since_start__gt=1)),
    )
    return RepeatPurchase(
        figures["notified_customers"], figures["notified_repeat"], figures["other_customers"], figures["other_repeat"]
    )


# --- Compensation and ROI -------------------------------------------------------------------------------------------


def compensation_paid(scope: KpiScope) -> dict[int, dict[str, Decimal]]:
    """Money the store paid through remedies that cost money and were done, on exceptions detected in the
    period: {store id: {currency: amount}}. One query."""
    rows = (
        Remedy.objects.filter(
            scope.of_store("case__store"),
            scope.within("case__detected_at"),
            state=RemedyState.DONE,
            action__in=money_actions(),
            amount__gt=0,
        )
        .values("case__store_id", "currency")
        .annotate(paid=Sum("amount"))
        .order_by()
    )
    paid: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for row in rows:
        paid[row["case__store_id"]][row["currency"]] = row["paid"]
    return dict(paid)


@dataclass(frozen=True)
class RoiEstimate:
    """ROI = tickets prevented x cost per ticket - compensation paid, in the store's currency."""

    store: Store
    cost_per_ticket: Decimal
    cost_is_default: bool
    tickets_prevented: float | None
    tickets_prevented_interval: Interval | None
    compensation: Decimal
    # Remedies paid in another currency than the store's: shown, never converted at a made-up rate.
    other_currencies: dict[str, Decimal]

    @property
    def currency(self) -> str:
        return self.store.currency

    @property
    def savings(self) -> Decimal | None:
        if self.tickets_prevented is None:
            return None
        return _money(_decimal(self.tickets_prevented) * self.cost_per_ticket)

    @property
    def roi(self) -> Decimal | None:
        return None if self.savings is None else self.savings - self.compensation

    @property
    def roi_interval(self) -> tuple[Decimal, Decimal] | None:
        if self.tickets_prevented_interval is None:
            return None
        low, high = self.tickets_prevented_interval.low, self.tickets_prevented_interval.high
        return (
            _money(_decimal(low) * self.cost_per_ticket) - self.compensation,
            _money(_decimal(high) * self.cost_per_ticket) - self.compensation,
        )


def _decimal(value: float) -> Decimal:
    """A float estimate as a Decimal with the digits it prints with (money never multiplies floats)."""
    return Decimal(repr(float(value)))


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"))


def roi_estimates(scope: KpiScope, comparisons: list[HoldoutComparison]) -> list[RoiEstimate]:
    """Per store in the scope. Tickets prevented for a store = Σ over the playbooks measured well enough of
    (their difference x the store's treated orders): the effect is measured over the whole scope, for
    power, and applied to each store's own orders. Interval: the playbooks' intervals added up, which
    is conservative (wider than the sum's own interval). Two queries."""
    measured = [c for c in comparisons if not c.too_few_to_tell]
    paid = compensation_paid(scope)
    stores = Store.objects.filter(pk=scope.store.pk) if scope.store else Store.objects.all()
    estimates = []
    for store in stores.select_related("kpi_settings").order_by("name"):
        settings = getattr(store, "kpi_settings", None)
        prevented = low = high = None
        if measured:
            treated = [(c, c.treated_orders_by_store.get(store.pk, 0)) for c in measured]
            prevented = sum(c.difference * n for c, n in treated)
            low = sum(c.interval.low * n for c, n in treated)
            high = sum(c.interval.high * n for c, n in treated)
        store_paid = paid.get(store.pk, {})
        estimates.append(
            RoiEstimate(
                store=store,
                cost_per_ticket=settings.cost_per_ticket if settings else DEFAULT_COST_PER_TICKET,
                cost_is_default=settings is None,
                tickets_prevented=prevented,
                tickets_prevented_interval=Interval(low, high) if measured else None,
                compensation=store_paid.get(store.currency, Decimal("0.00")),
                other_currencies={c: a for c, a in sorted(store_paid.items()) if c != store.currency},
            )
        )
    return estimates


# --- Daily series ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailyRow:
    day: date
    orders: int
    tickets: int
    wismo_tickets: int
    messages_sent: int
    exceptions_opened: int


def _per_day(queryset: QuerySet, field_name: str, **counts: Count) -> dict[date, dict]:
    day = TruncDate(field_name, tzinfo=timezone.get_current_timezone())
    rows = queryset.annotate(day=day).values("day").annotate(**counts).order_by()
    return {row["day"]: row for row in rows}


def daily_series(scope: KpiScope) -> list[DailyRow]:
    """Per day of the period (every day, zeros included): orders placed, tickets and WISMO tickets created,
    proactive messages sent, problem exceptions detected. One GROUP BY query per source (four)."""
    orders = _per_day(Order.objects.filter(scope.of_store(), scope.within("placed_at")), "placed_at", n=Count("pk"))
    tickets = _per_day(
        Ticket.objects.filter(scope.of_store(), scope.within("created_at")),
        "created_at",
        n=Count("pk"),
        wismo=Count("pk", filter=Q(reason=TicketReason.WISMO)),
    )
    messages = _per_day(
        Message.objects.filter(scope.of_store(), scope.within("sent_at"), kind__in=PROACTIVE_KINDS),
        "sent_at",
        n=Count("pk"),
    )
    cases = _per_day(
        ExceptionCase.objects.filter(scope.of_store(), scope.within("detected_at")).exclude(
            kind__in=DETECTORS.informational_kinds()
        ),
        "detected_at",
        n=Count("pk"),
    )
    empty = {"n": 0, "wismo": 0}
    return [
        DailyRow(
            day=day,
            orders=orders.get(day, empty)["n"],
            tickets=tickets.get(day, empty)["n"],
            wismo_tickets=tickets.get(day, empty)["wismo"],
            messages_sent=messages.get(day, empty)["n"],
            exceptions_opened=cases.get(day, empty)["n"],
        )
        for day in scope.days
    ]


# --- Everything at once ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiReport:
    scope: KpiScope
    contacts: ContactRate
    time_to_notify: TimeToNotify
    holdouts: list[HoldoutComparison]
    automation: AutomationResolution
    csat: Csat
    repeat: RepeatPurchase
    roi: list[RoiEstimate]
    daily: list[DailyRow]

    @property
    def tickets_prevented(self) -> float | None:
        """Σ over the playbooks measured well enough; None when none is."""
        measured = [c.tickets_prevented for c in self.holdouts if c.tickets_prevented is not None]
        return sum(measured) if measured else None


def kpi_report(scope: KpiScope) -> KpiReport:
    """Every KPI for the scope: a constant number of queries (about fifteen), whatever the data size."""
    holdouts = holdout_comparisons(scope)
    return KpiReport(
        scope=scope,
        contacts=contact_rate(scope),
        time_to_notify=time_to_notify(scope),
        holdouts=holdouts,
        automation=automation_resolution(scope),
        csat=csat_after_delivery(scope),
        repeat=repeat_purchase(scope),
        roi=roi_estimates(scope, holdouts),
        daily=daily_series(scope),
    )
