"""Telling the rest of the hub that facts changed, without the orders app knowing who listens.

The apps above (playbooks) register a job path in settings.FACT_LISTENERS; every door that applies
facts (webhooks, the API, CSV import) announces the shipments and orders it touched, and each
listener runs after the commit: as a job, or in the announcing job itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.utils.module_loading import import_string

from cxhub.jobs import enqueue, run_here


def facts_announce(*, shipment_ids: Iterable[int] = (), order_ids: Iterable[int] = (), here: bool = False) -> None:
    """Have every listener check these shipments and orders once the current transaction commits.

    Each listener runs as a job of its own; with `here` (the announcer is a job already, like the inbound
    drain) it runs in this process instead: a hop through the queue would only add a job, and its wait,
    before the customer hears. A listener that fails here is logged and the others still run; the periodic
    sweeps check every subject again.
    """
    shipments, orders = sorted(set(shipment_ids)), sorted(set(order_ids))
    if not (shipments or orders):
        return
    for path in settings.FACT_LISTENERS:
        listener = import_string(path)
        if here:
            run_here(listener, shipments, orders)
        else:
            enqueue("default", listener, shipments, orders)
