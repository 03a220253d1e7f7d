"""The admin's CSV imports: the "Import CSV" upload page on the order list, and each import's page.

OrderAdmin routes `import/` to `order_import_view` (name `admin:orders_order_import`) through
`admin_site.admin_view`, which already requires a staff login; starting an import also needs the "add order"
permission, since it creates orders. The upload is checked and queued (orders/imports.py), then the browser
goes to the import's page, which shows its progress while a worker imports and its report once done.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import reverse

from cxhub.admin_runs import RunAdmin

from .csv_import import COLUMNS, REQUIRED_COLUMNS, ImportFileError
from .imports import IMPORTS, order_import_start
from .models import OrderImport, Store

IMPORT_PERMISSION = "orders.add_order"
RECENT_IMPORTS_SHOWN = 5


class OrderImportForm(forms.Form):
    store = forms.ModelChoiceField(queryset=Store.objects.all(), help_text="The store the orders belong to.")
    file = forms.FileField(
        label="CSV file",
        help_text=(
            "UTF-8, one row per line item, header row first. Importing the same file again is safe. "
            "A worker imports it; its page shows the progress, and you may leave it meanwhile."
        ),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        stores = list(Store.objects.all()[:2])
        if len(stores) == 1:
            self.fields["store"].initial = stores[0].pk

    def clean_file(self) -> UploadedFile:
        file = self.cleaned_data["file"]
        limit = settings.ORDER_IMPORT_MAX_BYTES
        if file.size > limit:
            raise forms.ValidationError(
                f"The file is {filesizeformat(file.size)}; the admin takes up to {filesizeformat(limit)}. "
                "Import it with manage.py import_orders, or split it."
            )
        return file


def order_import_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    if not request.user.has_perm(IMPORT_PERMISSION):
        raise PermissionDenied
    form = OrderImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            started = order_import_start(
                store=form.cleaned_data["store"], file_name=upload.name, data=upload.read(), user=request.user
            )
        except ImportFileError as exc:
            form.add_error("file", f"{exc}. Nothing was imported.")
        else:
            messages.info(request, f"Importing {started.file_name}: this page follows it, and you may leave it.")
            return HttpResponseRedirect(reverse("admin:orders_orderimport_change", args=[started.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Import orders from CSV",
        "form": form,
        "recent": OrderImport.objects.select_related("store", "uploaded_by").defer("content")[:RECENT_IMPORTS_SHOWN]
        if request.user.has_perm("orders.view_orderimport")
        else [],
        "columns": COLUMNS,
        "required_columns": REQUIRED_COLUMNS,
    }
    return TemplateResponse(request, "admin/orders/order/import.html", context)


@admin.register(OrderImport)
class OrderImportAdmin(RunAdmin):
    """Imports are started from the order list's Import CSV page and never edited: each one's page shows its
    progress, then its report; a failed one can be run again."""

    runner = IMPORTS
    detail_template = "admin/orders/orderimport/detail.html"
    list_display = ("created_at", "file_name", "store", "uploaded_by", "state", "progress", "summary")
    list_filter = ("state", "store")
    list_select_related = ("store", "uploaded_by")
    search_fields = ("file_name",)
    date_hierarchy = "created_at"

    def may_start(self, request: HttpRequest) -> bool:
        return request.user.has_perm(IMPORT_PERMISSION)

    def detail_context(self, request: HttpRequest, run: OrderImport) -> dict:
        return {"errors_hidden": max(run.errors_total - len(run.errors), 0)}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("content")  # the file can be tens of megabytes

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return super().changelist_view(request, {"can_import": self.may_start(request), **(extra_context or {})})

    def result(self, run: OrderImport) -> str:
        return f"{run.orders_created} created, {run.orders_updated} updated, {run.rows_rejected} rows rejected"
