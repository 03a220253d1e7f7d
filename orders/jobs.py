"""RQ jobs of the orders app: thin, take ids, call one service."""

from .imports import order_import_run, order_imports_recover
from .ingest import inbound_drain, inbound_purge, inbound_reconcile
from .privacy import erased_deliveries_scrub, erasures_recover, store_erasure_run


def inbound_drain_job() -> dict[int, str]:
    """Apply a batch of stored deliveries: each one's resulting state."""
    return {pk: result.state for pk, result in inbound_drain().items()}


def inbound_reconcile_job() -> int:
    return inbound_reconcile()


def inbound_purge_job() -> int:
    return inbound_purge()


def order_import_job(import_id: int) -> str:
    """Run a CSV import uploaded in the admin: the state it ends in."""
    return order_import_run(import_id)


def order_imports_recover_job() -> int:
    return order_imports_recover()


def store_erasure_job(request_id: int) -> bool:
    """Erase a whole store's customers' personal data (shop/redact): whether the request was still to do."""
    return store_erasure_run(request_id) is not None


def erasures_recover_job() -> int:
    return erasures_recover()


def erased_deliveries_scrub_job(request_id: int) -> int:
    """Empty the raw webhooks naming the customer an erasure request erased: how many."""
    return erased_deliveries_scrub(request_id)
