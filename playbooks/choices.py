"""The playbooks app's vocabularies. Values are stored in the database: never rename one."""

from django.db import models


class CaseState(models.TextChoices):
    OPEN = "open", "Open"
    ACTING = "acting", "Acting"
    RESOLVED = "resolved", "Resolved"
    ESCALATED = "escalated", "Escalated to a person"
    DISMISSED = "dismissed", "Dismissed"


# A case in one of these states is "the" case for its subject and kind: detecting again adds nothing.
ACTIVE_CASE_STATES = [CaseState.OPEN, CaseState.ACTING, CaseState.ESCALATED]


class PlaybookState(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"


class Destination(models.TextChoices):
    ANY = "any", "Any destination"
    DOMESTIC = "domestic", "Domestic only"
    INTERNATIONAL = "international", "International only"


class RemedyState(models.TextChoices):
    PLANNED = "planned", "Planned"
    NEEDS_APPROVAL = "needs_approval", "Waiting for approval"
    APPROVED = "approved", "Approved, to run"
    EXECUTING = "executing", "Running"
    DONE = "done", "Done"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"


class ApprovalDecision(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class ActorType(models.TextChoices):
    SYSTEM = "system", "System"
    PLAYBOOK = "playbook", "Playbook"
    USER = "user", "User"


class IncidentState(models.TextChoices):
    OPEN = "open", "Open: waiting for a manager"
    APPROVED = "approved", "Approved: actions taken"
    DISMISSED = "dismissed", "Dismissed"


class AuditKind(models.TextChoices):
    DETECTED = "detected", "Exception detected"
    RESOLVED = "resolved", "Exception resolved"
    DISMISSED = "dismissed", "Exception dismissed"
    ESCALATED = "escalated", "Escalated"
    HELD_OUT = "held_out", "Held out (no proactive action)"
    NO_PLAYBOOK = "no_playbook", "No playbook matched"
    PLANNED = "planned", "Remedy planned"
    CAP_EXCEEDED = "cap_exceeded", "Cap exceeded: approval requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXECUTED = "executed", "Action executed"
    FAILED = "failed", "Action failed"
    PLAYBOOK_CHANGED = "playbook_changed", "Playbook changed"
    RETURN_UPDATED = "return_updated", "Return updated"
    INCIDENT = "incident", "Incident"
    ERASED = "erased", "Personal data erased"
