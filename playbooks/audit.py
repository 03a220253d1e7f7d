"""The explainable trail: one function builds every audit event; it is written in the caller's transaction,
alone (`audit`) or with the others of a batch (`audits_record`)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from .choices import ActorType
from .models import AuditEvent, ExceptionCase, PlaybookVersion, Remedy


def audit(kind: str, message: str, **details: Any) -> AuditEvent:
    """Append an event now (see audit_event)."""
    event = audit_event(kind, message, **details)
    event.save(force_insert=True)
    return event


def audits_record(events: list[AuditEvent]) -> None:
    """Append the events a batch built, in one statement."""
    if events:
        AuditEvent.objects.bulk_create(events)


def audit_event(
    kind: str,
    message: str,
    *,
    case: ExceptionCase | None = None,
    remedy: Remedy | None = None,
    user: AbstractBaseUser | None = None,
    actor_type: str | None = None,
    playbook_version: PlaybookVersion | None = None,
    store: Any = None,
    order: Any = None,
    incident: Any = None,
    **parameters: Any,
) -> AuditEvent:
    """An event to append (not saved yet). The why (thresholds, facts, cap arithmetic) goes in `parameters`."""
    case = case or (remedy.case if remedy else None)
    # By id: an audit event must not cost a query per related row it names.
    if case is not None:
        order_id, store_id, version_id = case.order_id, case.store_id, case.playbook_version_id
    else:
        order_id = order.pk if order else None
        store_id = store.pk if store else (order.store_id if order else None)
        version_id = None
    return AuditEvent(
        kind=kind,
        message=message,
        case=case,
        remedy=remedy,
        incident=incident,
        order_id=order_id,
        store_id=store_id,
        actor_type=actor_type or (ActorType.USER if user else ActorType.SYSTEM),
        actor_user=user,
        playbook_version_id=playbook_version.pk if playbook_version else version_id,
        parameters=jsonable(parameters),
    )


def jsonable(value: Any) -> Any:
    """Decimals and datetimes as strings, so the trail stores exactly what was compared."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
