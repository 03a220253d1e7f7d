"""Demo returns: exchange stock for the demo brands' products and a few returns at each step, made
through the same services customers and agents use."""

from __future__ import annotations

import random

from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.text import slugify

from orders.choices import ReturnResolution, ShipmentStatus
from orders.demo import BRANDS
from orders.models import ExchangeVariant, Order, ReturnPolicy, ReturnRequest, Shipment, Store

from .eligibility import order_eligibility
from .services import ReturnLine, return_mark_in_transit, return_mark_received, return_request_create

# Where the demo brands' returns go, as printed on the label under the store's name (made-up addresses).
DEMO_RETURN_ADDRESSES = {
    "northwind": "Returns Department\n2150 Harbor Way, Unit 4\nOakland, CA 94607\nUnited States",
    "lumen": "Returns Department\n88 Mill Street, Dock B\nPortland, OR 97214\nUnited States",
}


def return_address_seed(store: Store) -> bool:
    """Give a demo store's policy its demo return address, unless CX already wrote one (or the old default,
    the bare "<store> Returns" line, which printed no street). Returns whether it changed."""
    address = DEMO_RETURN_ADDRESSES.get(store.slug)
    if not address:
        return False
    unset = {"", f"{store.name} Returns\n", f"{store.name} Returns"}
    return bool(ReturnPolicy.objects.filter(store=store, return_address__in=unset).update(return_address=address))


def exchange_stock_seed(store: Store, products: list[tuple[str, str, list[str], str]]) -> int:
    rows = [
        ExchangeVariant(store=store, product=title, title=variant, sku=f"{sku}-{slugify(variant)}".upper(), available=8)
        for sku, title, variants, _ in products
        for variant in variants
    ]
    return len(ExchangeVariant.objects.bulk_create(rows, ignore_conflicts=True))


def returns_seed_demo(*, per_store: int = 4, seed: int = 7) -> int:
    """Exchange stock for every demo brand, then `per_store` returns per brand, one at each step
    (label issued, on its way back, refunded or exchanged). Stores that already have returns get none."""
    rng = random.Random(seed)
    now = timezone.now()
    created = 0
    for brand in BRANDS:
        store = Store.objects.filter(slug=brand["slug"]).first()
        if store is None:
            continue
        return_address_seed(store)
        if ReturnRequest.objects.filter(store=store).exists():
            continue
        exchange_stock_seed(store, brand["products"])
        delivered = Shipment.objects.filter(order=OuterRef("pk"), status=ShipmentStatus.DELIVERED)
        made = 0
        for order in Order.objects.filter(store=store).filter(Exists(delivered)).order_by("placed_at")[:50]:
            if made == per_store:
                break
            eligibility = order_eligibility(order, now=now)
            item = next((i for i in eligibility.items if i.eligible), None)
            if item is None:
                continue
            # An exchange only for an item with another variant in stock (a one-size item has none).
            choices = [r for r, _ in eligibility.resolutions if r != ReturnResolution.EXCHANGE or item.exchange_options]
            resolution = rng.choice(choices)
            line = ReturnLine(
                line_item_id=item.line_item.pk,
                quantity=1,
                reason=rng.choice(["does_not_fit", "changed_mind", "not_as_described"]),
                exchange_for_id=item.exchange_options[0].pk if resolution == ReturnResolution.EXCHANGE else None,
            )
            ret = return_request_create(order=order, lines=[line], resolution=resolution)
            if made >= 1:
                return_mark_in_transit(request=ret)
            if made >= 2:
                return_mark_received(request=ret)  # refunded, credited or exchanged by the job
            made += 1
        created += made
    return created
