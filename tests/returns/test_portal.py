"""The returns portal through its real URLs: find the order, choose, follow the return."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from orders.choices import ReturnState
from orders.models import ReturnRequest
from portal.links import tracking_token
from returns.links import return_token
from tests.factories import ReturnReasonRuleFactory

from .conftest import item

pytestmark = pytest.mark.django_db


def start_url(order) -> str:
    return reverse("returns:start", args=[tracking_token(order)])


def choose(order, resolution="refund", **per_item):
    """Form data ticking the shirt (or the given items) with a reason."""
    shirt = item(order, "SHIRT-M").pk
    data = {"resolution": resolution, f"item-{shirt}-selected": "on", f"item-{shirt}-reason": "does_not_fit"}
    data.update({k.replace("ITEM", f"item-{shirt}"): v for k, v in per_item.items()})
    return data


def test_the_lookup_takes_the_customer_to_their_orders_return_page(client, order):
    page = client.get("/returns/").content.decode()
    assert "Start a return or exchange" in page and 'action="/returns/"' in page

    response = client.post("/returns/", {"order_number": "#1042", "contact": "JANE@example.com"})

    assert response.status_code == 302 and response.url == start_url(order)


def test_the_lookup_says_nothing_about_orders_it_cannot_match_and_is_rate_limited(client, order):
    for _ in range(5):
        response = client.post("/returns/", {"order_number": "1042", "contact": "guess@example.com"})
        assert "We couldn&#x27;t find that order" in response.content.decode()

    locked = client.post("/returns/", {"order_number": "1042", "contact": "jane@example.com"})
    assert locked.status_code == 429 and "Too many attempts" in locked.content.decode()


def test_the_page_lists_each_item_with_its_eligibility_and_the_policys_choices(client, order, size_large):
    page = client.get(start_url(order)).content.decode()

    assert "Linen shirt (M)" in page and "return by Sun 20 Dec" in page
    assert "Final sale: this item can&#x27;t be returned." in page
    assert 'value="exchange"' in page and ">L</option>" in page
    assert "less $5.00 return shipping" in page
    assert 'enctype="multipart/form-data"' in page and "csrfmiddlewaretoken" in page


def test_a_refund_return_goes_straight_to_its_page_with_a_qr_code(client, order):
    response = client.post(start_url(order), choose(order))

    ret = ReturnRequest.objects.get()
    assert response.status_code == 302 and response.url == reverse("returns:status", args=[return_token(ret)])
    page = client.get(response.url).content.decode()
    assert "Return R1042-1" in page and "Show this at drop-off" in page and "<svg" in page
    assert ret.return_tracking_code in page and 'aria-current="step"' in page
    assert "Label issued" in page and "Refunded" in page


def test_the_printable_label_has_the_stores_return_address_and_no_customer_address(client, order):
    client.post(start_url(order), choose(order))
    ret = ReturnRequest.objects.get()

    page = client.get(reverse("returns:label", args=[return_token(ret)])).content.decode()

    assert "1 Warehouse Way" in page and "Jane D." in page and "<svg" in page
    assert order.ship_line1 not in page and "jane@example.com" not in page


def test_an_exchange_reserves_the_chosen_size(client, order, size_large):
    client.post(start_url(order), choose(order, "exchange", **{"ITEM-exchange": size_large.pk}))

    ret = ReturnRequest.objects.get()
    assert ret.resolution == "exchange" and ret.items.get().exchange_for == size_large
    size_large.refresh_from_db()
    assert size_large.available == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"resolution": "refund"}, "Tick at least one item to return."),
        ("no_reason", "Choose a reason for this item."),
        ("no_resolution", "Choose a refund, store credit or an exchange."),
        ("no_variant", "Choose the variant you would like instead."),
    ],
)
def test_an_incomplete_form_comes_back_with_a_clear_message_and_nothing_is_stored(client, order, size_large, data,
                                                                                  message):  # fmt: skip
    if data == "no_reason":
        data = choose(order, **{"ITEM-reason": ""})
    elif data == "no_resolution":
        data = choose(order, resolution="")
    elif data == "no_variant":
        data = choose(order, resolution="exchange")

    response = client.post(start_url(order), data)

    assert response.status_code == 400 and message in response.content.decode()
    assert not ReturnRequest.objects.exists()


def test_a_damaged_item_needs_a_photo_and_then_waits_for_review(client, order, policy):
    ReturnReasonRuleFactory(policy=policy, reason="damaged", photo_required=True, needs_approval=True)

    refused = client.post(start_url(order), choose(order, **{"ITEM-reason": "damaged"}))
    assert refused.status_code == 400 and "Add a photo" in refused.content.decode()

    photo = SimpleUploadedFile("crack.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "image/png")
    response = client.post(start_url(order), choose(order, **{"ITEM-reason": "damaged", "ITEM-photo": photo}))

    ret = ReturnRequest.objects.get()
    assert ret.state == ReturnState.REQUESTED
    page = client.get(response.url).content.decode()
    assert "reviewing your request" in page and "Show this at drop-off" not in page


def test_an_order_with_nothing_returnable_says_why_for_each_item(client, order, policy):
    policy.window_days = 1
    policy.save()

    page = client.get(start_url(order)).content.decode()

    assert "Nothing to return right now" in page and "The return window closed on" in page


def test_the_form_needs_a_csrf_token(order):
    response = Client(enforce_csrf_checks=True).post(start_url(order), choose(order))

    assert response.status_code == 403 and not ReturnRequest.objects.exists()


@pytest.mark.parametrize("path", ["/returns/1:forged/", "/returns/r/1:forged/", "/returns/r/1:forged/label/"])
def test_tampered_links_get_a_friendly_404(client, path):
    response = client.get(path)

    assert response.status_code == 404 and "<html" in response.content.decode()


def test_a_tracking_token_is_not_a_return_token(client, order):
    client.post(start_url(order), choose(order))

    assert client.get(f"/returns/r/{tracking_token(order)}/").status_code == 404


def test_the_return_page_shows_each_step_as_it_happens(client, order, run_jobs):
    from returns.services import return_mark_in_transit, return_mark_received

    client.post(start_url(order), choose(order))
    ret = ReturnRequest.objects.get()
    return_mark_in_transit(request=ret)
    return_mark_received(request=ret)
    run_jobs()

    page = client.get(reverse("returns:status", args=[return_token(ret)])).content.decode()
    assert page.count('class="done') == 5 and "Refunded: $35.00 to your original payment." in page
    assert "Show this at drop-off" not in page


def test_the_return_page_writes_money_as_the_stores_country_does(client, order, store, run_jobs):
    from returns.services import return_mark_received

    store.country = "GB"
    store.save()
    order.currency = "GBP"
    order.save()
    client.post(start_url(order), choose(order, resolution="store_credit"))
    ret = ReturnRequest.objects.get()
    return_mark_received(request=ret)
    run_jobs()

    page = client.get(reverse("returns:status", args=[return_token(ret)])).content.decode()
    assert "Store credit: £40.00." in page


@pytest.mark.parametrize(
    ("customer_timezone", "shown"),
    [
        ("Europe/Paris", "Mon 23 Nov, 16:00 CET"),  # the visitor is the customer: their own clock
        ("", "Mon 23 Nov, 10:00 EST"),  # not known: the store's (New York)
    ],
)
def test_the_return_page_times_its_steps_on_the_customers_clock_and_names_the_zone(
    client, order, customer_timezone, shown
):
    order.customer.timezone = customer_timezone
    order.customer.save()
    client.post(start_url(order), choose(order))  # at 15:00 UTC (the frozen clock)
    ret = ReturnRequest.objects.get()

    page = client.get(reverse("returns:status", args=[return_token(ret)])).content.decode()

    assert f'<time datetime="2026-11-23T10:00:00-05:00">{shown}</time>' in page


def test_the_tracking_page_links_to_returns_after_delivery(client, order):
    page = client.get(reverse("portal:tracking", args=[tracking_token(order)])).content.decode()

    assert start_url(order) in page


def test_an_oversized_upload_is_refused_before_it_is_read(client, order, settings):
    settings.RETURN_PHOTO_MAX_BYTES = 1024
    photo = SimpleUploadedFile("huge.jpg", b"\xff\xd8\xff" + b"\x00" * 400_000, "image/jpeg")

    response = client.post(start_url(order), choose(order, **{"ITEM-photo": photo}))

    assert response.status_code == 413 and "That upload is too large" in response.content.decode()
    assert not ReturnRequest.objects.exists()
