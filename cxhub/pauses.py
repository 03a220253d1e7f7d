"""Leaving a server that stopped answering in time (or, for the job queues, refuses writes) alone for a while,
per process: one wait for its timeout, then none for PAUSE_SECONDS, instead of every request waiting (sync
web workers all blocked on a hung Redis would take the whole site down with it). Used for the job queues
(cxhub/jobs.py) and the cache (cxhub/cache.py): the hub has a way on without either."""

from __future__ import annotations

import time

PAUSE_SECONDS = 10.0
_until: dict[str, float] = {}


def paused(server: str) -> bool:
    return time.monotonic() < _until.get(server, 0.0)


def pause(server: str) -> None:
    _until[server] = time.monotonic() + PAUSE_SECONDS
