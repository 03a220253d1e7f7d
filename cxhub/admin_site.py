"""The CX hub's admin site: branded, with an index that answers "is anything on fire?" first."""

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from . import dashboard


class CXAdminSite(admin.AdminSite):
    site_header = "CX hub"
    site_title = "CX hub"
    index_title = "Control tower"

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        context = {"overview": dashboard.overview()} if request.user.has_perm("orders.view_order") else {}
        return super().index(request, {**context, **(extra_context or {})})
