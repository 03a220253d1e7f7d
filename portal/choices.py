"""The portal's vocabularies. Values are stored in the database (FAQ entries): never rename one."""

from django.db import models


class OrderSituation(models.TextChoices):
    """Where an order stands, as the customer would put it. FAQ entries name the situations they help in;
    `portal.faq.order_situations` works out which apply to an order (several may: two parcels, or a
    delivered parcel the customer says never came)."""

    UNFULFILLED = "unfulfilled", "Not shipped yet"
    PREPARING = "preparing", "Label created, not scanned by the carrier yet"
    IN_TRANSIT = "in_transit", "On its way"
    DELAYED = "delayed", "Delayed (a delay the hub is handling)"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    DELIVERY_PROBLEM = "delivery_problem", "Delivery problem (attempted, held for pickup, exception, returned)"
