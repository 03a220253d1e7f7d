from django.urls import path

from . import views

app_name = "returns"

urlpatterns = [
    path("", views.lookup, name="lookup"),
    path("r/<str:token>/", views.status, name="status"),
    path("r/<str:token>/label/", views.label, name="label"),
    path("<str:token>/", views.start, name="start"),
]
