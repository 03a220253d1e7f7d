"""The KPI dashboard and the per-store KPI settings, in the admin. Thin doors: the figures come from
`insights.kpis`, the tables from `insights.tables`, the charts from `insights.dashboard`."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from .constants import MIN_EXPECTED_COUNT, MIN_ORDERS_PER_GROUP
from .dashboard import csat_chart, daily_charts, holdout_chart
from .forms import KpiFilterForm
from .kpis import kpi_report
from .models import KpiSettings
from .tables import TABLE_SLUGS, kpi_tables

# Given to CX managers and, later, to the Analyst role: read the KPIs and download their tables.
VIEW_KPIS = "insights.view_kpis"


@admin.register(KpiSettings)
class KpiSettingsAdmin(admin.ModelAdmin):
    list_display = ("store", "cost_per_ticket", "currency")
    list_select_related = ("store",)
    fields = ("store", "cost_per_ticket", "currency")
    readonly_fields = ("currency",)

    @admin.display(description="currency")
    def currency(self, settings: KpiSettings) -> str:
        return settings.store.currency if settings.store_id else "the store's"

    def get_urls(self) -> list:
        return [
            path("dashboard/", self.admin_site.admin_view(self.dashboard_view), name="insights_kpis"),
            path("dashboard/<slug:table>.csv", self.admin_site.admin_view(self.csv_view), name="insights_kpis_csv"),
            *super().get_urls(),
        ]

    def dashboard_view(self, request: HttpRequest) -> TemplateResponse:
        if not request.user.has_perm(VIEW_KPIS):
            raise PermissionDenied
        form = KpiFilterForm.from_query(request.GET)
        report = kpi_report(form.scope()) if form.is_valid() else None
        context = {
            **self.admin_site.each_context(request),
            "opts": KpiSettings._meta,
            "title": "KPIs",
            "form": form,
            "report": report,
            "tables": kpi_tables(report) if report else {},
            "daily_charts": daily_charts(report) if report else [],
            "holdout_chart": holdout_chart(report) if report else None,
            "csat_chart": csat_chart(report) if report else None,
            "query": request.GET.urlencode(),
            "time_zone": timezone.get_current_timezone_name(),
            "min_orders": MIN_ORDERS_PER_GROUP,
            "min_expected": MIN_EXPECTED_COUNT,
            "can_change_settings": self.has_change_permission(request) or self.has_add_permission(request),
        }
        return TemplateResponse(request, "admin/insights/kpis.html", context)

    def csv_view(self, request: HttpRequest, table: str) -> HttpResponse:
        if not request.user.has_perm(VIEW_KPIS):
            raise PermissionDenied
        if table not in TABLE_SLUGS:
            raise Http404(f"No KPI table {table!r}.")
        form = KpiFilterForm(request.GET)
        if not form.is_valid():
            return HttpResponseBadRequest(" ".join(form.errors.get("__all__", [])) or "Invalid filters.")
        scope = form.scope()
        tables = kpi_tables(kpi_report(scope))
        store = scope.store.slug if scope.store else "all-stores"
        response = HttpResponse(tables[table].as_csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="kpis-{table}-{store}-{scope.since.isoformat()}-{scope.until.isoformat()}.csv"'
        )
        return response
