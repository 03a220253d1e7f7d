"""Admin for the brain: detectors' thresholds, playbooks, caps, the exception list, the approval queue
and the append-only audit trail. Every write goes through a service that audits it."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from cxhub.admin_runs import RunAdmin
from orders.admin import OrderAdmin as BaseOrderAdmin
from orders.admin import ReadOnlyAdmin, ReadOnlyInline
from orders.carriers import ALIASES, CARRIERS, carrier_name, carrier_slug
from orders.models import Order, Shipment, Store

from . import why
from .actions import ACTIONS, action_choices, action_label
from .anomalies import (
    WAVE_KINDS,
    affected_shipments,
    carrier_pause,
    carrier_pause_in_force,
    carrier_pauses_lift,
    incident_approve,
    incident_dismiss,
)
from .approvals import PERMISSION as DECIDE_APPROVAL
from .approvals import approval_decide, approval_limit
from .choices import ACTIVE_CASE_STATES, ApprovalDecision, IncidentState, PlaybookState
from .dashboard import exceptions_overview
from .detectors import DETECTORS, DETECTORS_PATHS, detector_choices, detector_label
from .engine import REPEAT, case_dismiss, case_resolve, playbook_record_version
from .models import (
    ActionRecord,
    AgentProfile,
    Approval,
    AuditEvent,
    CarrierPause,
    CompensationCap,
    DetectorConfig,
    ExceptionCase,
    Incident,
    Playbook,
    PlaybookStep,
    PlaybookVersion,
    Remedy,
    SandboxRun,
    SweepRun,
)
from .params import Param, resolve_params
from .sandbox import SANDBOX_RUNS, sandbox_run_start


def params_help(schema: dict) -> str:
    return "; ".join(f"{name} (default {p.default!r}): {p.help}" for name, p in schema.items()) or "No parameters."


def params_check(form: forms.ModelForm, schema: dict[str, Param]) -> None:
    """Check the form's JSON `params` against `schema`; what is wrong goes on the params field."""
    if "params" not in form.cleaned_data:
        return  # not valid JSON: the field has said so
    if form.cleaned_data["params"] is None:  # `null`: the defaults
        form.cleaned_data["params"] = {}
    try:
        resolve_params(schema, form.cleaned_data["params"])
    except ValidationError as error:
        form.add_error("params", error.messages)


# --- Detectors --------------------------------------------------------------------------------------------------


class DetectorConfigForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=detector_choices)

    class Meta:
        model = DetectorConfig
        fields = ("kind", "enabled", "params")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        kind = self.instance.kind or self.initial.get("kind")
        if kind in DETECTORS and "params" in self.fields:  # a view-only page has no form fields
            self.fields["params"].help_text = params_help(DETECTORS[kind].params)

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("kind") in DETECTORS:
            params_check(self, DETECTORS[cleaned["kind"]].params)
        return cleaned


@admin.register(DetectorConfig)
class DetectorConfigAdmin(admin.ModelAdmin):
    form = DetectorConfigForm
    list_display = ("label", "kind", "enabled", "thresholds", "updated_at")
    list_editable = ("enabled",)

    @admin.display(description="Detector")
    def label(self, config: DetectorConfig) -> str:
        return str(config)

    @admin.display(description="Thresholds in force")
    def thresholds(self, config: DetectorConfig) -> str:
        if config.kind not in DETECTORS:
            return "—"
        return ", ".join(f"{k}={v}" for k, v in resolve_params(DETECTORS[config.kind].params, config.params).items())

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # Every registered detector has a row to edit, with the defaults until a manager changes them. Only
        # for those who may add rows (and only the missing ones): viewing the list writes nothing. A detector
        # without a row runs on its defaults anyway.
        if self.has_add_permission(request):
            missing = set(DETECTORS_PATHS) - set(DetectorConfig.objects.values_list("kind", flat=True))
            if missing:
                DetectorConfig.objects.bulk_create(
                    [DetectorConfig(kind=kind) for kind in sorted(missing)], ignore_conflicts=True
                )
        return super().changelist_view(request, extra_context)


# --- Playbooks --------------------------------------------------------------------------------------------------


class PlaybookStepForm(forms.ModelForm):
    action = forms.ChoiceField(choices=action_choices)

    class Meta:
        model = PlaybookStep
        fields = ("position", "action", "params")

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("action") in ACTIONS:
            params_check(self, ACTIONS[cleaned["action"]].params)
        return cleaned


class PlaybookStepInline(admin.TabularInline):
    model = PlaybookStep
    form = PlaybookStepForm
    extra = 0
    ordering = ("position",)


class PlaybookForm(forms.ModelForm):
    trigger = forms.ChoiceField(choices=detector_choices, help_text="The exception type that starts this playbook.")

    class Meta:
        model = Playbook
        fields = (
            "name", "store", "trigger", "state", "priority", "vip_only", "min_lifetime_value", "min_order_value",
            "max_order_value", "destination", "carriers", "first_exception_only", "holdout_percent",
        )  # fmt: skip

    def clean_carriers(self) -> str:
        """Carriers as the hub names them ("UPS, Canada Post" -> "ups,canada_post"): a carrier the hub
        does not know (not a built-in one, on no shipment) is a typo that would make the playbook never act."""
        names = [name.strip() for name in self.cleaned_data.get("carriers", "").split(",") if name.strip()]
        slugs = list(dict.fromkeys(carrier_slug(name) for name in names))
        known = set(CARRIERS) | set(ALIASES.values())
        unknown = [slug for slug in slugs if slug not in known and not Shipment.objects.filter(carrier=slug).exists()]
        if unknown:
            raise ValidationError(
                f"Unknown carrier(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}, "
                "or any carrier the hub has seen on a shipment."
            )
        return ",".join(slugs)


def playbook_has_acted(playbook: Playbook) -> bool:
    """Whether an exception or an audit event names one of the playbook's versions."""
    return (
        ExceptionCase.objects.filter(playbook_version__playbook=playbook).exists()
        or AuditEvent.objects.filter(playbook_version__playbook=playbook).exists()
    )


# The sandbox page lists the playbook's latest runs.
RECENT_SANDBOX_RUNS = 10


class SandboxForm(forms.Form):
    """The days to try the playbook on, both included (as the KPI page's period)."""

    since = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To (included)", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["until"] < cleaned["since"]:
            raise ValidationError("The last day must not be before the first.")
        return cleaned


@admin.register(Playbook)
class PlaybookAdmin(admin.ModelAdmin):
    form = PlaybookForm
    inlines = [PlaybookStepInline]
    list_display = ("name", "trigger", "state", "priority", "conditions", "holdout_percent", "version", "sandbox_link")
    list_filter = ("state", "trigger", "store")
    search_fields = ("name",)
    actions = ["activate", "pause"]

    @admin.display(description="Conditions")
    def conditions(self, playbook: Playbook) -> str:
        parts = []
        if playbook.store_id:
            parts.append(str(playbook.store))
        if playbook.vip_only:
            parts.append("VIP")
        if playbook.first_exception_only:
            parts.append("first exception")
        if playbook.destination != "any":
            parts.append(playbook.get_destination_display().lower())
        if playbook.carrier_list:
            parts.append(", ".join(playbook.carrier_list))
        if playbook.min_order_value is not None:
            parts.append(f"order ≥ {playbook.min_order_value}")
        return "; ".join(parts) or "every order"

    @admin.display(description="Sandbox")
    def sandbox_link(self, playbook: Playbook) -> str:
        return format_html('<a href="{}">Try it</a>', reverse("admin:playbooks_playbook_sandbox", args=[playbook.pk]))

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, through delete_view's check
        return actions

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        playbook = self.get_object(request, unquote(object_id))
        if playbook is not None and self.has_delete_permission(request, playbook) and playbook_has_acted(playbook):
            # Deleting it would delete its versions and blank the version on every exception and audit event
            # it acted on: the audit trail would lose who acted.
            self.message_user(
                request,
                f"{playbook.name} has acted on exceptions, so it cannot be deleted: the audit trail records which "
                "of its versions acted. Pause it instead (the Pause action, or set its state to paused).",
                messages.ERROR,
            )
            return HttpResponseRedirect(reverse("admin:playbooks_playbook_change", args=[playbook.pk]))
        return super().delete_view(request, object_id, extra_context)

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: list, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        version = playbook_record_version(form.instance, user=request.user)
        self.message_user(request, f"Saved as version {version.number}.", messages.INFO)

    @admin.action(description="Activate the selected playbooks", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_state(request, queryset, PlaybookState.ACTIVE)

    @admin.action(description="Pause the selected playbooks", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_state(request, queryset, PlaybookState.PAUSED)

    def _set_state(self, request: HttpRequest, queryset: QuerySet, state: str) -> None:
        for playbook in queryset:
            Playbook.objects.filter(pk=playbook.pk).update(state=state)
            playbook_record_version(playbook, user=request.user)
        count = queryset.count()
        self.message_user(request, f"{count} playbook{pluralize(count)} now {state}.", messages.SUCCESS)

    def get_urls(self) -> list:
        return [
            path("<int:pk>/sandbox/", self.admin_site.admin_view(self.sandbox_view), name="playbooks_playbook_sandbox"),
            *super().get_urls(),
        ]

    def sandbox_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Try the playbook on past exceptions: the form queues a sandbox run, whose page shows its progress
        and then its report; this page also lists the playbook's recent runs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        playbook = get_object_or_404(Playbook, pk=pk)
        today = timezone.localdate()
        last_30_days = {"since": today - timedelta(days=29), "until": today}
        form = SandboxForm(request.POST or None, initial=last_30_days)
        if request.method == "POST" and form.is_valid():
            tz = timezone.get_current_timezone()
            since = timezone.datetime.combine(form.cleaned_data["since"], timezone.datetime.min.time(), tzinfo=tz)
            last_day = form.cleaned_data["until"]
            until = timezone.datetime.combine(last_day + timedelta(days=1), timezone.datetime.min.time(), tzinfo=tz)
            run = sandbox_run_start(playbook, since=since, until=until, user=request.user)
            return HttpResponseRedirect(reverse("admin:playbooks_sandboxrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": Playbook._meta,
            "original": playbook,
            "title": f"Sandbox: {playbook.name}",
            "form": form,
            "runs": playbook.sandbox_runs.select_related("requested_by")[:RECENT_SANDBOX_RUNS],
        }
        return TemplateResponse(request, "admin/playbooks/playbook/sandbox.html", context)


@admin.register(SandboxRun)
class SandboxRunAdmin(RunAdmin):
    """Sandbox runs start from a playbook's Try it page; anyone who may see playbooks may try one (it changes
    nothing) and see the runs."""

    runner = SANDBOX_RUNS
    detail_template = "admin/playbooks/sandboxrun/detail.html"
    list_display = ("created_at", "playbook", "playbook_version", "period", "requested_by", "state", "progress",
                    "summary")  # fmt: skip
    list_filter = ("state", "playbook")
    list_select_related = ("playbook", "requested_by")
    date_hierarchy = "created_at"

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.may_start(request)

    def may_start(self, request: HttpRequest) -> bool:
        return request.user.has_perm("playbooks.view_playbook")

    def detail_context(self, request: HttpRequest, run: SandboxRun) -> dict:
        report = run.report
        return {
            "report": report,
            "bars": _bars(report.get("actions", {})),
            "edited_since": run.playbook.version != run.playbook_version,
            "repeat": REPEAT,
        }

    def result(self, run: SandboxRun) -> str:
        report = run.report
        # Runs from before the no-repeat rule was simulated have no count of what it held back.
        held_back = report.get("repeats_held_back", 0)
        return (
            f"{report['exceptions']} exceptions, {sum(report['actions'].values())} actions, "
            f"{report['compensation_total']} paid, {report['approvals_needed']} approvals"
            + (f", {held_back} repeats held back" if held_back else "")
        )


def _bars(counter: dict) -> list[tuple[str, int, int]]:
    top = max(counter.values(), default=0) or 1
    return [(label, n, round(100 * n / top)) for label, n in sorted(counter.items(), key=lambda kv: -kv[1])]


@admin.register(PlaybookVersion)
class PlaybookVersionAdmin(ReadOnlyAdmin):
    list_display = ("playbook", "number", "created_at", "created_by")
    list_filter = ("playbook",)
    readonly_fields = ("playbook", "number", "created_at", "created_by", "pretty_snapshot")
    exclude = ("snapshot",)

    @admin.display(description="Snapshot")
    def pretty_snapshot(self, version: PlaybookVersion) -> str:
        return format_html("<pre>{}</pre>", json.dumps(version.snapshot, indent=2))


@admin.register(CompensationCap)
class CompensationCapAdmin(admin.ModelAdmin):
    list_display = ("store", "action", "max_auto_amount", "max_per_customer_30d", "daily_budget", "vip_multiplier")
    list_filter = ("store", "action")
    list_editable = ("max_auto_amount", "max_per_customer_30d", "daily_budget", "vip_multiplier")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "action":
            money = [(a.kind, a.label) for a in ACTIONS.all() if a.costs_money]
            return forms.ChoiceField(choices=money, label="Action")
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "approval_limit")
    search_fields = ("user__username", "user__email")
    autocomplete_fields = ("user",)


# --- Exceptions, remedies, approvals ----------------------------------------------------------------------------------


class RemedyInline(ReadOnlyInline):
    model = Remedy
    fields = ("position", "action", "amount", "currency", "state", "executed_at", "error")
    readonly_fields = fields
    show_change_link = False


class AuditInline(ReadOnlyInline):
    model = AuditEvent
    fields = ("created_at", "kind", "message", "actor", "playbook_version")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    show_change_link = False
    verbose_name_plural = "Audit trail (why)"

    @admin.display(description="By")
    def actor(self, event: AuditEvent) -> str:
        return str(event.actor_user) if event.actor_user else event.get_actor_type_display()


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("1d", "Over a day"), ("3d", "Over 3 days"), ("7d", "Over a week")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        days = {"1d": 1, "3d": 3, "7d": 7}.get(self.value() or "")
        return queryset.filter(detected_at__lt=timezone.now() - timedelta(days=days)) if days else queryset


class DefaultedFilter(admin.SimpleListFilter):
    """A filter that starts on `default` rather than on everything (so it has no "All" of Django's own:
    its lookups list one where it makes sense)."""

    default: str

    def value(self) -> str:
        return super().value() or self.default

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class CategoryFilter(DefaultedFilter):
    """Problems by default: milestones are good news, not work for agents."""

    title = "category"
    parameter_name = "category"
    default = "problems"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("problems", "Problems"), ("milestones", "Milestones and care"), ("all", "All")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        informational = DETECTORS.informational_kinds()
        if self.value() == "problems":
            return queryset.exclude(kind__in=informational)
        if self.value() == "milestones":
            return queryset.filter(kind__in=informational)
        return queryset


class OpenFilter(admin.SimpleListFilter):
    """Open, acting or escalated: the cases someone may still need to look at."""

    title = "open"
    parameter_name = "open"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Not resolved yet")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(state__in=ACTIVE_CASE_STATES) if self.value() == "yes" else queryset


class TypeFilter(admin.SimpleListFilter):
    title = "exception type"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return detector_choices()

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(kind=self.value()) if self.value() else queryset


def case_title(case: ExceptionCase) -> str:
    """ "Stalled in transit on USPS 9400…, order 1022": the type's label, never its code."""
    label = detector_label(case.kind)
    where = f"{carrier_name(case.shipment.carrier)} {case.shipment.tracking_code}, " if case.shipment else ""
    return f"{label} on {where}order {case.order.order_number}"


@admin.register(ExceptionCase)
class ExceptionCaseAdmin(ReadOnlyAdmin):
    list_display = ("detected_at", "type_label", "state", "order_link", "shipment", "store", "carrier", "age",
                    "is_holdout")  # fmt: skip
    list_filter = (CategoryFilter, OpenFilter, "state", TypeFilter, "store", "is_holdout", "shipment__carrier",
                   "order__ship_region", AgeFilter)  # fmt: skip
    search_fields = ("=order__order_number", "=shipment__tracking_code", "order__customer__email")
    list_select_related = ("order", "shipment", "store")
    date_hierarchy = "detected_at"
    ordering = ("detected_at",)
    show_full_result_count = False
    inlines = [RemedyInline, AuditInline]
    readonly_fields = ("pretty_facts",)
    exclude = ("facts",)
    actions = ["resolve", "dismiss"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Agents act on exceptions through the actions; every field stays read-only.
        return request.user.has_perm("playbooks.change_exceptioncase")

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(self.dashboard_view)
        return [path("dashboard/", view, name="playbooks_exceptions_dashboard"), *super().get_urls()]

    def dashboard_view(self, request: HttpRequest) -> TemplateResponse:
        """Open problems by type, carrier, store, region and age; the oldest first; approvals waiting."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        store_id = request.GET.get("store", "")
        store_id = int(store_id) if store_id.isdigit() else None
        context = {
            **self.admin_site.each_context(request),
            "title": "Exception dashboard",
            "opts": self.model._meta,
            "overview": exceptions_overview(now=timezone.now(), store_id=store_id),
            "stores": Store.objects.order_by("name"),
            "store_id": store_id,
            "store_query": f"&store__id__exact={store_id}" if store_id else "",
            "can_act": self.has_change_permission(request),
        }
        return TemplateResponse(request, "admin/playbooks/exceptions_dashboard.html", context)

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [f.name for f in ExceptionCase._meta.fields if f.name != "facts"] + ["pretty_facts"]

    def render_change_form(self, request: HttpRequest, context: dict, *args: object, **kwargs: object) -> HttpResponse:
        if kwargs.get("obj"):
            context["subtitle"] = case_title(kwargs["obj"])
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.display(description="Type", ordering="kind")
    def type_label(self, case: ExceptionCase) -> str:
        return detector_label(case.kind)

    @admin.display(description="Order", ordering="order__order_number")
    def order_link(self, case: ExceptionCase) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[case.order_id]), case.order.order_number
        )

    @admin.display(description="Carrier", ordering="shipment__carrier")
    def carrier(self, case: ExceptionCase) -> str:
        return case.shipment.carrier if case.shipment else "—"

    @admin.display(description="Age")
    def age(self, case: ExceptionCase) -> str:
        hours = (timezone.now() - case.detected_at).total_seconds() / 3600
        return f"{hours / 24:.1f} d" if hours >= 24 else f"{hours:.0f} h"

    @admin.display(description="Facts")
    def pretty_facts(self, case: ExceptionCase) -> str:
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", why.fact_rows(case.facts))
        return format_html('<p>{}</p><table class="cx-why">{}</table>', case.explanation, rows)

    @admin.action(description="Resolve the selected exceptions", permissions=["change"])
    def resolve(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = sum(case_resolve(case, reason="Resolved by an agent.", user=request.user) for case in queryset)
        self.message_user(request, f"{count} exception{pluralize(count)} resolved.", messages.SUCCESS)

    @admin.action(description="Dismiss the selected exceptions (not a real problem)", permissions=["change"])
    def dismiss(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = sum(case_dismiss(case, user=request.user) for case in queryset)
        self.message_user(request, f"{count} exception{pluralize(count)} dismissed.", messages.SUCCESS)


@admin.register(Remedy)
class RemedyAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "amount", "currency", "state", "case", "executed_at")
    list_filter = ("state", "action")
    list_select_related = ("case__order", "case__shipment")
    date_hierarchy = "created_at"


class ApprovalForm(forms.ModelForm):
    """The decision. It is taken while the form validates: `approval_decide` alone knows the rules (the
    person's limit, what may be approved, a case closed meanwhile, somebody faster in another tab), and only
    a refusal raised during validation can come back on the form, with nothing saved and nothing logged."""

    DECISIONS = [("approve", "Approve"), ("reject", "Reject")]
    choice = forms.ChoiceField(label="Your decision", choices=DECISIONS, widget=forms.RadioSelect)
    amount = forms.DecimalField(
        label="Approve this amount",
        required=False,
        min_value=Decimal("0.01"),
        decimal_places=2,
        help_text="Leave blank to approve the proposed amount; or approve less.",
    )
    why = forms.CharField(label="Reason", required=False, widget=forms.Textarea(attrs={"rows": 2}),
                          help_text="Required to reject. Goes in the audit trail.")  # fmt: skip

    # Set by ApprovalAdmin.get_form: who decides.
    user = None
    # The service's names for what this form calls otherwise.
    SERVICE_FIELDS = {"reason": "why", "approved_amount": "amount"}

    class Meta:
        model = Approval
        fields: tuple = ()

    def clean(self) -> dict:
        cleaned = super().clean()
        if "choice" not in self.fields or self.errors:
            return cleaned
        try:
            approval_decide(self.instance, user=self.user, approve=cleaned["choice"] == "approve",
                            amount=cleaned.get("amount"), reason=cleaned.get("why", ""))  # fmt: skip
        except PermissionDenied as exc:
            raise ValidationError(str(exc) or "You may not decide on remedies.") from exc
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                raise
            for name, errors in exc.error_dict.items():
                name = self.SERVICE_FIELDS.get(name, name)
                self.add_error(name if name in self.fields else None, errors)
        return cleaned


class PendingFilter(DefaultedFilter):
    """The queue opens on what waits for a decision, oldest due first."""

    title = "decision"
    parameter_name = "pending"
    default = "yes"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Waiting"), ("overdue", "Past SLA"), ("approved", "Approved"), ("rejected", "Rejected"),
                ("no", "Decided"), ("all", "All")]  # fmt: skip

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        match self.value():
            case "yes":
                return queryset.filter(decision=ApprovalDecision.PENDING)
            case "overdue":
                return queryset.filter(decision=ApprovalDecision.PENDING, due_at__lt=timezone.now())
            case "approved":
                return queryset.filter(decision=ApprovalDecision.APPROVED)
            case "rejected":
                return queryset.filter(decision=ApprovalDecision.REJECTED)
            case "no":
                return queryset.exclude(decision=ApprovalDecision.PENDING)
        return queryset


# Pending first (whatever the decisions' names sort as), then the oldest due.
PENDING_FIRST = Case(When(decision=ApprovalDecision.PENDING, then=Value(0)), default=Value(1))


@admin.register(Approval)
class ApprovalAdmin(admin.ModelAdmin):
    """The agents' queue: each request with the order, the exception and its facts, the remedy, the
    amount and the cap it exceeds. Whoever may decide approvals gets the decision form while one waits;
    a decided approval is read-only for everyone."""

    form = ApprovalForm
    list_display = ("due_in", "order_link", "exception", "remedy_action", "proposed_amount", "exceeded_caps",
                    "decision", "decided_by")  # fmt: skip
    list_filter = (PendingFilter, "remedy__action", "remedy__case__store")
    list_select_related = ("remedy__case__order", "decided_by")
    ordering = (PENDING_FIRST.asc(), "due_at")
    readonly_fields = ("order_link", "customer", "exception", "facts", "remedy_action", "proposed_amount",
                       "cap_arithmetic", "requested_at", "due_in", "decision", "decided_by", "decided_at",
                       "approved_amount", "reason")  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Approval | None = None) -> bool:
        # Deciding is the only change there is: for whoever may decide, while the approval waits.
        allowed = request.user.has_perm(DECIDE_APPROVAL)
        return allowed and (obj is None or obj.decision == ApprovalDecision.PENDING)

    def get_fields(self, request: HttpRequest, obj: Approval | None = None) -> list[str]:
        fields = list(self.readonly_fields)
        if obj and self.has_change_permission(request, obj):
            # Only a sum of money may be approved for less: for a replacement there is no amount to choose.
            pays_a_sum = obj.remedy.action in ACTIONS and ACTIONS[obj.remedy.action].pays_a_sum
            fields += ["choice", "amount", "why"] if pays_a_sum else ["choice", "why"]
        return fields

    def get_form(self, request: HttpRequest, obj: Approval | None = None, **kwargs: object) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, **kwargs)
        form.user = request.user
        return form

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict | None = None) -> HttpResponse:  # fmt: skip
        if request.method == "POST" and object_id and request.user.has_perm(DECIDE_APPROVAL):
            approval = self.get_object(request, unquote(object_id))
            if approval is not None and approval.decision != ApprovalDecision.PENDING:
                # Decided in another tab, or by somebody else, since this page was opened.
                by = f" by {approval.decided_by}" if approval.decided_by else ""
                decision = approval.get_decision_display().lower()
                self.message_user(request, f"Not saved: this request was already {decision}{by}.", messages.ERROR)
                return HttpResponseRedirect(request.path)
        extra_context = {**(extra_context or {}), "show_save_and_continue": False}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Approval, form: forms.ModelForm, change: bool) -> None:
        pass  # ApprovalForm decided while it validated

    def construct_change_message(self, request: HttpRequest, form: forms.ModelForm, formsets: list,
                                 add: bool = False) -> str:  # fmt: skip
        return self._verdict(form.instance)

    def response_change(self, request: HttpRequest, obj: Approval) -> HttpResponse:
        self.message_user(request, f"{self._verdict(obj)} ({obj.remedy.case.order}).", messages.SUCCESS)
        return self.response_post_save_change(request, obj)

    @staticmethod
    def _verdict(approval: Approval) -> str:
        remedy = approval.remedy
        action = action_label(remedy.action)
        if approval.decision == ApprovalDecision.APPROVED:
            return f"Approved {approval.approved_amount} {remedy.currency}: {action}"
        return f"Rejected: {action}"

    @admin.display(description="SLA", ordering="due_at")
    def due_in(self, approval: Approval) -> str:
        if approval.decision != ApprovalDecision.PENDING:
            return "—"
        minutes = int((approval.due_at - timezone.now()).total_seconds() // 60)
        if minutes < 0:
            return format_html(
                '<strong style="color:#b91c1c">overdue {} h {} min</strong>', -minutes // 60, -minutes % 60
            )
        return f"{minutes // 60} h {minutes % 60} min left"

    @admin.display(description="Order")
    def order_link(self, approval: Approval) -> str:
        order = approval.remedy.case.order
        return format_html('<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[order.pk]), order)

    @admin.display(description="Exception")
    def exception(self, approval: Approval) -> str:
        case = approval.remedy.case
        return f"{detector_label(case.kind)}: {case.explanation}"

    @admin.display(description="What the hub saw")
    def facts(self, approval: Approval) -> str:
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", why.fact_rows(approval.remedy.case.facts))
        return format_html('<table class="cx-why">{}</table>', rows) if rows else "—"

    @admin.display(description="Customer")
    def customer(self, approval: Approval) -> str:
        summary = why.customer_summary(approval)
        if summary is None:
            return "—"
        currency = approval.remedy.currency
        given = format_html_join("", "<li>{}</li>", ((line,) for line in summary.given_30d))
        return format_html(
            "<p>{}{} · {} order{} with the store, {} {} in all</p><p>Given in the last 30 days: {}</p>",
            summary.name, " (VIP)" if summary.is_vip else "", summary.orders, pluralize(summary.orders),
            summary.spent, currency, format_html("<ul>{}</ul>", given) if given else "nothing",
        )  # fmt: skip

    @admin.display(description="Remedy")
    def remedy_action(self, approval: Approval) -> str:
        remedy = approval.remedy
        return action_label(remedy.action)

    @admin.display(description="Proposed amount")
    def proposed_amount(self, approval: Approval) -> str:
        return f"{approval.remedy.amount} {approval.remedy.currency}"

    @admin.display(description="Above")
    def exceeded_caps(self, approval: Approval) -> str:
        return why.caps_exceeded(approval.exceeded)

    @admin.display(description="Why it waits for you")
    def cap_arithmetic(self, approval: Approval) -> str:
        remedy = approval.remedy
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (line.label, line.limit, "—" if line.before is None else line.before, line.with_this,
                 format_html("<strong>over by {}</strong>", line.with_this - line.limit) if line.over else "within")
                for line in why.cap_lines(remedy)
            ),
        )  # fmt: skip
        table = (
            format_html(
                '<table class="cx-why"><tr><th>Cap ({})</th><th>Limit</th><th>Before</th><th>With this remedy</th>'
                "<th></th></tr>{}</table>",
                remedy.currency,
                rows,
            )
            if rows
            else ""
        )
        notes = format_html_join("", "<p>{}</p>", ((reason,) for reason in why.other_reasons(remedy)))
        return format_html("{}{}", table, notes) or "—"

    def render_change_form(self, request: HttpRequest, context: dict, *args: object, **kwargs: object) -> HttpResponse:
        limit = approval_limit(request.user)
        approval = kwargs.get("obj")
        about = f"{self.remedy_action(approval)} for {case_title(approval.remedy.case)}. " if approval else ""
        context["subtitle"] = f"{about}Your approval limit: {'no limit' if limit is None else limit}"
        return super().render_change_form(request, context, *args, **kwargs)


# --- Audit and machinery --------------------------------------------------------------------------------------------


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Append-only: nobody adds, changes or deletes audit events here (superusers included)."""

    list_display = ("created_at", "kind", "message", "order", "actor_type", "actor_user", "playbook_version")
    list_filter = ("kind", "actor_type", "store")
    search_fields = ("message", "=order__order_number")
    list_select_related = ("order", "actor_user", "playbook_version__playbook")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(SweepRun)
class SweepRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "detector", "candidates", "opened", "resolved", "duration_ms")
    list_filter = ("detector",)
    date_hierarchy = "started_at"


@admin.register(ActionRecord)
class ActionRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "provider", "operation", "reference", "remedy")
    list_filter = ("provider", "operation")
    search_fields = ("=reference",)


# --- Incidents (the anomaly watch) ----------------------------------------------------------------------------------


class IncidentAuditInline(AuditInline):
    fk_name = "incident"


class IncidentForm(forms.ModelForm):
    notify_kind = forms.ChoiceField(
        label="Notify affected customers with",
        required=False,
        choices=[("", "No message"), *[(k.value, k.label) for k in WAVE_KINDS]],
        help_text="Sent once to every customer with a parcel still on its way with this carrier to this region.",
    )

    class Meta:
        model = Incident
        fields = ("notify_kind", "pause_carrier")


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """Managers review the watch's proposal, adjust it, then approve (one message wave) or dismiss."""

    form = IncidentForm
    list_display = ("detected_at", "carrier", "region", "ratio", "recent_count", "baseline_count", "state",
                    "messages_queued", "decided_by")  # fmt: skip
    list_filter = ("state", "carrier")
    readonly_fields = ("explanation", "state", "detected_at", "carrier", "region", "ratio", "recent_count",
                       "baseline_count", "window_hours", "baseline_hours", "affected", "decided_by", "decided_at",
                       "messages_queued")  # fmt: skip
    fieldsets = [
        ("What the watch saw", {"fields": ["explanation", "state", "detected_at", "carrier", "region", "ratio",
                                           "recent_count", "baseline_count", "window_hours", "baseline_hours"]}),
        ("Proposed actions", {"fields": ["affected", "notify_kind", "pause_carrier"]}),
        ("Decision", {"fields": ["decided_by", "decided_at", "messages_queued"]}),
    ]  # fmt: skip
    inlines = [IncidentAuditInline]
    change_form_template = "admin/playbooks/incident/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Incident | None = None) -> bool:
        # The proposal can be adjusted while the incident waits for its decision, never after.
        allowed = request.user.has_perm("playbooks.decide_incident")
        return allowed and (obj is None or obj.state == IncidentState.OPEN)

    @admin.display(description="Customers with a parcel on its way")
    def affected(self, incident: Incident) -> int:
        return affected_shipments(incident).values("order").distinct().count()

    def response_change(self, request: HttpRequest, obj: Incident) -> HttpResponse:
        decision = "_approve" if "_approve" in request.POST else "_dismiss" if "_dismiss" in request.POST else None
        if decision is None:
            return super().response_change(request, obj)
        try:
            if decision == "_approve":
                incident = incident_approve(incident=obj, user=request.user)
                self.message_user(request, f"Approved: {incident.messages_queued} customers will be told.",
                                  messages.SUCCESS)  # fmt: skip
            else:
                incident_dismiss(incident=obj, user=request.user)
                self.message_user(request, "Incident dismissed.", messages.SUCCESS)
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:playbooks_incident_change", args=[obj.pk]))


class CarrierPauseForm(forms.ModelForm):
    class Meta:
        model = CarrierPause
        fields = ["carrier", "region"]

    def clean(self) -> dict:
        data = super().clean()
        typed = {"carrier": data.get("carrier") or "", "region": data.get("region") or ""}
        if typed["carrier"] and (pause := carrier_pause_in_force(**typed)):
            raise ValidationError(f"{carrier_name(pause.carrier)} is already paused for {pause.region}.")
        return data

    def validate_unique(self) -> None:
        pass  # clean() checks the one pause in force, with the carrier's name as it is stored


@admin.register(CarrierPause)
class CarrierPauseAdmin(admin.ModelAdmin):
    """Pauses come from approved incidents, or a manager adds one (carrier and region) ahead of trouble;
    either way they are lifted, never edited or deleted."""

    form = CarrierPauseForm
    list_display = ("carrier", "region", "created_at", "created_by", "lifted_at", "incident")
    list_filter = ("carrier", ("lifted_at", admin.EmptyFieldListFilter))
    readonly_fields = ("carrier", "region", "incident", "created_at", "created_by", "lifted_at")
    actions = ["lift"]

    def get_fields(self, request: HttpRequest, obj: CarrierPause | None = None) -> list[str]:
        return list(self.readonly_fields) if obj else ["carrier", "region"]

    def get_readonly_fields(self, request: HttpRequest, obj: CarrierPause | None = None) -> tuple[str, ...]:
        return self.readonly_fields if obj else ()

    def save_model(self, request: HttpRequest, obj: CarrierPause, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.pk = carrier_pause(carrier=obj.carrier, region=obj.region, user=request.user).pk

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description="Lift the selected pauses", permissions=["change"])
    def lift(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = carrier_pauses_lift(queryset, user=request.user)
        self.message_user(request, f"{count} pause{pluralize(count)} lifted.", messages.SUCCESS)


# --- The order page shows its exceptions and the audit trail ------------------------------------------------------


class OrderCaseInline(ReadOnlyInline):
    model = ExceptionCase
    fields = ("detected_at", "kind", "state", "explanation", "is_holdout")
    readonly_fields = fields
    ordering = ("-detected_at",)


class OrderAuditInline(AuditInline):
    fk_name = "order"


admin.site.unregister(Order)


@admin.register(Order)
class OrderAdmin(BaseOrderAdmin):
    inlines = [*BaseOrderAdmin.inlines, OrderCaseInline, OrderAuditInline]
