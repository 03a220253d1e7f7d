"""From a signed webhook to a customer notice and a remedy, and what agents then see."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.urls import reverse

from cxhub.roles import AGENT, roles_setup
from notifications.defaults import templates_seed
from notifications.models import Message
from playbooks.choices import AuditKind, CaseState, RemedyState
from playbooks.defaults import caps_seed, playbooks_seed
from playbooks.models import ActionRecord, Approval, AuditEvent, ExceptionCase, Playbook, Remedy
from tests.factories import AgentProfileFactory, UserFactory
from tests.orders.api import client_for
from tests.orders.test_webhooks import SHOPIFY_JOURNEY, post_shopify, settle
from tests.orders.test_webhooks import store as store

pytest_plugins = ["tests.fakes.twilio"]
pytestmark = pytest.mark.django_db(transaction=True)


def seed_playbooks_without_holdout() -> None:
    """The default playbooks, none holding orders out (which orders fall in a holdout depends on ids)."""
    playbooks_seed()
    Playbook.objects.update(holdout_percent=0)


@time_machine.travel(dt.datetime(2026, 11, 18, 17, 0, tzinfo=dt.UTC), tick=True)  # noon in New York: no quiet hours
def test_a_failed_attempt_from_a_signed_webhook_texts_the_customer_and_is_explained(
    client, store, run_jobs, fake_twilio
):
    seed_playbooks_without_holdout()
    templates_seed(store)
    for name in [*SHOPIFY_JOURNEY[:6], "fulfillment_events_create_attempted_delivery"]:
        assert post_shopify(client, name).status_code == 200
    settle(run_jobs)

    case = ExceptionCase.objects.get(kind="failed_attempt")
    assert case.state == CaseState.ACTING
    assert case.playbook_version.playbook.name == "Failed delivery attempt"
    message = Message.objects.get(kind="failed_attempt")
    assert (message.status, message.channel, message.to) == ("sent", "sms", "+13125550147")
    (sms,) = [r for r in fake_twilio.requests if r.to == "+13125550147"]
    assert "1001" in sms.body
    assert message.time_to_notify is not None
    kinds = set(AuditEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert {AuditKind.DETECTED, AuditKind.PLANNED, AuditKind.EXECUTED} <= kinds

    # The next scan clears the condition: the case resolves itself.
    post_shopify(client, "fulfillment_events_create_out_for_delivery")
    settle(run_jobs)
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED


def test_the_order_detail_api_shows_exceptions_remedies_approvals_and_the_why(client, store, run_jobs):
    seed_playbooks_without_holdout()
    caps_seed(store)
    for name in [*SHOPIFY_JOURNEY[:6], "fulfillment_events_create_attempted_delivery"]:
        post_shopify(client, name)
    settle(run_jobs)

    body = client_for(store).get("/api/v1/orders/1001/").json()

    assert [(e["type"], e["state"]) for e in body["open_exceptions"]] == [("failed_attempt", "acting")]
    assert [(r["action"], r["state"]) for r in body["remedies"]] == [("notify", "done")]
    assert body["pending_approvals"] == []
    assert body["shipments"][0]["tracking_code"] == "1Z999AA10123456784"
    assert any("attempt" in event["message"].lower() for event in body["audit"])


def test_an_agent_approves_from_the_admin_queue_with_the_full_why_in_front_of_them(client, store, run_jobs):
    seed_playbooks_without_holdout()
    caps_seed(store)  # reship is capped at 60.00: this order's replacement (136.84) needs a person
    for name in SHOPIFY_JOURNEY:
        post_shopify(client, name)
    settle(run_jobs)
    ticket = client_for(store).post(
        "/api/v1/tickets/",
        {"reason": "delivery_problem", "channel": "email", "created_at": "2026-02-22T10:00:00Z",
         "order_number": "1001", "subject": "Says delivered, nothing here"},
        format="json",
    )  # fmt: skip
    assert ticket.status_code == 201
    settle(run_jobs)
    approval = Approval.objects.get()
    assert approval.remedy.action == "reship" and approval.exceeded == ["max_auto_amount", "max_per_customer_30d"]

    roles_setup()
    user = UserFactory(username="sam")
    user.groups.add(Group.objects.get(name=AGENT))  # the real role, as setup_roles gives it
    AgentProfileFactory(user=user, approval_limit=Decimal("200.00"))
    client.force_login(user)
    url = reverse("admin:playbooks_approval_change", args=[approval.pk])
    page = client.get(url).content.decode()
    for why in [
        "Delivered but not received",
        "Ship a replacement",
        "<th>Paid automatically per remedy</th>",
        "<th>One customer in 30 days</th>",
        "Your approval limit: 200.00",
    ]:
        assert why in page, why
    assert 'name="amount"' not in page  # a replacement happens in full: nothing to approve less of

    client.post(url, {"choice": "approve", "amount": "", "why": "Good customer"})
    settle(run_jobs)

    assert Remedy.objects.get(action="reship").state == RemedyState.DONE
    assert ActionRecord.objects.filter(operation="replacement").count() == 1
    assert AuditEvent.objects.get(kind=AuditKind.APPROVED).actor_user == user
