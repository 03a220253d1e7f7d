"""REST API routes, mounted under /api/v1/ by cxhub/urls.py."""

from django.urls import path

from . import views

urlpatterns = [
    path("orders/", views.OrderListView.as_view(), name="api-orders"),
    # <path:…>: an order number may hold "/" (platforms let a store choose its numbers; Shopify "SO/1001"),
    # sent as is or as %2F.
    path("orders/<path:order_number>/", views.OrderDetailView.as_view(), name="api-order"),
    path("shipments/", views.ShipmentView.as_view(), name="api-shipments"),
    path("tracking-events/", views.TrackingEventView.as_view(), name="api-tracking-events"),
    path("tracking-events/bulk/", views.TrackingEventBulkView.as_view(), name="api-tracking-events-bulk"),
    path("tickets/", views.TicketView.as_view(), name="api-tickets"),
    path("data-requests/", views.DataRequestView.as_view(), name="api-data-requests"),
]
