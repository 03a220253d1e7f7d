"""The admin's "Import CSV" page on the order list: upload a backfill file, see what was imported and what not.

OrderAdmin routes `import/` here (name `admin:orders_order_import`) through `admin_site.admin_view`, which
already requires a staff login; importing also needs the "add order" permission, since it creates orders.
"""

from __future__ import annotations

import io

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse

from .csv_import import COLUMNS, REQUIRED_COLUMNS, ImportFileError, ImportReport, orders_import_csv
from .models import Store

# A page with 100k rejected rows helps nobody: the first ones show the pattern, the counts say the rest.
MAX_ERRORS_SHOWN = 500


class OrderImportForm(forms.Form):
    store = forms.ModelChoiceField(queryset=Store.objects.all(), help_text="The store the orders belong to.")
    file = forms.FileField(
        label="CSV file",
        help_text=(
            "UTF-8, one row per line item, header row first. Importing the same file again is safe. "
            "The import runs while you wait: for tens of thousands of rows, use manage.py import_orders."
        ),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        stores = list(Store.objects.all()[:2])
        if len(stores) == 1:
            self.fields["store"].initial = stores[0].pk


def order_import_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> TemplateResponse:
    if not request.user.has_perm("orders.add_order"):
        raise PermissionDenied
    report: ImportReport | None = None
    if request.method == "POST":
        form = OrderImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            store = form.cleaned_data["store"]
            upload.seek(0)
            # newline="" lets the csv module see line breaks inside quoted cells; utf-8-sig drops Excel's BOM.
            text = io.TextIOWrapper(upload.file, encoding="utf-8-sig", newline="")
            try:
                report = orders_import_csv(store=store, file=text)
            except ImportFileError as exc:
                form.add_error("file", f"{exc}. Nothing was imported.")
            finally:
                text.detach()
    else:
        form = OrderImportForm()
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Import orders from CSV",
        "form": form,
        "report": report,
        "errors_shown": report.errors[:MAX_ERRORS_SHOWN] if report else [],
        "errors_hidden": max(len(report.errors) - MAX_ERRORS_SHOWN, 0) if report else 0,
        "columns": COLUMNS,
        "required_columns": REQUIRED_COLUMNS,
    }
    return TemplateResponse(request, "admin/orders/order/import.html", context)
