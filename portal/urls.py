from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.lookup, name="lookup"),
    path("<str:token>/", views.tracking, name="tracking"),
    path("<str:token>/feedback/", views.feedback, name="feedback"),
    path("<str:token>/not-received/", views.not_received, name="not_received"),
]
