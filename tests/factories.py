"""factory-boy factories for every model. Defaults build a plausible US order with one customer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from notifications.models import Message, MessageTemplate, NotificationSettings
from orders.choices import DeliveryState, EventSource, FinancialStatus, ShipmentStatus, TicketReason
from orders.models import (
    ApiToken,
    Customer,
    DataRequest,
    ErasedContact,
    ExchangeVariant,
    InboundDelivery,
    LineItem,
    Order,
    OrderImport,
    ReturnItem,
    ReturnPolicy,
    ReturnReasonRule,
    ReturnRequest,
    Shipment,
    Store,
    Ticket,
    TrackingEvent,
)
from orders.services import contact_digest
from playbooks.choices import ActorType, AuditKind, PlaybookState, RemedyState
from playbooks.models import (
    ActionRecord,
    AgentProfile,
    Approval,
    AuditEvent,
    CarrierPause,
    CompensationCap,
    DetectorConfig,
    ExceptionCase,
    Incident,
    Playbook,
    PlaybookStep,
    PlaybookVersion,
    Remedy,
    SandboxRun,
    SweepRun,
)
from portal.models import DeliveryFeedback


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Store {n}")
    slug = factory.Sequence(lambda n: f"store-{n}")
    support_email = "help@example.com"
    timezone = "America/New_York"
    country = "US"
    currency = "USD"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    store = factory.SubFactory(StoreFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = factory.Sequence(lambda n: f"+1415555{n % 10000:04d}")
    timezone = "America/Los_Angeles"
    lifetime_value = Decimal("120.00")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    store = factory.SubFactory(StoreFactory)
    customer = factory.SubFactory(CustomerFactory, store=factory.SelfAttribute("..store"))
    order_number = factory.Sequence(lambda n: f"{1000 + n}")
    external_id = factory.Sequence(lambda n: f"ext-{n}")
    placed_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=3))
    currency = "USD"
    subtotal = Decimal("50.00")
    shipping_total = Decimal("5.00")
    tax_total = Decimal("4.00")
    total = Decimal("59.00")
    financial_status = FinancialStatus.PAID
    ship_name = factory.LazyAttribute(lambda o: str(o.customer) if o.customer else "Sam Doe")
    ship_line1 = "1 Market St"
    ship_city = "San Francisco"
    ship_region = "CA"
    ship_postal_code = "94105"
    ship_country = "US"


class LineItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LineItem

    order = factory.SubFactory(OrderFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    title = "Linen shirt"
    variant = "M / Blue"
    quantity = 1
    unit_price = Decimal("50.00")


class ShipmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shipment

    order = factory.SubFactory(OrderFactory)
    store = factory.SelfAttribute("order.store")
    carrier = "usps"
    service_level = "Priority"
    tracking_code = factory.Sequence(lambda n: f"94001000000000000{n:05d}")
    label_created_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=2))
    status = ShipmentStatus.LABEL_CREATED


class TrackingEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrackingEvent

    shipment = factory.SubFactory(ShipmentFactory)
    status = ShipmentStatus.IN_TRANSIT
    raw_status = "in_transit"
    message = "Arrived at facility"
    location = "Oakland, CA"
    occurred_at = factory.LazyFunction(timezone.now)
    source = EventSource.API
    dedupe_key = factory.Sequence(lambda n: f"event-{n}")


class DataRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DataRequest

    customer = factory.SubFactory(CustomerFactory)
    store = factory.SelfAttribute("customer.store")
    kind = "copy"
    source = "shopify"
    external_id = factory.Sequence(lambda n: str(9000 + n))


class ErasedContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ErasedContact

    customer = factory.SubFactory(CustomerFactory, email="", phone="", erased_at=factory.LazyFunction(timezone.now))
    store = factory.SelfAttribute("customer.store")
    digest = factory.Sequence(lambda n: contact_digest(f"erased-{n}@example.com"))


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    store = factory.SubFactory(StoreFactory)
    reason = TicketReason.WISMO
    subject = "Where is my order?"
    created_at = factory.LazyFunction(timezone.now)


class InboundDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InboundDelivery

    source = EventSource.SHOPIFY
    store = factory.SubFactory(StoreFactory)
    event_type = "orders/create"
    delivery_id = factory.Sequence(lambda n: f"delivery-{n}")
    headers = factory.LazyFunction(lambda: {"Content-Type": "application/json"})
    body = '{"id": 1}'
    state = DeliveryState.PROCESSED


class OrderImportFactory(factory.django.DjangoModelFactory):
    """A CSV import a worker has finished: one order created."""

    class Meta:
        model = OrderImport

    store = factory.SubFactory(StoreFactory)
    file_name = "orders.csv"
    state = "done"
    total = done = rows_read = 1
    orders_created = 1


class ApiTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiToken

    store = factory.SubFactory(StoreFactory)
    name = "Warehouse WMS"
    key_prefix = factory.Sequence(lambda n: f"cxh_{n:06d}")
    key_hash = factory.Sequence(lambda n: f"{n:064x}")


class ReturnRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReturnRequest

    order = factory.SubFactory(OrderFactory)
    store = factory.SelfAttribute("order.store")
    number = factory.Sequence(lambda n: f"R{n}")
    resolution = "exchange"
    state = "label_issued"  # approved: the label exists


class ReturnItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReturnItem

    return_request = factory.SubFactory(ReturnRequestFactory)
    line_item = factory.SubFactory(LineItemFactory, order=factory.SelfAttribute("..return_request.order"))
    reason = "does_not_fit"
    exchange_variant = "L / Blue"


class ReturnPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReturnPolicy
        django_get_or_create = ("store",)

    store = factory.SubFactory(StoreFactory)
    window_days = 30
    return_address = "Returns dept.\n1 Warehouse Way\nReno NV 89501"


class ReturnReasonRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReturnReasonRule

    policy = factory.SubFactory(ReturnPolicyFactory)
    reason = "damaged"
    free_return_shipping = True
    photo_required = True


class ExchangeVariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExchangeVariant

    store = factory.SubFactory(StoreFactory)
    product = "Linen shirt"
    title = factory.Sequence(lambda n: f"Size {n}")
    sku = factory.Sequence(lambda n: f"SHIRT-{n}")
    available = 5


# --- playbooks ---------------------------------------------------------------------------------------------------


class DetectorConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DetectorConfig
        django_get_or_create = ("kind",)

    kind = "no_first_scan"
    params = factory.LazyFunction(dict)


class ExceptionCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExceptionCase

    shipment = factory.SubFactory(ShipmentFactory)
    order = factory.SelfAttribute("shipment.order")
    store = factory.SelfAttribute("order.store")
    kind = "no_first_scan"
    detected_at = factory.LazyFunction(timezone.now)
    facts = factory.LazyFunction(lambda: {"hours_since_label": 50})
    explanation = "Label created 50 hours ago and no carrier scan yet (threshold 48 hours)."


class PlaybookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Playbook

    name = factory.Sequence(lambda n: f"Playbook {n}")
    trigger = "no_first_scan"
    state = PlaybookState.ACTIVE


class PlaybookStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlaybookStep

    playbook = factory.SubFactory(PlaybookFactory)
    position = factory.Sequence(lambda n: n + 1)
    action = "notify"
    params = factory.LazyFunction(lambda: {"template": "delay", "channel": "sms"})


class PlaybookVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlaybookVersion

    playbook = factory.SubFactory(PlaybookFactory)
    number = factory.Sequence(lambda n: n + 1)
    snapshot = factory.LazyFunction(lambda: {"steps": []})


class CompensationCapFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CompensationCap

    store = factory.SubFactory(StoreFactory)
    action = "coupon"
    max_auto_amount = Decimal("10.00")
    max_per_customer_30d = Decimal("25.00")
    daily_budget = Decimal("500.00")
    vip_multiplier = Decimal("2.00")


class RemedyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Remedy

    case = factory.SubFactory(ExceptionCaseFactory)
    position = factory.Sequence(lambda n: n + 1)
    action = "coupon"
    amount = Decimal("10.00")
    currency = "USD"


class ApprovalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Approval

    remedy = factory.SubFactory(RemedyFactory, state=RemedyState.NEEDS_APPROVAL, amount=Decimal("40.00"))
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=4))
    exceeded = factory.LazyFunction(lambda: ["max_auto_amount"])


class AgentProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentProfile

    user = factory.SubFactory("tests.factories.UserFactory")
    approval_limit = Decimal("50.00")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"agent{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    case = factory.SubFactory(ExceptionCaseFactory)
    store = factory.SelfAttribute("case.store")
    order = factory.SelfAttribute("case.order")
    kind = AuditKind.DETECTED
    actor_type = ActorType.SYSTEM
    message = "Label created 50 hours ago and no carrier scan yet."


class SweepRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SweepRun

    detector = "no_first_scan"
    started_at = factory.LazyFunction(timezone.now)


class SandboxRunFactory(factory.django.DjangoModelFactory):
    """A sandbox run a worker has finished: one exception, one notice and one coupon paid."""

    class Meta:
        model = SandboxRun

    playbook = factory.SubFactory(PlaybookFactory)
    playbook_version = 1
    since = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))
    until = factory.LazyFunction(timezone.now)
    state = "done"
    total = done = 1
    report = factory.LazyFunction(
        lambda: {
            "exceptions": 1,
            "matched": 1,
            "held_out": 0,
            "messages_by_channel": {"email": 1},
            "actions": {"notify": 1, "coupon": 1},
            "compensation_by_action": {"coupon": "10.00"},
            "compensation_total": "10.00",
            "approvals_needed": 0,
            "approvals_by_cap": {},
            "approval_amount": "0.00",
        }
    )


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    carrier = "usps"
    region = "CA"
    detected_at = factory.LazyFunction(timezone.now)
    window_hours = 6
    recent_count = 40
    baseline_count = 20
    baseline_hours = 336
    ratio = Decimal("112.0")
    explanation = "40 problems with USPS to CA in the last 6 hours: 112.0x the rate of the 14 days before."


class CarrierPauseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CarrierPause

    carrier = "usps"
    region = "CA"
    incident = factory.SubFactory(
        IncidentFactory, carrier=factory.SelfAttribute("..carrier"), region=factory.SelfAttribute("..region")
    )


class ActionRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionRecord

    remedy = factory.SubFactory(RemedyFactory)
    operation = "coupon"
    payload = factory.LazyFunction(lambda: {"amount": "10.00"})
    reference = factory.Sequence(lambda n: f"COUP-{n:010d}")


# --- notifications --------------------------------------------------------------------------------------------


class NotificationSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotificationSettings
        django_get_or_create = ("store",)

    store = factory.SubFactory(StoreFactory)


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageTemplate
        django_get_or_create = ("store", "kind", "channel")

    store = factory.SubFactory(StoreFactory)
    kind = "delay"
    channel = "sms"
    body_text = "Hi {{ first_name }}, order {{ order_number }} is running late. We're on it."


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    order = factory.SubFactory(OrderFactory)
    store = factory.SelfAttribute("order.store")
    customer = factory.SelfAttribute("order.customer")
    kind = "delay"
    channel = "sms"
    to = factory.SelfAttribute("customer.phone")
    body_text = "Your order is running late. We're on it."
    idempotency_key = factory.Sequence(lambda n: f"test:{n}")


# --- portal -----------------------------------------------------------------------------------------------------


class DeliveryFeedbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryFeedback

    order = factory.SubFactory(OrderFactory)
    rating = 5


from portal.models import FaqEntry  # noqa: E402  (appended: the imports above are shared by several hands)


class FaqEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FaqEntry

    store = factory.SubFactory(StoreFactory)
    question = factory.Sequence(lambda n: f"Question {n}?")
    answer = "An answer."
    order_states = factory.LazyFunction(lambda: ["in_transit"])


# --- insights ---------------------------------------------------------------------------------------------------

from insights.models import KpiSettings  # noqa: E402  (appended: the imports above are shared by several hands)


class KpiSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KpiSettings
        django_get_or_create = ("store",)

    store = factory.SubFactory(StoreFactory)
    cost_per_ticket = Decimal("5.00")
