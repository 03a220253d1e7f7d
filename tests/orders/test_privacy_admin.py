"""The admin's doors to a customer's personal data: download it, erase it after confirming, and answer the
store platform's requests for a copy. Driven as the real roles use them (setup_roles)."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cxhub.roles import AGENT, ANALYST, CX_MANAGER, roles_setup
from notifications.models import Message
from orders.choices import DataRequestKind, EventSource
from orders.models import Customer, DataRequest, Order
from tests.factories import CustomerFactory, DataRequestFactory, MessageFactory, OrderFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def roles():
    roles_setup()


@pytest.fixture
def login(client, django_user_model):
    def as_role(role: str, *, on=None):
        user = django_user_model.objects.create_user(role.lower().replace(" ", "_"), is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        (on or client).force_login(user)
        return user

    return as_role


@pytest.fixture
def customer():
    """A customer with two orders, a message sent about one of them and a ticket."""
    customer = CustomerFactory(first_name="Ada", last_name="Byron", email="ada@example.com", phone="+14155550199")
    order = OrderFactory(store=customer.store, customer=customer, order_number="1001")
    OrderFactory(store=customer.store, customer=customer, order_number="1002")
    MessageFactory(order=order, body_text="Ada, your parcel is late.")
    TicketFactory(store=customer.store, customer=customer, order=order, body="Where is it? Ada")
    return customer


def download_url(customer: Customer) -> str:
    return reverse("admin:orders_customer_personal_data", args=[customer.pk])


def erase_url(customer: Customer) -> str:
    return reverse("admin:orders_customer_erase", args=[customer.pk])


def customer_page(client, customer: Customer) -> str:
    return client.get(reverse("admin:orders_customer_change", args=[customer.pk])).content.decode()


def copy_request(customer: Customer) -> DataRequest:
    """A request for a copy as Shopify's customers/data_request leaves it: to do."""
    return DataRequestFactory(
        customer=customer, kind=DataRequestKind.COPY, source=EventSource.SHOPIFY, external_id="9001"
    )


def assert_not_erased(customer: Customer) -> None:
    customer.refresh_from_db()
    assert (customer.email, customer.first_name, customer.erased_at) == ("ada@example.com", "Ada", None)
    assert not DataRequest.objects.exists()
    assert Message.objects.get().body_text == "Ada, your parcel is late."


# --- download --------------------------------------------------------------------------------------------------


def test_a_cx_manager_downloads_a_customers_personal_data_as_a_json_file(client, login, customer):
    login(CX_MANAGER)

    response = client.get(download_url(customer))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="customer-{customer.pk}-personal-data.json"'
    copy = json.loads(response.content)
    assert copy["customer"][0]["email"] == "ada@example.com"
    assert sorted(order["order_number"] for order in copy["orders"]) == ["1001", "1002"]
    assert [m["text"] for m in copy["messages"]] == ["Ada, your parcel is late."]
    assert_not_erased(customer)  # a download records nothing and changes nothing


def test_a_cx_manager_sees_the_download_and_erase_buttons_on_the_customer_page(client, login, customer):
    login(CX_MANAGER)

    page = customer_page(client, customer)

    assert f'href="{download_url(customer)}">Download personal data</a>' in page
    assert f'href="{erase_url(customer)}">Erase personal data…</a>' in page
    assert "Personal data erased on" not in page


# --- erase -----------------------------------------------------------------------------------------------------


def test_the_erase_page_says_whose_data_what_goes_and_what_stays_and_changes_nothing(client, login, customer):
    login(CX_MANAGER)

    response = client.get(erase_url(customer))

    page = response.content.decode()
    assert response.status_code == 200
    assert "ada@example.com" in page and "+14155550199" in page and customer.store.name in page
    assert "2 orders · 1 message · 1 ticket · 0 returns · 0 exceptions · 0 delivery ratings" in page
    assert "postal code" in page and "KPIs and the compensation caps still add up" in page
    assert "This cannot be undone." in page
    assert 'name="csrfmiddlewaretoken"' in page and 'value="Yes, erase their personal data"' in page
    assert "already erased" not in page
    assert_not_erased(customer)


def test_a_cx_manager_erases_a_customer_after_confirming(client, login, customer):
    manager = login(CX_MANAGER)

    response = client.post(erase_url(customer), follow=True)

    data_request = DataRequest.objects.get()
    assert response.redirect_chain == [(reverse("admin:orders_datarequest_change", args=[data_request.pk]), 302)]
    assert (data_request.kind, data_request.source, data_request.requested_by) == ("erasure", "admin", manager)
    assert data_request.customer == customer and data_request.completed_at is not None
    said = f"Personal data erased (data request #{data_request.pk}): customers: 1, messages: 1, orders: 2, tickets: 1."
    assert said in response.content.decode()
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name, customer.email, customer.phone) == ("", "", "", "")
    assert customer.erased_at is not None
    assert Message.objects.get().body_text == ""
    # The sale stays: both orders, with their totals, without the address.
    assert sorted(Order.objects.values_list("order_number", "ship_line1", "ship_postal_code")) == [
        ("1001", "", ""),
        ("1002", "", ""),
    ]


def test_an_erased_customer_shows_when_and_erasing_again_is_allowed_and_says_so(client, login, customer):
    login(CX_MANAGER)
    client.post(erase_url(customer))
    customer.refresh_from_db()

    page = customer_page(client, customer)
    confirmation = client.get(erase_url(customer)).content.decode()
    again = client.post(erase_url(customer))

    assert "Personal data erased on" in page
    assert "Erased email and phone, as digests" in page and "ada@example.com" not in page  # what is kept
    assert f'href="{erase_url(customer)}"' in page
    assert "already erased before (" in confirmation
    assert again.status_code == 302
    assert DataRequest.objects.count() == 2
    assert DataRequest.objects.order_by("pk").last().outcome == {}  # nothing was left to erase
    customer.refresh_from_db()
    assert customer.email == "" and customer.erased_at is not None


def test_erasing_without_the_csrf_token_is_refused_and_with_it_erases(login, customer):
    csrf_client = Client(enforce_csrf_checks=True)
    login(CX_MANAGER, on=csrf_client)

    refused = csrf_client.post(erase_url(customer))

    assert refused.status_code == 403
    assert_not_erased(customer)
    token = csrf_client.get(erase_url(customer)).context["csrf_token"]
    assert csrf_client.post(erase_url(customer), {"csrfmiddlewaretoken": token}).status_code == 302
    customer.refresh_from_db()
    assert customer.email == ""


# --- who may -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [AGENT, ANALYST], ids=["agent", "analyst"])
def test_agents_and_analysts_may_neither_download_nor_erase_and_see_no_buttons(client, login, customer, role):
    login(role)

    assert client.get(download_url(customer)).status_code == 403
    assert client.get(erase_url(customer)).status_code == 403
    assert client.post(erase_url(customer)).status_code == 403
    page = customer_page(client, customer)
    assert "ada@example.com" in page  # they see the customer, not the buttons
    assert "Download personal data" not in page and "Erase personal data" not in page and "as digests" not in page
    assert_not_erased(customer)


def test_the_permission_to_handle_data_requests_is_not_enough_without_seeing_customers(
    client, django_user_model, customer
):
    user = django_user_model.objects.create_user("clerk", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="handle_data_request"))
    client.force_login(user)

    assert client.get(download_url(customer)).status_code == 403
    assert client.post(erase_url(customer)).status_code == 403
    assert_not_erased(customer)


# --- the customer list -------------------------------------------------------------------------------------------


def test_the_customer_list_filters_erased_customers(client, login, customer):
    login(CX_MANAGER)
    kept = CustomerFactory(store=customer.store)
    client.post(erase_url(customer))
    url = reverse("admin:orders_customer_changelist")

    erased = client.get(url, {"erased": "yes"}).context["cl"].queryset
    held = client.get(url, {"erased": "no"}).context["cl"].queryset

    assert [c.pk for c in erased] == [customer.pk]
    assert [c.pk for c in held] == [kept.pk]


# --- data requests -------------------------------------------------------------------------------------------------


def test_downloading_a_requested_copy_hands_it_over_and_marks_the_request_done(client, login, customer):
    login(CX_MANAGER)
    data_request = copy_request(customer)
    page_url = reverse("admin:orders_datarequest_change", args=[data_request.pk])
    copy_url = reverse("admin:orders_datarequest_copy", args=[data_request.pk])

    page = client.get(page_url).content.decode()
    first = client.get(copy_url)
    data_request.refresh_from_db()
    done_at = data_request.completed_at
    client.get(copy_url)
    data_request.refresh_from_db()

    assert f'href="{copy_url}">Download copy</a>' in page
    assert first.status_code == 200 and first["Content-Type"] == "application/json; charset=utf-8"
    assert first["Content-Disposition"] == f'attachment; filename="data-request-{data_request.pk}.json"'
    assert json.loads(first.content)["customer"][0]["email"] == "ada@example.com"
    assert done_at is not None and data_request.completed_at == done_at  # the first download's time stays
    assert "First downloaded on" in client.get(page_url).content.decode()


def test_the_data_request_list_puts_what_is_to_do_first_with_its_deadline(client, login, customer):
    manager = login(CX_MANAGER)
    client.post(erase_url(CustomerFactory(store=customer.store)))
    to_do = copy_request(customer)
    DataRequest.objects.filter(pk=to_do.pk).update(requested_at=timezone.now() - timedelta(days=40))
    client.post(erase_url(CustomerFactory(store=customer.store)))
    url = reverse("admin:orders_datarequest_changelist")

    response = client.get(url)
    waiting = client.get(url, {"done": "no"}).context["cl"].queryset

    rows = list(response.context["cl"].result_list)
    assert rows[0] == to_do and len(rows) == 3
    assert [r.requested_by for r in rows[1:]] == [manager, manager]
    assert rows[1].requested_at > rows[2].requested_at  # then what is done, newest first
    page = response.content.decode()
    assert '<strong style="color:#b91c1c">To do</strong> · answer by' in page  # 40 days old: overdue
    assert "customers: 1" in page
    assert list(waiting) == [to_do]


def test_data_requests_are_a_record_no_one_adds_changes_or_deletes(client, login, customer):
    login(CX_MANAGER)
    data_request = copy_request(customer)

    page = client.get(reverse("admin:orders_datarequest_change", args=[data_request.pk])).content.decode()

    assert client.get(reverse("admin:orders_datarequest_add")).status_code == 403
    assert client.get(reverse("admin:orders_datarequest_delete", args=[data_request.pk])).status_code == 403
    assert 'name="_save"' not in page and "9001" in page
    assert DataRequest.objects.get().completed_at is None  # opening the page answers nothing


def test_an_erasure_has_no_copy_to_download(client, login, customer):
    login(CX_MANAGER)
    client.post(erase_url(customer))
    erasure = DataRequest.objects.get()

    page = client.get(reverse("admin:orders_datarequest_change", args=[erasure.pk])).content.decode()

    assert "Download copy" not in page
    assert client.get(reverse("admin:orders_datarequest_copy", args=[erasure.pk])).status_code == 404


@pytest.mark.parametrize("role", [AGENT, ANALYST], ids=["agent", "analyst"])
def test_agents_and_analysts_neither_see_data_requests_nor_download_a_copy(client, login, customer, role):
    login(role)
    data_request = copy_request(customer)

    assert client.get(reverse("admin:orders_datarequest_changelist")).status_code == 403
    assert client.get(reverse("admin:orders_datarequest_copy", args=[data_request.pk])).status_code == 403
    assert DataRequest.objects.get().completed_at is None
