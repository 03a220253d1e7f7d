from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from notifications.twilio_webhooks import twilio_inbound, twilio_status
from notifications.unsubscribe import unsubscribe
from orders.webhooks import receive_webhook
from playbooks.api import CarrierPauseListView

from .health import healthz, healthz_work

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("healthz/work", healthz_work, name="healthz-work"),
    path("admin/", admin.site.urls),
    # Webhooks answer with and without the trailing slash: a provider does not follow a redirect with its POST
    # (APPEND_SLASH would answer 301, or fail in DEBUG), so a URL typed without it would lose every delivery.
    path("webhooks/twilio/status/", twilio_status, name="twilio-status"),
    path("webhooks/twilio/status", twilio_status),
    path("webhooks/twilio/inbound/", twilio_inbound, name="twilio-inbound"),
    path("webhooks/twilio/inbound", twilio_inbound),
    path("webhooks/<slug:source>/", receive_webhook, name="webhook"),
    path("webhooks/<slug:source>", receive_webhook),
    path("unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
    path("track/", include("portal.urls")),
    path("returns/", include("returns.urls")),
    path("api/v1/", include("orders.api.urls")),
    path("api/v1/carrier-pauses/", CarrierPauseListView.as_view(), name="api-carrier-pauses"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

handler404 = "cxhub.errors.page_not_found"
handler500 = "cxhub.errors.server_error"
