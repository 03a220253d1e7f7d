"""A starting return policy for a store: what most stores write first, for CX managers to edit."""

from __future__ import annotations

from django.db import transaction

from orders.choices import ReturnReason
from orders.models import ReturnPolicy, ReturnReasonRule, Store

# The store's mistakes ship back free; damaged items get longer and a photo helps the claim with the carrier.
DEFAULT_RULES = {
    ReturnReason.DAMAGED: {"free_return_shipping": True, "photo_required": True, "window_days": 60},
    ReturnReason.WRONG_ITEM: {"free_return_shipping": True},
    ReturnReason.NOT_AS_DESCRIBED: {"free_return_shipping": True},
}


@transaction.atomic
def policy_seed(store: Store) -> bool:
    """Give the store the default policy if it has none; returns whether one was created. An existing
    policy (edited or not) is left exactly as it is."""
    policy, created = ReturnPolicy.objects.get_or_create(
        store=store,
        defaults={
            "window_days": 30,
            "store_credit_bonus_percent": 10,
            # The label prints the store's name above this. No address is better than an invented one: CX
            # managers fill it in (the demo stores get a demo address in returns/demo.py).
            "return_address": "",
            "instructions": "Pack the items with their tags in any box or bag. Drop the parcel off at any post "
            "office and show the QR code: no printer needed.",
        },
    )
    if created:
        ReturnReasonRule.objects.bulk_create(
            ReturnReasonRule(policy=policy, reason=reason, **fields) for reason, fields in DEFAULT_RULES.items()
        )
    return created
