"""Each KPI on seeded data whose answer is known by hand, with the clock frozen on 31 March 2026."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.db.models import DurationField, ExpressionWrapper, F

from insights.kpis import (
    KpiScope,
    automation_resolution,
    contact_rate,
    csat_after_delivery,
    daily_series,
    holdout_comparisons,
    kpi_report,
    repeat_purchase,
    roi_estimates,
    time_to_notify,
)
from insights.percentiles import duration_percentiles, portable_duration_percentiles
from notifications.models import Message
from orders.choices import TicketReason
from playbooks.choices import ActorType, ApprovalDecision, AuditKind, CaseState, RemedyState
from portal.models import DeliveryFeedback
from tests.factories import (
    ApprovalFactory,
    AuditEventFactory,
    CustomerFactory,
    DeliveryFeedbackFactory,
    ExceptionCaseFactory,
    KpiSettingsFactory,
    MessageFactory,
    OrderFactory,
    PlaybookFactory,
    PlaybookVersionFactory,
    RemedyFactory,
    StoreFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock(settings):
    settings.TIME_ZONE = "UTC"
    with time_machine.travel(NOW, tick=False):
        yield


def at(day: int, hour: int = 12, *, month: int = 3, seconds: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC) + timedelta(seconds=seconds)


@pytest.fixture
def store():
    return StoreFactory(name="Acme Linen", slug="acme")


@pytest.fixture
def other_store():
    return StoreFactory(name="Lumen Home", slug="lumen")


def march(store=None) -> KpiScope:
    """The default period on the frozen clock: 2 to 31 March (30 days, today included)."""
    return KpiScope(since=date(2026, 3, 2), until=date(2026, 3, 31), store=store)


# --- scope ------------------------------------------------------------------------------------------------------


def test_the_default_scope_is_the_last_30_days_including_today():
    scope = KpiScope.last_days()

    assert (scope.since, scope.until) == (date(2026, 3, 2), date(2026, 3, 31))
    assert (scope.start, scope.end) == (at(2, 0), at(1, 0, month=4))
    assert len(scope.days) == 30


# --- contact rate and %WISMO -------------------------------------------------------------------------------------


def test_contact_rate_is_tickets_about_an_order_per_order_placed(store, other_store):
    orders = OrderFactory.create_batch(9, store=store, placed_at=at(10))
    orders.append(OrderFactory(store=store, placed_at=at(2, 0)))  # the period's first instant counts
    OrderFactory(store=store, placed_at=at(1, 23))  # the day before: not counted
    OrderFactory(store=store, placed_at=at(1, 0, month=4))  # the first instant after: not counted
    TicketFactory(store=store, order=orders[0], reason=TicketReason.WISMO, created_at=at(11))
    TicketFactory(store=store, order=orders[1], reason=TicketReason.WISMO, created_at=at(12))
    TicketFactory(store=store, order=orders[2], reason=TicketReason.RETURN, created_at=at(13))
    TicketFactory(store=store, order=None, reason=TicketReason.WISMO, created_at=at(14))  # no order named
    TicketFactory(store=store, order=orders[3], reason=TicketReason.WISMO, created_at=at(20, month=2))  # before
    for order in OrderFactory.create_batch(5, store=other_store, placed_at=at(10)):
        TicketFactory(store=other_store, order=order, reason=TicketReason.BILLING, created_at=at(11))

    acme = contact_rate(march(store))
    everyone = contact_rate(march())

    assert (acme.orders, acme.tickets, acme.tickets_with_order, acme.wismo_tickets) == (10, 4, 3, 3)
    assert (acme.rate, acme.wismo_share) == (0.3, 0.75)
    assert (everyone.orders, everyone.tickets, everyone.tickets_with_order, everyone.wismo_tickets) == (15, 9, 8, 3)
    assert everyone.rate == 8 / 15


def test_rates_are_none_without_orders_or_tickets(store):
    figures = contact_rate(march(store))

    assert (figures.orders, figures.tickets, figures.rate, figures.wismo_share) == (0, 0, None, None)


# --- time to notify ----------------------------------------------------------------------------------------------


def sent_message(store, *, after_seconds: int, kind: str = "delay", sent_day: int = 10, **fields) -> Message:
    return MessageFactory(
        order__store=store,
        kind=kind,
        status="sent",
        detected_at=at(sent_day, seconds=0),
        sent_at=at(sent_day, seconds=after_seconds),
        **fields,
    )


def test_time_to_notify_is_the_median_and_90th_percentile_of_detection_to_sending(store, other_store):
    for seconds in (40, 10, 100, 30, 20):
        sent_message(store, after_seconds=seconds)
    sent_message(store, after_seconds=5, kind="test")  # a test message is not proactive
    sent_message(store, after_seconds=5, kind="order_confirmed")  # transactional
    sent_message(store, after_seconds=5, sent_day=1)  # sent before the period
    MessageFactory(order__store=store, kind="delay", detected_at=at(10), sent_at=None, status="suppressed")
    sent_message(other_store, after_seconds=1000)

    figures = time_to_notify(march(store))

    # Sorted: 10 20 30 40 100. Median: the 3rd, 30 s. p90 at rank 0.9 x 4 = 3.6: 40 + 0.6 x (100 - 40) = 76 s.
    assert figures.messages == 5
    assert (figures.p50, figures.p90) == (timedelta(seconds=30), timedelta(seconds=76))
    assert time_to_notify(march()).messages == 6


def test_time_to_notify_is_empty_without_messages(store):
    figures = time_to_notify(march(store))

    assert (figures.messages, figures.p50, figures.p90) == (0, None, None)


def test_the_portable_percentiles_equal_postgresqls_percentile_cont(store):
    for seconds in (3, 7, 11, 250, 8, 9000, 61):
        sent_message(store, after_seconds=seconds)
    messages = Message.objects.all()
    duration = ExpressionWrapper(F("sent_at") - F("detected_at"), output_field=DurationField())
    fractions = [0, 0.25, 0.5, 0.9, 0.99, 1]

    assert connection.vendor == "postgresql"
    assert portable_duration_percentiles(messages, duration, fractions) == duration_percentiles(
        messages, duration, fractions
    )
    assert duration_percentiles(messages, duration, [0.5])[1] == [timedelta(seconds=11)]


# --- tickets prevented: the holdout comparison ---------------------------------------------------------------


def acted_on(version, store, *, orders: int, contacted: int, holdout: bool, detected_at: datetime | None = None):
    """`orders` orders with an exception the playbook version handled; the first `contacted` of them got a
    ticket a day after the detection."""
    detected_at = detected_at or at(10)
    placed = OrderFactory.create_batch(orders, store=store, placed_at=at(8))
    for index, order in enumerate(placed):
        ExceptionCaseFactory(
            order=order,
            store=store,
            shipment=None,
            kind="late_to_ship",
            detected_at=detected_at,
            playbook_version=version,
            is_holdout=holdout,
            state=CaseState.OPEN if holdout else CaseState.ACTING,
        )
        if index < contacted:
            TicketFactory(store=store, order=order, created_at=detected_at + timedelta(days=1))
    return placed


@pytest.fixture
def measured_playbook(store):
    """Treated: 40 orders, 4 contacted after the detection. Holdout: 30 orders, 9 contacted."""
    version = PlaybookVersionFactory(playbook=PlaybookFactory(name="Oversold: say sorry first", holdout_percent=10))
    treated = acted_on(version, store, orders=40, contacted=4, holdout=False)
    acted_on(version, store, orders=30, contacted=9, holdout=True)
    # Tickets from before the detection cannot have been prevented: not counted.
    for order in treated[4:6]:
        TicketFactory(store=store, order=order, created_at=at(9))
    # A second exception of the same order under the same playbook: still one order.
    ExceptionCaseFactory(
        order=treated[0], store=store, shipment=None, kind="failed_payment", detected_at=at(11),
        playbook_version=version, state=CaseState.RESOLVED,
    )  # fmt: skip
    # Detected before the period: not in this comparison.
    acted_on(version, store, orders=3, contacted=3, holdout=True, detected_at=at(20, month=2))
    return version.playbook


def test_each_playbook_is_compared_with_its_holdout(measured_playbook, store):
    [comparison] = holdout_comparisons(march(store))

    assert comparison.playbook == "Oversold: say sorry first"
    assert (comparison.treated_orders, comparison.treated_contacted) == (40, 4)
    assert (comparison.holdout_orders, comparison.holdout_contacted) == (30, 9)
    assert (comparison.treated_rate, comparison.holdout_rate) == (0.1, 0.3)
    assert round(comparison.difference, 10) == 0.2
    # Hand-computed in test_stats: Wilson 9/30 and 4/40 combined by Newcombe's method 10.
    assert (round(comparison.interval.low, 4), round(comparison.interval.high, 4)) == (0.0134, 0.3887)
    assert not comparison.too_few_to_tell
    assert round(comparison.tickets_prevented, 10) == 8.0
    prevented = comparison.tickets_prevented_interval
    assert (round(prevented.low, 2), round(prevented.high, 2)) == (0.54, 15.55)
    assert comparison.verdict == "Fewer contacts when the playbook acts."
    assert comparison.treated_orders_by_store == {store.pk: 40}


def test_it_says_plainly_when_there_are_too_few_orders_to_tell(store):
    small = PlaybookVersionFactory(playbook=PlaybookFactory(name="Small", holdout_percent=10))
    acted_on(small, store, orders=10, contacted=1, holdout=False)
    acted_on(small, store, orders=2, contacted=1, holdout=True)
    no_holdout = PlaybookVersionFactory(playbook=PlaybookFactory(name="No holdout", holdout_percent=0))
    acted_on(no_holdout, store, orders=5, contacted=0, holdout=False)
    none_held_out_yet = PlaybookVersionFactory(playbook=PlaybookFactory(name="Unlucky", holdout_percent=10))
    acted_on(none_held_out_yet, store, orders=6, contacted=0, holdout=False)

    [without, small_one, unlucky] = holdout_comparisons(march(store))

    assert (small_one.treated_orders, small_one.holdout_orders) == (10, 2)
    assert small_one.too_few_to_tell
    assert small_one.verdict == "Too few orders to tell."
    assert small_one.tickets_prevented is None and small_one.tickets_prevented_interval is None
    assert small_one.difference == 0.5 - 0.1  # shown, with the warning
    assert (without.holdout_orders, without.difference, without.interval) == (0, None, None)
    assert without.verdict == "No holdout group: give the playbook a holdout share to measure it."
    assert unlucky.verdict == "Too few orders to tell: none held out yet."
    assert kpi_report(march(store)).tickets_prevented is None


def test_a_comparison_can_find_no_clear_difference(store):
    version = PlaybookVersionFactory(playbook=PlaybookFactory(name="Even"))
    acted_on(version, store, orders=40, contacted=8, holdout=False)
    acted_on(version, store, orders=40, contacted=8, holdout=True)

    [comparison] = holdout_comparisons(march(store))

    assert comparison.difference == 0
    assert comparison.interval.low < 0 < comparison.interval.high
    assert comparison.verdict == "No clear difference yet."


# --- ROI ----------------------------------------------------------------------------------------------------------


def test_roi_is_tickets_prevented_times_cost_per_ticket_minus_compensation_paid(measured_playbook, store, other_store):
    KpiSettingsFactory(store=store, cost_per_ticket=Decimal("4.00"))
    case = store.cases.filter(is_holdout=False).first()
    RemedyFactory(case=case, action="coupon", amount=Decimal("10.00"), state=RemedyState.DONE)
    RemedyFactory(case=case, action="refund", amount=Decimal("25.50"), state=RemedyState.DONE)
    RemedyFactory(case=case, action="notify", amount=Decimal("0.00"), state=RemedyState.DONE)  # costs nothing
    RemedyFactory(case=case, action="coupon", amount=Decimal("7.00"), state=RemedyState.REJECTED)  # never paid
    RemedyFactory(case=case, action="store_credit", amount=Decimal("3.00"), currency="EUR", state=RemedyState.DONE)
    old_case = ExceptionCaseFactory(shipment__order__store=store, detected_at=at(20, month=2))
    RemedyFactory(case=old_case, action="coupon", amount=Decimal("99.00"), state=RemedyState.DONE)  # before

    report = kpi_report(march())
    acme, lumen = report.roi

    assert acme.store == store and (acme.cost_per_ticket, acme.cost_is_default) == (Decimal("4.00"), False)
    assert round(acme.tickets_prevented, 10) == 8.0
    assert acme.compensation == Decimal("35.50")
    assert acme.other_currencies == {"EUR": Decimal("3.00")}
    # 8 x 4.00 - 35.50; range: (0.5362 .. 15.5477 tickets) x 4.00 - 35.50.
    assert (acme.savings, acme.roi) == (Decimal("32.00"), Decimal("-3.50"))
    assert acme.roi_interval == (Decimal("-33.36"), Decimal("26.69"))
    assert (lumen.store, lumen.cost_per_ticket, lumen.cost_is_default) == (other_store, Decimal("5.00"), True)
    assert (lumen.tickets_prevented, lumen.compensation, lumen.roi) == (0, Decimal("0.00"), Decimal("0.00"))
    assert round(report.tickets_prevented, 10) == 8.0


def test_roi_is_not_claimed_without_a_measured_playbook(store):
    case = ExceptionCaseFactory(shipment__order__store=store, detected_at=at(10))
    RemedyFactory(case=case, action="coupon", amount=Decimal("10.00"), state=RemedyState.DONE)

    [estimate] = roi_estimates(march(store), holdout_comparisons(march(store)))

    assert (estimate.tickets_prevented, estimate.savings, estimate.roi, estimate.roi_interval) == (
        None,
        None,
        None,
        None,
    )
    assert estimate.compensation == Decimal("10.00")


# --- automation resolution rate -------------------------------------------------------------------------------


def test_automation_resolution_rate_counts_exceptions_closed_without_a_person(store):
    person = UserFactory(username="agent-ann")

    def case(state, *, kind="transit_stall", detected_at=None, **fields):
        detected_at = detected_at or at(10)
        return ExceptionCaseFactory(
            shipment__order__store=store, kind=kind, detected_at=detected_at, state=state, **fields
        )

    case(CaseState.RESOLVED)  # the parcel moved again: resolved by itself
    approved = case(CaseState.RESOLVED)
    AuditEventFactory(case=approved, kind=AuditKind.APPROVED, actor_type=ActorType.USER, actor_user=person)
    escalated_then_resolved = case(CaseState.RESOLVED)
    AuditEventFactory(case=escalated_then_resolved, kind=AuditKind.ESCALATED, actor_type=ActorType.SYSTEM)
    dismissed = case(CaseState.DISMISSED)
    AuditEventFactory(case=dismissed, kind=AuditKind.DISMISSED, actor_type=ActorType.USER, actor_user=person)
    decided = case(CaseState.RESOLVED)
    ApprovalFactory(remedy__case=decided, decision=ApprovalDecision.REJECTED, decided_at=at(11))
    case(CaseState.ESCALATED)  # waiting for a person
    case(CaseState.ACTING)  # still being handled
    # Not counted: news rather than a problem, the holdout, and an exception from before the period.
    case(CaseState.RESOLVED, kind="milestone_shipped")
    case(CaseState.RESOLVED, is_holdout=True)
    case(CaseState.RESOLVED, detected_at=at(20, month=2))

    figures = automation_resolution(march(store))

    assert (figures.exceptions, figures.closed, figures.closed_without_person, figures.waiting_for_person) == (
        7,
        5,
        1,
        1,
    )
    assert figures.rate == 0.2


# --- CSAT after delivery ------------------------------------------------------------------------------------------


def test_csat_is_the_share_of_4_and_5_ratings_and_the_mean(store, other_store):
    for rating in (5, 5, 4, 3, 1):
        DeliveryFeedbackFactory(order__store=store, rating=rating)
    early = DeliveryFeedbackFactory(order__store=store, rating=2)
    DeliveryFeedback.objects.filter(pk=early.pk).update(created_at=at(20, month=2))
    DeliveryFeedbackFactory(order__store=other_store, rating=5)

    figures = csat_after_delivery(march(store))

    assert (figures.responses, figures.satisfied, figures.satisfied_share) == (5, 3, 0.6)
    assert figures.mean_rating == pytest.approx(3.6)
    assert figures.by_rating == {1: 1, 2: 0, 3: 1, 4: 1, 5: 2}
    assert csat_after_delivery(march()).responses == 6


# --- repeat purchase ----------------------------------------------------------------------------------------------


def test_repeat_purchase_compares_proactively_notified_customers_with_the_rest(store):
    first_half = KpiScope(since=date(2026, 3, 1), until=date(2026, 3, 15), store=store)

    def customer_with(*placed: datetime):
        customer = CustomerFactory(store=store)
        return [OrderFactory(store=store, customer=customer, placed_at=when) for when in placed]

    def tell(order, *, kind="delay", sent=True):
        MessageFactory(order=order, kind=kind, sent_at=at(6) if sent else None, status="sent" if sent else "suppressed")

    notified_and_back = customer_with(at(5), at(20))  # ordered again after the period: counts
    tell(notified_and_back[0])
    notified_once = customer_with(at(6))
    tell(notified_once[0], kind="out_for_delivery")
    confirmed_only_and_back = customer_with(at(7), at(12))
    tell(confirmed_only_and_back[0], kind="order_confirmed")  # transactional: not proactive
    not_sent = customer_with(at(8))
    tell(not_sent[0], sent=False)  # suppressed: never reached the customer
    customer_with(at(10, month=2), at(9))  # came back, but the February order is before the period
    told_about_an_old_order = customer_with(at(10, month=2), at(3))
    tell(told_about_an_old_order[0])  # about the February order, not one of the period
    customer_with(at(20, month=2))  # no order in the period: not in the comparison
    OrderFactory(store=store, customer=None, placed_at=at(5))  # no customer to follow

    figures = repeat_purchase(first_half)

    assert (figures.notified_customers, figures.notified_repeat) == (2, 1)
    assert (figures.other_customers, figures.other_repeat) == (4, 1)
    assert (figures.notified_rate, figures.other_rate, figures.lift) == (0.5, 0.25, 0.25)


# --- daily series -------------------------------------------------------------------------------------------------


def test_the_daily_series_counts_each_day_in_the_admins_time_zone(store, settings):
    settings.TIME_ZONE = "America/New_York"
    OrderFactory(store=store, placed_at=at(30, 15))
    OrderFactory(store=store, placed_at=at(31, 2))  # 22:00 on the 30th in New York
    OrderFactory(store=store, placed_at=at(31, 11))
    TicketFactory(store=store, reason=TicketReason.WISMO, created_at=at(30, 15))
    TicketFactory(store=store, reason=TicketReason.OTHER, created_at=at(30, 16))
    sent_message(store, after_seconds=5, sent_day=31)
    ExceptionCaseFactory(shipment__order__store=store, kind="transit_stall", detected_at=at(30, 15))
    ExceptionCaseFactory(shipment__order__store=store, kind="milestone_shipped", detected_at=at(30, 15))  # news

    rows = daily_series(KpiScope(since=date(2026, 3, 29), until=date(2026, 3, 31), store=store))

    assert [(r.day.day, r.orders, r.tickets, r.wismo_tickets, r.messages_sent, r.exceptions_opened) for r in rows] == [
        (29, 0, 0, 0, 0, 0),
        (30, 2, 2, 1, 0, 1),
        (31, 1, 0, 0, 1, 0),
    ]
