"""Job wiring: the one way the apps put work on a queue.

Queues by latency: `high` (what a customer waits for: notifications), `default` (ingest, decisions),
`low` (sweeps, replays, reports). Work is enqueued only after the current transaction commits, so a
job never starts before the rows it loads exist. With RQ_SYNC the job runs in-process instead (the
demo's fallback where no Redis server can be had).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import lru_cache, partial, update_wrapper
from typing import Any

import django_rq
from django.conf import settings
from django.db import transaction
from django_rq.connection_utils import filter_connection_params, get_redis_connection
from redis import Redis
from redis.exceptions import OutOfMemoryError, ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeout
from rq import Queue

from cxhub import handoff as handoffs
from cxhub import pauses

logger = logging.getLogger(__name__)
QUEUES = ("high", "default", "low")


def enqueue(queue: str, func: Callable[..., Any], *args: Any, job_id: str | None = None, **options: Any) -> None:
    """Run `func(*args)` on `queue` once the current transaction commits.

    Arguments must be ids and primitives (jobs load fresh rows). `job_id` trims duplicate enqueues of
    the same work; correctness never depends on it, since every job is idempotent.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def _enqueue() -> None:
        if settings.RQ_SYNC:
            func(*args)
            return
        _hand_to_redis(queue, lambda rq_queue: rq_queue.enqueue(func, *args, job_id=job_id, **options))

    transaction.on_commit(_enqueue, robust=True)


def run_here(func: Callable[..., Any], *args: Any) -> None:
    """Run `func(*args)` in this process once the current transaction commits: what a job does with work it
    would otherwise queue for itself. A failure is logged (under `func`'s name) like a failed job's."""
    transaction.on_commit(update_wrapper(partial(func, *args), func), robust=True)


# A coalesced job's key lives at most this long: if its job was lost with Redis, work is queued anew after.
COALESCE_TTL_SECONDS = 60


def enqueue_coalesced(
    queue: str, func: Callable[[], Any], *, key: str, force: bool = False, handoff: bool = False
) -> None:
    """Queue `func()` once the current transaction commits, unless a job queued under `key` has not
    started yet: a burst of events then shares one job instead of queueing one each. The job must call
    `coalesced_started(key)` before it looks for work, so that work stored after that gets a job of its
    own. `force` queues one whatever is pending (the reconciler's way back after Redis lost a job).
    `handoff` leaves the call to Redis to this process's hand-off thread (cxhub/handoff.py), for a request
    that answers as soon as its work is stored (a webhook).
    """

    def _enqueue() -> None:
        if settings.RQ_SYNC:
            func()
            return
        hand = partial(_hand_to_redis, queue, partial(_enqueue_unless_pending, func, key=key, force=force))
        if handoff:
            handoffs.HANDOFF.request(key, hand)
        else:
            hand()

    transaction.on_commit(_enqueue, robust=True)


def _enqueue_unless_pending(func: Callable[[], Any], rq_queue: Queue, *, key: str, force: bool) -> None:
    if rq_queue.connection.set(_coalesce_key(key), 1, nx=not force, ex=COALESCE_TTL_SECONDS):
        rq_queue.enqueue(func)


def coalesced_started(queue: str, key: str) -> None:
    """Called by a coalesced job as it starts: what is stored from now on queues another job."""
    if not settings.RQ_SYNC:
        get_queue(queue).connection.delete(_coalesce_key(key))


def _coalesce_key(key: str) -> str:
    return f"cxhub:coalesced:{key}"


# Work is stored before it is queued, and the reconcilers queue what was not, so queueing never waits long
# for a Redis that hangs (a failover, a frozen host): an enqueue gives up after REDIS_TIMEOUT_SECONDS, and then
# this process leaves that Redis alone for a while (cxhub/pauses.py). A webhook is answered at once.
REDIS_TIMEOUT_SECONDS = 2.0
# A Redis that answers but takes no jobs (full under `noeviction`, or a replica after a failover) is left
# alone the same way: each attempt would fail, and at peak every webhook would log it.
REFUSALS = (OutOfMemoryError, ReadOnlyError)


def _hand_to_redis(name: str, put: Callable[[Queue], Any]) -> None:
    """put(the RQ queue `name`), unless its Redis timed out or refused a job lately."""
    config = _connection_config(name)
    if pauses.paused(config):
        logger.debug("not queueing on %r: its Redis timed out or refused a job lately", name)
        return
    try:
        put(django_rq.get_queue(name, connection=_redis(config)))
    except (RedisTimeout, *REFUSALS) as exc:
        pauses.pause(config)
        failure = (
            f"did not answer within {REDIS_TIMEOUT_SECONDS} s"
            if isinstance(exc, RedisTimeout)
            else f"refused the job ({type(exc).__name__}: {exc})"
        )
        logger.error("Redis %s: this process queues nothing for %s s, the reconcilers queue what is stored "
                     "meanwhile", failure, pauses.PAUSE_SECONDS)  # fmt: skip
        raise


def get_queue(name: str) -> Queue:
    """The RQ queue `name`, on a Redis client shared by the process (and its connection pool).

    django_rq.get_queue() alone opens a new connection for every call: TCP connect, handshake, and
    redis-py reading its own version from package metadata took ~4 ms per enqueue, a third of a
    webhook's time (bench/README.md). The client is keyed by the queue's connection settings, read
    each time, so a settings change (tests point RQ_QUEUES elsewhere) gets its own client.
    """
    return django_rq.get_queue(name, connection=_redis(_connection_config(name)))


def _connection_config(name: str) -> str:
    return json.dumps(filter_connection_params(settings.RQ_QUEUES[name]), sort_keys=True, default=str)


@lru_cache(maxsize=16)
def _redis(config: str) -> Redis:
    # redis-py's pool notices a fork (RQ's work horses) and opens new connections in the child.
    client = get_redis_connection(json.loads(config))
    # Bounded waits unless the settings give their own (an RQ worker raises the read timeout of its own
    # connection above its blocking dequeue's; this client only queues and checks).
    options = client.connection_pool.connection_kwargs
    for option in ("socket_timeout", "socket_connect_timeout"):
        if options.get(option) is None:
            options[option] = REDIS_TIMEOUT_SECONDS
    return client
