"""Returns in the admin: CX managers edit each store's policy and exchange stock; agents approve, reject,
and mark returns on their way or received. Every action is one call into `returns.services`."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from orders.admin import ReadOnlyAdmin, ReadOnlyInline
from orders.models import ExchangeVariant, ReturnItem, ReturnPolicy, ReturnReasonRule, ReturnRequest

from .links import return_url
from .photos import photo_content_type
from .services import (
    ReturnStateError,
    return_approve,
    return_mark_in_transit,
    return_mark_received,
    return_reject,
)


class ReturnReasonRuleInline(admin.TabularInline):
    model = ReturnReasonRule
    extra = 0
    fields = ("reason", "accepted", "free_return_shipping", "photo_required", "needs_approval", "window_days")


CHOICE_FIELDS = ["allow_refund", "return_shipping_fee", "allow_store_credit", "store_credit_bonus_percent",
                 "allow_exchange", "ship_exchange_early"]  # fmt: skip


@admin.register(ReturnPolicy)
class ReturnPolicyAdmin(admin.ModelAdmin):
    list_display = ("store", "window_days", "auto_approve", "allow_refund", "allow_store_credit",
                    "store_credit_bonus_percent", "allow_exchange", "ship_exchange_early")  # fmt: skip
    list_select_related = ("store",)
    fieldsets = [
        (None, {"fields": ["store", "window_days", "auto_approve"]}),
        ("What customers may choose", {"fields": CHOICE_FIELDS}),
        ("What can't be returned", {"fields": ["non_returnable_skus"]}),
        ("The label and the customer's page", {"fields": ["return_address", "instructions"]}),
    ]
    inlines = [ReturnReasonRuleInline]


@admin.register(ExchangeVariant)
class ExchangeVariantAdmin(admin.ModelAdmin):
    list_display = ("product", "title", "sku", "available", "store")
    list_editable = ("available",)
    list_filter = ("store",)
    search_fields = ("product", "title", "=sku")


class ReturnItemInline(ReadOnlyInline):
    model = ReturnItem
    fields = ("line_item", "quantity", "reason", "exchange_variant", "reservation", "comment", "photo_link")
    readonly_fields = fields
    show_change_link = False

    @admin.display(description="Photo")
    def photo_link(self, item: ReturnItem) -> str:
        if not item.photo:
            return "—"
        return format_html('<a href="{}">View photo</a>', reverse("admin:returns_return_photo", args=[item.pk]))


class RejectForm(forms.Form):
    reason = forms.CharField(label="Why (the customer sees this)", widget=forms.Textarea(attrs={"rows": 3}),
                             max_length=1000)  # fmt: skip


@admin.register(ReturnRequest)
class ReturnRequestAdmin(ReadOnlyAdmin):
    list_display = ("number", "order", "store", "resolution", "state", "awaiting_approval_because", "created_at",
                    "received_at")  # fmt: skip
    list_filter = ("state", "resolution", "store")
    search_fields = ("=number", "=order__order_number", "=return_tracking_code")
    list_select_related = ("order", "store")
    date_hierarchy = "created_at"
    readonly_fields = ("customer_page", "records")
    inlines = [ReturnItemInline]
    actions = ["approve", "reject", "mark_in_transit", "mark_received"]

    def has_process_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.process_returnrequest")

    @admin.display(description="Customer's page")
    def customer_page(self, ret: ReturnRequest) -> str:
        return format_html('<a href="{0}" target="_blank" rel="noopener">{0}</a>', return_url(ret))

    @admin.display(description="Done in other systems")
    def records(self, ret: ReturnRequest) -> str:
        rows = [(r.operation, r.reference, r.provider) for r in ret.records.all()]
        return format_html_join("", "<div>{} {} ({})</div>", rows) or "—"

    def _each(self, request: HttpRequest, queryset: QuerySet, step: Callable, done: str) -> None:
        count = 0
        for ret in queryset:
            try:
                step(request=ret, by=request.user)
                count += 1
            except ReturnStateError as error:
                self.message_user(request, str(error), messages.WARNING)
        if count:
            self.message_user(request, f"{count} returns {done}.", messages.SUCCESS)

    @admin.action(description="Approve and issue the label", permissions=["process"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, return_approve, "approved")

    @admin.action(description="Mark on its way back (dropped off)", permissions=["process"])
    def mark_in_transit(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, return_mark_in_transit, "marked on their way")

    @admin.action(description="Mark received (then refund, credit or ship the exchange)", permissions=["process"])
    def mark_received(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, return_mark_received, "received")

    @admin.action(description="Reject…", permissions=["process"])
    def reject(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = RejectForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            self._each(request, queryset, lambda **kw: return_reject(reason=reason, **kw), "rejected")
            return None
        context = {**self.admin_site.each_context(request), "title": "Reject returns", "form": form,
                   "queryset": queryset, "opts": self.model._meta,
                   "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME}  # fmt: skip
        return TemplateResponse(request, "admin/returns/reject.html", context)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(self.photo_view)
        return [path("photo/<int:item_id>/", view, name="returns_return_photo"), *super().get_urls()]

    def photo_view(self, request: HttpRequest, item_id: int) -> FileResponse:
        """Photos are private: served to staff who may view returns, never from a public media URL."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        item = get_object_or_404(ReturnItem, pk=item_id)
        if not item.photo:
            raise Http404
        # The type comes from the bytes, never the customer's file name: an "x.html" is not served as HTML.
        content_type = photo_content_type(item.photo)
        return FileResponse(item.photo.open("rb"), content_type=content_type or "application/octet-stream",
                            as_attachment=content_type is None)  # fmt: skip
