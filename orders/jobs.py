"""RQ jobs of the orders app: thin, take ids, call one service."""

from .ingest import inbound_process, inbound_reconcile


def inbound_process_job(delivery_id: int) -> str | None:
    result = inbound_process(delivery_id)
    return result.state if result else None


def inbound_reconcile_job() -> int:
    return inbound_reconcile()
