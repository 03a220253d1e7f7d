"""Inbound connectors: one file per source, registered here by slug (lazy imports)."""

from importlib import import_module

from .base import Connector

CONNECTORS: dict[str, str] = {
    "shopify": "orders.connectors.shopify.ShopifyConnector",
    "easypost": "orders.connectors.easypost.EasyPostConnector",
    "aftership": "orders.connectors.aftership.AfterShipConnector",
    "stripe": "orders.connectors.stripe.StripeConnector",
}


def get_connector(source: str) -> Connector:
    """Return the connector for `source`; KeyError when there is none."""
    module_path, class_name = CONNECTORS[source].rsplit(".", 1)
    return getattr(import_module(module_path), class_name)()
