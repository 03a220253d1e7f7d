"""The project's URLs with the unsubscribe page, as cxhub/urls.py will have them."""

from django.urls import path

from cxhub.urls import urlpatterns as project_urlpatterns
from notifications.unsubscribe import unsubscribe

urlpatterns = [
    *[pattern for pattern in project_urlpatterns if getattr(pattern, "name", None) != "unsubscribe"],
    path("unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
]
