"""The orders app's vocabularies. Values are stored in the database: never rename one."""

from django.db import models


class FinancialStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    FAILED = "failed", "Payment failed"
    REFUNDED = "refunded", "Refunded"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"


class FulfillmentStatus(models.TextChoices):
    UNFULFILLED = "unfulfilled", "Unfulfilled"
    PARTIAL = "partial", "Partially fulfilled"
    FULFILLED = "fulfilled", "Fulfilled"
    RESTOCKED = "restocked", "Restocked"


class AddressVerification(models.TextChoices):
    UNVERIFIED = "unverified", "Not verified"
    VERIFIED = "verified", "Verified"
    FAILED = "failed", "Verification failed"


class ShipmentStatus(models.TextChoices):
    """Canonical shipment statuses every carrier vocabulary is mapped onto."""

    LABEL_CREATED = "label_created", "Label created"
    IN_TRANSIT = "in_transit", "In transit"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    ATTEMPTED_DELIVERY = "attempted_delivery", "Delivery attempted"
    AVAILABLE_FOR_PICKUP = "available_for_pickup", "Available for pickup"
    DELIVERED = "delivered", "Delivered"
    EXCEPTION = "exception", "Exception"
    RETURNED_TO_SENDER = "returned_to_sender", "Returned to sender"
    CANCELLED = "cancelled", "Cancelled"
    UNKNOWN = "unknown", "Unknown"


# Statuses after which a shipment is no longer moving towards the customer.
FINAL_SHIPMENT_STATUSES = frozenset(
    {ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED_TO_SENDER, ShipmentStatus.CANCELLED}
)
# Statuses that are not a physical carrier scan (the label exists; nothing has moved yet).
NON_SCAN_STATUSES = frozenset({ShipmentStatus.LABEL_CREATED, ShipmentStatus.CANCELLED, ShipmentStatus.UNKNOWN})


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"


class TicketChannel(models.TextChoices):
    EMAIL = "email", "Email"
    CHAT = "chat", "Chat"
    PHONE = "phone", "Phone"
    SMS = "sms", "SMS"
    SOCIAL = "social", "Social"
    WEB = "web", "Web form"
    OTHER = "other", "Other"


class TicketReason(models.TextChoices):
    WISMO = "wismo", "Where is my order?"
    DELIVERY_PROBLEM = "delivery_problem", "Delivery problem"
    RETURN = "return", "Return or exchange"
    PRODUCT = "product", "Product question"
    BILLING = "billing", "Billing"
    OTHER = "other", "Other"


class EventSource(models.TextChoices):
    """Where a fact came from (tracking events, tickets, inbound deliveries)."""

    SHOPIFY = "shopify", "Shopify"
    EASYPOST = "easypost", "EasyPost"
    AFTERSHIP = "aftership", "AfterShip"
    STRIPE = "stripe", "Stripe"
    TWILIO = "twilio", "Twilio"
    API = "api", "REST API"
    CSV = "csv", "CSV import"
    ADMIN = "admin", "Admin"
    DEMO = "demo", "Demo data"
    CUSTOMER = "customer", "Customer"


class DeliveryState(models.TextChoices):
    """Where an inbound webhook delivery stands."""

    RECEIVED = "received", "Received"
    PROCESSING = "processing", "Processing"
    PROCESSED = "processed", "Processed"
    WAITING = "waiting", "Waiting for an earlier event"
    DUPLICATE = "duplicate", "Duplicate"
    IGNORED = "ignored", "Ignored"
    FAILED = "failed", "Failed"


class ReturnState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    LABEL_ISSUED = "label_issued", "Label issued"
    IN_TRANSIT = "in_transit", "On its way back"
    RECEIVED = "received", "Received"
    REFUNDED = "refunded", "Refunded"
    CREDITED = "credited", "Store credit issued"
    EXCHANGED = "exchanged", "Exchanged"
    REJECTED = "rejected", "Rejected"


# A return in one of these states has not reached the warehouse yet.
RETURN_OPEN_STATES = [ReturnState.REQUESTED, ReturnState.LABEL_ISSUED, ReturnState.IN_TRANSIT]
# Approved and on its way (or about to be): the label exists.
RETURN_APPROVED_STATES = [ReturnState.LABEL_ISSUED, ReturnState.IN_TRANSIT]
# Nothing more happens to a return in one of these states.
RETURN_FINAL_STATES = [ReturnState.REFUNDED, ReturnState.CREDITED, ReturnState.EXCHANGED, ReturnState.REJECTED]


class ReservationState(models.TextChoices):
    """Stock set aside for an exchange."""

    NONE = "", "None"
    HELD = "held", "Held"
    RELEASED = "released", "Released"
    SHIPPED = "shipped", "Shipped"


class ReturnResolution(models.TextChoices):
    REFUND = "refund", "Refund to the original payment"
    STORE_CREDIT = "store_credit", "Store credit"
    EXCHANGE = "exchange", "Exchange for another variant"


class ReturnReason(models.TextChoices):
    DAMAGED = "damaged", "Arrived damaged"
    WRONG_ITEM = "wrong_item", "Wrong item"
    DOES_NOT_FIT = "does_not_fit", "Does not fit"
    NOT_AS_DESCRIBED = "not_as_described", "Not as described"
    CHANGED_MIND = "changed_mind", "Changed my mind"
    OTHER = "other", "Other"


class DataRequestKind(models.TextChoices):
    """What a customer asked about their personal data (GDPR articles 15 and 17; Shopify's compliance topics)."""

    COPY = "copy", "A copy of their data"
    ERASURE = "erasure", "Erasure"
