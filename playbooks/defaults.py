"""The playbooks and caps a store starts with: the e-book's automations, as data CX managers edit.

`playbooks_seed` is idempotent (keyed by name); it never overwrites a playbook a manager changed.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from orders.models import Store

from .choices import PlaybookState
from .engine import playbook_record_version
from .models import CompensationCap, Playbook, PlaybookStep

# name, trigger, conditions, steps (action, params). VIP plays run first (priority 10).
DEFAULT_PLAYBOOKS: list[dict] = [
    {
        "name": "VIP: upgrade shipping on the first exception",
        "trigger": "no_first_scan",
        "priority": 10,
        "vip_only": True,
        "first_exception_only": True,
        "steps": [
            ("expedite", {"service_level": "Express", "cost": "12.00"}),
            ("notify", {"template": "delay_remedy"}),
        ],
    },
    {
        "name": "VIP: upgrade a stalled parcel",
        "trigger": "transit_stall",
        "priority": 10,
        "vip_only": True,
        "first_exception_only": True,
        "steps": [
            ("expedite", {"service_level": "Express", "cost": "12.00"}),
            ("notify", {"template": "delay_remedy"}),
        ],
    },
    {
        "name": "Ship-slip: no carrier scan 48h after the label",
        "trigger": "no_first_scan",
        "steps": [
            ("notify", {"template": "delay", "channel": "sms"}),
            ("helpdesk_note", {"note": "Chase the carrier."}),
        ],
    },
    {
        "name": "Lost-maybe: stalled in transit",
        "trigger": "transit_stall",
        "steps": [
            ("notify", {"template": "lost_maybe"}),
            ("reship", {"shipping": "Express"}),
            ("coupon", {"amount": "10.00"}),
        ],
    },
    {
        "name": "Oversold: past the promised ship date",
        "trigger": "late_to_ship",
        "steps": [("notify", {"template": "late_to_ship"}), ("escalate", {"queue": "fulfilment"})],
    },
    {
        "name": "Failed delivery attempt",
        "trigger": "failed_attempt",
        "steps": [("notify", {"template": "failed_attempt", "channel": "sms"})],
    },
    {
        "name": "Delivered but not received: instant replacement",
        "trigger": "delivered_not_received",
        "steps": [("reship", {"shipping": "Express"}), ("notify", {"template": "lost_maybe"})],
    },
    {
        "name": "Address problem: self-fix link, hold and retry",
        "trigger": "address_problem",
        "steps": [("hold_and_retry", {"reason": "address needs fixing"}), ("notify", {"template": "address_fix"})],
    },
    {
        "name": "Failed payment: ask to update the card",
        "trigger": "failed_payment",
        "steps": [("notify", {"template": "payment_failed", "channel": "email"})],
    },
    {
        "name": "Carrier disruption: tell them first",
        "trigger": "carrier_disruption",
        "steps": [
            ("notify", {"template": "delay"}),
            ("helpdesk_note", {"note": "Carrier disruption: consider re-routing."}),
        ],
    },
    {
        "name": "Returns in transit: ship the exchange now",
        "trigger": "return_exchange",
        "holdout_percent": 0,
        "steps": [("ship_exchange", {"shipping": "Standard"}), ("notify", {"template": "exchange_on_the_way"})],
    },
    {
        "name": "Milestone: order confirmed",
        "trigger": "milestone_confirmed",
        "steps": [("notify", {"template": "order_confirmed", "channel": "email"})],
    },
    {
        "name": "Milestone: shipped",
        "trigger": "milestone_shipped",
        "steps": [("notify", {"template": "shipped"})],
    },
    {
        "name": "Milestone: out for delivery",
        "trigger": "milestone_out_for_delivery",
        "steps": [("notify", {"template": "out_for_delivery", "channel": "sms"})],
    },
    {
        "name": "Milestone: delivered",
        "trigger": "milestone_delivered",
        "steps": [("notify", {"template": "delivered"})],
    },
    {
        "name": "Post-delivery care",
        "trigger": "post_delivery",
        "holdout_percent": 0,
        "steps": [("survey", {"channel": "sms"})],
    },
]

# action -> (max automatic amount, max per customer in 30 days, daily budget, VIP multiplier)
DEFAULT_CAPS: dict[str, tuple[str, str, str, str]] = {
    "coupon": ("10.00", "25.00", "500.00", "2.00"),
    "store_credit": ("15.00", "30.00", "500.00", "2.00"),
    "expedite": ("15.00", "30.00", "300.00", "2.00"),
    "refund_shipping": ("15.00", "30.00", "300.00", "2.00"),
    "refund": ("25.00", "50.00", "500.00", "1.50"),
    "reship": ("60.00", "120.00", "1000.00", "2.00"),
    "ship_exchange": ("150.00", "300.00", "2000.00", "2.00"),
}
DEFAULT_HOLDOUT_PERCENT = 10


@transaction.atomic
def playbooks_seed(*, activate: bool = True) -> int:
    """Create the default playbooks that do not exist yet (by name). Returns how many it created."""
    created = 0
    for spec in DEFAULT_PLAYBOOKS:
        if Playbook.objects.filter(name=spec["name"]).exists():
            continue
        fields = {k: v for k, v in spec.items() if k != "steps"}
        fields.setdefault("holdout_percent", DEFAULT_HOLDOUT_PERCENT)
        playbook = Playbook.objects.create(state=PlaybookState.ACTIVE if activate else PlaybookState.DRAFT, **fields)
        PlaybookStep.objects.bulk_create(
            PlaybookStep(playbook=playbook, position=i, action=action, params=params)
            for i, (action, params) in enumerate(spec["steps"], start=1)
        )
        playbook_record_version(playbook)
        created += 1
    return created


def caps_seed(store: Store) -> int:
    """Give a store the default caps it lacks. Returns how many it created."""
    created = 0
    for action, (max_auto, per_customer, daily, vip) in DEFAULT_CAPS.items():
        _, made = CompensationCap.objects.get_or_create(
            store=store,
            action=action,
            defaults={
                "max_auto_amount": Decimal(max_auto),
                "max_per_customer_30d": Decimal(per_customer),
                "daily_budget": Decimal(daily),
                "vip_multiplier": Decimal(vip),
            },
        )
        created += made
    return created
