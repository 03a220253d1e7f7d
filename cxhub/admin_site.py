"""The CX hub's admin site: branded, with an index that answers "is anything on fire?" first."""

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone

from . import dashboard
from .health import failing, work_checks


class CXAdminSite(admin.AdminSite):
    site_header = "CX hub"
    site_title = "CX hub"
    index_title = "Control tower"

    def each_context(self, request: HttpRequest) -> dict:
        context = super().each_context(request)
        # The incident banner on every admin page, for those who may see incidents (one indexed count).
        if request.user.is_active and request.user.has_perm("playbooks.view_incident"):
            from playbooks.anomalies import open_incidents_count

            context["cx_open_incidents"] = open_incidents_count()
        return context

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        context = {"overview": dashboard.overview()} if request.user.has_perm("orders.view_order") else {}
        # Whoever runs the hub hears of stopped workers or cron here too, not only from a monitor.
        context["cx_stalled"] = failing(work_checks(timezone.now())).items()
        return super().index(request, {**context, **(extra_context or {})})
