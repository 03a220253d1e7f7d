"""RQ jobs of the returns app: thin, take ids, call one service. Each is safe to run twice."""

from .services import return_resolve


def return_resolve_job(return_id: int) -> None:
    return_resolve(return_id=return_id)
