"""RQ jobs of the orders app: thin, take ids, call one service."""

from .ingest import inbound_drain, inbound_reconcile


def inbound_drain_job() -> dict[int, str]:
    """Apply a batch of stored deliveries: each one's resulting state."""
    return {pk: result.state for pk, result in inbound_drain().items()}


def inbound_reconcile_job() -> int:
    return inbound_reconcile()
