"""Helpers shared by the REST API tests."""

from __future__ import annotations

from rest_framework.test import APIClient

from orders.models import ApiToken, Customer, LineItem, Order, Shipment, Store, Ticket, TrackingEvent

# DRF's and the API's messages for datetimes it cannot use.
NAIVE = "Include a UTC offset, e.g. 2025-03-01T14:05:00Z or 2025-03-01T09:05:00-05:00."
BAD_DATETIME = (
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)

WATCHED_MODELS = (Store, Customer, Order, LineItem, Shipment, TrackingEvent, Ticket)


def client_for(store: Store, name: str = "Tests") -> APIClient:
    """An API client that sends a fresh token of `store`."""
    _, key = ApiToken.issue(store=store, name=name)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def db_state() -> dict[str, list[dict]]:
    """Every row of the domain models, to assert that a rejected request changed nothing."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in WATCHED_MODELS}
