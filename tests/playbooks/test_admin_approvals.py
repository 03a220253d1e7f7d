"""The approval queue in the admin, as agents and CX managers of the real roles use it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from cxhub.roles import AGENT, ANALYST, CX_MANAGER, roles_setup
from orders.carriers import carrier_name
from playbooks.choices import ApprovalDecision, AuditKind, RemedyState
from playbooks.models import Approval, AuditEvent, Remedy
from tests.factories import AgentProfileFactory, ApprovalFactory, RemedyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def roles():
    roles_setup()


@pytest.fixture
def role_user(django_user_model):
    def make(role: str, *, limit: str | None = None, username: str = ""):
        user = django_user_model.objects.create_user(username or role.lower().replace(" ", "_"), is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        if limit is not None:
            AgentProfileFactory(user=user, approval_limit=Decimal(limit))
        return user

    return make


def change_url(approval: Approval) -> str:
    return reverse("admin:playbooks_approval_change", args=[approval.pk])


def page_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.mark.parametrize("role", [AGENT, CX_MANAGER], ids=["agent", "cx_manager"])
def test_whoever_may_decide_gets_the_decision_form_for_a_pending_approval(client, role_user, role):
    client.force_login(role_user(role, limit="100.00"))
    approval = ApprovalFactory()

    page = client.get(change_url(approval)).content.decode()

    assert 'name="choice"' in page and 'name="_save"' in page
    assert "Your approval limit: 100.00" in page


def test_an_agent_approves_within_their_limit_and_the_admin_log_records_it(client, role_user):
    agent = role_user(AGENT, limit="100.00")
    client.force_login(agent)
    approval = ApprovalFactory(remedy__amount=Decimal("40.00"))

    response = client.post(change_url(approval), {"choice": "approve", "amount": "", "why": ""}, follow=True)

    approval.refresh_from_db()
    assert (approval.decision, approval.decided_by, approval.approved_amount) == (
        ApprovalDecision.APPROVED, agent, Decimal("40.00"))  # fmt: skip
    assert Remedy.objects.get(pk=approval.remedy_id).state == RemedyState.APPROVED
    assert any(m.startswith("Approved 40.00 USD") for m in page_messages(response))
    assert not any("changed successfully" in m for m in page_messages(response))
    assert LogEntry.objects.get().get_change_message().startswith("Approved 40.00 USD")


def test_an_agent_rejects_with_a_reason(client, role_user):
    client.force_login(role_user(AGENT, limit="100.00"))
    approval = ApprovalFactory()

    client.post(change_url(approval), {"choice": "reject", "amount": "", "why": "Customer already refunded"})

    approval.refresh_from_db()
    assert (approval.decision, approval.reason) == (ApprovalDecision.REJECTED, "Customer already refunded")
    assert AuditEvent.objects.filter(kind=AuditKind.REJECTED).count() == 1


@pytest.mark.parametrize(
    ("post", "error"),
    [
        ({"choice": "approve", "amount": "", "why": ""}, "379.00 is above your approval limit of 100.00."),
        ({"choice": "reject", "amount": "", "why": ""}, "Say why you reject it"),
    ],
    ids=["above_limit_case", "reject_without_reason_case"],
)
def test_a_refused_decision_stays_on_the_form_with_the_error_and_changes_nothing(client, role_user, post, error):
    client.force_login(role_user(AGENT, limit="100.00"))
    approval = ApprovalFactory(remedy__amount=Decimal("379.00"))

    response = client.post(change_url(approval), post)

    assert response.status_code == 200  # the form again, not a redirect to the list
    assert error in " ".join(response.context["adminform"].form.non_field_errors())
    assert error in response.content.decode()
    assert not any("changed successfully" in m for m in page_messages(response))
    assert LogEntry.objects.count() == 0
    approval.refresh_from_db()
    assert (approval.decision, approval.decided_by) == (ApprovalDecision.PENDING, None)
    assert Remedy.objects.get(pk=approval.remedy_id).state == RemedyState.NEEDS_APPROVAL
    assert not AuditEvent.objects.filter(kind__in=[AuditKind.APPROVED, AuditKind.REJECTED]).exists()


def test_a_decision_from_a_second_tab_is_refused_with_an_error(client, role_user):
    client.force_login(role_user(AGENT, limit="100.00"))
    approval = ApprovalFactory()
    url = change_url(approval)
    client.post(url, {"choice": "approve", "amount": "", "why": ""})

    response = client.post(url, {"choice": "reject", "amount": "", "why": "Changed my mind"}, follow=True)

    assert "Not saved: this request was already approved by agent." in page_messages(response)
    assert not any("changed successfully" in m for m in page_messages(response))
    assert LogEntry.objects.count() == 1  # the first decision only
    approval.refresh_from_db()
    assert approval.decision == ApprovalDecision.APPROVED


def test_a_decision_that_loses_the_race_comes_back_on_the_form(client, role_user):
    """Both tabs passed the page's check; the service's claim answers the slower one."""
    client.force_login(role_user(AGENT, limit="100.00"))
    approval = ApprovalFactory()
    from django.contrib.admin import site

    model_admin = site._registry[Approval]

    stale = Approval.objects.get(pk=approval.pk)  # what the slower tab read, before the other one decided

    def stale_object(request, object_id, from_field=None):
        Approval.objects.filter(pk=stale.pk).update(decision=ApprovalDecision.REJECTED, decided_at=timezone.now())
        return stale

    model_admin.get_object = stale_object
    try:
        response = client.post(change_url(approval), {"choice": "approve", "amount": "", "why": ""})
    finally:
        del model_admin.get_object

    assert response.status_code == 200
    assert "Somebody decided on this already." in response.content.decode()
    assert LogEntry.objects.count() == 0


@pytest.mark.parametrize("role", [AGENT, CX_MANAGER, ANALYST], ids=["agent", "cx_manager", "analyst"])
def test_a_decided_approval_is_read_only_for_everyone(client, role_user, role):
    client.force_login(role_user(role, limit="100.00"))
    approval = ApprovalFactory(decision=ApprovalDecision.APPROVED, decided_at=timezone.now())

    page = client.get(change_url(approval)).content.decode()

    assert 'name="choice"' not in page and 'name="_save"' not in page


def test_an_analyst_sees_a_pending_approval_but_cannot_decide(client, role_user):
    client.force_login(role_user(ANALYST))
    approval = ApprovalFactory()

    page = client.get(change_url(approval)).content.decode()
    response = client.post(change_url(approval), {"choice": "reject", "amount": "", "why": "No"})

    assert 'name="choice"' not in page
    assert response.status_code == 403
    assert Approval.objects.get(pk=approval.pk).decision == ApprovalDecision.PENDING


def test_the_queue_opens_on_the_waiting_approvals_oldest_due_first(client, role_user):
    client.force_login(role_user(AGENT))
    now = timezone.now()
    later = ApprovalFactory(due_at=now + timedelta(hours=3))
    sooner = ApprovalFactory(due_at=now + timedelta(hours=1))
    decided = ApprovalFactory(due_at=now - timedelta(hours=5), decision=ApprovalDecision.APPROVED)
    url = reverse("admin:playbooks_approval_changelist")

    waiting = client.get(url)
    everything = client.get(f"{url}?pending=all")

    assert list(waiting.context["cl"].result_list) == [sooner, later]
    assert list(everything.context["cl"].result_list) == [sooner, later, decided]
    filter_titles = [spec.title for spec in waiting.context["cl"].filter_specs]
    assert filter_titles.count("decision") == 1


def test_approval_and_exception_pages_are_titled_in_words_not_codes(client, role_user):
    client.force_login(role_user(AGENT, limit="100.00"))
    approval = ApprovalFactory(remedy__action="coupon", remedy__case__kind="no_first_scan")
    case = approval.remedy.case

    approval_page = client.get(change_url(approval))
    case_page = client.get(reverse("admin:playbooks_exceptioncase_change", args=[case.pk]))

    where = f"{carrier_name(case.shipment.carrier)} {case.shipment.tracking_code}, order {case.order.order_number}"
    title = f"Ship-slip: no carrier scan after the label on {where}"
    assert approval_page.context["subtitle"] == f"Coupon for the next order for {title}. Your approval limit: 100.00"
    assert case_page.context["subtitle"] == title


STALLED = {"days_since_last_scan": 8.5, "last_scan_at": "2026-11-29T05:56:38.577415+00:00",
           "rules": ["transit_time", "no_recent_scan"]}  # fmt: skip
ABOVE_TWO_CAPS = {
    "allowed": False, "exceeded": ["max_auto_amount", "max_per_customer_30d"], "amount": "188.00", "vip": False,
    "vip_multiplier": "1", "max_auto_amount": "60.00", "customer_spent_30d": "10.00",
    "max_per_customer_30d": "120.00", "store_spent_today": "0", "daily_budget": "1000.00",
}  # fmt: skip


def test_the_page_says_why_in_words_the_caps_the_facts_and_the_customer(client, role_user):
    client.force_login(role_user(AGENT, limit="500.00"))
    approval = ApprovalFactory(
        remedy__action="reship",
        remedy__amount=Decimal("188.00"),
        remedy__case__facts=STALLED,
        remedy__cap_check=ABOVE_TWO_CAPS,
        exceeded=["max_auto_amount", "max_per_customer_30d"],
    )
    order = approval.remedy.case.order
    earlier = RemedyFactory(case__order=order, action="coupon", amount=Decimal("10.00"), state=RemedyState.DONE,
                            executed_at=timezone.now() - timedelta(days=3))  # fmt: skip

    page = client.get(change_url(approval)).content.decode()
    queue = client.get(reverse("admin:playbooks_approval_changelist")).content.decode()

    assert "<th>Paid automatically per remedy</th><td>60.00</td><td>—</td><td>188.00</td>" in page
    assert "<strong>over by 128.00</strong>" in page
    assert "<th>One customer in 30 days</th><td>120.00</td><td>10.00</td><td>198.00</td>" in page
    assert "<th>The store today</th><td>1000.00</td><td>0</td><td>188.00</td><td>within</td>" in page
    assert "<th>Days since last scan</th><td>8.5</td>" in page
    assert "<th>Rules</th><td>transit_time, no_recent_scan</td>" in page
    assert "max_auto_amount" not in page and "2026-11-29T05" not in page
    assert order.customer.first_name in page and "1 order with the store" in page
    assert f"Coupon for the next order: 10.00 USD (order {earlier.case.order.order_number}" in page
    assert "Paid automatically per remedy, One customer in 30 days" in queue
