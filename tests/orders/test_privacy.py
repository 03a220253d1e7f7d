"""A customer's personal data: a copy on request, erasure on request (orders.privacy), through the service and
through Shopify's signed compliance webhooks. The person goes, the sale stays."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from importlib import import_module
from pathlib import Path

import django_rq
import pytest
import time_machine
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from notifications.choices import MessageStatus
from notifications.models import Message
from orders.choices import DataRequestKind, DeliveryState, EventSource
from orders.models import (
    Customer,
    DataRequest,
    ErasedContact,
    InboundDelivery,
    Order,
    ReturnItem,
    Ticket,
    TrackingEvent,
)
from orders.privacy import (
    ERASED,
    Scrubber,
    data_request_apply,
    data_request_copy,
    erasures_recover,
    personal_data_copy,
    personal_data_erase,
    store_erasure_run,
)
from orders.services import order_upsert, ticket_create
from orders.updates import AddressData, CustomerData, OrderData, PersonalDataRequest, TicketData
from playbooks.choices import AuditKind
from playbooks.models import AuditEvent, Remedy
from portal.links import tracking_token
from portal.models import DeliveryFeedback
from tests import signing
from tests.factories import (
    AuditEventFactory,
    CustomerFactory,
    DeliveryFeedbackFactory,
    ExceptionCaseFactory,
    InboundDeliveryFactory,
    MessageFactory,
    OrderFactory,
    RemedyFactory,
    ReturnItemFactory,
    ReturnRequestFactory,
    ShipmentFactory,
    StoreFactory,
    TicketFactory,
    TrackingEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SHOP = "privacy-outdoor.myshopify.com"
SECRET = "shpss_privacy_secret"


@pytest.fixture
def store():
    return StoreFactory(shopify_domain=SHOP, shopify_webhook_secret=SECRET, country="US")


@pytest.fixture
def jane(store):
    return CustomerFactory(
        store=store, first_name="Jane", last_name="Doe", email="jane.doe@example.com", phone="+13125550147",
        external_id="207119551",
    )  # fmt: skip


@pytest.fixture
def order(jane):
    order = OrderFactory(
        store=jane.store, customer=jane, external_id="820982911", order_number="1001", total=Decimal("136.84"),
        ship_name="Jane Doe", ship_line1="1603 Orrington Ave", ship_line2="Apt 4B", ship_city="Evanston",
        ship_region="IL", ship_postal_code="60201",
    )  # fmt: skip
    shipment = ShipmentFactory(order=order)
    TrackingEventFactory(shipment=shipment, message="Delivered, signed for by J DOE", location="EVANSTON IL")
    return order


def test_erasure_takes_the_person_out_and_keeps_the_sale(store, jane, order):
    sent = MessageFactory(
        store=store,
        customer=jane,
        order=order,
        to=jane.phone,
        body_text="Hi Jane, order 1001",
        status=MessageStatus.SENT,
    )
    waiting = MessageFactory(store=store, customer=jane, order=order, to=jane.email, status=MessageStatus.QUEUED)
    ticket = TicketFactory(store=store, customer=jane, order=order, subject="Where is it?", body="Jane Doe here")
    returned = ReturnItemFactory(return_request=ReturnRequestFactory(order=order), comment="Too small, Jane")
    feedback = DeliveryFeedbackFactory(order=order, rating=4, comment="Lovely, thanks from Jane")
    case = ExceptionCaseFactory(
        order=order, store=store, shipment=None, kind="address_problem",
        facts={"address": order.shipping_address_lines, "order_number": "1001"},
        explanation="The address 1603 Orrington Ave, Apt 4B failed verification.",
    )  # fmt: skip
    remedy = RemedyFactory(case=case, result={"to": "+13125550147", "status": "sent"})
    audit = AuditEventFactory(store=store, order=order, case=case, message="Messaged Jane Doe at jane.doe@example.com")

    request = personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)

    jane.refresh_from_db()
    order.refresh_from_db()
    assert (jane.first_name, jane.last_name, jane.email, jane.phone, jane.timezone) == ("", "", "", "", "")
    assert jane.erased_at is not None and order.erased_at is not None
    assert order.shipping_address_lines == ["Evanston IL", "US"]  # city, region and country stay, for the KPIs
    assert (order.order_number, order.total) == ("1001", Decimal("136.84"))
    sent.refresh_from_db()
    assert (sent.to, sent.body_text, sent.kind, sent.status) == ("", "", sent.kind, MessageStatus.SENT)
    waiting.refresh_from_db()
    assert (waiting.to, waiting.status) == ("", MessageStatus.SUPPRESSED)
    assert Ticket.objects.values_list("subject", "body").get(pk=ticket.pk) == ("", "")
    assert ReturnItem.objects.get(pk=returned.pk).comment == ""
    assert DeliveryFeedback.objects.values_list("rating", "comment").get(pk=feedback.pk) == (4, "")
    case.refresh_from_db()
    assert case.facts == {"address": [ERASED, ERASED, ERASED, "Evanston IL [erased]", "US"], "order_number": "1001"}
    assert case.explanation == f"The address {ERASED}, {ERASED} failed verification."
    assert Remedy.objects.get(pk=remedy.pk).result == {"to": ERASED, "status": "sent"}
    assert AuditEvent.objects.get(pk=audit.pk).message == f"Messaged {ERASED} at {ERASED}"
    assert TrackingEvent.objects.get(shipment__order=order).message == f"Delivered, signed for by J {ERASED}"
    assert request.kind == DataRequestKind.ERASURE and request.completed_at is not None
    assert request.outcome == {
        "customers": 1, "orders": 1, "messages": 2, "tickets": 1, "return comments": 1, "carrier scans": 1,
        "feedback comments": 1, "exceptions": 1, "remedies": 1, "audit events": 1,
    }  # fmt: skip
    trail = AuditEvent.objects.get(order=order, kind=AuditKind.ERASED)
    assert f"data request #{request.pk}, from Admin" in trail.message


def test_erasure_leaves_other_customers_alone(store, jane, order):
    other = CustomerFactory(store=store, first_name="Jane", last_name="Roe", email="jane.roe@example.com")
    theirs = OrderFactory(store=store, customer=other, ship_line1="1603 Orrington Ave")
    said = AuditEventFactory(store=store, order=theirs, case=None, message="Messaged Jane Roe")

    personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)

    other.refresh_from_db()
    theirs.refresh_from_db()
    assert (other.first_name, other.email, other.erased_at) == ("Jane", "jane.roe@example.com", None)
    assert theirs.ship_line1 == "1603 Orrington Ave"
    assert AuditEvent.objects.get(pk=said.pk).message == "Messaged Jane Roe"


def test_erasing_twice_changes_nothing_more(store, jane, order):
    personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)

    again = personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)

    assert again.outcome == {}


def test_a_customer_given_details_again_after_erasure_is_erased_again(store, jane, order):
    personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)
    Customer.objects.filter(pk=jane.pk).update(email="jane.doe@example.com")  # an old order updated later

    again = personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)

    assert again.outcome["customers"] == 1
    assert Customer.objects.get(pk=jane.pk).email == ""


def test_raw_webhooks_naming_the_customer_are_emptied_by_a_job_and_those_not_applied_never_will_be(
    run_jobs, store, jane, order
):
    applied = InboundDeliveryFactory(store=store, body=json.dumps({"email": "Jane.Doe@example.com"}))
    waiting = InboundDeliveryFactory(
        store=store, body=json.dumps({"phone": "+13125550147"}), state=DeliveryState.RECEIVED
    )
    unrelated = InboundDeliveryFactory(store=store, body=json.dumps({"email": "sam@example.com"}))

    request = personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)
    run_jobs()

    assert InboundDelivery.objects.get(pk=applied.pk).body == ""
    waiting.refresh_from_db()
    assert (waiting.body, waiting.state) == ("", DeliveryState.IGNORED)
    assert "personal data erased" in waiting.error
    assert InboundDelivery.objects.get(pk=unrelated.pk).body == unrelated.body
    request.refresh_from_db()
    assert (request.webhook_traces, request.outcome["webhook deliveries"]) == ([], 2)
    low = django_rq.get_queue("low")
    jobs = [low.fetch_job(pk) for pk in low.finished_job_registry.get_job_ids()]
    assert [job.args for job in jobs] == [(request.pk,)]  # Redis held the request's id, not what to look for


def test_a_lost_search_for_an_erased_customers_raw_webhooks_is_queued_again(run_jobs, store, jane, order):
    named = InboundDeliveryFactory(store=store, body=json.dumps({"email": "jane.doe@example.com"}))
    request = personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)
    connection.run_on_commit.clear()  # its job never reached Redis
    assert erasures_recover() == 0  # not yet: it may only be waiting for a worker

    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert erasures_recover() == 1
    run_jobs()

    request.refresh_from_db()
    assert InboundDelivery.objects.get(pk=named.pk).body == ""
    assert (request.webhook_traces, request.outcome["webhook deliveries"]) == ([], 1)
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert erasures_recover() == 0  # done: nothing left to look for


def test_the_scrubber_takes_whole_words_only_whatever_their_case():
    scrub = Scrubber(["Al", "al@example.com", "94105", ""])

    assert scrub.text("AL said: always at al@example.com, 94105-1234") == (
        f"{ERASED} said: always at {ERASED}, {ERASED}-1234"
    )
    assert scrub.data({"to": ["al", 3, None]}) == {"to": [ERASED, 3, None]}


def test_a_copy_holds_everything_the_hub_holds_about_the_customer(store, jane, order):
    MessageFactory(store=store, customer=jane, order=order, to=jane.phone, body_text="Hi Jane")
    TicketFactory(store=store, customer=jane, order=order, subject="Where is it?")
    DeliveryFeedbackFactory(order=order, rating=5, comment="Great")
    ExceptionCaseFactory(order=order, store=store, shipment=None, explanation="No scan for 3 days.")

    copy = personal_data_copy(jane)

    assert copy["customer"][0]["email"] == "jane.doe@example.com"
    assert copy["orders"][0]["shipping_address"][:2] == ["Jane Doe", "1603 Orrington Ave"]
    assert copy["orders"][0]["parcels"][0]["scans"][0]["message"] == "Delivered, signed for by J DOE"
    assert [m["text"] for m in copy["messages"]] == ["Hi Jane"]
    assert [t["subject"] for t in copy["tickets"]] == ["Where is it?"]
    assert copy["delivery_feedback"] == [{"order_number": "1001", "rating": 5, "comment": "Great"}]
    assert copy["exceptions"][0]["explanation"] == "No scan for 3 days."
    json.dumps(copy)  # JSON-ready as it is


def test_a_copy_request_is_answered_when_first_downloaded(store, jane):
    request = DataRequest.objects.create(store=store, kind=DataRequestKind.COPY, customer=jane, source="shopify")

    copy = data_request_copy(request)

    assert copy["customer"][0]["email"] == "jane.doe@example.com"
    assert request.completed_at is not None


def test_a_whole_store_is_erased_customer_by_customer_then_what_no_one_ties_to_a_person(store, jane, order):
    guest = OrderFactory(store=store, customer=None, ship_name="Guest Person", ship_line1="2 Elm St")
    AuditEventFactory(store=store, order=guest, case=None, message="Guest Person's parcel is late")
    delivery = InboundDeliveryFactory(store=store, body=json.dumps({"note": "anything"}))
    elsewhere = CustomerFactory(email="keep@example.com")
    request = DataRequest.objects.create(store=store, kind=DataRequestKind.ERASURE, source="shopify")

    store_erasure_run(request.pk)

    assert not Customer.objects.filter(store=store, erased_at__isnull=True).exists()
    assert Order.objects.filter(store=store).exclude(ship_line1="").count() == 0
    assert AuditEvent.objects.filter(order=guest).exclude(kind=AuditKind.ERASED).get().message == (
        f"{ERASED}'s parcel is late"
    )
    assert InboundDelivery.objects.get(pk=delivery.pk).body == ""
    assert Customer.objects.get(pk=elsewhere.pk).email == "keep@example.com"
    request.refresh_from_db()
    assert request.completed_at is not None and request.outcome["customers"] == 1
    assert store_erasure_run(request.pk) is None  # done: a second run does nothing


def test_a_store_erasure_whose_job_was_lost_is_queued_again_once_it_cannot_be_running(store, monkeypatch):
    queued = []
    monkeypatch.setattr("orders.privacy._store_erasure_queue", queued.append)
    stale = DataRequest.objects.create(store=store, kind=DataRequestKind.ERASURE, source="shopify")
    DataRequest.objects.filter(pk=stale.pk).update(requested_at=timezone.now() - timezone.timedelta(hours=3))
    running = DataRequest.objects.create(store=store, kind=DataRequestKind.ERASURE, source="shopify")
    DataRequest.objects.filter(pk=running.pk).update(requested_at=timezone.now() - timezone.timedelta(hours=1))

    assert erasures_recover() == 1
    assert queued == [stale.pk]


# -- Shopify's compliance webhooks, signed, through the real URL ------------------------------------------------


def post_shopify(client, topic: str, payload: dict, *, webhook_id: str = "b54557e4-8a5f-4fd7-9ce2-0d56c1f1e0a1"):
    body = json.dumps(payload).encode()
    headers = signing.shopify_headers(body, SECRET, topic=topic, webhook_id=webhook_id, shop=SHOP)
    return client.post("/webhooks/shopify/", body, content_type="application/json", **headers)


@pytest.mark.django_db(transaction=True)
def test_shopify_customers_redact_erases_the_customer_and_the_orders_it_names(client, run_jobs, store, jane, order):
    guest = OrderFactory(store=store, customer=None, external_id="299938", ship_line1="9 Lake Shore Dr")
    payload = {
        "shop_id": 954889, "shop_domain": SHOP,
        "customer": {"id": 207119551, "email": "jane.doe@example.com", "phone": "312-555-0147"},
        "orders_to_redact": [299938, 820982911],
    }  # fmt: skip

    response = post_shopify(client, "customers/redact", payload)
    run_jobs()

    assert response.status_code == 200
    jane.refresh_from_db()
    guest.refresh_from_db()
    assert (jane.email, guest.ship_line1) == ("", "")
    request = DataRequest.objects.get()
    assert (request.source, request.customer, request.orders_named) == ("shopify", jane, ["299938", "820982911"])
    delivery = InboundDelivery.objects.get()
    assert (delivery.state, delivery.body) == (DeliveryState.PROCESSED, "")  # the request itself named her too


@pytest.mark.django_db(transaction=True)
def test_shopify_customers_data_request_waits_for_the_store_owner(client, run_jobs, store, jane):
    payload = {
        "shop_id": 954889, "shop_domain": SHOP, "orders_requested": [820982911],
        "customer": {"id": 207119551, "email": "jane.doe@example.com", "phone": "312-555-0147"},
        "data_request": {"id": 9999},
    }  # fmt: skip

    post_shopify(client, "customers/data_request", payload)
    post_shopify(client, "customers/data_request", payload, webhook_id="5e2b8a7c-1111-4c3e-9d2a-7f1f0a9b2c3d")
    run_jobs()

    request = DataRequest.objects.get()  # sent twice, recorded once
    assert (request.kind, request.customer, request.external_id, request.completed_at) == (
        DataRequestKind.COPY, jane, "9999", None,
    )  # fmt: skip
    assert Customer.objects.get(pk=jane.pk).email == "jane.doe@example.com"


@pytest.mark.django_db(transaction=True)
def test_shopify_shop_redact_erases_every_customer_of_the_store(client, run_jobs, store, jane, order):
    other = CustomerFactory(store=store)

    response = post_shopify(client, "shop/redact", {"shop_id": 954889, "shop_domain": SHOP})
    run_jobs()

    assert response.status_code == 200
    assert set(Customer.objects.filter(pk__in=[jane.pk, other.pk]).values_list("email", flat=True)) == {""}
    assert DataRequest.objects.get().completed_at is not None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"shop_domain": SHOP, "orders_to_redact": []}, "customer"),
        ({"customer": "jane", "orders_to_redact": []}, "customer"),
        ({"customer": {}, "orders_to_redact": []}, "customer"),
        ({"customer": {"id": 1}, "orders_to_redact": 299938}, "orders_to_redact"),
        ({"customer": {"id": 1}, "orders_to_redact": [299938, {"id": 1}]}, "orders_to_redact[1]"),
        ({"customer": {"id": [1]}, "orders_to_redact": []}, "customer.id"),
    ],
)
def test_a_malformed_redact_request_is_refused_naming_the_field_and_erases_nothing(client, store, jane, payload, field):
    response = post_shopify(client, "customers/redact", payload)

    assert response.status_code == 400
    assert response.json()["field"] == field
    assert Customer.objects.get(pk=jane.pk).email == "jane.doe@example.com"
    assert not DataRequest.objects.exists()


def test_a_data_request_without_its_id_is_refused(client, store, jane):
    response = post_shopify(client, "customers/data_request", {"customer": {"id": 207119551}})

    assert (response.status_code, response.json()["field"]) == (400, "data_request.id")


def test_an_unsigned_redact_request_is_refused(client, store, jane):
    body = json.dumps({"customer": {"id": 207119551}, "orders_to_redact": []}).encode()
    headers = signing.shopify_headers(body, "wrong", topic="customers/redact", webhook_id="x", shop=SHOP)

    response = client.post("/webhooks/shopify/", body, content_type="application/json", **headers)

    assert response.status_code == 401
    assert Customer.objects.get(pk=jane.pk).email == "jane.doe@example.com"


def test_an_erasure_by_a_person_names_them_in_the_trail(store, jane, order):
    manager = UserFactory()

    request = personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN, user=manager)

    assert request.requested_by == manager
    assert AuditEvent.objects.get(order=order, kind=AuditKind.ERASED).actor_user == manager
    assert Message.objects.count() == 0


def test_a_copy_request_naming_only_a_guest_order_hands_over_that_order(store):
    OrderFactory(store=store, customer=None, external_id="299938", ship_line1="9 Lake Shore Dr")
    request = DataRequest.objects.create(
        store=store, kind=DataRequestKind.COPY, source="shopify", orders_named=["299938"]
    )

    copy = data_request_copy(request)

    assert copy["orders"][0]["shipping_address"][1] == "9 Lake Shore Dr"
    assert "note" not in copy


def test_the_admin_history_names_an_erased_customer_by_id_only(store, jane, admin_user):
    LogEntry.objects.log_actions(user_id=admin_user.pk, queryset=[jane], action_flag=CHANGE, change_message="VIP flag")

    personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)

    assert LogEntry.objects.get().object_repr == f"Customer {jane.pk}"


def test_after_erasure_the_tracking_link_still_opens_and_shows_nothing_of_the_customer(client, store, jane, order):
    personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)

    page = client.get(reverse("portal:tracking", args=[tracking_token(order)]))

    assert page.status_code == 200
    text = page.content.decode()
    assert "1001" in text
    assert not any(word in text for word in ("Jane", "Doe", "Orrington", "60201", "jane.doe"))


@pytest.mark.parametrize("contact", ["jane.doe@example.com", "60201"])
def test_after_erasure_a_lookup_by_email_or_postal_code_finds_nothing(client, store, jane, order, contact):
    form = {"order_number": "1001", "contact": contact}
    assert client.post(reverse("portal:lookup"), form).status_code == 302  # before: found
    personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)

    response = client.post(reverse("portal:lookup"), form)

    assert response.status_code == 200  # the form again: no order matches


def test_a_store_erasure_run_again_after_an_interruption_skips_the_customers_it_erased(store, jane, order):
    request = DataRequest.objects.create(store=store, kind=DataRequestKind.ERASURE, source="shopify")
    personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)  # as the interrupted run did
    trail = AuditEvent.objects.filter(kind=AuditKind.ERASED).count()

    store_erasure_run(request.pk)

    assert AuditEvent.objects.filter(kind=AuditKind.ERASED).count() == trail + 1  # the store's own event only


def test_a_request_whose_id_and_email_match_no_one_does_not_erase_whoever_shares_the_phone(store, jane, order):
    data = CustomerData(external_id="999", email="someone.else@example.com", phone="+13125550147")

    request = data_request_apply(
        store=store, data=PersonalDataRequest(kind=DataRequestKind.ERASURE, customer=data), source="shopify"
    )

    assert request.customer is None
    assert Customer.objects.get(pk=jane.pk).email == "jane.doe@example.com"


# -- what arrives after an erasure -------------------------------------------------------------------------------
# The store platform, a helpdesk or a CSV may still hold what the customer asked this store to erase.

PAYLOADS = Path(__file__).parents[1] / "payloads" / "shopify"


@pytest.mark.django_db(transaction=True)
def test_a_later_shopify_update_of_an_erased_order_applies_without_bringing_the_person_back(
    client, run_jobs, store, jane, order
):
    personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)
    payload = json.loads((PAYLOADS / "orders_updated.json").read_text())
    payload["id"], payload["customer"]["id"] = 820982911, 207119551  # the erased order and customer

    response = post_shopify(client, "orders/updated", payload, webhook_id="0c7d5e1a-2222-4b7e-8f3a-6d9e1b2c3a4f")
    run_jobs()

    assert response.status_code == 200
    order.refresh_from_db()
    jane.refresh_from_db()
    assert order.source_updated_at is not None  # applied: what is not the person's is updated
    assert (order.ship_name, order.ship_line1, order.ship_line2, order.ship_postal_code) == ("", "", "", "")
    assert (jane.first_name, jane.email, jane.phone) == ("", "", "")
    delivery = InboundDelivery.objects.get(event_type="orders/updated")
    assert (delivery.state, delivery.body) == (DeliveryState.PROCESSED, "")  # its raw copy is not kept


@pytest.mark.parametrize(
    "named",
    [
        CustomerData(external_id="207119551", email="jane.doe@example.com", first_name="Jane"),
        CustomerData(email="Jane.Doe@Example.com", first_name="Jane"),  # known by the digest of her email
        CustomerData(phone="(312) 555-0147", first_name="Jane"),  # or of her phone, when nothing else names her
    ],
    ids=["store-platform-id", "email", "phone"],
)
def test_an_old_order_arriving_after_its_customers_erasure_comes_without_their_details(store, jane, order, named):
    personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)
    backfilled = OrderData(
        external_id="700001", order_number="0907", placed_at=timezone.now() - timedelta(days=200), customer=named,
        shipping_address=AddressData(name="Jane Doe", line1="1603 Orrington Ave", city="Evanston", country="US"),
    )  # fmt: skip

    old = order_upsert(store=store, data=backfilled)

    jane.refresh_from_db()
    assert (old.customer, old.ship_name, old.ship_line1, old.ship_city) == (jane, "", "", "Evanston")
    assert old.erased_at == jane.erased_at
    assert (jane.first_name, jane.email) == ("", "")


def test_a_new_order_after_erasure_gives_the_customer_their_details_again(store, jane, order):
    personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)
    placed = OrderData(
        external_id="700002", order_number="1201", placed_at=timezone.now() + timedelta(seconds=1),
        customer=CustomerData(external_id="207119551", email="jane.doe@example.com", first_name="Jane"),
        shipping_address=AddressData(name="Jane Doe", line1="1603 Orrington Ave", city="Evanston", country="US"),
    )  # fmt: skip

    new = order_upsert(store=store, data=placed)

    jane.refresh_from_db()
    assert (new.ship_name, new.erased_at) == ("Jane Doe", None)
    assert (jane.first_name, jane.email) == ("Jane", "jane.doe@example.com")  # she bought again: a new relation


@pytest.mark.parametrize(("written", "kept"), [(timedelta(days=-1), False), (timedelta(seconds=1), True)])
def test_a_ticket_written_before_its_customers_erasure_comes_without_its_texts(store, jane, order, written, kept):
    personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)
    data = TicketData(
        reason="wismo", created_at=timezone.now() + written, external_id="zd-77", source="zendesk",
        customer=CustomerData(email="jane.doe@example.com", first_name="Jane"), subject="Where is it?", body="Jane",
    )  # fmt: skip

    ticket, _ = ticket_create(store=store, data=data)

    assert (ticket.customer, ticket.subject != "", ticket.body != "") == (jane, kept, kept)
    assert (Customer.objects.get(pk=jane.pk).first_name == "Jane") is kept


def test_an_erased_customers_contacts_are_kept_only_as_digests_and_not_for_a_whole_store(store, jane, order):
    other = CustomerFactory(store=store, email="sam@example.com", phone="")
    personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)
    request = DataRequest.objects.create(store=store, kind=DataRequestKind.ERASURE, source="shopify")

    store_erasure_run(request.pk)

    kept = ErasedContact.objects.values_list("customer", "digest")
    assert [customer for customer, _ in kept] == [jane.pk, jane.pk]  # her email and phone; none of the store's
    assert not any("jane" in digest or "3125550147" in digest for _, digest in kept)
    assert Customer.objects.get(pk=other.pk).email == ""


def test_orders_erased_before_orders_had_a_mark_of_their_own_are_marked_by_the_migration(store, jane, order):
    mark_erased_orders = import_module("orders.migrations.0017_order_erased").mark_erased_orders
    guest = OrderFactory(store=store, customer=None, external_id="299938", order_number="0907")
    personal_data_erase(store=store, customers=[jane], order_external_ids=["299938"], source=EventSource.SHOPIFY)
    later = OrderFactory(store=store, customer=jane, order_number="1201", placed_at=timezone.now() + timedelta(1))
    Order.objects.update(erased_at=None)  # as the erasures before the mark left them

    mark_erased_orders(apps, None)

    erased_at = Customer.objects.get(pk=jane.pk).erased_at
    marked = dict(Order.objects.values_list("pk", "erased_at"))
    assert marked[order.pk] == erased_at and marked[guest.pk] is not None
    assert marked[later.pk] is None  # placed after the erasure: her details came back with it


@pytest.mark.parametrize("old_key_kept", [True, False], ids=["old-key-a-fallback", "old-key-dropped"])
def test_after_a_new_secret_key_an_erased_customer_is_known_by_digest_while_the_old_key_is_a_fallback(
    settings, store, jane, order, old_key_kept
):
    personal_data_erase(store=store, customers=[jane], source=EventSource.ADMIN)
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-for-this-test-0123456789abcdefghijklmnopqrstuv"
    settings.SECRET_KEY_FALLBACKS = [old_key] if old_key_kept else []
    backfilled = OrderData(
        external_id="700003", order_number="0908", placed_at=timezone.now() - timedelta(days=200),
        customer=CustomerData(email="jane.doe@example.com", first_name="Jane"),
    )  # fmt: skip

    old = order_upsert(store=store, data=backfilled)

    assert (old.customer == jane) is old_key_kept  # dropped: read as a new customer's order
