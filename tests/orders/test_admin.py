"""The CX manager's admin: every page renders, integration data is read-only, secrets stay hidden."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from orders.choices import ShipmentStatus
from tests.factories import (
    LineItemFactory,
    ShipmentFactory,
    StoreFactory,
    TicketFactory,
    TrackingEventFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def order_with_everything():
    shipment = ShipmentFactory()
    LineItemFactory(order=shipment.order, title="Trail boots")
    TrackingEventFactory(shipment=shipment, status=ShipmentStatus.IN_TRANSIT, message="Arrived at Reno hub")
    TrackingEventFactory(shipment=shipment, status=ShipmentStatus.DELIVERED, message="Delivered, front porch")
    TicketFactory(store=shipment.store, order=shipment.order, customer=shipment.order.customer)
    return shipment.order


def project_models():
    return [m for m in apps.get_models() if m._meta.app_label in {"orders", "playbooks", "notifications"}]


def test_every_project_model_is_registered():
    assert [m for m in project_models() if m not in admin.site._registry] == []


@pytest.mark.parametrize("model", project_models(), ids=lambda m: m._meta.label)
def test_every_changelist_renders_with_data(admin_client, order_with_everything, model):
    opts = model._meta
    response = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("model", project_models(), ids=lambda m: m._meta.label)
def test_every_change_page_renders(admin_client, order_with_everything, model):
    opts = model._meta
    obj = model.objects.first()
    response = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    assert response.status_code == 200


def test_the_order_page_shows_items_shipments_and_the_timeline_newest_first(admin_client, order_with_everything):
    response = admin_client.get(reverse("admin:orders_order_change", args=[order_with_everything.pk]))

    page = response.content.decode()
    assert "Trail boots" in page
    assert order_with_everything.shipments.get().tracking_code in page
    assert page.index("Delivered, front porch") < page.index("Arrived at Reno hub")


def test_orders_from_integrations_cannot_be_edited_or_added(admin_client, order_with_everything):
    response = admin_client.get(reverse("admin:orders_order_change", args=[order_with_everything.pk]))

    assert b'name="_save"' not in response.content
    assert admin_client.get(reverse("admin:orders_order_add")).status_code == 403


def test_the_changelist_filters_answer_cx_questions(admin_client, order_with_everything):
    url = reverse("admin:orders_shipment_changelist")
    for query in ("attention=no_scan", "attention=quiet_5d", "attention=problem"):
        assert admin_client.get(f"{url}?{query}").status_code == 200
    url = reverse("admin:orders_order_changelist")
    assert admin_client.get(f"{url}?promise=late_to_ship&cancelled=no").status_code == 200


def test_webhook_secrets_are_never_shown_and_a_blank_field_keeps_them(admin_client):
    store = StoreFactory(shopify_webhook_secret="shpss_supersecretvalue1234")
    url = reverse("admin:orders_store_change", args=[store.pk])

    page = admin_client.get(url).content.decode()
    assert "shpss_supersecretvalue1234" not in page
    assert "ending …1234" in page

    form = {
        "name": store.name,
        "slug": store.slug,
        "country": "US",
        "currency": "USD",
        "timezone": "UTC",
        "primary_colour": "#000000",
        "accent_colour": "#ffffff",
        "shopify_webhook_secret": "",
        "stripe_webhook_secret": "whsec_new",
    }
    response = admin_client.post(url, form)

    assert response.status_code == 302
    store.refresh_from_db()
    assert store.shopify_webhook_secret == "shpss_supersecretvalue1234"
    assert store.stripe_webhook_secret == "whsec_new"


def test_the_admin_index_is_a_landing_page_with_figures(admin_client, order_with_everything):
    page = admin_client.get(reverse("admin:index")).content.decode()

    assert "CX hub" in page
    assert "Contact rate" in page
    assert "Shipments by status" in page
