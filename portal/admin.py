from django.contrib import admin

from orders.admin import ReadOnlyAdmin

from .models import DeliveryFeedback


@admin.register(DeliveryFeedback)
class DeliveryFeedbackAdmin(ReadOnlyAdmin):
    """What customers answered to "Did everything arrive OK?" (the CSAT-after-delivery figure)."""

    list_display = ("created_at", "order", "rating", "comment")
    list_filter = ("rating", "order__store")
    search_fields = ("=order__order_number", "comment")
    list_select_related = ("order",)
    date_hierarchy = "created_at"
