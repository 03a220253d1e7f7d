"""The admin's roles: each sees and changes only what it should (`setup_roles`)."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.urls import reverse

from cxhub.roles import AGENT, ANALYST, CX_MANAGER, ROLES
from playbooks.approvals import approval_decide
from playbooks.models import Approval
from tests.factories import (
    AgentProfileFactory,
    ApprovalFactory,
    CustomerFactory,
    ExceptionCaseFactory,
    PlaybookFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def roles():
    call_command("setup_roles")


@pytest.fixture
def login(client, django_user_model):
    def as_role(role: str):
        user = django_user_model.objects.create_user(role.lower().replace(" ", "_"), is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        return user

    return as_role


def status(client, name: str, *args) -> int:
    return client.get(reverse(name, args=args)).status_code


# What only configuration editors may open: the add pages of what CX managers configure.
CONFIG_ADD_PAGES = ["admin:playbooks_playbook_add", "admin:notifications_messagetemplate_add",
                    "admin:orders_returnpolicy_add", "admin:portal_faqentry_add",
                    "admin:playbooks_compensationcap_add"]  # fmt: skip
CASEWORK_LISTS = ["admin:orders_order_changelist", "admin:playbooks_exceptioncase_changelist",
                  "admin:playbooks_approval_changelist", "admin:orders_returnrequest_changelist",
                  "admin:notifications_message_changelist"]  # fmt: skip


def test_setup_roles_creates_the_three_groups_and_resets_a_hand_edited_one():
    manager = Group.objects.get(name=CX_MANAGER)
    manager.permissions.add(Permission.objects.get(codename="delete_order"))

    call_command("setup_roles")

    assert set(Group.objects.values_list("name", flat=True)) >= {CX_MANAGER, AGENT, ANALYST}
    assert not manager.permissions.filter(codename="delete_order").exists()
    assert manager.permissions.count() == len(ROLES[CX_MANAGER])


def test_a_cx_manager_edits_playbooks_templates_caps_policies_and_faq_and_reads_kpis(client, login):
    login(CX_MANAGER)

    assert all(status(client, page) == 200 for page in CONFIG_ADD_PAGES)
    assert all(status(client, page) == 200 for page in CASEWORK_LISTS)
    assert status(client, "admin:insights_kpis") == 200
    assert status(client, "admin:orders_order_add") == 403  # orders come from the store's systems
    assert status(client, "admin:orders_apitoken_add") == 403  # integration secrets: superusers only


def test_an_agent_works_cases_but_cannot_change_the_configuration_or_see_kpis(client, login):
    agent = login(AGENT)
    case = ExceptionCaseFactory()

    assert all(status(client, page) == 200 for page in CASEWORK_LISTS)
    assert status(client, "admin:playbooks_playbook_changelist") == 200  # sees why the hub acted
    assert all(status(client, page) == 403 for page in CONFIG_ADD_PAGES)
    assert status(client, "admin:insights_kpis") == 403
    assert agent.has_perm("playbooks.change_exceptioncase") and agent.has_perm("orders.process_returnrequest")
    assert (
        "Resolve the selected exceptions"
        in client.get(reverse("admin:playbooks_exceptioncase_changelist")).content.decode()
    )
    assert status(client, "admin:playbooks_exceptioncase_change", case.pk) == 200


def test_an_agent_approves_up_to_their_own_limit_only(login):
    agent = login(AGENT)
    AgentProfileFactory(user=agent, approval_limit=Decimal("50.00"))
    small = ApprovalFactory(remedy__amount=Decimal("40.00"))
    large = ApprovalFactory(remedy__amount=Decimal("80.00"))

    approval_decide(small, user=agent, approve=True)
    with pytest.raises(PermissionDenied):
        approval_decide(large, user=agent, approve=True)

    assert Approval.objects.get(pk=small.pk).decision == "approved"
    assert Approval.objects.get(pk=large.pk).decision == "pending"


def test_an_analyst_reads_everything_and_the_kpis_but_changes_nothing(client, login):
    analyst = login(ANALYST)
    playbook = PlaybookFactory()

    assert all(status(client, page) == 200 for page in CASEWORK_LISTS)
    assert status(client, "admin:insights_kpis") == 200
    assert all(status(client, page) == 403 for page in CONFIG_ADD_PAGES)
    page = client.get(reverse("admin:playbooks_playbook_change", args=[playbook.pk])).content.decode()
    assert 'name="_save"' not in page  # read-only view
    assert not any(p.startswith(("add_", "change_", "delete_")) for p in analyst.get_all_permissions())
    with pytest.raises(PermissionDenied):
        approval_decide(ApprovalFactory(), user=analyst, approve=True)


def test_the_admin_index_shows_each_role_only_its_sections(client, login):
    login(ANALYST)
    index = client.get("/admin/").content.decode()

    assert "/admin/playbooks/exceptioncase/" in index and "/admin/orders/order/" in index
    assert "/admin/orders/inbounddelivery/" not in index and "/admin/orders/apitoken/" not in index
    assert "/admin/playbooks/playbook/add/" not in index


def test_a_cx_manager_edits_a_customers_vip_flag_channel_time_zone_and_opt_outs(client, login):
    login(CX_MANAGER)
    customer = CustomerFactory(is_vip=False, preferred_channel="email", timezone="")
    url = reverse("admin:orders_customer_change", args=[customer.pk])
    page = client.get(url).content.decode()

    response = client.post(
        url,
        {"is_vip": "on", "preferred_channel": "sms", "timezone": "America/Chicago",
         "sms_opted_out_at_0": "", "sms_opted_out_at_1": "", "email_opted_out_at_0": "2026-03-01",
         "email_opted_out_at_1": "10:00:00", "orders-TOTAL_FORMS": "0", "orders-INITIAL_FORMS": "0",
         "erased_contacts-TOTAL_FORMS": "0", "erased_contacts-INITIAL_FORMS": "0"},
    )  # fmt: skip

    assert 'name="is_vip"' in page
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.is_vip, customer.preferred_channel, customer.timezone) == (True, "sms", "America/Chicago")
    assert customer.email_opted_out_at is not None and customer.sms_opted_out_at is None


@pytest.mark.parametrize("role", [AGENT, ANALYST], ids=["agent", "analyst"])
def test_agents_and_analysts_see_the_same_things_sweep_runs_included_and_customers_read_only(client, login, role):
    user = login(role)
    customer = CustomerFactory()

    assert status(client, "admin:playbooks_sweeprun_changelist") == 200
    assert (
        'name="is_vip"' not in client.get(reverse("admin:orders_customer_change", args=[customer.pk])).content.decode()
    )
    views = {p for p in user.get_all_permissions() if p.split(".")[1].startswith("view_")} - {"insights.view_kpis"}
    assert views == {p for p in ROLES[AGENT] if p.split(".")[1].startswith("view_")}
