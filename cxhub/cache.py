"""The cache as the hub uses it: an aid, never a dependency. With CACHE_URL on Redis (several web processes
share the customer pages' rate limits), a Redis that is down or hangs must not take the tracking page with
it: a cache call that fails is logged and answered with its default (a miss, a count of nothing), the page
goes on without the cache, and this process leaves the cache alone for a while (cxhub/pauses.py). The
settings bound how long a call may wait (CACHE_TIMEOUT_SECONDS)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from redis.exceptions import RedisError

from cxhub import pauses

logger = logging.getLogger(__name__)


def cache_call(method: str, *args: Any, default: Any = None) -> Any:
    """cache.<method>(*args), or `default` when the cache server cannot answer (or did not lately)."""
    if pauses.paused("cache"):
        return default
    try:
        return getattr(cache, method)(*args)
    except RedisError as exc:
        pauses.pause("cache")
        logger.warning("the cache did not answer (%s): going on without it for a while", exc.__class__.__name__)
        return default
