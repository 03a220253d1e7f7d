"""The three roles of the admin, as Django groups: what each may see and change.

`setup_roles` writes them; running it again puts back exactly these permissions (a group edited by
hand is reset), so the list below is the single description of who may do what. A person can hold
several roles. Superusers see everything.

- CX manager: edits playbooks, detectors, caps, templates, return policies, exchange stock, FAQ
  entries, store branding and customers' preferences; sees everything else; decides approvals, returns
  and incidents; reads the KPIs; hands customers a copy of their personal data or erases it, and answers
  the data requests the store platform relays.
- Agent: sees orders, customers, shipments, tickets, exceptions, remedies, messages and returns, the
  configuration and the sweep runs (read-only, to see why the hub acted); acts on exceptions, decides
  approvals up to their own limit (their agent profile), processes returns.
- Analyst: sees what an agent sees, changes nothing; reads and exports KPIs.

Neither agents nor analysts handle personal-data requests or see them: a customer's data leaves the hub,
or is erased from it, on a manager's decision.

Deciding an approval needs `playbooks.decide_approval` only: the approval admin offers the decision form
to whoever holds it (there is nothing else to change on an approval).
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

CX_MANAGER = "CX manager"
AGENT = "Agent"
ANALYST = "Analyst"

# What agents work with (viewed by every role).
CASEWORK = [
    "orders.store", "orders.customer", "orders.order", "orders.lineitem", "orders.shipment", "orders.trackingevent",
    "orders.ticket", "orders.returnrequest", "orders.returnitem", "playbooks.exceptioncase", "playbooks.remedy",
    "playbooks.approval", "playbooks.auditevent", "playbooks.actionrecord", "notifications.message",
    "portal.deliveryfeedback", "playbooks.incident", "playbooks.carrierpause",
]  # fmt: skip
# What CX managers configure (viewed by analysts and agents too, so they can see why the hub acted).
CONFIGURATION = [
    "playbooks.playbook", "playbooks.playbookstep", "playbooks.playbookversion", "playbooks.detectorconfig",
    "playbooks.compensationcap", "notifications.messagetemplate", "notifications.notificationsettings",
    "orders.returnpolicy", "orders.returnreasonrule", "orders.exchangevariant", "portal.faqentry",
    "insights.kpisettings",
]  # fmt: skip
# When the detectors last swept and what they found: harmless, and part of why the hub acted.
SWEEPS = ["playbooks.sweeprun"]
# Plumbing: raw inbound deliveries, API tokens, CSV imports, agent profiles (limits are a manager's call),
# customers' requests about their personal data (the store's record of answering them) and the digests an
# erasure keeps.
OPERATIONS = [
    "orders.inbounddelivery",
    "playbooks.agentprofile",
    "orders.apitoken",
    "orders.orderimport",
    "orders.datarequest",
    "orders.erasedcontact",
]


def _model_perms(models: list[str], actions: list[str]) -> list[str]:
    return [f"{m.split('.')[0]}.{action}_{m.split('.')[1]}" for m in models for action in actions]


ROLES: dict[str, list[str]] = {
    CX_MANAGER: [
        *_model_perms(CASEWORK + CONFIGURATION + SWEEPS + OPERATIONS, ["view"]),
        *_model_perms(CONFIGURATION, ["add", "change", "delete"]),
        *_model_perms(["playbooks.agentprofile"], ["add", "change"]),
        "playbooks.change_exceptioncase",
        "notifications.change_message",  # outbox review
        "orders.change_inbounddelivery",  # reprocess failed deliveries
        "orders.change_store",  # branding, support links
        "orders.change_customer",  # VIP flag, preferred channel, time zone, opt-outs
        "playbooks.decide_approval",
        "orders.process_returnrequest",
        "insights.view_kpis",
        "playbooks.change_incident",  # adjust an incident's proposal, then approve or dismiss it
        "playbooks.decide_incident",
        "playbooks.add_carrierpause",  # pause a carrier for a region ahead of trouble
        "playbooks.change_carrierpause",  # lift a pause
        "orders.handle_data_request",  # download or erase a customer's personal data
    ],
    AGENT: [
        *_model_perms(CASEWORK + CONFIGURATION + SWEEPS, ["view"]),
        "playbooks.change_exceptioncase",
        "notifications.change_message",
        "playbooks.decide_approval",
        "orders.process_returnrequest",
    ],
    ANALYST: [
        *_model_perms(CASEWORK + CONFIGURATION + SWEEPS, ["view"]),
        "insights.view_kpis",
    ],
}


def _permissions(names: list[str]) -> list[Permission]:
    query = Q()
    for name in names:
        app_label, codename = name.split(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(query).select_related("content_type"))
    missing = set(names) - {f"{p.content_type.app_label}.{p.codename}" for p in found}
    if missing:
        raise LookupError(f"Unknown permissions (run migrate first?): {', '.join(sorted(missing))}")
    return found


@transaction.atomic
def roles_setup() -> dict[str, int]:
    """Create or reset the groups; returns each role's number of permissions."""
    counts = {}
    for name, permissions in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(_permissions(permissions))
        counts[name] = len(permissions)
    return counts
