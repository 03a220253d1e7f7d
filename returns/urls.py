from django.urls import path
from django.views.decorators.cache import never_cache

from . import views

app_name = "returns"

# Every returns page shows or takes personal data (items, names, the return's codes): no shared or browser
# cache may keep a copy (`Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private`).
urlpatterns = [
    path("", never_cache(views.lookup), name="lookup"),
    path("r/<str:token>/", never_cache(views.status), name="status"),
    path("r/<str:token>/label/", never_cache(views.label), name="label"),
    path("<str:token>/", never_cache(views.start), name="start"),
]
