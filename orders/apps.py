from django.apps import AppConfig


class OrdersConfig(AppConfig):
    """The facts: stores, customers, orders, shipments, tracking, tickets and the inbound deliveries."""

    name = "orders"
    verbose_name = "Orders and shipments"
