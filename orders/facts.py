"""Telling the rest of the hub that facts changed, without the orders app knowing who listens.

The apps above (playbooks) register a job path in settings.FACT_LISTENERS; every door that applies
facts (webhooks, the API, CSV import) announces the shipments and orders it touched, and each
listener runs after the commit as a job.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.utils.module_loading import import_string

from cxhub.jobs import enqueue


def facts_announce(*, shipment_ids: Iterable[int] = (), order_ids: Iterable[int] = ()) -> None:
    shipments, orders = sorted(set(shipment_ids)), sorted(set(order_ids))
    if not (shipments or orders):
        return
    for path in settings.FACT_LISTENERS:
        enqueue("default", import_string(path), shipments, orders)
