"""The brain: exceptions (cases), playbooks and their steps, remedies, caps, approvals and the audit log.

Rules that span rows live in services (`playbooks/engine.py`, `caps.py`, `approvals.py`, `audit.py`).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format

from cxhub.runs import BackgroundRun
from orders.models import MONEY, Order, Shipment, Store

from .choices import (
    ACTIVE_CASE_STATES,
    ActorType,
    ApprovalDecision,
    AuditKind,
    CaseState,
    Destination,
    IncidentState,
    PlaybookState,
    RemedyState,
)


class DetectorConfig(models.Model):
    """A detector's switch and thresholds, edited by CX managers. Missing params take the defaults."""

    kind = models.CharField(max_length=40, unique=True)
    enabled = models.BooleanField(default=True)
    params = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind"]
        verbose_name = "detector"

    def __str__(self) -> str:
        from .detectors import detector_label

        return detector_label(self.kind)


class ExceptionCase(models.Model):
    """One detected problem on one order or shipment."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="cases")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="cases")
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, null=True, blank=True, related_name="cases")
    kind = models.CharField("exception type", max_length=40)
    state = models.CharField(max_length=12, choices=CaseState.choices, default=CaseState.OPEN)
    detected_at = models.DateTimeField()
    facts = models.JSONField(
        default=dict, blank=True, help_text="What the detector saw, with the thresholds it applied."
    )
    explanation = models.TextField(blank=True)
    playbook_version = models.ForeignKey(
        "PlaybookVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="cases"
    )
    is_holdout = models.BooleanField(default=False, help_text="In the playbook's holdout group: no proactive action.")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    planning_started_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker claimed it to plan it; empty once planned."
    )
    abandoned = models.PositiveSmallIntegerField(
        db_default=0, help_text="How many times a worker stopped (killed, out of memory) while planning it."
    )

    class Meta:
        ordering = ["-detected_at"]
        verbose_name = "exception"
        constraints = [
            # At most one live case per (subject, type): detecting again never duplicates it.
            models.UniqueConstraint(
                fields=["order", "kind"],
                condition=Q(shipment__isnull=True, state__in=ACTIVE_CASE_STATES),
                name="case_one_active_per_order",
            ),
            models.UniqueConstraint(
                fields=["shipment", "kind"],
                condition=Q(shipment__isnull=False, state__in=ACTIVE_CASE_STATES),
                name="case_one_active_per_shipment",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "state"], name="case_kind_state"),
            models.Index(fields=["store", "state", "detected_at"], name="case_store_state_detected"),
            models.Index(fields=["state", "detected_at"], name="case_state_detected"),
            models.Index(fields=["detected_at"], name="case_detected"),
            # The cases being planned, which the recovery reads every minute: a handful at any time.
            models.Index(
                fields=["planning_started_at"], condition=Q(planning_started_at__isnull=False), name="case_planning"
            ),
        ]

    def __str__(self) -> str:
        from .detectors import detector_label

        return f"{detector_label(self.kind)} on {self.shipment or self.order}"


class Playbook(models.Model):
    """What to do when an exception of a type is detected, for the orders its conditions match."""

    name = models.CharField(max_length=120)
    store = models.ForeignKey(
        Store, on_delete=models.CASCADE, null=True, blank=True, help_text="Empty: every store.", related_name="+"
    )
    trigger = models.CharField(max_length=40, help_text="The exception type that starts this playbook.")
    state = models.CharField(max_length=10, choices=PlaybookState.choices, default=PlaybookState.DRAFT)
    priority = models.PositiveIntegerField(default=100, help_text="Lower runs first; the first match acts.")
    vip_only = models.BooleanField("VIP customers only", default=False)
    min_lifetime_value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    min_order_value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    max_order_value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    destination = models.CharField(max_length=14, choices=Destination.choices, default=Destination.ANY)
    carriers = models.CharField(max_length=200, blank=True, help_text="Comma-separated carrier slugs; empty: any.")
    first_exception_only = models.BooleanField(
        default=False, help_text="Act only on the order's first exception (e.g. the VIP upgrade)."
    )
    holdout_percent = models.PositiveSmallIntegerField(
        default=0, help_text="Share of matching orders that get no proactive action, to measure deflection."
    )
    version = models.PositiveIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["trigger", "priority", "name"]
        indexes = [models.Index(fields=["trigger", "state", "priority"], name="playbook_trigger_state")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.holdout_percent > 100:
            raise ValidationError({"holdout_percent": "A share is at most 100%."})
        if self.min_order_value and self.max_order_value and self.min_order_value > self.max_order_value:
            raise ValidationError({"max_order_value": "Must be at least the minimum order value."})

    @property
    def carrier_list(self) -> list[str]:
        return [c.strip() for c in self.carriers.split(",") if c.strip()]


class PlaybookStep(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=1)
    action = models.CharField(max_length=40)
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["playbook", "position"]
        constraints = [models.UniqueConstraint(fields=["playbook", "position"], name="step_unique_position")]

    def __str__(self) -> str:
        return f"{self.position}. {self.action}"


class PlaybookVersion(models.Model):
    """A frozen copy of a playbook as it was when it acted: every change makes a new one."""

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["playbook", "-number"]
        constraints = [models.UniqueConstraint(fields=["playbook", "number"], name="playbook_version_unique")]

    def __str__(self) -> str:
        return f"{self.playbook} v{self.number}"


class CompensationCap(models.Model):
    """Money limits for one action in one store. Above any of them, a person approves."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="caps")
    action = models.CharField(max_length=40)
    max_auto_amount = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="Largest amount paid without a person's approval."
    )
    max_per_customer_30d = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="Most one customer may receive automatically in 30 days."
    )
    daily_budget = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="Most the store pays automatically in one day (store's time zone)."
    )
    vip_multiplier = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("1.00"),
        help_text="VIPs' per-remedy and per-customer caps times this.",
    )

    class Meta:
        ordering = ["store", "action"]
        constraints = [models.UniqueConstraint(fields=["store", "action"], name="cap_unique_store_action")]
        verbose_name = "compensation cap"

    def __str__(self) -> str:
        return f"{self.store}: {self.action} ≤ {self.max_auto_amount}"


class Remedy(models.Model):
    """One step of a playbook applied to one exception: planned, maybe approved, then done once."""

    case = models.ForeignKey(ExceptionCase, on_delete=models.CASCADE, related_name="remedies")
    position = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=40)
    params = models.JSONField(default=dict, blank=True)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="USD")
    state = models.CharField(max_length=16, choices=RemedyState.choices, default=RemedyState.PLANNED)
    cap_check = models.JSONField(default=dict, blank=True, help_text="The caps consulted and their arithmetic.")
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When a worker claimed it.")
    executed_at = models.DateTimeField(null=True, blank=True)
    abandoned = models.PositiveSmallIntegerField(
        db_default=0, help_text="How many times a worker stopped (killed, out of memory) while running it."
    )

    class Meta:
        ordering = ["case", "position"]
        verbose_name_plural = "remedies"
        constraints = [models.UniqueConstraint(fields=["case", "position"], name="remedy_once_per_step")]
        indexes = [
            models.Index(fields=["action", "state", "executed_at"], name="remedy_action_state"),
            # The few steps in flight, which the recovery job reads every minute.
            models.Index(
                fields=["state", "created_at"],
                condition=models.Q(state__in=[RemedyState.APPROVED, RemedyState.EXECUTING]),
                name="remedy_in_flight",
            ),
        ]

    def __str__(self) -> str:
        from .actions import action_label

        return f"{action_label(self.action)} for {self.case}"


class Approval(models.Model):
    """A remedy above a cap, waiting for a person."""

    remedy = models.OneToOneField(Remedy, on_delete=models.CASCADE, related_name="approval")
    requested_at = models.DateTimeField(auto_now_add=True)
    due_at = models.DateTimeField(help_text="Escalated if still undecided then.")
    exceeded = models.JSONField(default=list, blank=True, help_text="Which caps the amount is above.")
    decision = models.CharField(max_length=10, choices=ApprovalDecision.choices, default=ApprovalDecision.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    approved_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    reason = models.TextField(blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        permissions = [("decide_approval", "Can approve or reject remedies")]
        indexes = [models.Index(fields=["decision", "due_at"], name="approval_pending_due")]

    def __str__(self) -> str:
        return f"Approval for {self.remedy}"


class AgentProfile(models.Model):
    """How much one person may approve."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile")
    approval_limit = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))

    def __str__(self) -> str:
        return f"{self.user} (up to {self.approval_limit})"


class Incident(models.Model):
    """A spike: one carrier's exception rate to one destination region, far above its own baseline.

    The anomaly watch opens it and proposes actions; nothing reaches customers until a manager approves,
    and one approval sends one message wave."""

    carrier = models.CharField(max_length=40)
    region = models.CharField("destination region", max_length=100)
    state = models.CharField(max_length=10, choices=IncidentState.choices, default=IncidentState.OPEN)
    detected_at = models.DateTimeField()
    window_hours = models.PositiveSmallIntegerField()
    recent_count = models.PositiveIntegerField(help_text="Problems in the window.")
    baseline_count = models.PositiveIntegerField(help_text="Problems in the baseline period before it.")
    baseline_hours = models.PositiveIntegerField()
    ratio = models.DecimalField(max_digits=8, decimal_places=1, help_text="Window rate over baseline rate.")
    explanation = models.TextField()
    # What the manager approves (proposed by the watch, editable before approving).
    notify_kind = models.CharField(
        "notify affected customers with", max_length=30, default="delay", blank=True,
        help_text="The message template sent to every customer with a parcel on its way; blank to send nothing.",
    )  # fmt: skip
    pause_carrier = models.BooleanField(
        "pause the carrier in this region", default=True, help_text="For new shipments, until a manager lifts it."
    )
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    messages_queued = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-detected_at"]
        constraints = [
            # One open incident per carrier and region: the watch running again adds nothing.
            models.UniqueConstraint(
                fields=["carrier", "region"], condition=Q(state="open"), name="incident_one_open_per_pair"
            )
        ]
        permissions = [("decide_incident", "Can approve or dismiss incidents")]

    def __str__(self) -> str:
        lane = f"{self.carrier.upper()} to {self.region or 'unknown region'}"
        if not self.baseline_count:
            return f"{lane}: {self.recent_count} problems, none before"
        return f"{lane}: {self.ratio}x the usual rate"


class CarrierPause(models.Model):
    """Don't hand new shipments to this carrier for this region, until a manager lifts it. The store's
    shipping rules follow it (the admin lists the active ones, GET /api/v1/carrier-pauses/ answers them)."""

    carrier = models.CharField(max_length=40)
    region = models.CharField("destination region", max_length=100)
    incident = models.ForeignKey(Incident, on_delete=models.SET_NULL, null=True, blank=True, related_name="pauses")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "region"], condition=Q(lifted_at__isnull=True), name="carrier_pause_one_active"
            )
        ]

    def __str__(self) -> str:
        return f"{self.carrier.upper()} paused for {self.region}"


class AuditEvent(models.Model):
    """Append-only: every detection, decision and action, with its why."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=20, choices=AuditKind.choices)
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, null=True, blank=True, related_name="audit_events")
    case = models.ForeignKey(
        ExceptionCase, on_delete=models.CASCADE, null=True, blank=True, related_name="audit_events"
    )
    remedy = models.ForeignKey(Remedy, on_delete=models.CASCADE, null=True, blank=True, related_name="audit_events")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, null=True, blank=True, related_name="audit_events")
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    playbook_version = models.ForeignKey(PlaybookVersion, on_delete=models.SET_NULL, null=True, blank=True)
    message = models.TextField()
    parameters = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["order", "created_at"], name="audit_order_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message[:60]}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValidationError("The audit log is append-only.")
        super().save(*args, **kwargs)


class SweepRun(models.Model):
    """One run of one detector's sweep, so the admin shows that sweeps run and how fast."""

    detector = models.CharField(max_length=40)
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    candidates = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["detector", "started_at"], name="sweep_detector_started")]

    def __str__(self) -> str:
        return f"{self.detector} at {self.started_at:%Y-%m-%d %H:%M}"


class SandboxRun(BackgroundRun):
    """A playbook tried on past exceptions by a worker (playbooks/sandbox.py): its progress, then its report.

    Nothing is sent, paid or changed; the report is what the live engine would have done."""

    unit = "exception"
    starting_text = "Counting the exceptions of the period…"

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="sandbox_runs")
    playbook_version = models.PositiveIntegerField(help_text="The version of the playbook tried.")
    since = models.DateTimeField()
    until = models.DateTimeField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    report = models.JSONField(default=dict, blank=True, help_text="What the playbook would have done (SandboxReport).")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The recovery job's query: only runs not finished.
            models.Index(fields=["state"], name="sandboxrun_unfinished", condition=Q(state__in=["queued", "running"])),
        ]

    def __str__(self) -> str:
        return f"{self.playbook.name}, {self.period}"

    @property
    def period(self) -> str:
        """The days tried, both included (`until` is the start of the day after the last)."""
        first, last = timezone.localtime(self.since), timezone.localtime(self.until - timedelta(microseconds=1))
        return f"{date_format(first, 'j M Y')} to {date_format(last, 'j M Y')}"


class ActionRecord(models.Model):
    """What the built-in local provider did in another system (a refund, a re-ship, a coupon): exactly
    what a Shopify or Stripe provider would have been asked to do, for a remedy or a return."""

    remedy = models.ForeignKey(Remedy, on_delete=models.CASCADE, related_name="records", null=True, blank=True)
    return_request = models.ForeignKey(
        "orders.ReturnRequest", on_delete=models.CASCADE, related_name="records", null=True, blank=True
    )
    provider = models.CharField(max_length=20, default="local")
    operation = models.CharField(max_length=40)
    payload = models.JSONField(default=dict, blank=True)
    reference = models.CharField(max_length=64, help_text="The provider's id for what it did.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # The remedy (or the return) is the idempotency key: one record per operation, ever.
            models.UniqueConstraint(fields=["remedy", "operation"], name="action_record_once"),
            models.UniqueConstraint(fields=["return_request", "operation"], name="action_record_once_per_return"),
            models.CheckConstraint(
                condition=Q(remedy__isnull=False, return_request__isnull=True)
                | Q(remedy__isnull=True, return_request__isnull=False),
                name="action_record_one_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.operation} {self.reference}"
