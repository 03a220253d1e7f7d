"""The CX manager's admin: every page renders, integration data is read-only, secrets stay hidden."""

from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from notifications.defaults import DEFAULT_TEMPLATES
from orders.choices import ShipmentStatus
from orders.models import ApiToken, ReturnPolicy, Store
from playbooks.defaults import DEFAULT_CAPS
from tests.factories import (
    ActionRecordFactory,
    AgentProfileFactory,
    ApiTokenFactory,
    ApprovalFactory,
    AuditEventFactory,
    CarrierPauseFactory,
    CompensationCapFactory,
    DataRequestFactory,
    DeliveryFeedbackFactory,
    DetectorConfigFactory,
    ExceptionCaseFactory,
    ExchangeVariantFactory,
    FaqEntryFactory,
    InboundDeliveryFactory,
    KpiSettingsFactory,
    LineItemFactory,
    MessageFactory,
    MessageTemplateFactory,
    NotificationSettingsFactory,
    OrderImportFactory,
    PlaybookStepFactory,
    PlaybookVersionFactory,
    ReturnItemFactory,
    ReturnReasonRuleFactory,
    SandboxRunFactory,
    ShipmentFactory,
    StoreFactory,
    SweepRunFactory,
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
    InboundDeliveryFactory(store=shipment.store)
    DataRequestFactory(customer=shipment.order.customer)
    OrderImportFactory(store=shipment.store)
    ApiTokenFactory(store=shipment.store)
    case = ExceptionCaseFactory(shipment=shipment)
    approval = ApprovalFactory(remedy__case=case)
    AuditEventFactory(case=case)
    ActionRecordFactory(remedy=approval.remedy)
    CarrierPauseFactory()
    PlaybookStepFactory()
    PlaybookVersionFactory()
    ReturnItemFactory(return_request__order=shipment.order, exchange_for=ExchangeVariantFactory(store=shipment.store))
    ReturnReasonRuleFactory(policy__store=shipment.store)
    MessageFactory(order=shipment.order)
    DeliveryFeedbackFactory(order=shipment.order)
    FaqEntryFactory(store=shipment.store)
    MessageTemplateFactory(store=shipment.store)
    NotificationSettingsFactory(store=shipment.store)
    KpiSettingsFactory(store=shipment.store)
    for factory in (DetectorConfigFactory, CompensationCapFactory, AgentProfileFactory, SweepRunFactory,
                    SandboxRunFactory):  # fmt: skip
        factory()
    return shipment.order


def project_models():
    return [
        m
        for m in apps.get_models()
        if m._meta.app_label in {"orders", "playbooks", "notifications", "portal", "insights"}
    ]


def test_every_project_model_is_registered_or_edited_inline():
    inline = {i.model for model_admin in admin.site._registry.values() for i in model_admin.inlines}
    assert [m for m in project_models() if m not in admin.site._registry and m not in inline] == []


def registered_models():
    return [m for m in project_models() if m in admin.site._registry]


@pytest.mark.parametrize("model", registered_models(), ids=lambda m: m._meta.label)
def test_every_changelist_renders_with_data(admin_client, order_with_everything, model):
    opts = model._meta
    response = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("model", registered_models(), ids=lambda m: m._meta.label)
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


def test_the_order_page_links_to_its_exceptions_audit_trail_messages_and_returns(admin_client, order_with_everything):
    order = order_with_everything
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    for name in ["playbooks_exceptioncase", "playbooks_auditevent", "notifications_message", "orders_returnrequest"]:
        url = reverse(f"admin:{name}_changelist") + f"?order__id__exact={order.pk}"
        assert f'href="{url.replace("&", "&amp;")}"' in page
        listing = admin_client.get(url)
        assert listing.status_code == 200, name  # a lookup the admin refuses would redirect with ?e=1
        assert listing.context["cl"].queryset.exclude(order=order).count() == 0


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


def test_a_new_install_says_where_to_start_adding_a_store(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()

    assert "No store yet." in page
    assert f'href="{reverse("admin:orders_store_add")}">Add your store</a>' in page


def test_the_admin_index_is_a_landing_page_with_figures(admin_client, order_with_everything):
    page = admin_client.get(reverse("admin:index")).content.decode()

    assert "CX hub" in page
    assert "Contact rate" in page
    assert "Shipments by status" in page


def test_the_inbound_delivery_list_counts_states_per_source_and_unknown_carrier_statuses(admin_client):
    InboundDeliveryFactory(source="shopify", state="processed")
    InboundDeliveryFactory(source="shopify", state="failed", error="KeyError: 'id'")
    InboundDeliveryFactory(source="easypost", state="duplicate")
    TrackingEventFactory(status=ShipmentStatus.UNKNOWN, raw_status="ZZ_NEW_CODE", source="aftership")

    response = admin_client.get(reverse("admin:orders_inbounddelivery_changelist"))

    rows = response.context["delivery_rows"]
    states = [s.value for s in response.context["delivery_states"]]
    shopify = dict(zip(states, next(r for r in rows if r[1] == "shopify")[2], strict=True))
    assert (shopify["processed"], shopify["failed"], shopify["duplicate"]) == (1, 1, 0)
    assert response.context["unknown_statuses"] == [("aftership", "ZZ_NEW_CODE", "", 1)]
    assert "ZZ_NEW_CODE" in response.content.decode()
    assert "Nothing is waiting to be applied." in response.content.decode()


def test_the_inbound_delivery_list_says_how_old_the_backlog_is_and_how_long_deliveries_are_kept(admin_client):
    with time_machine.travel(timezone.now() - timedelta(minutes=7), tick=False):
        InboundDeliveryFactory(state="received")
    InboundDeliveryFactory(state="received")

    page = admin_client.get(reverse("admin:orders_inbounddelivery_changelist")).content.decode()

    assert "Oldest not applied yet: received 7\xa0minutes ago" in page
    assert "kept 30 days" in page


def test_failed_deliveries_are_reprocessed_by_a_bulk_action(admin_client, run_jobs):
    failed = InboundDeliveryFactory(state="failed", body='{"id": 1}', event_type="products/update")
    done = InboundDeliveryFactory(state="processed")

    response = admin_client.post(
        reverse("admin:orders_inbounddelivery_changelist"),
        {"action": "reprocess", "_selected_action": [failed.pk, done.pk]},
        follow=True,
    )
    run_jobs()

    assert "1 delivery queued" in response.content.decode()
    failed.refresh_from_db()
    done.refresh_from_db()
    assert failed.state == "ignored"  # reprocessed: a topic the hub does not act on
    assert failed.attempts == 1
    assert done.state == "processed" and done.attempts == 0


def test_a_new_api_token_shows_its_key_once_and_keeps_only_a_hash(admin_client):
    store = StoreFactory()

    response = admin_client.post(
        reverse("admin:orders_apitoken_add"), {"store": store.pk, "name": "Zendesk sidebar"}, follow=True
    )

    token = ApiToken.objects.get()
    page = response.content.decode()
    key = page.split("<code>")[1].split("</code>")[0]
    assert key.startswith("cxh_") and token.key_hash == ApiToken.hash_key(key)
    assert key not in admin_client.get(reverse("admin:orders_apitoken_change", args=[token.pk])).content.decode()


def test_tokens_are_revoked_by_a_bulk_action(admin_client):
    token = ApiTokenFactory()

    admin_client.post(reverse("admin:orders_apitoken_changelist"), {"action": "revoke", "_selected_action": [token.pk]})

    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_store_added_in_the_admin_starts_with_the_default_templates_caps_and_return_policy(admin_client):
    """Without templates no message reaches its customers, and without caps every remedy waits for an approval."""
    form = {
        "name": "Second Shop",
        "slug": "second-shop",
        "country": "GB",
        "currency": "GBP",
        "timezone": "Europe/London",
        "primary_colour": "#000000",
        "accent_colour": "#ffffff",
    }

    response = admin_client.post(reverse("admin:orders_store_add"), form, follow=True)

    store = Store.objects.get(slug="second-shop")
    assert set(store.message_templates.values_list("kind", flat=True)) == set(DEFAULT_TEMPLATES)
    assert set(store.caps.values_list("action", flat=True)) == set(DEFAULT_CAPS)
    assert ReturnPolicy.objects.filter(store=store).exists()
    assert "Second Shop starts with the default message templates" in response.content.decode()


def test_editing_a_store_adds_nothing_to_what_its_managers_kept(admin_client):
    """A manager may have deleted a default on purpose; the seed commands are there to add what is missing."""
    store = StoreFactory()
    url = reverse("admin:orders_store_change", args=[store.pk])
    form = {"name": "Renamed", "slug": store.slug, "country": "US", "currency": "USD", "timezone": "UTC",
            "primary_colour": "#000000", "accent_colour": "#ffffff"}  # fmt: skip

    assert admin_client.post(url, form).status_code == 302

    assert not store.message_templates.exists() and not store.caps.exists()


@pytest.mark.parametrize("role", ["Agent", "Analyst"], ids=["agent", "analyst"])
def test_a_view_only_store_page_shows_the_webhook_secrets_masked_never_in_clear(client, django_user_model, role):
    from django.contrib.auth.models import Group

    from cxhub.roles import roles_setup

    roles_setup()
    user = django_user_model.objects.create_user(role.lower(), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    store = StoreFactory(shopify_webhook_secret="shpss_supersecretvalue1234", stripe_webhook_secret="whsec_short")

    response = client.get(reverse("admin:orders_store_change", args=[store.pk]))

    page = response.content.decode()
    assert response.status_code == 200 and 'name="_save"' not in page
    assert "shpss_supersecretvalue1234" not in page and "whsec_short" not in page
    assert "Shopify webhook secret: set, ending …1234" in page
    assert "Stripe webhook secret: set" in page and "Easypost webhook secret: not set" in page
