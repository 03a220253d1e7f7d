"""After delivery: "Did everything arrive OK?" (CSAT) and "I didn't receive it", which the playbook takes over."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.choices import ShipmentStatus
from orders.models import Ticket
from playbooks.defaults import caps_seed, playbooks_seed
from playbooks.models import ExceptionCase, Playbook
from portal.links import tracking_token
from portal.models import DeliveryFeedback
from tests.factories import LineItemFactory, OrderFactory, ShipmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    order = OrderFactory(order_number="1042")
    LineItemFactory(order=order)
    ShipmentFactory(order=order, status=ShipmentStatus.DELIVERED, delivered_at=timezone.now() - dt.timedelta(hours=5))
    return order


def url(order, name: str) -> str:
    return reverse(f"portal:{name}", args=[tracking_token(order)])


def test_it_asks_how_it_went_once_something_was_delivered(client, order):
    page = client.get(url(order, "tracking")).content.decode()

    assert "Did everything arrive OK?" in page and "I didn't receive it" in page
    assert 'name="rating"' in page and "csrfmiddlewaretoken" in page


def test_a_split_order_waits_for_its_last_parcel_before_asking_how_it_went(client, order):
    ShipmentFactory(order=order, status=ShipmentStatus.IN_TRANSIT)
    ShipmentFactory(order=order, status=ShipmentStatus.RETURNED_TO_SENDER)  # not coming: nothing to wait for

    page = client.get(url(order, "tracking")).content.decode()

    assert "Part of your order has arrived" in page and "Did everything arrive OK?" not in page
    assert 'name="rating"' not in page
    assert "I didn't receive it" in page and "Return or exchange an item" in page


def test_it_does_not_ask_before_delivery(client):
    order = OrderFactory()
    ShipmentFactory(order=order, status=ShipmentStatus.IN_TRANSIT)

    assert "Did everything arrive OK?" not in client.get(url(order, "tracking")).content.decode()
    assert client.post(url(order, "feedback"), {"rating": 5}).status_code == 302
    assert not DeliveryFeedback.objects.exists()


def test_a_rating_is_recorded_and_a_second_answer_replaces_the_first(client, order):
    response = client.post(url(order, "feedback"), {"rating": "2", "comment": "Box was crushed"})
    client.post(url(order, "feedback"), {"rating": "4", "comment": ""})

    assert response.status_code == 302 and "done=feedback" in response.url
    feedback = DeliveryFeedback.objects.get()
    assert (feedback.order, feedback.rating, feedback.comment) == (order, 4, "")
    assert "Thanks for your rating: <strong>4/5</strong>" in client.get(url(order, "tracking")).content.decode()


@pytest.mark.parametrize("rating", ["", "0", "6", "five"])
def test_a_rating_outside_one_to_five_is_refused_with_a_clear_message(client, order, rating):
    response = client.post(url(order, "feedback"), {"rating": rating})

    assert response.status_code == 400
    assert "Choose a rating" in response.content.decode() or "valid choice" in response.content.decode()
    assert not DeliveryFeedback.objects.exists()


def test_the_forms_need_a_csrf_token(order):
    strict = Client(enforce_csrf_checks=True)

    assert strict.post(url(order, "feedback"), {"rating": "5"}).status_code == 403
    assert strict.post(url(order, "not_received"), {}).status_code == 403
    assert not DeliveryFeedback.objects.exists() and not Ticket.objects.exists()


def test_a_tampered_link_cannot_post(client, order):
    assert client.post("/track/1:forged/feedback/", {"rating": "5"}).status_code == 404
    assert client.post("/track/1:forged/not-received/", {}).status_code == 404


def test_i_didnt_receive_it_opens_one_claim_that_the_playbook_takes_over(client, order, run_jobs):
    playbooks_seed()
    Playbook.objects.update(holdout_percent=0)
    caps_seed(order.store)

    response = client.post(url(order, "not_received"), {"note": "Nothing on the porch"})
    client.post(url(order, "not_received"), {"note": "Still nothing"})  # a second click
    run_jobs()

    assert "done=claim" in response.url
    ticket = Ticket.objects.get()
    assert (ticket.reason, ticket.channel, ticket.source, ticket.order) == (
        "delivery_problem",
        "web",
        "customer",
        order,
    )
    assert ticket.body == "Nothing on the porch"
    case = ExceptionCase.objects.get(kind="delivered_not_received")
    assert case.playbook_version.playbook.name == "Delivered but not received: instant replacement"
    assert "We're on it" in client.get(url(order, "tracking") + "?done=claim").content.decode()


def test_a_comment_over_2000_characters_is_refused_with_its_error_shown(client, order):
    response = client.post(url(order, "feedback"), {"rating": "4", "comment": "x" * 2001})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Keep it to 2000 characters or fewer (it has 2001)." in page
    assert not DeliveryFeedback.objects.exists()


def test_a_note_over_2000_characters_is_refused_with_its_error_shown_and_no_claim(client, order):
    response = client.post(url(order, "not_received"), {"note": "y" * 2001})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Keep it to 2000 characters or fewer (it has 2001)." in page
    assert "<details open>" in page  # the form with the error is not hidden away
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("name", ["feedback", "not_received"])
def test_a_get_of_a_form_address_leads_to_the_tracking_page(client, order, name):
    response = client.get(url(order, name))

    assert response.status_code == 302 and response.url == url(order, "tracking")
    assert not DeliveryFeedback.objects.exists() and not Ticket.objects.exists()


def test_a_failed_csrf_check_gets_a_friendly_page(order):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(url(order, "feedback"), {"rating": "5"})

    assert response.status_code == 403
    page = response.content.decode()
    assert "CSRF verification failed" not in page
    assert "Reload the page" in page and "try again" in page and "cookies" in page
    assert f'href="{url(order, "feedback")}"' in page
    assert "no-store" in response["Cache-Control"]


def test_the_earlier_rating_is_chosen_when_the_page_offers_to_change_it(client, order):
    client.post(url(order, "feedback"), {"rating": "4"})

    page = client.get(url(order, "tracking")).content.decode()

    assert "You can change it below" in page
    assert 'value="4" id="id_rating_3" checked' in page or ('value="4"' in page and "checked" in page)
    assert page.count("checked") == 1
