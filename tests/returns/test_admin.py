"""Returns in the admin: policies CX managers edit, and the steps agents take on a return."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orders.choices import ReturnState
from orders.models import ReturnRequest
from returns.services import ReturnLine, return_request_create
from tests.factories import ReturnReasonRuleFactory

from .conftest import item

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/orders/returnrequest/"


def start(order, **line):
    fields = {"line_item_id": item(order, "SHIRT-M").pk, "quantity": 1, "reason": "does_not_fit"}
    return return_request_create(order=order, resolution="refund", lines=[ReturnLine(**{**fields, **line})])


@pytest.fixture
def agent(django_user_model, client):
    user = django_user_model.objects.create_user("agent", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_returnrequest", "process_returnrequest"]))
    client.force_login(user)
    return user


def act(client, action: str, *returns, **extra):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [r.pk for r in returns], **extra})


def test_an_agent_approves_a_waiting_return_and_the_label_is_issued(client, agent, order, policy):
    policy.auto_approve = False
    policy.save()
    ret = start(order)

    response = act(client, "approve", ret)

    assert response.status_code == 302
    ret.refresh_from_db()
    assert ret.state == ReturnState.LABEL_ISSUED and ret.return_tracking_code


def test_rejecting_asks_for_the_reason_the_customer_will_see(client, agent, order):
    ret = start(order)

    form = act(client, "reject", ret)
    assert form.status_code == 200 and "the customer sees this" in form.content.decode()
    ret.refresh_from_db()
    assert ret.state == ReturnState.LABEL_ISSUED

    act(client, "reject", ret, reason="Outside the window for worn items.")
    ret.refresh_from_db()
    assert ret.state == ReturnState.REJECTED and ret.rejection_reason == "Outside the window for worn items."


def test_marking_received_refunds_once_and_a_second_click_only_warns(client, agent, order, run_jobs):
    ret = start(order)
    act(client, "mark_in_transit", ret)
    act(client, "mark_received", ret)
    run_jobs()

    response = act(client, "mark_received", ret)

    ret.refresh_from_db()
    assert ret.state == ReturnState.REFUNDED and ret.records.count() == 1
    assert any("refunded: cannot mark it received" in str(m) for m in response.wsgi_request._messages)


def test_a_viewer_without_the_process_permission_sees_returns_but_cannot_act(client, django_user_model, order):
    viewer = django_user_model.objects.create_user("analyst", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_returnrequest"))
    client.force_login(viewer)
    ret = start(order)

    page = client.get(CHANGELIST).content.decode()
    act(client, "mark_received", ret)

    assert ret.number in page and "mark_received" not in page
    ret.refresh_from_db()
    assert ret.state == ReturnState.LABEL_ISSUED


def test_the_return_page_shows_items_the_customers_link_and_what_was_done(admin_client, order):
    ret = start(order)

    page = admin_client.get(reverse("admin:orders_returnrequest_change", args=[ret.pk])).content.decode()

    assert "Linen shirt" in page and "/returns/r/" in page and "Does not fit" in page


def test_photos_are_served_to_staff_only_with_the_type_their_bytes_show(admin_client, client, order, policy):
    ReturnReasonRuleFactory(policy=policy, reason="damaged", photo_required=True)
    photo = SimpleUploadedFile("evil.html", b"\x89PNG\r\n\x1a\n<script>alert(1)</script>", "text/html")
    ret = start(order, reason="damaged", photo=photo)
    url = reverse("admin:returns_return_photo", args=[ret.items.get().pk])

    response = admin_client.get(url)

    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert client.get(url).status_code == 302  # anonymous: to the login page


def test_cx_managers_edit_the_policy_with_its_reason_rules(admin_client, policy):
    page = admin_client.get(reverse("admin:orders_returnpolicy_change", args=[policy.pk])).content.decode()

    assert "Ship exchanges before the return arrives" in page and "Photo required" in page
    assert ReturnRequest.objects.count() == 0
