"""Which of an order's items can be returned, why not, until when, for which reasons, and into what.

The portal shows this before the customer chooses anything, and `return_request_create` checks the
same answers again when the form comes back: one set of rules, in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Max, Sum

from orders.choices import ReturnReason, ReturnResolution, ReturnState, ShipmentStatus
from orders.models import ExchangeVariant, LineItem, Order, ReturnItem, ReturnPolicy, ReturnReasonRule


def policy_for(store_id: int) -> ReturnPolicy:
    """The store's policy, or the defaults (unsaved) for a store that has not written one."""
    return ReturnPolicy.objects.filter(store_id=store_id).first() or ReturnPolicy(store_id=store_id)


def reason_rules(policy: ReturnPolicy) -> dict[str, ReturnReasonRule]:
    """A rule for every reason: the policy's own, else the default (accepted, normal window, fee)."""
    saved = {r.reason: r for r in policy.reason_rules.all()} if policy.pk else {}
    return {reason: saved.get(reason) or ReturnReasonRule(reason=reason) for reason in ReturnReason.values}


@dataclass
class ItemEligibility:
    line_item: LineItem
    returnable_quantity: int = 0
    why_not: str = ""
    # Reason -> last moment a return for that reason may start.
    deadlines: dict[str, datetime] = field(default_factory=dict)
    exchange_options: list[ExchangeVariant] = field(default_factory=list)
    # The end of the policy's normal window (reasons with a window of their own may end later or earlier).
    normal_deadline: datetime | None = None

    @property
    def eligible(self) -> bool:
        return not self.why_not

    @property
    def reasons(self) -> list[tuple[str, str]]:
        return [(value, label) for value, label in ReturnReason.choices if value in self.deadlines]

    @property
    def deadline(self) -> datetime | None:
        """The deadline to show: the normal window's end while a reason under it is open, else the earliest
        open reason's. Never the longest reason's (damaged: 60 days), which holds for that reason only."""
        if self.normal_deadline in self.deadlines.values():
            return self.normal_deadline
        return min(self.deadlines.values(), default=None)

    @property
    def other_deadlines(self) -> list[tuple[str, datetime]]:
        """(reason label, deadline) for the open reasons whose deadline is not `deadline`, e.g. damaged items."""
        shown = self.deadline
        return [(label, self.deadlines[value]) for value, label in self.reasons if self.deadlines[value] != shown]


@dataclass
class OrderEligibility:
    order: Order
    policy: ReturnPolicy
    rules: dict[str, ReturnReasonRule]
    delivered_at: datetime | None
    items: list[ItemEligibility]

    @property
    def any_eligible(self) -> bool:
        return any(i.eligible for i in self.items)

    @property
    def resolutions(self) -> list[tuple[str, str]]:
        offered = {
            ReturnResolution.REFUND: self.policy.allow_refund,
            ReturnResolution.STORE_CREDIT: self.policy.allow_store_credit,
            ReturnResolution.EXCHANGE: self.policy.allow_exchange and any(i.exchange_options for i in self.items),
        }
        return [(value, label) for value, label in ReturnResolution.choices if offered[value]]

    def item(self, line_item_id: int) -> ItemEligibility | None:
        return next((i for i in self.items if i.line_item.pk == line_item_id), None)


def order_eligibility(order: Order, *, now: datetime) -> OrderEligibility:
    """Each item's eligibility under the store's policy, in six queries whatever the order's size."""
    policy = policy_for(order.store_id)
    rules = reason_rules(policy)
    # The window runs from the (last) delivery: a split order is returnable until its last parcel's window ends.
    delivered_at = order.shipments.filter(status=ShipmentStatus.DELIVERED).aggregate(at=Max("delivered_at"))["at"]
    line_items = list(order.line_items.all())
    already = dict(
        ReturnItem.objects.filter(line_item__order=order)
        .exclude(return_request__state=ReturnState.REJECTED)
        .values_list("line_item")
        .annotate(n=Sum("quantity"))
    )
    variants: dict[str, list[ExchangeVariant]] = {}
    for variant in ExchangeVariant.objects.filter(
        store_id=order.store_id, product__in={i.title for i in line_items}, available__gt=0
    ):
        variants.setdefault(variant.product, []).append(variant)

    items = []
    for line_item in line_items:
        item = ItemEligibility(line_item, returnable_quantity=max(0, line_item.quantity - already.get(line_item.pk, 0)))
        item.exchange_options = _other_variants(line_item, variants.get(line_item.title, []))
        item.why_not = _why_not(item, policy, rules, delivered_at, now)
        items.append(item)
    return OrderEligibility(order, policy, rules, delivered_at, items)


def _other_variants(line_item: LineItem, variants: list[ExchangeVariant]) -> list[ExchangeVariant]:
    """The product's variants in exchange stock other than the one bought, smallest size first.

    Sources identify the bought variant differently: Shopify's line SKU is the variant's own SKU, while
    the demo (and many CSV exports) give the product's SKU and name the variant ("US 10") beside it. So a
    stock variant is the bought one when its SKU equals the line's or its title equals the line's variant.
    A product whose only variant is the one bought (a one-size beanie) offers no exchange."""
    bought_sku = line_item.sku.strip().casefold()
    bought_title = _normalized(line_item.variant)
    others = [
        v
        for v in variants
        if not (bought_sku and v.sku.strip().casefold() == bought_sku)
        and not (bought_title and _normalized(v.title) == bought_title)
    ]
    return sorted(others, key=lambda v: variant_sort_key(v.title))


def _normalized(title: str) -> str:
    return " ".join(title.casefold().split())


# Letter sizes in the order people wear them, so "S, M, L, XL" do not sort as "L, M, S, XL".
LETTER_SIZES = {size: rank for rank, size in enumerate(["xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl"])}


def variant_sort_key(title: str) -> tuple:
    """Natural order for variant titles: "US 8" < "US 9" < "US 10" (not text order), "S / Moss" < "M / Moss".

    Numbers compare as numbers; a leading letter size compares by its rank; the rest as text."""
    text = _normalized(title)
    first = re.split(r"[\s/,]+", text, maxsplit=1)[0]
    # re.split with a capturing group alternates text and digits, so parts at the same index share a type.
    parts = [int(p) if i % 2 else p for i, p in enumerate(re.split(r"(\d+)", text))]
    return (LETTER_SIZES.get(first, len(LETTER_SIZES)), parts)


def _why_not(
    item: ItemEligibility,
    policy: ReturnPolicy,
    rules: dict[str, ReturnReasonRule],
    delivered_at: datetime | None,
    now: datetime,
) -> str:
    """Fills in the item's open reasons and deadlines; returns why it can't be returned, or ""."""
    line_item = item.line_item
    if not line_item.returnable:
        return "Final sale: this item can't be returned."
    if line_item.sku and not policy.sku_is_returnable(line_item.sku):
        return "This item can't be returned."
    if item.returnable_quantity == 0:
        return "Already in a return."
    if line_item.order.cancelled_at:  # the order instance is shared by its items: no query
        return "This order was cancelled."
    if delivered_at is None:
        return "You can return this once it has been delivered."
    item.normal_deadline = delivered_at + timedelta(days=policy.window_days)
    for reason, rule in rules.items():
        if not rule.accepted:
            continue
        deadline = delivered_at + timedelta(days=rule.window_days or policy.window_days)
        if now <= deadline:
            item.deadlines[reason] = deadline
    if not item.deadlines:
        closed = delivered_at + timedelta(days=policy.window_days)
        return f"The return window closed on {closed:%-d %B %Y}."
    return ""
