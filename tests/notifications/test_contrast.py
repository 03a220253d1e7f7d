"""Buttons and links in the store's colours stay readable (WCAG AA, 4.5:1): the unsubscribe page and the
emails use the tracking page's `branding()`."""

from __future__ import annotations

import re

import pytest

from notifications.channels.email import branded_html
from notifications.unsubscribe import unsubscribe_token
from orders.models import Store
from portal.branding import branding, contrast
from tests.factories import CustomerFactory, StoreFactory

pytestmark = pytest.mark.django_db

AMBER = "#d97706"  # white on it is 3.19:1


@pytest.fixture
def amber_store():
    return StoreFactory(name="Northwind", primary_colour="#1f2937", accent_colour=AMBER)


def test_the_unsubscribe_button_and_links_are_readable_with_a_pale_accent(client, amber_store):
    customer = CustomerFactory(store=amber_store, email="maya@example.com")

    page = client.get(f"/unsubscribe/{unsubscribe_token(customer)}/").content.decode()

    brand = branding(amber_store)
    assert f"--link: {brand['link']}; --on-link: {brand['on_link']};" in page
    assert "button { background: var(--link); color: var(--on-link);" in page
    assert contrast(brand["link"], brand["on_link"]) >= 4.5 and contrast(brand["link"], "#ffffff") >= 4.5
    assert AMBER not in page


def test_an_email_colours_its_button_and_links_readably_with_a_pale_accent(amber_store):
    brand = branding(amber_store)

    html = branded_html(store=amber_store, kind="delay", subject="Your parcel", text="Hi\n\nhttps://example.com/")

    button = re.search(r"a\.cx-button \{[^}]*\}", html).group(0)
    assert f"background: {brand['link']};" in button and f"color: {brand['on_link']} !important;" in button
    assert f".cx-content a {{ color: {brand['link']}; }}" in html
    assert contrast(brand["link"], brand["on_link"]) >= 4.5
    assert f"color:{AMBER}" not in html and f"background: {AMBER}" not in html


def test_a_colour_that_is_not_a_hex_colour_never_reaches_a_style(amber_store):
    # The admin validates colours; rows written around it must still not inject CSS into pages or emails.
    Store.objects.filter(pk=amber_store.pk).update(primary_colour="red;}", accent_colour="#12 456")
    amber_store.refresh_from_db()

    assert branding(amber_store) == branding(None)
