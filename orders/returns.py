"""Returns and exchanges: starting one and moving it along. The portal (customer pages) and the admin
are doors into these functions."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from .choices import ReturnResolution
from .facts import facts_announce
from .models import Order, ReturnItem, ReturnRequest


@dataclass(frozen=True)
class ReturnLine:
    line_item_id: int
    quantity: int
    reason: str
    exchange_variant: str = ""
    comment: str = ""


@transaction.atomic
def return_start(*, order: Order, lines: list[ReturnLine], resolution: str) -> ReturnRequest:
    """Open a return for some of the order's items. Raises ValidationError naming the problem."""
    if not lines:
        raise ValidationError({"items": "Choose at least one item to return."})
    if resolution not in ReturnResolution.values:
        raise ValidationError({"resolution": f"{resolution!r} is not a way to resolve a return."})
    items = {item.pk: item for item in order.line_items.all()}
    for line in lines:
        item = items.get(line.line_item_id)
        if item is None:
            raise ValidationError({"items": f"Item {line.line_item_id} is not part of order {order}."})
        if not 1 <= line.quantity <= item.quantity:
            raise ValidationError({"quantity": f"Return between 1 and {item.quantity} of {item.title}."})
        if resolution == ReturnResolution.EXCHANGE and not line.exchange_variant:
            raise ValidationError({"exchange_variant": f"Choose the variant you want instead of {item.title}."})
    count = ReturnRequest.objects.filter(order=order).count()
    request = ReturnRequest.objects.create(
        store_id=order.store_id, order=order, number=f"R{order.order_number}-{count + 1}", resolution=resolution
    )
    ReturnItem.objects.bulk_create(
        ReturnItem(
            return_request=request,
            line_item_id=line.line_item_id,
            quantity=line.quantity,
            reason=line.reason,
            exchange_variant=line.exchange_variant,
            comment=line.comment,
        )
        for line in lines
    )
    facts_announce(order_ids=[order.pk])
    return request
