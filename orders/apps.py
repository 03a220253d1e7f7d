from django.apps import AppConfig


class OrdersConfig(AppConfig):
    """The facts: stores, customers, orders, shipments, tracking, tickets and the inbound deliveries."""

    name = "orders"
    verbose_name = "Orders and shipments"

    def ready(self) -> None:
        from . import signers  # noqa: F401  (a saved store drops the process's snapshot of webhook secrets)
