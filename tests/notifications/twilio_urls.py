"""The project's URLs with the Twilio webhooks in front of the generic `webhooks/<slug:source>/` route,
as cxhub/urls.py will have them."""

from django.urls import path

from cxhub.urls import urlpatterns as project_urlpatterns
from notifications.twilio_webhooks import twilio_inbound, twilio_status

urlpatterns = [
    path("webhooks/twilio/status/", twilio_status, name="twilio-status"),
    path("webhooks/twilio/inbound/", twilio_inbound, name="twilio-inbound"),
    *project_urlpatterns,
]
