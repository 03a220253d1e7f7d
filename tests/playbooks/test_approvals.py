"""Approving for less is for sums of money; goods and services are approved in full or rejected, within the
approver's limit on the full amount."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError

from playbooks.actions import ACTIONS
from playbooks.approvals import approval_decide
from playbooks.choices import ApprovalDecision, AuditKind, RemedyState
from playbooks.models import ActionRecord, AuditEvent
from tests.factories import (
    AgentProfileFactory,
    ApprovalFactory,
    ExceptionCaseFactory,
    LineItemFactory,
    OrderFactory,
    RemedyFactory,
    ShipmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def agent(limit: str):
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="decide_approval"))
    AgentProfileFactory(user=user, approval_limit=Decimal(limit))
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


def waiting(action: str, amount: str, **params):
    """A remedy of `action` for `amount`, waiting for approval, on a lost parcel of a 778.00 order."""
    order = OrderFactory(total=Decimal("778.00"), shipping_total=Decimal("28.00"))
    LineItemFactory(order=order, unit_price=Decimal("750.00"))
    case = ExceptionCaseFactory(shipment=ShipmentFactory(order=order), kind="transit_stall")
    remedy = RemedyFactory(case=case, position=1, action=action, amount=Decimal(amount), params=params,
                           state=RemedyState.NEEDS_APPROVAL)  # fmt: skip
    return ApprovalFactory(remedy=remedy, exceeded=["max_auto_amount"])


SUMS_OF_MONEY = ["coupon", "refund", "refund_shipping", "store_credit"]


def test_the_actions_that_pay_a_sum_are_the_refunds_the_coupon_and_store_credit():
    assert sorted(action.kind for action in ACTIONS.all() if action.pays_a_sum) == SUMS_OF_MONEY


@pytest.mark.parametrize("action", ["reship", "expedite", "ship_exchange"])
def test_a_replacement_or_a_service_cannot_be_approved_for_less_and_nothing_changes(action, run_jobs):
    approval = waiting(action, "778.00")

    with pytest.raises(
        ValidationError, match=r"happens in full or not at all: approve the proposed 778\.00 or reject it"
    ):
        approval_decide(approval, user=agent("100.00"), approve=True, amount=Decimal("90.00"))
    run_jobs()

    approval.refresh_from_db()
    approval.remedy.refresh_from_db()
    assert approval.decision == ApprovalDecision.PENDING and approval.approved_amount is None
    assert (approval.remedy.state, approval.remedy.amount) == (RemedyState.NEEDS_APPROVAL, Decimal("778.00"))
    assert not ActionRecord.objects.exists()
    assert not AuditEvent.objects.filter(kind=AuditKind.APPROVED).exists()


def test_the_limit_applies_to_the_full_value_of_a_replacement():
    approval = waiting("reship", "778.00")

    with pytest.raises(PermissionDenied, match=r"778\.00 is above your approval limit of 100\.00"):
        approval_decide(approval, user=agent("100.00"), approve=True)

    approval.refresh_from_db()
    assert approval.decision == ApprovalDecision.PENDING


def test_a_replacement_approved_in_full_ships_and_records_its_full_value(run_jobs):
    approval = waiting("reship", "778.00")

    approval_decide(approval, user=agent("1000.00"), approve=True, amount=Decimal("778.00"))
    run_jobs()

    approval.refresh_from_db()
    approval.remedy.refresh_from_db()
    assert approval.approved_amount == Decimal("778.00")
    assert (approval.remedy.state, approval.remedy.amount) == (RemedyState.DONE, Decimal("778.00"))
    assert ActionRecord.objects.get().operation == "replacement"


def test_a_replacement_can_still_be_rejected_by_an_agent_below_its_value(run_jobs):
    approval = waiting("reship", "778.00")

    approval_decide(approval, user=agent("100.00"), approve=False, reason="Parcel found at the depot")
    run_jobs()

    approval.refresh_from_db()
    assert approval.decision == ApprovalDecision.REJECTED
    assert not ActionRecord.objects.exists()


@pytest.mark.parametrize("action", SUMS_OF_MONEY)
def test_a_sum_of_money_may_be_approved_for_less(action, run_jobs):
    approval = waiting(action, "25.00")

    approval_decide(approval, user=agent("100.00"), approve=True, amount=Decimal("12.50"))
    run_jobs()

    approval.remedy.refresh_from_db()
    assert (approval.remedy.state, approval.remedy.amount) == (RemedyState.DONE, Decimal("12.50"))
    assert "proposed 25.00" in AuditEvent.objects.get(kind=AuditKind.APPROVED).message
