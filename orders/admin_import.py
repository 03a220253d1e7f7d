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
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from .choices import ImportState
from .csv_import import COLUMNS, REQUIRED_COLUMNS, ImportFileError
from .imports import order_import_retry, order_import_start
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
class OrderImportAdmin(admin.ModelAdmin):
    """Imports are started from the order list's Import CSV page and never edited: each one's page shows its
    progress, then its report; a failed one can be run again."""

    list_display = ("created_at", "file_name", "store", "uploaded_by", "state", "progress", "summary")
    list_filter = ("state", "store")
    list_select_related = ("store", "uploaded_by")
    search_fields = ("file_name",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # an import starts with an upload, on the order list's Import CSV page

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_superuser

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("content")  # the file can be tens of megabytes

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/progress/", wrap(self.progress_view), name="orders_orderimport_progress"),
            path("<int:pk>/retry/", wrap(require_POST(self.retry_view)), name="orders_orderimport_retry"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        can_import = request.user.has_perm(IMPORT_PERMISSION)
        return super().changelist_view(request, {"can_import": can_import, **(extra_context or {})})

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        run = self._get_viewable(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": str(run),
            "run": run,
            "states": ImportState,
            "errors_hidden": max(run.errors_total - len(run.errors), 0),
            "can_retry": run.state == ImportState.FAILED and request.user.has_perm(IMPORT_PERMISSION),
        }
        return TemplateResponse(request, "admin/orders/orderimport/detail.html", context)

    def progress_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        """What the import's page polls while a worker imports."""
        run = self._get_viewable(request, str(pk))
        return JsonResponse(
            {
                "state": run.state,
                "state_label": run.get_state_display(),
                "rows_done": run.rows_done,
                "rows_total": run.rows_total,
                "percent": run.percent_done,
                "text": run.progress_text,
                "finished": run.finished,
            }
        )

    def retry_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm(IMPORT_PERMISSION):
            raise PermissionDenied
        if order_import_retry(pk):
            self.message_user(request, "Queued again.", messages.SUCCESS)
        else:
            self.message_user(request, "Only a failed import can be run again.", messages.WARNING)
        return HttpResponseRedirect(reverse("admin:orders_orderimport_change", args=[pk]))

    def _get_viewable(self, request: HttpRequest, object_id: str) -> OrderImport:
        if not self.has_view_permission(request):
            raise PermissionDenied
        if not object_id.isdigit():
            raise Http404("no such import")
        return get_object_or_404(self.get_queryset(request), pk=object_id)

    @admin.display(description="Progress")
    def progress(self, run: OrderImport) -> str:
        return format_html(
            '<progress max="100" value="{}" title="{}%"></progress> {} / {}',
            run.percent_done, run.percent_done, run.rows_done, run.rows_total,
        )  # fmt: skip

    @admin.display(description="Result")
    def summary(self, run: OrderImport) -> str:
        if run.state == ImportState.FAILED:
            return run.failure[:80]
        if run.state != ImportState.DONE:
            return "—"
        return f"{run.orders_created} created, {run.orders_updated} updated, {run.rows_rejected} rows rejected"
