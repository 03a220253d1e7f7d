"""The anomaly watch: per carrier and destination region, the rate of new problems in a recent window
against that pair's own baseline. A spike opens an incident, alerts the CX managers, and proposes
actions (tell every affected customer, pause the carrier there) that a manager approves first.

The rate is problems per hour: the window's count over its hours against the baseline period's count
over its hours. A spike needs both a multiple of the baseline (ANOMALY_FACTOR, 5x) and a minimum count
(ANOMALY_MIN_COUNT), so a quiet pair going from 0 to 2 problems never alarms anyone. A pair with no
baseline at all is measured against one problem per baseline period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from cxhub.jobs import enqueue
from cxhub.memo import memo_scope
from notifications.choices import MessageKind
from notifications.models import Message
from notifications.services import message_compose
from orders.carriers import carrier_slug
from orders.choices import FINAL_SHIPMENT_STATUSES
from orders.models import Order, Shipment

from .audit import audit
from .choices import AuditKind, IncidentState
from .detectors import DETECTORS
from .models import CarrierPause, ExceptionCase, Incident

logger = logging.getLogger(__name__)

# Templates a manager may send to affected customers.
WAVE_KINDS = [MessageKind.DELAY, MessageKind.DELAY_REMEDY, MessageKind.LOST_MAYBE]
WAVE_ACTION = "the carrier is running late in your area, and we're watching your parcel closely"


@dataclass(frozen=True)
class PairRate:
    carrier: str
    region: str
    recent: int
    baseline: int

    def ratio(self, window_hours: int, baseline_hours: int) -> Decimal:
        recent_rate = self.recent / window_hours
        baseline_rate = max(self.baseline, 1) / baseline_hours
        return Decimal(recent_rate / baseline_rate).quantize(Decimal("0.1"))


def pair_rates(*, now: datetime, window_hours: int, baseline_hours: int) -> list[PairRate]:
    """Problems per (carrier, region) in the window and in the baseline before it: one aggregate query
    over the (detected_at) index."""
    window_start = now - timedelta(hours=window_hours)
    baseline_start = window_start - timedelta(hours=baseline_hours)
    informational = DETECTORS.informational_kinds()
    rows = (
        ExceptionCase.objects.filter(detected_at__gte=baseline_start, detected_at__lte=now, shipment__isnull=False)
        .exclude(kind__in=informational)
        .values("shipment__carrier", "order__ship_region")
        .annotate(
            recent=Count("id", filter=Q(detected_at__gte=window_start)),
            baseline=Count("id", filter=Q(detected_at__lt=window_start)),
        )
    )
    return [PairRate(r["shipment__carrier"], r["order__ship_region"], r["recent"], r["baseline"]) for r in rows]


def incidents_watch(*, now: datetime | None = None) -> list[Incident]:
    """Open an incident for each pair spiking now (at most one open per pair). Returns the new ones."""
    now = now or timezone.now()
    window, baseline = settings.ANOMALY_WINDOW_HOURS, settings.ANOMALY_BASELINE_DAYS * 24
    opened = []
    for pair in pair_rates(now=now, window_hours=window, baseline_hours=baseline):
        ratio = pair.ratio(window, baseline)
        if pair.recent < settings.ANOMALY_MIN_COUNT or ratio < settings.ANOMALY_FACTOR:
            continue
        lane = f"{pair.carrier.upper()} to {pair.region or 'an unknown region'}"
        before = (
            f"{ratio}x the rate of the {settings.ANOMALY_BASELINE_DAYS} days before ({pair.baseline} problems)"
            if pair.baseline
            else f"the {settings.ANOMALY_BASELINE_DAYS} days before had none"
        )
        explanation = (
            f"{pair.recent} problems with {lane} in the last {window} hours: {before}. Thresholds: "
            f"{settings.ANOMALY_FACTOR}x the baseline and at least {settings.ANOMALY_MIN_COUNT} problems."
        )
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    carrier=pair.carrier, region=pair.region, detected_at=now, window_hours=window,
                    recent_count=pair.recent, baseline_count=pair.baseline, baseline_hours=baseline, ratio=ratio,
                    explanation=explanation,
                )  # fmt: skip
                audit(AuditKind.INCIDENT, f"Incident opened: {explanation}", incident=incident)
        except IntegrityError:
            continue  # already open for this pair
        opened.append(incident)
    if opened:
        _alert_managers(opened)
    return opened


def _alert_managers(incidents: list[Incident]) -> None:
    """Email every CX manager (and superuser) with an address. The admin banner shows them too."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    recipients = sorted(
        set(users.filter(Q(is_superuser=True) | Q(groups__name="CX manager")).values_list("email", flat=True))
    )
    if not recipients:
        return
    link = settings.PUBLIC_BASE_URL + reverse("admin:playbooks_incident_changelist") + "?state__exact=open"
    lines = [f"- {i.explanation}" for i in incidents]
    body = "\n".join(["The anomaly watch opened incidents:", *lines, "", f"Review and approve actions: {link}"])
    try:
        send_mail(f"[CX hub] {len(incidents)} delivery incident(s) need a decision", body, None, recipients)
    except OSError:
        logger.exception("Could not email the incident alert; the admin banner still shows it.")


def affected_shipments(incident: Incident):
    """Parcels still on their way with this carrier to this region."""
    return Shipment.objects.filter(carrier=incident.carrier, order__ship_region=incident.region).exclude(
        status__in=FINAL_SHIPMENT_STATUSES
    )


@transaction.atomic
def incident_approve(
    *, incident: Incident, user: AbstractBaseUser, notify_kind: str | None = None, pause_carrier: bool | None = None
) -> Incident:
    """The manager's one decision: queue the message wave and/or pause the carrier. A second approval
    (a double click, a second manager) changes nothing."""
    if not user.has_perm("playbooks.decide_incident"):
        raise ValidationError("You may not decide on incidents.")
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.state != IncidentState.OPEN:
        raise ValidationError(f"This incident was already {incident.get_state_display().split(':')[0].lower()}.")
    if notify_kind is not None:
        if notify_kind and notify_kind not in WAVE_KINDS:
            raise ValidationError({"notify_kind": "Choose a delay template, or none."})
        incident.notify_kind = notify_kind
    if pause_carrier is not None:
        incident.pause_carrier = pause_carrier
    incident.state, incident.decided_by, incident.decided_at = IncidentState.APPROVED, user, timezone.now()
    if incident.notify_kind:
        incident.messages_queued = affected_shipments(incident).values("order").distinct().count()
        enqueue("default", _wave_job(), incident.pk, job_id=f"incident-wave-{incident.pk}")
    incident.save()
    if incident.pause_carrier:
        CarrierPause.objects.get_or_create(carrier=incident.carrier, region=incident.region, lifted_at=None,
                                           defaults={"incident": incident, "created_by": user})  # fmt: skip
    audit(AuditKind.INCIDENT, f"Incident approved: notify {incident.messages_queued} customers"
          f"{' with ' + incident.notify_kind if incident.notify_kind else ' (no message)'}"
          f"{', carrier paused in the region' if incident.pause_carrier else ''}.",
          incident=incident, user=user)  # fmt: skip
    return incident


@transaction.atomic
def incident_dismiss(*, incident: Incident, user: AbstractBaseUser) -> Incident:
    if not user.has_perm("playbooks.decide_incident"):
        raise ValidationError("You may not decide on incidents.")
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.state != IncidentState.OPEN:
        raise ValidationError("This incident was already decided.")
    incident.state, incident.decided_by, incident.decided_at = IncidentState.DISMISSED, user, timezone.now()
    incident.save()
    audit(AuditKind.INCIDENT, "Incident dismissed: no action.", incident=incident, user=user)
    return incident


def _pause_lane(carrier: str, region: str) -> dict[str, Any]:
    """The pause in force for a carrier and region as a person types them ("USPS", " FL ")."""
    return {"carrier": carrier_slug(carrier), "region": region.strip(), "lifted_at": None}


def carrier_pause_in_force(*, carrier: str, region: str) -> CarrierPause | None:
    return CarrierPause.objects.filter(**_pause_lane(carrier, region)).first()


@transaction.atomic
def carrier_pause(*, carrier: str, region: str, user: AbstractBaseUser) -> CarrierPause:
    """A manager pauses a carrier for a region without an incident (a storm, the carrier's own notice). The
    pause in force is kept if there is one."""
    pause, created = CarrierPause.objects.get_or_create(**_pause_lane(carrier, region), defaults={"created_by": user})
    if created:
        audit(AuditKind.INCIDENT, f"{pause} by a manager.", user=user)
    return pause


@transaction.atomic
def carrier_pauses_lift(pauses, *, user: AbstractBaseUser) -> int:
    """Hand new shipments to the carrier again in those regions."""
    lifted = 0
    for pause in pauses.select_for_update().filter(lifted_at__isnull=True):
        pause.lifted_at = timezone.now()
        pause.save(update_fields=["lifted_at"])
        audit(AuditKind.INCIDENT, f"{pause} lifted.", incident=pause.incident, user=user)
        lifted += 1
    return lifted


def _wave_job():
    from .jobs import incident_wave_job  # jobs import this module

    return incident_wave_job


def incident_wave(incident_id: int) -> int:
    """Tell each affected customer once (the key is the incident and the order): safe to run again."""
    incident = Incident.objects.get(pk=incident_id)
    if incident.state != IncidentState.APPROVED or not incident.notify_kind:
        return 0
    prefix = f"incident:{incident.pk}:"
    told = set(Message.objects.filter(idempotency_key__startswith=prefix).values_list("idempotency_key", flat=True))
    affected = affected_shipments(incident).values("order")
    orders = Order.objects.filter(pk__in=affected).select_related("store", "customer")
    sent = 0
    with memo_scope():  # the template and the store's settings read once for the wave
        for order in orders.iterator(chunk_size=2000):
            if f"{prefix}{order.pk}" in told:
                continue
            with transaction.atomic():
                message_compose(order=order, kind=incident.notify_kind, key=f"{prefix}{order.pk}",
                                extra={"action": WAVE_ACTION})  # fmt: skip
            sent += 1
    if sent:
        audit(AuditKind.INCIDENT, f"Message wave: {sent} customers told.", incident=incident)
    return sent


def open_incidents_count() -> int:
    return Incident.objects.filter(state=IncidentState.OPEN).count()
