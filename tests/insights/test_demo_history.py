"""The demo's past month (insights.demo, written by seed_demo): the KPI page shows real figures over its default
period, from a past the hub itself would have recorded, and nothing in it happens after now."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db.models import F, Q

from insights.demo import demo_history_seed
from insights.kpis import KpiScope, kpi_report
from notifications.models import Message
from orders.demo import demo_seed, demo_stores
from orders.models import Ticket
from playbooks.choices import CaseState
from playbooks.detectors import DETECTORS
from playbooks.engine import detector_sweep, in_holdout
from playbooks.models import AuditEvent, ExceptionCase, Remedy
from portal.models import DeliveryFeedback

pytestmark = pytest.mark.django_db

ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # the demo's "now": the hour it was seeded in


@pytest.fixture
def demo(settings):
    """The default demo, seeded at 12:20: its orders, and the hub's past with them."""
    settings.TIME_ZONE = "UTC"
    with time_machine.travel(ANCHOR + timedelta(minutes=20), tick=False):
        demo_seed(orders=300, seed=42, anchor=ANCHOR)
        yield demo_history_seed(stores=demo_stores(), anchor=ANCHOR, seed=42)


def test_the_kpi_page_shows_real_figures_over_its_default_period(demo):
    report = kpi_report(KpiScope.last_days())

    # Contacts after an exception, against holdouts big enough to compare: the busiest playbooks are measured.
    measured = [c.playbook for c in report.holdouts if not c.too_few_to_tell]
    assert "Milestone: order confirmed" in measured
    assert report.tickets_prevented is not None
    assert all(estimate.roi is not None for estimate in report.roi)
    # Problems that passed were closed, most by the playbooks alone, some by the people they were passed to.
    assert 0 < report.automation.closed_without_person < report.automation.closed
    assert report.csat.responses >= 20 and report.csat.mean_rating is not None
    # A month of notifications, each sent when it was due (quiet hours hold some until morning).
    assert report.time_to_notify.p50 < report.time_to_notify.p90 < timedelta(hours=14)
    assert sum(1 for day in report.daily if day.messages_sent) >= 25
    assert sum(1 for day in report.daily if day.exceptions_opened) >= 10
    assert demo.cases > 500 and demo.messages > 400


def test_the_past_is_what_the_hub_would_have_recorded_and_none_of_it_is_after_now(demo):
    cases = ExceptionCase.objects.select_related("order", "playbook_version__playbook")

    assert not cases.filter(Q(detected_at__gte=ANCHOR) | Q(resolved_at__gte=ANCHOR)).exists()
    assert not Message.objects.filter(sent_at__gte=ANCHOR).exists()
    assert not Remedy.objects.filter(executed_at__lt=F("case__detected_at")).exists()
    assert not AuditEvent.objects.filter(case__isnull=False, created_at__gte=ANCHOR).exists()
    assert not Ticket.objects.filter(created_at__gte=ANCHOR).exists()
    assert not DeliveryFeedback.objects.filter(created_at__gte=ANCHOR).exists()
    # In or out of each playbook's holdout by the engine's own rule; the held-out get nothing.
    for case in cases.filter(playbook_version__isnull=False):
        assert case.is_holdout == in_holdout(case.playbook_version.playbook, case.order), case
    assert not Remedy.objects.filter(case__is_holdout=True).exists()
    # Every problem in the past has ended; a milestone is announced once per parcel or order, ever.
    problems = cases.exclude(kind__in=DETECTORS.informational_kinds())
    assert set(problems.values_list("state", flat=True)) <= {CaseState.RESOLVED, CaseState.ESCALATED}
    subjects = Counter(cases.values_list("kind", "shipment_id", "order_id"))
    assert max(subjects.values()) == 1
    # Some customers whose playbook held them out, told nothing, wrote in after the exception.
    assert Ticket.objects.filter(external_id__startswith="demo-untold-").count() == demo.tickets > 0


def test_running_it_again_replaces_the_past_and_the_detectors_announce_nothing_twice(demo):
    before = Counter(ExceptionCase.objects.values_list("kind", "state", "is_holdout"))

    with time_machine.travel(ANCHOR + timedelta(minutes=20), tick=False):
        again = demo_history_seed(stores=demo_stores(), anchor=ANCHOR, seed=42)
        assert Counter(ExceptionCase.objects.values_list("kind", "state", "is_holdout")) == before
        for kind in ("milestone_confirmed", "milestone_shipped", "milestone_delivered", "transit_stall"):
            detector_sweep(kind, now=ANCHOR + timedelta(minutes=20))

    assert (again.cases, again.messages, again.answers) == (demo.cases, demo.messages, demo.answers)
    assert again.tickets == 0  # the same contacts, already there
    assert Message.objects.values("idempotency_key").distinct().count() == Message.objects.count()
    # The detectors take over from the past: no milestone is announced twice, and what is still under way opens.
    milestones = ExceptionCase.objects.filter(kind__startswith="milestone")
    assert max(Counter(milestones.values_list("kind", "shipment_id", "order_id")).values()) == 1
    assert ExceptionCase.objects.filter(kind="transit_stall", state=CaseState.OPEN).exists()
