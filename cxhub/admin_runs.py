"""The admin's side of runs done by a worker (cxhub/runs.py): each run's page, the progress it polls, and
running a failed one again. A run is never added or edited by hand: it starts from its own form (the
order list's Import CSV, a playbook's Try it) and its page shows its progress, then its result."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from .runs import BackgroundRun, Runner, RunState


class RunAdmin(admin.ModelAdmin):
    """A kind of run's list and pages. Subclasses name their `runner`, the page's `detail_template`, who may
    start one (`may_start`), what a finished one did in a line (`result`), and add to the page's context
    (`detail_context`)."""

    runner: Runner
    detail_template: str

    def may_start(self, request: HttpRequest) -> bool:
        raise NotImplementedError

    def detail_context(self, request: HttpRequest, run: Any) -> dict[str, Any]:
        return {}

    def result(self, run: Any) -> str:
        """What a finished run did, for the list's Result column."""
        raise NotImplementedError

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_superuser

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/progress/", wrap(self.progress_view), name=self._url_name("progress")),
            path("<int:pk>/retry/", wrap(require_POST(self.retry_view)), name=self._url_name("retry")),
            *super().get_urls(),
        ]

    def _url_name(self, page: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{page}"

    def _url(self, page: str, run_id: int) -> str:
        return reverse(f"admin:{self._url_name(page)}", args=[run_id])

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        run = self._get_viewable(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": str(run),
            "run": run,
            "states": RunState,
            "progress_url": self._url("progress", run.pk),
            "retry_url": self._url("retry", run.pk),
            "can_retry": run.state == RunState.FAILED and self.may_start(request),
            **self.detail_context(request, run),
        }
        return TemplateResponse(request, self.detail_template, context)

    def progress_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        """What the run's page polls while a worker runs it."""
        return JsonResponse(self._get_viewable(request, str(pk)).progress_json())

    def retry_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.may_start(request):
            raise PermissionDenied
        if self.runner.retry(pk):
            self.message_user(request, "Queued again.", messages.SUCCESS)
        else:
            self.message_user(request, "Only a failed run can be run again.", messages.WARNING)
        return HttpResponseRedirect(self._url("change", pk))

    def _get_viewable(self, request: HttpRequest, object_id: str) -> Any:
        if not self.has_view_permission(request):
            raise PermissionDenied
        if not object_id.isdigit():
            raise Http404(f"no such {self.opts.verbose_name}")
        return get_object_or_404(self.get_queryset(request), pk=object_id)

    @admin.display(description="Progress")
    def progress(self, run: BackgroundRun) -> str:
        return format_html(
            '<progress max="100" value="{}" title="{}%"></progress> {} / {}',
            run.percent_done, run.percent_done, run.done, run.total,
        )  # fmt: skip

    @admin.display(description="Result")
    def summary(self, run: BackgroundRun) -> str:
        if run.state == RunState.FAILED:
            return run.failure[:80]
        if run.state != RunState.DONE:
            return "—"
        return self.result(run)
