"""What the returns pages say and offer: the variants to exchange into, the deadlines, errors, the label
and its address, and how the pages are cached."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orders.choices import ReturnState
from orders.models import ReturnPolicy, ReturnRequest
from portal.links import tracking_token
from returns.defaults import policy_seed
from returns.demo import DEMO_RETURN_ADDRESSES, return_address_seed
from returns.eligibility import order_eligibility
from returns.links import return_token
from returns.services import return_mark_in_transit, return_mark_received, return_reject
from tests.factories import ExchangeVariantFactory, LineItemFactory, ReturnReasonRuleFactory, StoreFactory

from .conftest import item

pytestmark = pytest.mark.django_db


def start_url(order) -> str:
    return reverse("returns:start", args=[tracking_token(order)])


def choose(order, resolution="refund", **per_item):
    shirt = item(order, "SHIRT-M").pk
    data = {"resolution": resolution, f"item-{shirt}-selected": "on", f"item-{shirt}-reason": "does_not_fit"}
    data.update({k.replace("ITEM", f"item-{shirt}"): v for k, v in per_item.items()})
    return data


def options_of(order, now, sku):
    found = next(i for i in order_eligibility(order, now=now).items if i.line_item.sku == sku)
    return [v.title for v in found.exchange_options]


def boots_in_stock(store, sizes=("US 11", "US 10", "US 9", "US 8")):
    """Stock as the demo seeds it: one SKU per variant, the product's SKU plus the size."""
    for size in sizes:
        sku = f"NW-BOOT-02-{size.replace(' ', '-')}"
        ExchangeVariantFactory(store=store, product="Trail boots", title=size, sku=sku, available=8)


# --- 1. Exchange: never the variant bought, sizes in order ------------------------------------------


def test_an_exchange_never_offers_the_variant_bought_when_the_line_has_the_products_sku(order, store, now):
    LineItemFactory(order=order, title="Trail boots", variant="US 10", sku="NW-BOOT-02")
    boots_in_stock(store)

    assert options_of(order, now, "NW-BOOT-02") == ["US 8", "US 9", "US 11"]


def test_an_exchange_never_offers_the_variant_bought_when_the_line_has_the_variants_sku(order, store, now):
    # Shopify's line SKU is the variant's own; its variant title may be spelt differently from the stock's.
    LineItemFactory(order=order, title="Trail boots", variant="10", sku="NW-BOOT-02-US-10")
    boots_in_stock(store)

    assert options_of(order, now, "NW-BOOT-02-US-10") == ["US 8", "US 9", "US 11"]


def test_a_product_with_no_other_variant_offers_no_exchange(order, store, now, client):
    order.line_items.exclude(sku="GIFT-25").delete()
    LineItemFactory(order=order, title="Wool beanie", variant="One size", sku="NW-BEAN-05")
    ExchangeVariantFactory(store=store, product="Wool beanie", title="One size", sku="NW-BEAN-05-ONE-SIZE")

    assert options_of(order, now, "NW-BEAN-05") == []
    assert [v for v, _ in order_eligibility(order, now=now).resolutions] == ["refund", "store_credit"]
    page = client.get(start_url(order)).content.decode()
    assert 'value="exchange"' not in page and "One size</option>" not in page


def test_letter_sizes_are_offered_smallest_first(order, store, now):
    for title in ["XL", "L", "S", "XS"]:
        ExchangeVariantFactory(store=store, product="Linen shirt", title=title, sku=f"SHIRT-{title}")

    assert options_of(order, now, "SHIRT-M") == ["XS", "S", "L", "XL"]


# --- 2. Deadlines: the normal one, and the longer ones by reason --------------------------------------


def test_the_page_shows_the_normal_deadline_and_names_the_reasons_with_a_longer_one(client, order, policy, now):
    ReturnReasonRuleFactory(policy=policy, reason="damaged", window_days=60)

    page = client.get(start_url(order)).content.decode()

    # Delivered Fri 20 Nov: 30 days for most reasons, 60 for damaged items.
    assert "return by Sun 20 Dec · Arrived damaged: until Tue 19 Jan" in page
    assert "return by Tue 19 Jan" not in page


def test_once_the_normal_window_has_closed_the_longer_reasons_deadline_is_the_one_shown(client, order, policy, now):
    ReturnReasonRuleFactory(policy=policy, reason="damaged", window_days=60)

    later = now + dt.timedelta(days=40)
    shirt = next(i for i in order_eligibility(order, now=later).items if i.line_item.sku == "SHIRT-M")

    assert shirt.deadline == now - dt.timedelta(days=3) + dt.timedelta(days=60) and shirt.other_deadlines == []


# --- 4. Every field's error is shown ---------------------------------------------------------------------


def test_an_invalid_quantity_comes_back_with_its_message(client, order):
    response = client.post(start_url(order), choose(order, **{"ITEM-quantity": "5"}))

    assert response.status_code == 400
    assert "Select a valid choice. 5 is not one of the available choices." in response.content.decode()
    assert not ReturnRequest.objects.exists()


def test_a_photo_that_is_not_an_image_comes_back_with_a_message_naming_every_accepted_format(client, order):
    note = SimpleUploadedFile("note.txt", b"just text", "text/plain")

    response = client.post(start_url(order), choose(order, **{"ITEM-photo": note}))

    assert response.status_code == 400
    assert "send a JPEG, PNG, GIF, WebP or HEIC image." in response.content.decode()
    assert not ReturnRequest.objects.exists()


# --- 3. The label only while the parcel is to be dropped off ------------------------------------------------


def return_made(client, order) -> ReturnRequest:
    client.post(start_url(order), choose(order))
    return ReturnRequest.objects.get()


def test_the_label_is_printable_while_the_parcel_is_to_be_dropped_off(client, order):
    ret = return_made(client, order)
    assert ret.state == ReturnState.LABEL_ISSUED

    page = client.get(reverse("returns:label", args=[return_token(ret)])).content.decode()

    assert "cut out the label" in page and ret.return_tracking_code in page


@pytest.mark.parametrize("step", ["in_transit", "received", "rejected"])
def test_after_drop_off_or_rejection_the_label_link_leads_to_the_returns_page(client, order, run_jobs, step):
    ret = return_made(client, order)
    if step == "rejected":
        return_reject(request=ret, reason="Outside the window.")
    else:
        return_mark_in_transit(request=ret)
        if step == "received":
            return_mark_received(request=ret)
            run_jobs()

    token = return_token(ret)
    response = client.get(reverse("returns:label", args=[token]))

    assert response.status_code == 302 and response.url == reverse("returns:status", args=[token])
    page = client.get(response.url).content.decode()
    assert "Show this at drop-off" not in page and "Print a label" not in page


# --- 5. A bad return link says so ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/returns/r/1:bad/", "/returns/r/1:bad/label/", "/returns/1:bad/"])
def test_a_bad_return_link_says_it_is_a_return_link(client, path):
    response = client.get(path)

    page = response.content.decode()
    assert response.status_code == 404 and "We couldn't open this return link" in page
    assert "tracking link" not in page


# --- 9. The label's address ---------------------------------------------------------------------------------


def test_the_label_shows_each_line_of_the_return_address_under_the_stores_name(client, order, policy):
    policy.return_address = "Acme Linen\nReturns dept.\n1 Warehouse Way\nReno NV 89501"
    policy.save(update_fields=["return_address"])
    ret = return_made(client, order)

    page = client.get(reverse("returns:label", args=[return_token(ret)])).content.decode()

    assert '<p class="to">Acme Linen<br>Returns dept.<br>1 Warehouse Way<br>Reno NV 89501</p>' in page


def test_the_demo_stores_get_a_full_return_address_and_other_stores_none_made_up():
    demo = StoreFactory(slug="northwind", name="Northwind Outfitters")
    other = StoreFactory(slug="acme", name="Acme")
    policy_seed(demo)
    policy_seed(other)

    assert return_address_seed(demo) and not return_address_seed(other)

    address = ReturnPolicy.objects.get(store=demo).return_address
    assert address == DEMO_RETURN_ADDRESSES["northwind"] and "Oakland, CA 94607" in address
    assert ReturnPolicy.objects.get(store=other).return_address == ""


def test_the_demo_address_never_overwrites_one_cx_wrote():
    demo = StoreFactory(slug="northwind", name="Northwind Outfitters")
    policy_seed(demo)
    ReturnPolicy.objects.filter(store=demo).update(return_address="Our own\n1 Real Street")

    assert not return_address_seed(demo)
    assert ReturnPolicy.objects.get(store=demo).return_address == "Our own\n1 Real Street"


# --- 11. The status line reads naturally ------------------------------------------------------------------


def test_the_return_page_says_what_was_asked_for_in_plain_words(client, order, size_large):
    client.post(start_url(order), choose(order, "exchange", **{"ITEM-exchange": size_large.pk}))
    ret = ReturnRequest.objects.get()

    page = client.get(reverse("returns:status", args=[return_token(ret)])).content.decode()

    assert "Items from order 1042, for an exchange." in page and "· Exchange for another variant" not in page


# --- 12. Never cached ---------------------------------------------------------------------------------------


def test_return_pages_are_never_cached(client, order):
    ret = return_made(client, order)
    token = return_token(ret)

    for url in [
        "/returns/",
        start_url(order),
        reverse("returns:status", args=[token]),
        reverse("returns:label", args=[token]),
    ]:
        cache_control = client.get(url)["Cache-Control"]
        assert "private" in cache_control and "no-store" in cache_control, url
