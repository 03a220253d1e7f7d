"""Admin for the facts. Rows that integrations write are read-only here: the source system owns them.

CX managers edit what is theirs: store branding and secrets, and customer preferences (VIP, channel,
opt-outs). Those who may handle data requests download a customer's personal data or erase it from the
customer's page, and answer the store platform's requests for a copy from the data requests' list
(orders.privacy does the work).
"""

import json
from datetime import timedelta
from functools import partial

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, F, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst

from cxhub.dashboard import NO_SCAN_HOURS
from cxhub.stores import store_defaults_give

from .admin_import import order_import_view
from .choices import DataRequestKind, DeliveryState, EventSource, ShipmentStatus
from .ingest import deliveries_unapplied_since, inbound_reprocess
from .models import (
    ApiToken,
    Customer,
    DataRequest,
    ErasedContact,
    InboundDelivery,
    LineItem,
    Order,
    Shipment,
    Store,
    Ticket,
    TrackingEvent,
)
from .privacy import data_request_copy, personal_data_copy, personal_data_erase

SECRET_FIELDS = (
    "shopify_webhook_secret",
    "easypost_webhook_secret",
    "aftership_webhook_secret",
    "stripe_webhook_secret",
)


def mask_secret(value: str) -> str:
    return f"set, ending …{value[-4:]}" if len(value) >= 12 else ("set" if value else "not set")


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows that come from integrations: viewable, never edited or added by hand."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_superuser


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


# --- Store -----------------------------------------------------------------------------------------------


class StoreForm(forms.ModelForm):
    """Webhook secrets are write-only: the form never shows them, and a blank field keeps the current one."""

    class Meta:
        model = Store
        fields = (
            "name", "slug", "country", "currency", "timezone", "logo_url", "primary_colour", "accent_colour",
            "support_email", "support_phone", "support_url", "shopify_domain", *SECRET_FIELDS,
        )  # fmt: skip
        widgets = {name: forms.PasswordInput(render_value=False) for name in SECRET_FIELDS}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # A view-only page has no form fields: StoreAdmin shows the secrets masked instead.
        for name in SECRET_FIELDS:
            if name not in self.fields:
                continue
            field = self.fields[name]
            field.required = False
            current = getattr(self.instance, name, "")
            field.help_text = f"Currently {mask_secret(current)}. Leave blank to keep it; type a new one to replace it."

    def clean(self) -> dict:
        cleaned = super().clean()
        for name in SECRET_FIELDS:
            if not cleaned.get(name):
                cleaned[name] = getattr(self.instance, name, "")
        return cleaned


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    form = StoreForm
    list_display = ("name", "slug", "brand", "country", "currency", "timezone", "integrations")
    search_fields = ("name", "slug", "shopify_domain")
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "slug", "country", "currency", "timezone")}),
        ("Brand", {"fields": ("logo_url", "primary_colour", "accent_colour")}),
        (
            "Support contacts shown to customers",
            {"fields": ("support_email", "support_phone", "support_url")},
        ),
        ("Integrations", {"fields": ("shopify_domain", *SECRET_FIELDS)}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Store | None = None) -> list:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        # A read-only page would print the secrets' values in clear: it shows them masked, as the form does.
        return [
            (title, {**options, "fields": [f for f in options["fields"] if f not in SECRET_FIELDS]
                     + (["webhook_secrets"] if set(SECRET_FIELDS) & set(options["fields"]) else [])})
            for title, options in fieldsets
        ]  # fmt: skip

    @admin.display(description="Webhook secrets")
    def webhook_secrets(self, store: Store) -> str:
        rows = [
            (capfirst(Store._meta.get_field(name).verbose_name), mask_secret(getattr(store, name)))
            for name in SECRET_FIELDS
        ]
        return format_html_join(mark_safe("<br>"), "{}: {}", rows)

    def save_model(self, request: HttpRequest, obj: Store, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:  # a new store works from its first order, on defaults its manager can then edit
            given = store_defaults_give(obj)
            self.message_user(
                request,
                f"{obj.name} starts with the default message templates ({given.templates}), compensation caps "
                f"({given.caps}) and return policy: review them under Message templates, Compensation caps and "
                "Return policies.",
                messages.INFO,
            )

    @admin.display(description="Colours")
    def brand(self, store: Store) -> str:
        swatch = '<span style="display:inline-block;width:1em;height:1em;background:{};border:1px solid #ccc"></span>'
        return format_html(f"{swatch} {swatch}", store.primary_colour, store.accent_colour)

    @admin.display(description="Webhook secrets set")
    def integrations(self, store: Store) -> str:
        names = [name.split("_")[0].capitalize() for name in SECRET_FIELDS if getattr(store, name)]
        return ", ".join(names) or "—"


# --- Customer ------------------------------------------------------------------------------------------------


class OptedOutFilter(admin.SimpleListFilter):
    title = "opted out"
    parameter_name = "opted_out"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("sms", "Of SMS"), ("email", "Of email"), ("none", "Of nothing")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        match self.value():
            case "sms":
                return queryset.filter(sms_opted_out_at__isnull=False)
            case "email":
                return queryset.filter(email_opted_out_at__isnull=False)
            case "none":
                return queryset.filter(sms_opted_out_at__isnull=True, email_opted_out_at__isnull=True)
        return queryset


class DoneFilter(admin.SimpleListFilter):
    """Rows whose `field` (when something was done, or null) is set or not."""

    field: str
    labels: tuple[str, str]  # (set, not set)

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", self.labels[0]), ("no", self.labels[1])]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(**{f"{self.field}__isnull": self.value() == "no"})
        return queryset


class PersonalDataFilter(DoneFilter):
    title, parameter_name = "personal data", "erased"
    field, labels = "erased_at", ("Erased", "Not erased")


class CustomerOrderInline(ReadOnlyInline):
    model = Order
    fields = ("order_number", "placed_at", "total", "financial_status", "fulfillment_status")
    readonly_fields = fields
    ordering = ("-placed_at",)


class ErasedContactInline(ReadOnlyInline):
    """What the hub keeps of an erased customer's email and phone: digests, which no one can read back."""

    model = ErasedContact
    fields = readonly_fields = ("digest",)
    verbose_name, verbose_name_plural = "erased email or phone, as a digest", "erased email and phone, as digests"
    show_change_link = False


HANDLE_DATA_REQUEST = "orders.handle_data_request"
# What a copy lists, by the copy's keys (orders.privacy and the holders of the other apps): the erasure
# confirmation counts them from the copy, so it counts exactly the rows the erasure goes through.
COPY_COUNTS = [
    ("orders", "order"),
    ("messages", "message"),
    ("tickets", "ticket"),
    ("returns", "return"),
    ("exceptions", "exception"),
    ("delivery_feedback", "delivery rating"),
]


def json_attachment(data: dict, file_name: str) -> HttpResponse:
    """Personal data as a JSON download (admin_view already marks it never to be cached)."""
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


def outcome_summary(outcome: dict) -> str:
    """What an erasure changed, e.g. "customers: 1, orders: 3, messages: 12"."""
    # Sorted: PostgreSQL's jsonb keeps keys in its own order, so the saved outcome reads back in another.
    return ", ".join(f"{kind}: {count}" for kind, count in sorted(outcome.items())) or "nothing left to erase"


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "email",
        "phone",
        "store",
        "lifetime_value",
        "is_vip",
        "preferred_channel",
        "order_count",
    )
    list_filter = ("store", "is_vip", "preferred_channel", OptedOutFilter, PersonalDataFilter)
    search_fields = ("first_name", "last_name", "email", "phone", "external_id")
    list_select_related = ("store",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "store",
        "external_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "lifetime_value",
        "created_at",
        "erased_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "store",
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "external_id",
                    "lifetime_value",
                    "erased_at",
                )
            },
        ),
        (
            "How we reach them",
            {"fields": ("is_vip", "preferred_channel", "timezone", "sms_opted_out_at", "email_opted_out_at")},
        ),
    )
    inlines = [CustomerOrderInline, ErasedContactInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(num_orders=Count("orders"))

    @admin.display(description="Orders", ordering="num_orders")
    def order_count(self, customer: Customer) -> int:
        return customer.num_orders

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/personal-data/", wrap(self.personal_data_view), name="orders_customer_personal_data"),
            path("<int:pk>/erase/", wrap(self.erase_view), name="orders_customer_erase"),
            *super().get_urls(),
        ]

    def personal_data_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Everything the hub holds about the customer, as a JSON file to send them."""
        customer = self._data_request_customer(request, pk)
        return json_attachment(personal_data_copy(customer), f"customer-{customer.pk}-personal-data.json")

    def erase_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: what erasing takes out and what stays, to confirm. POST (the confirmation): erase."""
        customer = self._data_request_customer(request, pk)
        if request.method == "POST":
            data_request = personal_data_erase(
                store=customer.store, customers=[customer], source=EventSource.ADMIN, user=request.user
            )
            customer.refresh_from_db(fields=["first_name", "last_name", "email", "phone"])  # the log names no one
            self.log_change(request, customer, f"Personal data erased (data request #{data_request.pk}).")
            self.message_user(
                request,
                f"Personal data erased (data request #{data_request.pk}): {outcome_summary(data_request.outcome)}.",
                messages.SUCCESS,
            )
            if request.user.has_perm("orders.view_datarequest"):
                return HttpResponseRedirect(reverse("admin:orders_datarequest_change", args=[data_request.pk]))
            return HttpResponseRedirect(reverse("admin:orders_customer_change", args=[customer.pk]))
        copy = personal_data_copy(customer)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Erase personal data",
            "customer": customer,
            "counts": [(label, len(copy.get(key) or [])) for key, label in COPY_COUNTS],
        }
        return TemplateResponse(request, "admin/orders/customer/erase.html", context)

    def _data_request_customer(self, request: HttpRequest, pk: int) -> Customer:
        if not (self.has_view_permission(request) and request.user.has_perm(HANDLE_DATA_REQUEST)):
            raise PermissionDenied
        return get_object_or_404(Customer.objects.select_related("store"), pk=pk)


# --- Data requests -------------------------------------------------------------------------------------------

# Shopify asks the store owner to answer a customer's request for their data within 30 days.
COPY_ANSWER_WITHIN = timedelta(days=30)
# To do first, the oldest (the nearest deadline) first; then what is done, newest first.
TO_DO_FIRST = (
    Case(When(completed_at__isnull=True, then=Value(0)), default=Value(1)).asc(),
    Case(When(completed_at__isnull=True, then=F("requested_at"))).asc(),
    "-requested_at",
)


class DataRequestDoneFilter(DoneFilter):
    title, parameter_name = "status", "done"
    field, labels = "completed_at", ("Done", "To do")


@admin.register(DataRequest)
class DataRequestAdmin(ReadOnlyAdmin):
    """The store's record of each request about a customer's personal data. Erasures are done when they
    arrive; a request for a copy waits for someone to download the copy and send it on."""

    # The status first: a copy waiting to be sent on is the one thing on this list that needs someone.
    list_display = ("status", "requested_at", "kind", "store", "customer", "source", "external_id", "requested_by",
                    "summary")  # fmt: skip
    list_display_links = ("requested_at",)
    list_filter = ("kind", "source", "store", DataRequestDoneFilter)
    list_select_related = ("store", "customer", "requested_by")
    search_fields = ("=external_id",)
    date_hierarchy = "requested_at"
    ordering = TO_DO_FIRST
    fields = ("store", "kind", "customer", "source", "external_id", "orders_named", "requested_by", "requested_at",
              "status", "completed_at", "summary")  # fmt: skip
    readonly_fields = fields

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(self.copy_view)
        return [path("<int:pk>/copy/", view, name="orders_datarequest_copy"), *super().get_urls()]

    def copy_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The copy the request asked for; the first download marks the request done (it is then sent on)."""
        if not (self.has_view_permission(request) and request.user.has_perm(HANDLE_DATA_REQUEST)):
            raise PermissionDenied
        data_request = get_object_or_404(DataRequest.objects.select_related("store", "customer"), pk=pk)
        if data_request.kind != DataRequestKind.COPY:
            raise Http404("Only a request for a copy has one.")
        return json_attachment(data_request_copy(data_request), f"data-request-{data_request.pk}.json")

    @admin.display(description="Status", ordering="completed_at")
    def status(self, data_request: DataRequest) -> str:
        if data_request.completed_at:
            return "Done"
        if data_request.kind != DataRequestKind.COPY:
            return format_html("<strong>To do</strong> · a worker is erasing the store's customers")
        due = data_request.requested_at + COPY_ANSWER_WITHIN
        colour = "#b91c1c" if due < timezone.now() else "#b45309"
        when = date_format(timezone.localtime(due), "DATE_FORMAT")
        status = '<span style="white-space:nowrap"><strong style="color:{}">To do</strong> · answer by {}</span>'
        return format_html(status, colour, when)

    @admin.display(description="Outcome")
    def summary(self, data_request: DataRequest) -> str:
        if data_request.kind == DataRequestKind.COPY:
            return "Copy downloaded" if data_request.completed_at else "—"
        return outcome_summary(data_request.outcome) if data_request.completed_at else "—"


# --- Order ------------------------------------------------------------------------------------------------------


class LineItemInline(ReadOnlyInline):
    model = LineItem
    fields = ("sku", "title", "variant", "quantity", "unit_price", "returnable")
    readonly_fields = fields
    show_change_link = False


class ShipmentInline(ReadOnlyInline):
    model = Shipment
    fields = (
        "tracking_code",
        "carrier",
        "service_level",
        "status",
        "label_created_at",
        "last_scan_at",
        "carrier_estimated_delivery",
        "delivered_at",
    )
    readonly_fields = fields


class TicketInline(ReadOnlyInline):
    model = Ticket
    fk_name = "order"
    fields = ("created_at", "reason", "channel", "subject")
    readonly_fields = fields


class CancelledFilter(admin.SimpleListFilter):
    title = "cancelled"
    parameter_name = "cancelled"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Cancelled"), ("no", "Not cancelled")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(cancelled_at__isnull=self.value() == "no")
        return queryset


class LateToShipFilter(admin.SimpleListFilter):
    title = "promise"
    parameter_name = "promise"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("late_to_ship", "Past ship-by, not shipped")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "late_to_ship":
            return queryset.filter(
                promised_ship_by__lt=timezone.now(), shipments__isnull=True, cancelled_at__isnull=True
            )
        return queryset


def render_timeline(shipments: list[Shipment]) -> str:
    """Every shipment's tracking events, newest first (the model's ordering), as one HTML block."""
    return render_to_string("admin/orders/order/timeline.html", {"shipments": shipments})


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "order_number",
        "store",
        "customer_link",
        "placed_at",
        "total_with_currency",
        "financial_status",
        "fulfillment_status",
        "destination",
        "shipment_count",
    )
    list_filter = (
        "store",
        "financial_status",
        "fulfillment_status",
        "is_international",
        "address_verification",
        CancelledFilter,
        LateToShipFilter,
    )
    search_fields = (
        "=order_number",
        "=external_id",
        "customer__email",
        "customer__phone",
        "=shipments__tracking_code",
        "=payment_reference",
    )
    list_select_related = ("store", "customer")
    date_hierarchy = "placed_at"
    show_full_result_count = False
    inlines = [LineItemInline, ShipmentInline, TicketInline]
    fieldsets = (
        (
            None,
            {"fields": ("store", "order_number", "external_id", "customer", "placed_at", "cancelled_at", "elsewhere")},
        ),
        (
            "Money",
            {
                "fields": (
                    "currency",
                    "subtotal",
                    "shipping_total",
                    "tax_total",
                    "discount_total",
                    "total",
                    "financial_status",
                    "payment_reference",
                )
            },
        ),
        (
            "Delivery",
            {
                "fields": (
                    "fulfillment_status",
                    "shipping_address",
                    "erased_at",
                    "address_verification",
                    "is_international",
                    "promised_ship_by",
                    "promised_deliver_by",
                )
            },
        ),
        ("Tracking timeline", {"fields": ("timeline",)}),
    )
    readonly_fields = ("shipping_address", "timeline", "elsewhere")
    # What the other apps hold about an order, by their admin's name (orders imports none of them).
    ABOUT_THE_ORDER = [
        ("playbooks", "exceptioncase", "Exceptions"),
        ("playbooks", "auditevent", "Audit trail"),
        ("notifications", "message", "Messages to the customer"),
        ("orders", "returnrequest", "Returns"),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(num_shipments=Count("shipments"))

    @admin.display(description="About this order")
    def elsewhere(self, order: Order) -> str:
        links = (
            (reverse(f"admin:{app}_{model}_changelist") + f"?order__id__exact={order.pk}", label)
            for app, model, label in self.ABOUT_THE_ORDER
        )
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(partial(order_import_view, model_admin=self))
        return [path("import/", view, name="orders_order_import"), *super().get_urls()]

    @admin.display(description="Customer", ordering="customer__last_name")
    def customer_link(self, order: Order) -> str:
        if not order.customer:
            return "—"
        url = reverse("admin:orders_customer_change", args=[order.customer_id])
        return format_html('<a href="{}">{}</a>{}', url, order.customer, " ★" if order.customer.is_vip else "")

    @admin.display(description="Total", ordering="total")
    def total_with_currency(self, order: Order) -> str:
        return f"{order.total} {order.currency}"

    @admin.display(description="Destination", ordering="ship_country")
    def destination(self, order: Order) -> str:
        return f"{order.ship_country or '—'}{' (intl)' if order.is_international else ''}"

    @admin.display(description="Shipments", ordering="num_shipments")
    def shipment_count(self, order: Order) -> int:
        return order.num_shipments

    @admin.display(description="Ship to")
    def shipping_address(self, order: Order) -> str:
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in order.shipping_address_lines)) or "—"

    @admin.display(description="Events, newest first")
    def timeline(self, order: Order) -> str:
        return render_timeline(list(order.shipments.prefetch_related("events")))


# --- Shipment and tracking events ------------------------------------------------------------------------------------


class TrackingEventInline(ReadOnlyInline):
    model = TrackingEvent
    fields = ("occurred_at", "status", "message", "location", "raw_status", "raw_detail", "source")
    readonly_fields = fields
    ordering = ("-occurred_at", "-id")
    show_change_link = False


class AttentionFilter(admin.SimpleListFilter):
    """The questions a CX manager asks of shipments, answered by indexed filters."""

    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("no_scan", f"No carrier scan {NO_SCAN_HOURS}h after label"),
            ("quiet_5d", "In transit, no scan for 5+ days"),
            ("problem", "Exception, failed attempt or returned"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        match self.value():
            case "no_scan":
                return queryset.filter(
                    status=ShipmentStatus.LABEL_CREATED,
                    label_created_at__lt=now - timedelta(hours=NO_SCAN_HOURS),
                )
            case "quiet_5d":
                return queryset.filter(status=ShipmentStatus.IN_TRANSIT, last_scan_at__lt=now - timedelta(days=5))
            case "problem":
                return queryset.filter(
                    status__in=[
                        ShipmentStatus.EXCEPTION,
                        ShipmentStatus.ATTEMPTED_DELIVERY,
                        ShipmentStatus.RETURNED_TO_SENDER,
                    ]
                )
        return queryset


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdmin):
    list_display = (
        "tracking_code",
        "carrier",
        "status",
        "order_link",
        "store",
        "label_created_at",
        "last_scan_at",
        "carrier_estimated_delivery",
        "delivered_at",
    )
    list_filter = (AttentionFilter, "status", "carrier", "store", "order__is_international")
    search_fields = ("=tracking_code", "=order__order_number", "order__customer__email", "=external_id")
    list_select_related = ("order", "store")
    date_hierarchy = "label_created_at"
    show_full_result_count = False
    inlines = [TrackingEventInline]
    readonly_fields = ("last_event_at",)

    @admin.display(description="Order", ordering="order__order_number")
    def order_link(self, shipment: Shipment) -> str:
        url = reverse("admin:orders_order_change", args=[shipment.order_id])
        return format_html('<a href="{}">{}</a>', url, shipment.order.order_number)


@admin.register(TrackingEvent)
class TrackingEventAdmin(ReadOnlyAdmin):
    list_display = (
        "occurred_at",
        "shipment",
        "status",
        "raw_status",
        "raw_detail",
        "message",
        "location",
        "source",
    )
    list_filter = ("status", "source", "shipment__carrier")
    search_fields = ("=shipment__tracking_code", "raw_status", "raw_detail", "message")
    list_select_related = ("shipment",)
    date_hierarchy = "occurred_at"
    show_full_result_count = False


# --- Tickets ----------------------------------------------------------------------------------------------------------


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "store", "reason", "channel", "customer", "order", "subject", "source")
    list_filter = ("reason", "channel", "source", "store")
    search_fields = ("subject", "=external_id", "customer__email", "=order__order_number")
    list_select_related = ("store", "customer", "order")
    date_hierarchy = "created_at"


@admin.register(LineItem)
class LineItemAdmin(ReadOnlyAdmin):
    list_display = ("sku", "title", "variant", "quantity", "unit_price", "returnable", "order")
    list_filter = ("returnable", "order__store")
    search_fields = ("=sku", "title", "=order__order_number")
    list_select_related = ("order",)
    show_full_result_count = False


# --- Inbound deliveries --------------------------------------------------------------------------------------------


@admin.register(InboundDelivery)
class InboundDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "source", "event_type", "state", "store", "delivery_id", "attempts", "short_error")
    list_filter = ("state", "source", "store", "event_type")
    search_fields = ("=delivery_id", "event_type", "error")
    list_select_related = ("store",)
    date_hierarchy = "received_at"
    show_full_result_count = False
    actions = ["reprocess"]
    readonly_fields = ("pretty_body",)
    exclude = ("body",)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Needed for the reprocess action; every field stays read-only.
        return request.user.has_perm("orders.change_inbounddelivery")

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [f.name for f in self.model._meta.fields if f.name != "body"] + ["pretty_body"]

    @admin.display(description="Error")
    def short_error(self, delivery: InboundDelivery) -> str:
        return delivery.error[:80]

    @admin.display(description="Body")
    def pretty_body(self, delivery: InboundDelivery) -> str:
        try:
            text = json.dumps(json.loads(delivery.body), indent=2, ensure_ascii=False)
        except ValueError:
            text = delivery.body
        return format_html("<pre style='white-space:pre-wrap;max-height:40em;overflow:auto'>{}</pre>", text)

    @admin.action(description="Reprocess the selected failed or waiting deliveries", permissions=["change"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = inbound_reprocess(queryset)
        deliveries = f"{count} deliver{pluralize(count, 'y,ies')}"
        self.message_user(request, f"{deliveries} queued for processing again.", messages.SUCCESS)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        return super().changelist_view(request, {**delivery_summary(), **(extra_context or {})})


def delivery_summary() -> dict:
    """Counts by state per source, the oldest delivery not yet applied (how far processing lags), and the
    carrier statuses no table knew: three aggregate queries."""
    states = [state for state in DeliveryState]
    counts: dict[str, dict[str, int]] = {}
    for source, state, n in InboundDelivery.objects.values_list("source", "state").annotate(n=Count("id")).order_by():
        counts.setdefault(source, {})[state] = n
    rows = [
        (EventSource(source).label, source, [counts[source].get(s.value, 0) for s in states])
        for source in sorted(counts)
    ]
    unknown = (
        TrackingEvent.objects.filter(status=ShipmentStatus.UNKNOWN)
        .values_list("source", "raw_status", "raw_detail")
        .annotate(n=Count("id"))
        .order_by("-n")[:20]
    )
    oldest = deliveries_unapplied_since()
    return {
        "delivery_states": states,
        "delivery_rows": rows,
        "oldest_received": oldest,
        "retention_days": settings.INBOUND_RETENTION_DAYS,
        "unknown_statuses": list(unknown),
    }


# --- API tokens ----------------------------------------------------------------------------------------------------


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "store", "key_prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("store", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "key_prefix")
    fields = ("store", "name", "key_prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("key_prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: ApiToken, form: forms.ModelForm, change: bool) -> None:
        key = None if change else obj.assign_new_key()
        super().save_model(request, obj, form, change)
        if key:
            self.message_user(
                request,
                format_html("API key for {}: <code>{}</code> — copy it now, it is not shown again.", obj.name, key),
                messages.WARNING,
            )

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{count} token{pluralize(count)} revoked.", messages.SUCCESS)
